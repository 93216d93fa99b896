#include "pipeline/layer_threads.h"

#include <algorithm>

#include "pipeline/parallel_gzip_source.h"
#include "pipeline/prefetch_source.h"

namespace ocipipe::pipeline {

layer_threading threading_for_jobs(int jobs, unsigned cores) {
  layer_threading t;
  t.overlap = jobs > 1;
  const int usable = std::min(jobs, static_cast<int>(std::max(cores, 1u)));
  t.inflate_threads = usable >= 8 ? static_cast<unsigned>(usable - 2) : 1;
  return t;
}

layer_stream::hooks layer_stream_hooks(const descriptor& layer, const layer_threading& threading,
                                       layer_stream::decorator tap) {
  layer_stream::hooks h;
  const bool overlap = threading.overlap && layer.size >= overlap_min_blob_bytes;
  const auto compression = media_type::compression_of(layer.media_type);
  if (threading.inflate_threads > 1 && compression == media_type::layer_compression::gzip &&
      layer.size >= threading.parallel_inflate_min_bytes) {
    // Its own reader thread reads (and so digests) the compressed bytes.
    h.decompressor = [threads = threading.inflate_threads](byte_source& compressed, media_type::layer_compression,
                                                           decompress_limits limits)
        -> result<std::unique_ptr<byte_source>> {
      parallel_inflate_options o;
      o.chunk_bytes = 1u << 20;
      o.output_cap_factor = 4;
      // Per chunk in flight, worst case: C compressed, 2C in its worker, 2FC of markers.
      const std::size_t per_chunk = o.chunk_bytes * (3 + 2 * o.output_cap_factor);
      o.chunks_ahead = std::max<std::size_t>(3, parallel_inflate_budget_bytes / per_chunk);
      o.threads = std::min<unsigned>(threads, static_cast<unsigned>(o.chunks_ahead));
      o.limits = limits;
      return std::make_unique<parallel_gzip_source>(compressed, o);
    };
  } else if (overlap && compression != media_type::layer_compression::none) {
    // Reading and the blob digest overlap inflate (SHA-256 of the compressed
    // bytes is a sixth of inflate's time: moving it off the inflate thread
    // shortens the longest stage of a one-layer image).
    h.compressed = [](std::unique_ptr<byte_source> s) -> std::unique_ptr<byte_source> {
      return std::make_unique<prefetch_source>(std::move(s));
    };
  }
  if (overlap) {
    // The diff_id digest runs on whichever of the inflate and parsing threads
    // is idle (prefetch_source's `see`).
    h.decompressed_seen = [tap = std::move(tap)](std::unique_ptr<byte_source> s,
                                                 std::function<void(byte_view)> see) -> std::unique_ptr<byte_source> {
      s = std::make_unique<prefetch_source>(std::move(s), prefetch_source::default_max_bytes, std::move(see));
      return tap ? tap(std::move(s)) : std::move(s);
    };
  } else if (tap) {
    h.decompressed = std::move(tap);
  }
  return h;
}

}  // namespace ocipipe::pipeline
