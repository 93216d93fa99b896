#pragma once
// The parallel half of unpack: one layer blob → verified, cleaned,
// classified apply operations in bounded batches.

#include <string>

#include "io/image_layout.h"
#include "pipeline/layer_channel.h"

namespace ocipipe::pipeline {

/// Counters of one decoded layer.
struct decode_stats {
  std::uint64_t entries = 0;
  /// Set when the blob's bytes are not what its media type says (B42): the
  /// layer was unpacked as what the bytes are.
  std::string warning;
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
                  const decompress_limits& limits, layer_channel& out, decode_stats& stats);

}  // namespace ocipipe::pipeline
