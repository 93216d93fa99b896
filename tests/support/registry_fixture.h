#pragma once
// Real servers for the registry tests (no mocks): Debian's docker-registry
// started on 127.0.0.1 with a temporary config, a small token service, a
// fault-injecting proxy and a static file server (python3 scripts in
// tests/support/). Each fixture picks a free port, waits until it answers,
// and kills its process (and removes its files) when destroyed.

#include <memory>
#include <string>
#include <vector>

namespace ocipipe::test {

/// How a registry_server authenticates.
enum class registry_auth { none, basic_tls, token };

/// docker-registry serving from a temporary directory.
/// - none: plain http, anonymous.
/// - basic_tls: https with a self-signed certificate (CA in cert_dir()),
///   htpasswd basic auth for username/password.
/// - token: plain http, bearer tokens from a token service (token_server.py)
///   that checks basic credentials username/password and signs JWTs with a
///   key the registry trusts.
class registry_server {
 public:
  /// Fails the calling test (ADD_FAILURE + nullptr) when it cannot start.
  static std::unique_ptr<registry_server> start(registry_auth mode);
  ~registry_server();
  [[nodiscard]] const std::string& host() const { return host_; }  ///< "127.0.0.1:PORT"
  [[nodiscard]] std::string ref(const std::string& repo_and_tag) const { return "docker://" + host_ + "/" + repo_and_tag; }
  [[nodiscard]] const std::string& cert_dir() const { return cert_dir_; }  ///< "" unless basic_tls
  [[nodiscard]] const std::string& data_dir() const { return data_dir_; }  ///< the registry's storage root
  std::string username = "ocitest";
  std::string password = "s3cret:pw";
  /// "--creds=user:pass" / skopeo's "--creds user:pass" value.
  [[nodiscard]] std::string creds() const { return username + ":" + password; }
  /// The token service's request log (one line per request: method, path,
  /// query, whether Authorization was present), for tests that check where
  /// credentials went. Empty unless token mode.
  [[nodiscard]] std::vector<std::string> token_requests() const;

 private:
  registry_server() = default;
  std::string host_, cert_dir_, data_dir_, work_dir_, token_log_;
  std::vector<int> pids_;
};

/// What fault_proxy does to the traffic it forwards to `upstream`.
struct proxy_faults {
  /// Close the connection after this many bytes of each blob GET body
  /// (0: never). With `drop_times`, only the first N such GETs are cut.
  long drop_after_bytes = 0;
  int drop_times = 1 << 30;
  /// Replace the Docker-Content-Digest header of manifest responses.
  bool wrong_manifest_digest = false;
  /// Answer blob GET/HEAD with 307 to a second listener of the proxy that
  /// serves the upstream's bytes but refuses requests carrying
  /// Authorization (400), refuses HEAD (403), and expires each redirect
  /// URL after `redirect_ttl_seconds` (403) (buglog B64).
  bool redirect_blobs = false;
  double redirect_ttl_seconds = 60;
  /// Answer every /v2/ request with 401 and this WWW-Authenticate value
  /// (B62: a realm on another host); "" off.
  std::string challenge;
  /// Reply to the first N manifest PUT / blob PATCH with 503 (retry tests).
  int fail_first_writes = 0;
  /// Chunked-upload variants of buglog B65: add "OCI-Chunk-Min-Length: N"
  /// to upload POST answers (0: off); keep every PATCH answer's Range at
  /// what the upload's first PATCH got (ECR's stale Range); answer the first
  /// N PATCHes that start past byte 0 with 416, not forwarded.
  long chunk_min_length = 0;
  bool stale_upload_range = false;
  int reject_chunks = 0;
};

/// A python3 HTTP proxy (tests/support/fault_proxy.py) in front of a
/// registry, logging each request ("METHOD PATH auth=yes|no host=H") to a
/// file read by requests().
class fault_proxy {
 public:
  static std::unique_ptr<fault_proxy> start(const std::string& upstream_host, const proxy_faults& faults);
  ~fault_proxy();
  [[nodiscard]] const std::string& host() const { return host_; }
  [[nodiscard]] std::vector<std::string> requests() const;

 private:
  fault_proxy() = default;
  std::string host_, log_, work_dir_;
  int pid_ = -1;
};

/// python3's http.server serving `dir` (with Range support added by
/// tests/support/static_server.py) on 127.0.0.1; url() is "http://127.0.0.1:PORT".
class static_http_server {
 public:
  static std::unique_ptr<static_http_server> start(const std::string& dir);
  ~static_http_server();
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] std::vector<std::string> requests() const;

 private:
  static_http_server() = default;
  std::string url_, log_;
  int pid_ = -1;
};

/// Runs `skopeo` with `args` (plus --insecure-policy); returns its exit code,
/// stderr appended to *output when given.
int run_skopeo(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace ocipipe::test
