#include "pipeline/bench_floor.h"

#include "pipeline/host_bench.h"

#include <algorithm>

namespace ocipipe::pipeline {

namespace {
result<void> need(double rate, std::string_view measurement, std::string_view why) {
  if (rate > 0) return {};
  return fail(errc::invalid_argument, "floor: no " + std::string(measurement) + " rate (needed for " +
                                          std::string(why) + "); measure it too");
}
}  // namespace

result<floor_estimate> compute_floor(const std::vector<floor_layer>& layers, const floor_rates& r) {
  if (r.threads < 1) return fail(errc::invalid_argument, "floor: threads must be at least 1");
  floor_estimate f;
  for (const auto& l : layers) {
    OCIPIPE_TRY(need(r.sha256, "sha256", "digests"));
    OCIPIPE_TRY(need(r.tar_parse, "tar_parse", "tar parsing"));
    OCIPIPE_TRY(need(r.files, "file_create", "file creation"));
    OCIPIPE_TRY(need(r.file_bytes, "file_create_bytes", "file contents"));
    const double c = static_cast<double>(l.compressed_bytes);
    const double u = static_cast<double>(l.tar_bytes);
    double inflate = 0;
    if (l.decompress_seconds > 0 && l.compression != "none") {
      inflate = l.decompress_seconds;
    } else if (l.compression == "gzip") {
      OCIPIPE_TRY(need(r.inflate_gzip, gzip_inflate_measurement(), "gzip layer " + l.digest));
      inflate = u / r.inflate_gzip;
    } else if (l.compression == "zstd") {
      OCIPIPE_TRY(need(r.zstd, "zstd", "zstd layer " + l.digest));
      inflate = u / r.zstd;
    } else if (l.compression != "none") {
      return fail(errc::invalid_argument,
                  "floor: layer " + l.digest + ": unknown compression " + quote(l.compression));
    }
    f.cpu_seconds += c / r.sha256 + inflate + u / r.sha256 + u / r.tar_parse;
    f.apply_seconds += static_cast<double>(l.entries) / r.files + u / r.file_bytes;
  }
  const double n = r.threads;
  const double spread = (f.cpu_seconds + f.apply_seconds) / n;
  f.unpack_floor_seconds = std::max(spread, f.apply_seconds);
  f.unpack_bound = spread >= f.apply_seconds ? "cpu" : "apply";
  f.validate_floor_seconds = f.cpu_seconds / n;
  return f;
}

}  // namespace ocipipe::pipeline
