#pragma once
// Who the client is to a registry: credentials found as skopeo finds them
// (containers-auth.json(5)), and the Docker token protocol turning a 401
// challenge into an Authorization header, cached per scope.
//
// Credentials belong to one registry host. They are sent to it, and to the
// token realm it names only under realm_may_receive_credentials' rules;
// never to a redirect target (io/http_client drops them) and never to a
// foreign layer URL (buglog B61, B62, B64).

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/http_client.h"
#include "stages/auth_config.h"
#include "stages/http_headers.h"

namespace ocipipe::io {

/// Where credentials come from, first match wins:
/// 1. `creds` (--creds USER:PASSWORD), for every registry of the run;
/// 2. `auth_file` (--authfile) when set, else $REGISTRY_AUTH_FILE, else
///    $XDG_RUNTIME_DIR/containers/auth.json, $HOME/.config/containers/auth.json
///    (containers-auth.json(5)), then $DOCKER_CONFIG/config.json or
///    $HOME/.docker/config.json;
///    in each file: `credHelpers[host]`, then the `auths` key that covers
///    the repository most specifically ("host/ns/repo", "host/ns", then
///    "host"; auth_key_match), then `credsStore` (a helper is the program
///    `docker-credential-<name>` on $PATH, run with `get` and the host on
///    stdin; "credentials not found" is no match).
/// 3. anonymous.
struct auth_sources {
  std::optional<registry_credentials> creds;
  std::string auth_file;
};

/// Credentials for `repository` (e.g. "library/debian"; "" for host-only
/// keys) of registry `host` ("host[:port]"; "docker.io" for Docker Hub), or
/// nullopt for anonymous. A key naming another repository path is never
/// used. The result's `source` names where they were found. Errors:
/// `malformed` (a file that exists and does not parse, naming it),
/// `unauthenticated` (a helper that failed otherwise than "not found"), `io`.
[[nodiscard]] result<std::optional<registry_credentials>> find_credentials(std::string_view host,
                                                                           std::string_view repository,
                                                                           const auth_sources& sources);

/// " (credentials refused; from <source>)", or " (credentials refused)"
/// when `creds.source` is "": what a 401 after sending them adds to its
/// message.
[[nodiscard]] std::string refused_note(const registry_credentials& creds);

/// Runs `docker-credential-<helper> get` for `server` (a child process,
/// stdin/stdout pipes, 30 s limit). nullopt when it reports no credentials.
/// Errors: `not_found` (no such program), `unauthenticated` (it failed),
/// `malformed` (its output).
[[nodiscard]] result<std::optional<registry_credentials>> run_credential_helper(std::string_view helper,
                                                                               std::string_view server);

/// Authorization for one registry origin: answers 401 challenges with basic
/// credentials or bearer tokens (Docker token protocol: GET realm?service=
/// &scope=..., basic credentials on it when there are any; POST
/// grant_type=refresh_token with an identity token), and caches each token
/// per scope set until 10 s before `expires_in` (default 60 s). Thread-safe.
class registry_authenticator {
 public:
  /// `registry_origin`: "https://host:port" of the registry (parse_url's
  /// origin()); `creds`: what find_credentials gave for it.
  registry_authenticator(http_client& http, std::string registry_origin,
                         std::optional<registry_credentials> creds);

  /// The Authorization value to send for `scope` (e.g.
  /// "repository:library/debian:pull,push"; several scopes separated by
  /// spaces), "" when nothing is known yet (first request: anonymous, the
  /// 401 tells). Once the registry named a token realm, a scope without a
  /// cached (or with an expired) token gets one here, without a 401 first;
  /// a failure of that fetch gives "" (the 401 and challenge() report it).
  [[nodiscard]] std::string authorization(const std::string& scope);

  /// Answers a 401 for `scope`: parses its WWW-Authenticate values, fetches
  /// a token (or prepares basic credentials), so authorization(scope) then
  /// returns the new value. Every call fetches a fresh token (a 401 means
  /// the cached one was refused); the caller retries its request once and
  /// takes a second 401 as its failure (`unauthenticated`), so this never
  /// loops. Token requests never follow redirects. Errors: `unauthenticated` (no usable
  /// challenge, the token service refused, no credentials for basic),
  /// `permission_denied` (a realm the rules above refuse credentials to:
  /// its message names the realm; without credentials such a realm is used
  /// anonymously), `unavailable`, `malformed` (a token response without
  /// "token"/"access_token").
  [[nodiscard]] result<void> challenge(const std::vector<std::string>& www_authenticate, const std::string& scope);

  [[nodiscard]] bool has_credentials() const noexcept { return creds_.has_value(); }
  /// What the constructor was given.
  [[nodiscard]] const std::optional<registry_credentials>& credentials() const noexcept { return creds_; }

 private:
  struct cached_token {
    std::string header;
    std::chrono::steady_clock::time_point expires;
  };
  http_client& http_;
  std::string origin_;
  std::optional<registry_credentials> creds_;
  std::mutex mu_;
  std::map<std::string, cached_token> tokens_;  ///< by scope
  std::optional<auth_challenge> bearer_;        ///< the last bearer challenge seen
  bool basic_ = false;                          ///< the registry asked for basic
};

/// Whether credentials of `registry` may be sent to token realm `realm`:
/// not when the realm URL has userinfo, nor to a link-local or unspecified
/// address (169.254.0.0/16, fe80::/10, 0.0.0.0: cloud metadata services),
/// nor over plain http unless the registry is itself plain http on the same
/// host; an https realm on another host is allowed (Docker Hub's realm is
/// auth.docker.io). Pure; exposed for tests. buglog B62.
[[nodiscard]] bool realm_may_receive_credentials(const url_parts& registry, const url_parts& realm);

}  // namespace ocipipe::io
