#pragma once
// Lookaside signature stores (containers-registries.d(5)): simple
// signatures kept beside a registry at
// "<base>/<repo path>@<alg>=<hex>/signature-<n>", n = 1, 2, … .
// `base` is a local directory, a file:// URL, or (read only) an http(s)://
// URL. Also reads registries.d directories.

#include <string>
#include <vector>

#include "io/http_client.h"
#include "stages/oci/digest.h"
#include "stages/oci/error.h"
#include "stages/registries_d.h"

namespace ocipipe::io {

/// Reads every signature of manifest `d` of repository `repo_path` in the
/// store at `base`: signature-1, signature-2, … up to the first missing
/// one (at most 64, 4 MiB each). `http` is used for http(s):// bases
/// (nullptr: those are `unsupported`). Errors: `invalid_argument` (a base
/// of another scheme), `io`, `unavailable`, `resource_exhausted`.
[[nodiscard]] result<std::vector<std::string>> read_lookaside_signatures(const std::string& base,
                                                                        const std::string& repo_path,
                                                                        const digest& d, http_client* http);

/// Stores `signature` as the next free signature-<n> of manifest `d` of
/// `repo_path` under local `base` (a directory or file:// URL; created
/// with parents). Written to a temporary file and linked into place, so an
/// existing signature is never replaced and a reader never sees half a
/// file; an identical signature already there is not stored twice.
/// Returns the path written (or found). Errors: `invalid_argument` (a
/// remote base: lookaside-staging must be local), `io`.
[[nodiscard]] result<std::string> write_lookaside_signature(const std::string& base, const std::string& repo_path,
                                                            const digest& d, const std::string& signature);

/// Reads every "*.yaml" file of registries.d directory `dir` (sorted by
/// name) and merges them. A missing directory gives an empty config.
/// Errors: those of merge_registries_d, `io`.
[[nodiscard]] result<registries_d_config> load_registries_d(const std::string& dir);

/// The directories searched when none is given, as containers/image does:
/// $HOME/.config/containers/registries.d when it exists, else
/// /etc/containers/registries.d.
[[nodiscard]] std::string default_registries_d();

}  // namespace ocipipe::io
