#pragma once
// Whole reads of small files (index.json, oci-layout, a document given to
// `validate --media-type`): regular files only, at most a cap, so /dev/zero,
// a FIFO or a huge file fails cleanly instead of filling memory or hanging.

#include <cstddef>
#include <string>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// Reads `name` (relative to `dirfd`, or a path with AT_FDCWD) whole, never
/// following a final symlink. Errors: `not_found`, `unsafe_path` (a symlink),
/// `malformed` (not a regular file), `resource_exhausted` (over `max_bytes`),
/// `io`. Thread-safe.
[[nodiscard]] result<std::string> read_small_file(int dirfd, const std::string& name,
                                                  std::size_t max_bytes = 64 << 20);

/// Reads the file at `path` whole, following symlinks: configuration the
/// user or the system points at (CA certificates, mostly links under
/// /etc/ssl/certs; auth files kept by dotfile managers), not image content.
/// At most `max_bytes` (`resource_exhausted` beyond). Errors carry the
/// failing errno (sys_errno()): `not_found` (ENOENT), `permission_denied`,
/// `io`. Thread-safe.
[[nodiscard]] result<std::string> read_linked_file(const std::string& path, std::size_t max_bytes);

}  // namespace ocipipe::io
