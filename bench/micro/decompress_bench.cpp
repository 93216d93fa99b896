// Streaming inflate (ISA-L, stages/decompress) and zstd, checked against
// libdeflate's whole-buffer result before timing; libdeflate is timed too as
// the baseline.
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <zstd.h>

#include "bench/micro/bench_data.h"
#include "stages/decompress.h"
#include "stages/digester.h"

namespace {

using ocipipe::byte_view;

std::vector<std::byte> gzip_of(const std::vector<std::byte>& in) {
  auto* c = libdeflate_alloc_compressor(6);
  std::vector<std::byte> out(libdeflate_gzip_compress_bound(c, in.size()));
  out.resize(libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

std::vector<std::byte> zstd_of(const std::vector<std::byte>& in) {
  std::vector<std::byte> out(ZSTD_compressBound(in.size()));
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

// Drains a decompressor, returning the digest of what it produced.
bool drain(ocipipe::byte_source& s, std::size_t& n, ocipipe::digest* d) {
  ocipipe::digester dg;
  n = 0;
  for (;;) {
    auto c = s.next();
    if (!c) return false;
    if (c->empty()) break;
    n += c->size();
    if (d) dg.update(*c);
  }
  if (d) *d = dg.finish();
  return true;
}

void run_stream(benchmark::State& state, ocipipe::media_type::layer_compression kind,
                const std::vector<std::byte>& raw, const std::vector<std::byte>& packed) {
  const auto want = ocipipe::digester::of(raw);
  {
    ocipipe::memory_source src(packed);
    auto dec = ocipipe::make_decompressor(src, kind);
    std::size_t n = 0;
    ocipipe::digest got;
    if (!dec || !drain(**dec, n, &got) || !(got == want)) {
      state.SkipWithError("decompressed bytes differ from the reference");
      return;
    }
  }
  for (auto _ : state) {
    ocipipe::memory_source src(packed);
    auto dec = ocipipe::make_decompressor(src, kind);
    std::size_t n = 0;
    drain(**dec, n, nullptr);
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}

void BM_DecompressGzipIsal(benchmark::State& state) {
  static const auto raw = ocipipe::bench::rootfs_like_bytes(64u << 20);
  static const auto packed = gzip_of(raw);
  run_stream(state, ocipipe::media_type::layer_compression::gzip, raw, packed);
}
BENCHMARK(BM_DecompressGzipIsal)->Unit(benchmark::kMillisecond);

void BM_DecompressZstd(benchmark::State& state) {
  static const auto raw = ocipipe::bench::rootfs_like_bytes(64u << 20);
  static const auto packed = zstd_of(raw);
  run_stream(state, ocipipe::media_type::layer_compression::zstd, raw, packed);
}
BENCHMARK(BM_DecompressZstd)->Unit(benchmark::kMillisecond);

// Baseline: libdeflate on the whole buffer (needs the size up front, so it
// cannot stream a layer; it is the ceiling single-thread inflate reaches).
void BM_DecompressGzipLibdeflateBaseline(benchmark::State& state) {
  static const auto raw = ocipipe::bench::rootfs_like_bytes(64u << 20);
  static const auto packed = gzip_of(raw);
  std::vector<std::byte> out(raw.size());
  auto* d = libdeflate_alloc_decompressor();
  for (auto _ : state) {
    std::size_t n = 0;
    if (libdeflate_gzip_decompress(d, packed.data(), packed.size(), out.data(), out.size(), &n) !=
            LIBDEFLATE_SUCCESS ||
        n != raw.size()) {
      state.SkipWithError("libdeflate failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  libdeflate_free_decompressor(d);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_DecompressGzipLibdeflateBaseline)->Unit(benchmark::kMillisecond);

}  // namespace
