// Digest throughput of stages/digester (OpenSSL EVP), one chunk size per run.
#include <benchmark/benchmark.h>
#include <openssl/sha.h>

#include "bench/micro/bench_data.h"
#include "stages/digester.h"

namespace {

void BM_DigestSha256(benchmark::State& state) {
  const auto data = ocipipe::bench::rootfs_like_bytes(64u << 20);
  const std::size_t chunk = static_cast<std::size_t>(state.range(0));
  // Reference: OpenSSL's one-shot SHA256 of the same bytes.
  unsigned char ref[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ref);
  const auto want = ocipipe::digest::from_bytes(ocipipe::digest_algorithm::sha256, ref, sizeof ref);
  for (auto _ : state) {
    ocipipe::digester d;
    for (std::size_t off = 0; off < data.size(); off += chunk)
      d.update(std::span(data).subspan(off, std::min(chunk, data.size() - off)));
    auto got = d.finish();
    if (!(got == want)) {
      state.SkipWithError("digest differs from OpenSSL SHA256 reference");
      break;
    }
    benchmark::DoNotOptimize(got);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_DigestSha256)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

void BM_DigestSha512(benchmark::State& state) {
  const auto data = ocipipe::bench::rootfs_like_bytes(64u << 20);
  for (auto _ : state) {
    ocipipe::digester d(ocipipe::digest_algorithm::sha512);
    d.update(data);
    benchmark::DoNotOptimize(d.finish());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_DigestSha512)->Unit(benchmark::kMillisecond);

}  // namespace
