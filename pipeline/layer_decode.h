#pragma once
// The parallel half of unpack: one layer blob → verified, cleaned,
// classified apply operations in bounded batches.

#include <atomic>
#include <cstdint>
#include <string>

#include "io/image_layout.h"
#include "pipeline/layer_channel.h"
#include "pipeline/layer_threads.h"
#include "stages/decompress.h"
#include "stages/tar_reader.h"

namespace ocipipe::pipeline {

/// Counters of one decoded layer.
struct decode_stats {
  std::uint64_t entries = 0;
  /// Set when the blob's bytes are not what its media type says (B42): the
  /// layer was unpacked as what the bytes are.
  std::string warning;
};

/// The limits of unpack_options (api.h), as one layer's decode applies them.
/// Each is a `resource_exhausted` error naming the limit when passed.
struct decode_limits {
  decompress_limits decompress;          ///< uncompressed bytes of this layer
  tar_limits tar;                        ///< path bytes, entry size
  std::uint64_t max_entries = std::uint64_t{1} << 24;
  std::size_t max_depth = 1024;          ///< path components
  std::size_t max_pax_header_bytes = std::size_t{1} << 20;
  /// Uncompressed bytes of all layers so far, shared by the decoders (may be
  /// null), and the most they may reach.
  std::atomic<std::uint64_t>* image_bytes = nullptr;
  std::uint64_t max_image_bytes = UINT64_MAX;
  /// Not a limit: the threads one layer may use (-j1: none but the caller's).
  layer_threading threading;
};

/// Streams layer `layer` of `layout` into `out`: reads the blob bounded by its
/// descriptor size, digests it, decompresses (within `limits`), digests the
/// tar stream, parses it, and turns entries into apply_ops. Closes `out` with
/// the digests, or with the first error (checked against descriptor.digest
/// and `diff_id`). When decoding fails on a blob whose digest does not match,
/// the error is the digest mismatch: corrupt bytes, not a broken encoder, are
/// the cause. A media type naming another compression than the blob's first
/// bytes show is a warning in `stats`, and the layer is read as what it is
/// (buglog B42; validate makes it an error). Runs on any thread; one call per
/// layer.
void decode_layer(const io::image_layout& layout, const descriptor& layer, const digest* diff_id,
                  const decode_limits& limits, layer_channel& out, decode_stats& stats);

}  // namespace ocipipe::pipeline
