#pragma once
// containers-registries.d(5): where simple signatures of a registry's
// images are kept (lookaside stores) and whether sigstore attachments are
// used. YAML through yaml-cpp. Pure: reading the directory is io's.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe {

/// One scope's settings; unset fields fall back to less specific scopes.
struct registries_d_entry {
  std::optional<std::string> lookaside;          ///< "lookaside" (or legacy "sigstore")
  std::optional<std::string> lookaside_staging;  ///< "lookaside-staging" (or "sigstore-staging")
  std::optional<bool> use_sigstore_attachments;  ///< "use-sigstore-attachments"
};

/// All files of a registries.d directory merged.
struct registries_d_config {
  std::optional<registries_d_entry> default_docker;             ///< "default-docker"
  std::vector<std::pair<std::string, registries_d_entry>> docker;  ///< "docker": scope → entry
};

/// Parses one YAML file and merges it into `into`: a scope (or
/// default-docker) defined by two files is refused, as containers/image
/// does. `file` names the file in messages. Errors: `malformed` (YAML
/// syntax, wrong types, with the file and key), `invalid_argument` (a scope
/// defined twice).
[[nodiscard]] result<void> merge_registries_d(registries_d_config& into, std::string_view yaml, std::string_view file);

/// The settings for repository `name` ("host/path", a docker reference's
/// name()): the most specific "docker" scope that is `name` or one of its
/// namespace prefixes at component boundaries ("host/ns", "host"), fields
/// left unset there taken from default-docker.
[[nodiscard]] registries_d_entry registries_d_lookup(const registries_d_config& config, std::string_view name);

/// Where signature `index` (1-based) of manifest `d` of repository `path`
/// (a docker reference's path, "library/busybox") lives under lookaside
/// base URL `base`: "<base>/<path>@<alg>=<hex>/signature-<index>"
/// (containers-registries.d(5)).
[[nodiscard]] std::string lookaside_signature_url(std::string_view base, std::string_view path,
                                                  std::string_view digest_text, unsigned index);

}  // namespace ocipipe
