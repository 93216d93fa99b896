#pragma once
// How one layer's byte path is spread over threads (issue 9 scheduling):
// reading + the blob digest, inflate, and tar parsing each on a thread of
// their own for big layers, the diff_id digest on whichever of the last two
// is idle, so a one-layer image keeps every core of a small machine busy;
// everything on the caller's thread for -j1, so that -j1 means one core.
// Shared by unpack and validate.

#include <cstdint>
#include <thread>

#include "stages/layer_stream.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::pipeline {

/// Below this many blob bytes a layer stays on one thread: a thread hand-off
/// costs more than it overlaps.
inline constexpr std::int64_t overlap_min_blob_bytes = 4 << 20;

/// From this many blob bytes a gzip layer may inflate in parallel chunks: a
/// few chunks per thread, or the speculation costs more than it overlaps.
inline constexpr std::int64_t parallel_inflate_min_blob_bytes = std::int64_t{64} << 20;

/// What one layer's parallel inflate may hold (compressed chunks, marker
/// output), so that an unpack stays under 256 MB however many cores it has.
inline constexpr std::size_t parallel_inflate_budget_bytes = std::size_t{48} << 20;

/// Whether unpack at `jobs` has a layer's decoder apply its own batches,
/// once the serial apply stage has caught up with that layer, instead of
/// handing each batch to the apply thread (pipeline/layer_channel.h). Only
/// for a layer of at least overlap_min_blob_bytes (reading and inflate on
/// threads of their own keep the other cores busy meanwhile; a small layer
/// decoded and applied on one thread would leave them idle: 24 layers of
/// 800 KB took 0.200 s against 0.192 s handed over) and below 4 jobs, where
/// read, inflate and parse already hold the cores and an apply thread only
/// time-shares one of them: debian-slim -j2 on 2 cores, 0.558 s against
/// 0.577 s, a third of the thread switches (medians of 21; 0.564 against
/// 0.588 s in a second run of 15). From 4 jobs the apply thread has a core
/// of its own and parsing and the diff_id digest never wait on writes
/// there; no machine of more cores was at hand to measure that side.
[[nodiscard]] inline bool producer_applies(std::int64_t blob_bytes, int jobs) {
  return jobs > 1 && jobs < 4 && blob_bytes >= overlap_min_blob_bytes;
}

/// What a run allows one layer.
struct layer_threading {
  /// Read+digest and inflate on threads of their own (std::threads: they
  /// block on bounded queues, which must never starve a TBB worker). False
  /// for -j1: all on the caller's thread.
  bool overlap = true;
  /// More than 1: a gzip layer of at least `parallel_inflate_min_bytes`
  /// inflates on that many threads (pipeline/parallel_gzip_source).
  unsigned inflate_threads = 1;
  std::int64_t parallel_inflate_min_bytes = parallel_inflate_min_blob_bytes;
};

/// What a run of `jobs` (>= 1) on a host of `cores` CPUs gives each layer.
/// Parallel inflate only from 8 cores that are there, on min(jobs, cores) - 2
/// threads (two stay for digests, parsing and apply), of which
/// parallel_inflate_budget_bytes lets about four work at once: its marker
/// decoding runs at well under ISA-L's speed per thread (measured on 1 and 2
/// threads: 194 and 279 MB/s against ISA-L's 443 MB/s, debian's 60 MiB
/// layer), so it needs about three threads to break even; no many-core host
/// was at hand to measure the curve. `-j8` on a 2-core host asked for it
/// regardless and ran 10-25x slower than -j2 (speculating threads starving
/// the consumer's serial fallback on stored or fixed-Huffman stretches).
[[nodiscard]] layer_threading threading_for_jobs(int jobs, unsigned cores = std::thread::hardware_concurrency());

/// The layer_stream hooks for `layer` under `threading`. `tap`, when set,
/// wraps the decompressed side last (on the consumer's side of any thread),
/// e.g. validate's tar header checks. The hooks hold `tap` by value; they
/// are used once, by one layer_stream::open.
[[nodiscard]] layer_stream::hooks layer_stream_hooks(const descriptor& layer, const layer_threading& threading,
                                                     layer_stream::decorator tap = {});

}  // namespace ocipipe::pipeline
