#pragma once
// Whole-blob reads with both checks of image-spec descriptor.md: the length
// is descriptor.size and the bytes hash to descriptor.digest.

#include "io/image_layout.h"

namespace ocipipe::pipeline {

/// Reads and verifies a small blob (manifest, image index, image config).
/// Errors: `not_found`, `size_mismatch`, `digest_mismatch` (naming both
/// digests), `resource_exhausted` over `max_bytes`. Unregistered digest
/// algorithms cannot be verified and are read as they are.
[[nodiscard]] result<std::string> read_verified_blob(const io::image_layout& layout,
                                                     const descriptor& d,
                                                     std::size_t max_bytes = 64 << 20);

}  // namespace ocipipe::pipeline
