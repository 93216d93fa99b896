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

}  // namespace ocipipe::io
