#pragma once
// Pure parsers of the HTTP header values and URLs the registry protocol uses
// (RFC 7235 challenges, RFC 8288 Link, RFC 7233 ranges). No I/O: the registry
// client (io/) feeds them the header text it received.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe {

/// An absolute http(s) URL split into the parts credentials are scoped by.
struct url_parts {
  std::string scheme;  ///< "http" or "https", lowercase
  std::string host;    ///< lowercase; IPv6 without brackets
  int port = 0;        ///< explicit or the scheme's default (80, 443)
  std::string userinfo;  ///< "user:pass" when the URL had "user:pass@", else ""
  std::string path_and_query;  ///< from the first '/', "/" when none

  /// "scheme://host:port": two URLs with the same origin may share
  /// credentials; different origins never do.
  [[nodiscard]] std::string origin() const;
};

/// Parses an absolute http:// or https:// URL. Errors: `invalid_argument`
/// (another scheme, no host, a bad port, control bytes or spaces).
[[nodiscard]] result<url_parts> parse_url(std::string_view url);

/// Resolves a Location or Link target against the URL it came from: an
/// absolute URL is taken as is, "/path" keeps the base's origin, anything
/// else is relative to the base's path. Errors: as parse_url.
[[nodiscard]] result<std::string> resolve_url(std::string_view base, std::string_view target);

/// One authentication challenge of a WWW-Authenticate header.
struct auth_challenge {
  std::string scheme;  ///< lowercase: "basic", "bearer"
  std::map<std::string, std::string> params;  ///< lowercase names: realm, service, scope, error
};

/// Parses a WWW-Authenticate value (one or more challenges, quoted strings
/// with backslash escapes). Errors: `malformed`.
[[nodiscard]] result<std::vector<auth_challenge>> parse_www_authenticate(std::string_view value);

/// The target of the rel="next" link in a Link header value, or nullopt.
/// distribution-spec "Listing Tags" / "Listing Referrers" pagination.
[[nodiscard]] std::optional<std::string> link_next(std::string_view value);

/// The last byte offset of an upload's Range header "0-1234" (inclusive;
/// "bytes=0-1234" also accepted), so the next chunk starts at value + 1.
/// Errors: `malformed`, also for a range not starting at 0 and for an end
/// of INT64_MAX or more (value + 1 must be a blob offset).
/// distribution-spec "Pushing a blob in chunks".
[[nodiscard]] result<std::uint64_t> parse_upload_range(std::string_view value);

/// The media type of a Content-Type value: parameters dropped, lowercase.
[[nodiscard]] std::string content_media_type(std::string_view value);

/// Percent-encodes a query value (RFC 3986 unreserved kept).
[[nodiscard]] std::string url_encode(std::string_view value);

/// One entry of a registry's error body (distribution-spec "Error Codes").
struct registry_error {
  std::string code;     ///< "MANIFEST_UNKNOWN", "DIGEST_INVALID"; "" when absent
  std::string message;  ///< "" when absent
};

/// The entries of a registry error body {"errors": [{"code", "message",
/// "detail"}, …]}: string `code` and `message` kept, entries with neither
/// (or not objects) skipped, `detail` ignored. Empty when the body is not
/// JSON or not of that shape: bodies come from any server, so nothing here
/// fails. Pure.
[[nodiscard]] std::vector<registry_error> parse_registry_errors(std::string_view body);

/// "CODE: message; CODE: message" from a registry error body, "" when it
/// holds no error (parse_registry_errors), for messages.
[[nodiscard]] std::string registry_error_text(std::string_view body);

}  // namespace ocipipe
