#pragma once
// Compresses a layer's tar stream on all cores and digests it in the same
// pass (image-spec layer.md, descriptor.md): sha256 of the input is the
// layer's diff_id, sha256 of the output its digest. Memory is bounded: a few
// chunks per thread are in flight, never the whole stream.
//
// - gzip: one gzip member, pigz-style (stages/gzip_chunk.h): the input is cut
//   into fixed-size chunks, deflated in parallel by a oneTBB parallel_pipeline
//   (serial read -> parallel deflate -> serial in-order write), each chunk
//   primed with the 32 KiB before it and ended with a sync flush. Every gzip
//   reader (gzip, zlib, ISA-L, Go, libdeflate) reads it as one stream. The
//   bytes depend only on the input, the level and the chunk size, never on
//   -j or timing.
// - zstd: one frame from libzstd's multithreaded mode (ZSTD_c_nbWorkers), with
//   a content checksum. nbWorkers is always at least 1, because libzstd's
//   output is the same for every nbWorkers >= 1 but differs from its
//   single-threaded mode (0), so -j never changes the digest.
// - none: the tar stream itself (digest == diff_id).

#include <cstdint>
#include <functional>
#include <string_view>

#include "pipeline/api.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/digest.h"

namespace ocipipe::pipeline {

/// The level a compression gets when none is asked for (-1).
/// gzip: 2 (ISA-L level 2, see default_gzip_level's comment in the .cpp);
/// zstd: 3 (libzstd's own default); none: -1.
[[nodiscard]] int default_level(layer_compression c) noexcept;

/// Checks `level` for `c` and resolves -1 to default_level(c). gzip takes
/// 1-9, zstd 1-19; none takes no level (-1 only). Errors: `invalid_argument`
/// ("--level 12: gzip takes 1-9").
[[nodiscard]] result<int> resolve_level(layer_compression c, int level);

/// The OCI layer media type of a compression (media-types.md).
[[nodiscard]] std::string_view layer_media_type(layer_compression c) noexcept;

/// "gzip", "zstd", "none".
[[nodiscard]] std::string_view compression_name(layer_compression c) noexcept;

struct layer_compressor_options {
  layer_compression compression = layer_compression::gzip;
  int level = -1;  ///< as resolve_level takes it
  int jobs = 0;    ///< threads (gzip: the pipeline's arena; zstd: nbWorkers); 0 or more than the cores = all cores
  /// gzip: input bytes per chunk. Part of the output's identity: the same
  /// input gives the same bytes only with the same chunk size.
  std::size_t gzip_chunk_bytes = std::size_t{1} << 20;
  /// Called with the input bytes done so far, from one thread at a time, in
  /// increasing order; optional.
  std::function<void(std::uint64_t)> on_input_bytes;
};

/// The compressed stream's identity.
struct compressed_stream {
  digest stream_digest;        ///< sha256 of the bytes given to `out`
  std::uint64_t stream_bytes = 0;
  digest diff_id;              ///< sha256 of the input
  std::uint64_t input_bytes = 0;
};

/// Where compressed bytes go, in order. Called from one thread at a time.
using byte_sink = std::function<result<void>(byte_view)>;

/// Reads `input` to its end, compresses it per `opts` and gives the bytes to
/// `out`. `input` is pulled from one thread at a time (not necessarily the
/// caller's). On failure the bytes already given to `out` are an incomplete
/// stream the caller discards. Errors: `invalid_argument` (level), those of
/// `input` and `out`, `internal` (a compressor refused). Thread-safe (each
/// call its own pipeline).
[[nodiscard]] result<compressed_stream> compress_stream(byte_source& input, const byte_sink& out,
                                                        const layer_compressor_options& opts);

}  // namespace ocipipe::pipeline
