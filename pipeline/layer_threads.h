#pragma once
// How one layer's byte path is spread over threads (issue 9 scheduling):
// reading + the blob digest, inflate, and tar parsing + the diff_id digest
// each on a thread of their own for big layers, so a one-layer image keeps
// every core of a small machine busy; everything on the caller's thread for
// -j1, so that -j1 means one core. Shared by unpack and validate.

#include <cstdint>

#include "stages/layer_stream.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::pipeline {

/// Below this many blob bytes a layer stays on one thread: a thread hand-off
/// costs more than it overlaps.
inline constexpr std::int64_t overlap_min_blob_bytes = 4 << 20;

/// What a run allows one layer.
struct layer_threading {
  /// Read+digest and inflate on threads of their own (std::threads: they
  /// block on bounded queues, which must never starve a TBB worker). False
  /// for -j1: all on the caller's thread.
  bool overlap = true;
};

/// The layer_stream hooks for `layer` under `threading`. `tap`, when set,
/// wraps the decompressed side last (on the consumer's side of any thread),
/// e.g. validate's tar header checks. The hooks hold `tap` by value; they
/// are used once, by one layer_stream::open.
[[nodiscard]] layer_stream::hooks layer_stream_hooks(const descriptor& layer, const layer_threading& threading,
                                                     layer_stream::decorator tap = {});

}  // namespace ocipipe::pipeline
