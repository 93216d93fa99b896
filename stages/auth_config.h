#pragma once
// Registry credentials files: Docker's config.json and containers'
// auth.json (containers-auth.json(5)), parsed without I/O. Looking files up
// and running credential helpers is io/registry_auth's.

#include <map>
#include <optional>
#include <string>
#include <string_view>

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

/// Parses `--creds USER[:PASSWORD]`. Errors: `invalid_argument` (empty user).
[[nodiscard]] result<registry_credentials> parse_creds_flag(std::string_view text);

/// The JSON a docker-credential-* helper prints for `get`
/// ({"ServerURL","Username","Secret"}); Username "<token>" means Secret is
/// an identity token. Errors: `malformed`.
[[nodiscard]] result<registry_credentials> parse_helper_output(std::string_view json);

}  // namespace ocipipe
