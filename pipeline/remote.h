#pragma once
// The remote side of a run: remote_options (api.h, skopeo's flags) turned
// into io/ options, and the connections of one run, so that a validate of
// ten tags of one registry connects and authenticates once, not ten times.
// Internal to pipeline/.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "io/http_client.h"
#include "io/registry_client.h"
#include "io/remote_store.h"
#include "pipeline/api.h"

namespace ocipipe::pipeline {

/// Whether references of transport `t` name an image on a server
/// (docker://, oci+http(s)://).
[[nodiscard]] constexpr bool is_remote(transport t) noexcept {
  return t == transport::docker || t == transport::oci_url;
}

/// `o` as io/ takes it: TLS settings, credential sources, attempts.
/// Errors: `invalid_argument` (a --creds value with an empty user).
[[nodiscard]] result<io::registry_options> registry_options_of(const remote_options& o);

/// The connections of one run made with one remote_options: one
/// registry_client per registry host (connected, its ping and credential
/// lookup done, on first use) and one http_client for static layouts.
/// A failed connection is not kept: the next use tries again. Thread-safe.
class remote_session {
 public:
  explicit remote_session(remote_options opts);
  remote_session(const remote_session&) = delete;
  remote_session& operator=(const remote_session&) = delete;

  [[nodiscard]] const remote_options& options() const noexcept { return opts_; }

  /// The client of registry `host` ("host[:port]", as parse_registry_path
  /// gives it). Errors: those of registry_client::connect, of
  /// registry_options_of.
  [[nodiscard]] result<std::shared_ptr<io::registry_client>> client(const std::string& host);

  /// The store `ref` names: a registry repository (docker://) or a layout
  /// served over HTTP (oci+http(s)://, its base URL). Nothing is requested
  /// for a static layout until it is read. Errors: `invalid_argument`
  /// (another transport, a bad repository name), those of client().
  [[nodiscard]] result<std::shared_ptr<const io::remote_store>> open_store(const image_reference& ref);

 private:
  remote_options opts_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<io::registry_client>> clients_;
  std::shared_ptr<io::http_client> http_;
};

}  // namespace ocipipe::pipeline
