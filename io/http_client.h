#pragma once
// HTTP/1.1 and HTTP/2 over libcurl, TLS through OpenSSL, for the registry
// client and static image layouts served over HTTP. Redirects are followed
// here, not by libcurl, so that credentials never cross a host boundary
// (distribution-spec "API": clients MUST NOT forward Authorization to another
// host; buglog B62, B64). Response bodies stream as a byte_source, so a blob
// flows from the socket into the flow graph without being stored first.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stages/oci/byte_source.h"

namespace ocipipe::io {

/// TLS settings of one client (skopeo's --tls-verify / --cert-dir).
struct tls_options {
  /// false: certificates and host names are not checked, and plain http is
  /// allowed for any host (as skopeo's --tls-verify=false).
  bool verify = true;
  /// A directory as containers-certs.d(5): `*.crt` files are added CA roots,
  /// `client.cert` + `client.key` a client certificate. "" for none.
  std::string cert_dir;
};

/// Response headers: lowercase names, every value of a repeated header kept
/// in order.
using http_headers = std::multimap<std::string, std::string>;

/// The first value of header `name` (lowercase), or "".
[[nodiscard]] std::string header_value(const http_headers& h, std::string_view name);

/// One request.
struct http_request {
  std::string method = "GET";  ///< GET, HEAD, PUT, POST, PATCH, DELETE
  std::string url;             ///< absolute http:// or https://
  /// Extra headers, "Name: value" without CR/LF (Accept, Content-Type, Range…).
  std::vector<std::string> headers;
  /// Value of the Authorization header ("Basic …", "Bearer …"), or "". It is
  /// sent only to the scheme+host+port of `url` itself: a redirect to any
  /// other origin is followed without it.
  std::string authorization;
  /// A request body held in memory (manifests, small PATCH chunks), or none.
  std::optional<std::string> body;
  /// A streamed request body of exactly `body_length` bytes (blob uploads);
  /// borrowed for the duration of the call. Mutually exclusive with `body`.
  /// A body is never replayed: a redirect of a request with a body is an
  /// error (`unsupported`), the caller retries.
  byte_source* body_source = nullptr;
  std::uint64_t body_length = 0;
  /// Follow 301/302/303/307/308 (at most 5 hops; 303 turns into GET).
  bool follow_redirects = true;
  /// Seconds to wait for the connection; the transfer itself has no total
  /// limit but fails (`unavailable`) after `stall_seconds` without a byte.
  long connect_timeout_seconds = 30;
  long stall_seconds = 60;
};

/// A response whose body was read whole.
struct http_response {
  long status = 0;
  std::string url;  ///< the final URL, after redirects
  http_headers headers;
  std::string body;
};

/// A response whose body is still arriving: status and headers are known,
/// next() yields the body in chunks as libcurl receives them (end = empty
/// chunk). Owns the transfer; destroying it aborts the transfer. Not
/// thread-safe. next() errors: `unavailable` (connection dropped, stalled,
/// TLS failure mid-body).
class http_stream : public byte_source {
 public:
  [[nodiscard]] virtual long status() const = 0;
  [[nodiscard]] virtual const std::string& url() const = 0;  ///< final URL
  [[nodiscard]] virtual const http_headers& headers() const = 0;
  /// The Content-Length header, when the response had one.
  [[nodiscard]] virtual std::optional<std::uint64_t> content_length() const = 0;
};

/// A client: TLS settings, a connection pool and HTTP/2 multiplexing shared
/// by every request it makes. Thread-safe: requests from many threads run at
/// once (each on its own easy handle; connections and TLS sessions shared
/// through a curl share handle).
///
/// Errors of every call: `invalid_argument` (a URL that is not http(s), or
/// plain http to a host other than localhost/127.0.0.1/::1 while
/// tls.verify is true), `unavailable` (DNS, connect, TLS handshake, reset,
/// timeout: retryable), `unsupported` (a redirect loop, a redirect of a
/// request with a body), `unauthenticated` (the server's certificate failed
/// verification: not retryable), `not_found`/`io`/`invalid_argument` (a
/// missing, unreadable or bad --cert-dir), `size_mismatch` (a body_source
/// shorter or longer than body_length; a body_source's own error is returned
/// as it is). HTTP error statuses are not errors here: the caller reads
/// status(). Streams may outlive the client.
class http_client {
 public:
  explicit http_client(tls_options tls, std::string user_agent = "ocipipe");
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  [[nodiscard]] const tls_options& tls() const noexcept;

  /// Sends `req` and reads the whole body, at most `max_body` bytes
  /// (`resource_exhausted` beyond).
  [[nodiscard]] result<http_response> send(const http_request& req, std::size_t max_body = 16 << 20);

  /// Sends `req` and returns once the final response's status line and
  /// headers have arrived; the body streams through the result.
  [[nodiscard]] result<std::unique_ptr<http_stream>> open(const http_request& req);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Whether plain http is allowed to `host` (no port): loopback names only
/// (localhost, 127.0.0.0/8, ::1) unless TLS verification is off.
[[nodiscard]] bool plain_http_allowed(std::string_view host, const tls_options& tls);

}  // namespace ocipipe::io
