#pragma once
// The floor `ocipipe bench --image` computes: the least wall time this host
// could unpack (or validate) an image in, from the single-thread rates the
// bench measured and the image's per-layer sizes. Pure arithmetic; the model
// and why it looks like this are in pipeline/README.md ("The floor").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe::pipeline {

/// What the floor needs of one layer (measured by streaming it once).
struct floor_layer {
  std::string digest;                 ///< descriptor.digest, "sha256:…"
  std::string compression = "gzip";   ///< "gzip", "zstd" or "none" (plain tar)
  std::uint64_t compressed_bytes = 0; ///< C_i: the blob as stored
  std::uint64_t tar_bytes = 0;        ///< U_i: the uncompressed tar stream
  std::uint64_t entries = 0;          ///< F_i: tar entries
  /// Seconds one core took to decompress this very layer (0: not timed). The
  /// rate of inflate depends on the data far more than the other rates do
  /// (rootfs-like test data inflates ~1.4x faster than a real Debian layer),
  /// so a layer's own time beats the generated data's rate when there is one.
  double decompress_seconds = 0;
};

/// Single-thread rates of this host, as `ocipipe bench` measured them (its
/// "1 thread" column). Bytes/s unless said; 0 means "not measured".
struct floor_rates {
  double sha256 = 0;         ///< digest and diff_id (the layer digest's algorithm is assumed sha256)
  double inflate_gzip = 0;   ///< bytes/s of inflated output (ISA-L: what unpack uses)
  double zstd = 0;           ///< bytes/s of decompressed output
  double tar_parse = 0;      ///< bytes/s of tar
  double files = 0;          ///< files/s created (small files)
  double file_bytes = 0;     ///< bytes/s written into large files
  int threads = 1;           ///< N: the cores the floor may use (>= 1)
};

/// The floor and its parts, in seconds.
struct floor_estimate {
  /// sum_i C_i/r_sha256 + U_i/r_inflate + U_i/r_sha256 + U_i/r_tar_parse:
  /// the work that parallelises across layers and chunks.
  double cpu_seconds = 0;
  /// sum_i F_i/r_files + U_i/r_file_bytes: the serial apply stage's work.
  double apply_seconds = 0;
  /// max((cpu + apply)/N, apply).
  double unpack_floor_seconds = 0;
  /// cpu/N: validate applies nothing.
  double validate_floor_seconds = 0;
  /// Which term of unpack's max binds: "cpu" ((cpu + apply)/N) or "apply".
  std::string unpack_bound;
};

/// Computes the floor of `layers` at `rates`. Errors: `invalid_argument`
/// naming the measurement that is missing (rate <= 0) but needed by a layer
/// (inflate for gzip layers, zstd for zstd layers; sha256, tar_parse, files
/// and file bytes always when there is a layer), a compression other than the
/// three, or threads < 1. No layers give all zeros, bound "cpu".
[[nodiscard]] result<floor_estimate> compute_floor(const std::vector<floor_layer>& layers, const floor_rates& rates);

}  // namespace ocipipe::pipeline
