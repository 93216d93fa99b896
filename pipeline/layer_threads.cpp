#include "pipeline/layer_threads.h"

#include "pipeline/prefetch_source.h"

namespace ocipipe::pipeline {

layer_stream::hooks layer_stream_hooks(const descriptor& layer, const layer_threading& threading,
                                       layer_stream::decorator tap) {
  layer_stream::hooks h;
  const bool overlap = threading.overlap && layer.size >= overlap_min_blob_bytes;
  if (overlap && media_type::compression_of(layer.media_type) != media_type::layer_compression::none) {
    // Reading and the blob digest overlap inflate (SHA-256 of the compressed
    // bytes is a sixth of inflate's time: moving it off the inflate thread
    // shortens the longest stage of a one-layer image).
    h.compressed = [](std::unique_ptr<byte_source> s) -> std::unique_ptr<byte_source> {
      return std::make_unique<prefetch_source>(std::move(s));
    };
  }
  h.decompressed = [overlap, tap = std::move(tap)](std::unique_ptr<byte_source> s) -> std::unique_ptr<byte_source> {
    if (overlap) s = std::make_unique<prefetch_source>(std::move(s));
    return tap ? tap(std::move(s)) : std::move(s);
  };
  return h;
}

}  // namespace ocipipe::pipeline
