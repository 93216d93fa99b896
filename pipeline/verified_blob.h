#pragma once
// Whole-blob reads with both checks of image-spec descriptor.md: the length
// is descriptor.size and the bytes hash to descriptor.digest.

#include "io/image_layout.h"

namespace ocipipe::pipeline {

/// Largest manifest, image index or image config read (and parsed), as
/// containers/image caps them (iolimits.MaxManifestBodySize and
/// MaxConfigBodySize, 4 MiB; distribution's manifest limit is the same).
/// Parsing costs about 15 bytes of memory per byte of JSON (simdjson's
/// tape and indexes), so the cap is what bounds memory: a 60 MB manifest of
/// "1,1,1,…" took 880 MB. A descriptor naming a bigger blob is refused
/// before a byte of it is read.
inline constexpr std::size_t max_image_document_bytes = std::size_t{4} << 20;

/// Largest top-level index.json of a layout or archive (a layout of many
/// tags holds one descriptor of ~250 bytes per tag: 30 000 tags fit).
inline constexpr std::size_t max_layout_index_bytes = std::size_t{8} << 20;

/// Reads and verifies a small blob (manifest, image index, image config).
/// Errors: `not_found`, `size_mismatch`, `digest_mismatch` (naming both
/// digests), `resource_exhausted` over `max_bytes`. Unregistered digest
/// algorithms cannot be verified and are read as they are.
[[nodiscard]] result<std::string> read_verified_blob(const io::image_layout& layout,
                                                     const descriptor& d,
                                                     std::size_t max_bytes = max_image_document_bytes);

}  // namespace ocipipe::pipeline
