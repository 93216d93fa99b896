#pragma once
// Registry credentials files: Docker's config.json and containers'
// auth.json (containers-auth.json(5)), parsed without I/O. Looking files up
// and running credential helpers is io/registry_auth's.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "stages/oci/error.h"

namespace ocipipe {

/// A user name and secret for one registry. An identity token (Docker's
/// "identitytoken") is a refresh token for the bearer flow: when set it is
/// sent as the refresh_token of an OAuth2 POST to the realm instead of
/// basic credentials.
struct registry_credentials {
  std::string username;
  std::string password;
  std::string identity_token;
  /// Where they were found, for messages only ("--creds", a file and its
  /// key, a credential helper); not part of what same_credentials compares.
  std::string source;
  [[nodiscard]] bool empty() const noexcept { return username.empty() && password.empty() && identity_token.empty(); }
};

/// One parsed config.json / auth.json.
struct auth_config {
  /// "auths": key as written, normalized by registry_auth_key().
  std::map<std::string, registry_credentials> auths;
  std::string creds_store;                          ///< "credsStore": helper suffix, or ""
  std::map<std::string, std::string> cred_helpers;  ///< "credHelpers": registry → helper suffix
};

/// Parses a config.json / auth.json: `auths.<key>.auth` is base64
/// "user:password" (a password may hold ':'), or `username` + `password`;
/// `identitytoken` kept. Unknown fields ignored. Errors: `malformed` (not
/// JSON, bad base64, an auth without ':') with the JSON path.
[[nodiscard]] result<auth_config> parse_auth_config(std::string_view json);

/// The registry host[:port] an `auths` key names, lowercase: a scheme, a
/// path and a trailing "/v1/" are dropped; Docker Hub's three names
/// ("https://index.docker.io/v1/" as `docker login` writes it,
/// "index.docker.io", "registry-1.docker.io") all give "docker.io".
[[nodiscard]] std::string registry_auth_key(std::string_view key);

/// How specifically `auths` key `key` covers repository `repository` of
/// registry `host` (containers-auth.json(5)): 0 when it does not; else
/// 1 for a host-only key written with a scheme or path (legacy
/// "https://host/v1/"), 2 for a bare "host[:port]", and 2 + 2n for
/// "host/c1/…/cn" whose path is a prefix of `repository` at component
/// boundaries ("host/sec" covers "sec/slim", not "secret/x"). Hosts compare
/// as registry_auth_key() gives them. `repository` "" matches host-only
/// keys only. Pure.
[[nodiscard]] std::size_t auth_key_match(std::string_view key, std::string_view host, std::string_view repository);

/// The entry of `cfg.auths` that covers `repository` of `host` most
/// specifically (auth_key_match; empty entries skipped; ties go to the first
/// key in sorted order), with its key; nullptr when none does.
[[nodiscard]] const std::pair<const std::string, registry_credentials>* best_auths_entry(const auth_config& cfg,
                                                                                         std::string_view host,
                                                                                         std::string_view repository);

/// Whether two lookups gave the same identity (user, password, identity
/// token; `source` ignored); two anonymous lookups are the same.
[[nodiscard]] bool same_credentials(const std::optional<registry_credentials>& a,
                                    const std::optional<registry_credentials>& b) noexcept;

/// Parses `--creds USER[:PASSWORD]` (source "--creds"). Errors: `invalid_argument` (empty user).
[[nodiscard]] result<registry_credentials> parse_creds_flag(std::string_view text);

/// The JSON a docker-credential-* helper prints for `get`
/// ({"ServerURL","Username","Secret"}); Username "<token>" means Secret is
/// an identity token. Errors: `malformed`.
[[nodiscard]] result<registry_credentials> parse_helper_output(std::string_view json);

}  // namespace ocipipe
