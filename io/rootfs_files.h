#pragma once
// Small reads and writes inside a finished rootfs, resolved in-root like the
// rootfs writer's (a symlinked /etc/passwd cannot point at the host's).

#include <optional>
#include <string>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// Reads `path` (absolute within the rootfs, e.g. "/etc/passwd") of at most
/// `max_bytes`. nullopt when it does not exist. Errors: `io`,
/// `resource_exhausted`.
[[nodiscard]] result<std::optional<std::string>> read_file_in_root(const std::string& rootfs,
                                                                   const std::string& path,
                                                                   std::size_t max_bytes = 16 << 20);

/// Creates directory `path` (absolute within the rootfs) and missing parents,
/// mode 0755, owned by `uid`:`gid` when running as root (the directories made
/// for WorkingDir belong to the process user, as Docker does: podman#9040).
/// Errors: `invalid_argument` when a component exists and is not a directory
/// (or a symlink to one), `io`.
[[nodiscard]] result<void> make_dirs_in_root(const std::string& rootfs, const std::string& path,
                                             unsigned uid, unsigned gid);

}  // namespace ocipipe::io
