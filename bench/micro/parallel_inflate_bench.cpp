// Parallel inflate of one gzip stream (pipeline/parallel_gzip_source) against
// ISA-L's serial inflate, and stages/deflate_scan's own decoder on one thread
// with the window known (the whole stream from its start). Input: 64 MiB of
// rootfs-like bytes (bench_data.h) gzipped by zlib at level 6. Every variant's
// output is compared with ISA-L's before timing; bytes/s are of output.
//
// Caveat on the data: rootfs_like_bytes draws words from a vocabulary of 21,
// so zlib's matches keep copying the bytes before any chunk's start for
// megabytes; a worker then never sees 32 KiB free of markers and decodes its
// whole chunk with 16-bit symbols. Real tar streams (new file contents) drop
// the markers within a block or two; this is the pessimistic case.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "bench/micro/bench_data.h"
#include "pipeline/parallel_gzip_source.h"
#include "stages/decompress.h"
#include "stages/deflate_scan.h"

namespace {

using ocipipe::byte_view;

struct corpus {
  std::vector<std::byte> raw, gz;
};

// Drains `s` into a vector; empty on an error.
std::vector<std::byte> drain_all(ocipipe::byte_source& s) {
  std::vector<std::byte> out;
  for (;;) {
    auto c = s.next();
    if (!c) return {};
    if (c->empty()) return out;
    out.insert(out.end(), c->begin(), c->end());
  }
}

// OCIPIPE_BENCH_GZIP=FILE (e.g. a layer blob) replaces the synthetic input
// with a real gzip stream; its ISA-L output is the reference.
bool real_input(corpus& k) {
  const char* path = std::getenv("OCIPIPE_BENCH_GZIP");
  if (!path || !*path) return false;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  k.gz.resize(bytes.size());
  std::memcpy(k.gz.data(), bytes.data(), bytes.size());
  ocipipe::memory_source src(k.gz);
  auto dec = ocipipe::make_decompressor(src, ocipipe::media_type::layer_compression::gzip);
  if (dec) k.raw = drain_all(**dec);
  return true;
}

const corpus& data() {
  static const corpus c = [] {
    corpus k;
    if (real_input(k)) return k;
    k.raw = ocipipe::bench::rootfs_like_bytes(64u << 20);
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    k.gz.resize(deflateBound(&z, k.raw.size()));
    z.next_in = reinterpret_cast<Bytef*>(k.raw.data());
    z.avail_in = static_cast<uInt>(k.raw.size());
    z.next_out = reinterpret_cast<Bytef*>(k.gz.data());
    z.avail_out = static_cast<uInt>(k.gz.size());
    deflate(&z, Z_FINISH);
    k.gz.resize(z.total_out);
    deflateEnd(&z);
    return k;
  }();
  return c;
}

// Drains `s`, comparing with `want` when given; false on an error or a difference.
bool drain(ocipipe::byte_source& s, const std::vector<std::byte>* want) {
  std::size_t at = 0;
  for (;;) {
    auto c = s.next();
    if (!c) return false;
    if (c->empty()) break;
    if (want && (at + c->size() > want->size() || std::memcmp(want->data() + at, c->data(), c->size()) != 0))
      return false;
    at += c->size();
  }
  return !want || at == want->size();
}

void BM_InflateIsalSerial(benchmark::State& state) {
  const auto& d = data();
  {
    ocipipe::memory_source src(d.gz);
    auto dec = ocipipe::make_decompressor(src, ocipipe::media_type::layer_compression::gzip);
    if (!dec || !drain(**dec, &d.raw)) {
      state.SkipWithError("ISA-L output differs from the input");
      return;
    }
  }
  for (auto _ : state) {
    ocipipe::memory_source src(d.gz);
    auto dec = ocipipe::make_decompressor(src, ocipipe::media_type::layer_compression::gzip);
    benchmark::DoNotOptimize(drain(**dec, nullptr));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.raw.size()));
  state.counters["ratio"] = static_cast<double>(d.raw.size()) / static_cast<double>(d.gz.size());
}
BENCHMARK(BM_InflateIsalSerial)->Unit(benchmark::kMillisecond)->UseRealTime();

// deflate_scan's decoder, bytes out, window known (empty at the start).
void BM_InflateOwnDecoderKnownWindow(benchmark::State& state) {
  const auto& d = data();
  ocipipe::deflate::gzip_header_parser h;
  std::size_t hdr = 0;
  if (h.feed(d.gz, hdr) != ocipipe::deflate::gzip_header_parser::state::done) {
    state.SkipWithError("bad gzip header");
    return;
  }
  ocipipe::deflate::out_buffer<std::uint8_t> out;
  auto run = [&] {
    return ocipipe::deflate::decode_bytes(d.gz, hdr * 8, ~std::uint64_t{0}, {}, d.raw.size() + 1024, out);
  };
  const auto r = run();
  if (r.why != ocipipe::deflate::stop_reason::member_end || out.size() != d.raw.size() ||
      std::memcmp(out.data(), d.raw.data(), d.raw.size()) != 0) {
    state.SkipWithError("own decoder output differs from the input");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(run());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.raw.size()));
}
BENCHMARK(BM_InflateOwnDecoderKnownWindow)->Unit(benchmark::kMillisecond)->UseRealTime();

// parallel_gzip_source with range(0) inflate threads, 4 MiB chunks.
void BM_InflateParallelGzipSource(benchmark::State& state) {
  const auto& d = data();
  const ocipipe::pipeline::parallel_inflate_options opts{static_cast<unsigned>(state.range(0)), 4u << 20, {}};
  std::uint64_t spec = 0, serial = 0;
  {
    ocipipe::memory_source src(d.gz);
    ocipipe::pipeline::parallel_gzip_source s(src, opts);
    if (!drain(s, &d.raw)) {
      state.SkipWithError("parallel output differs from the input");
      return;
    }
    spec = s.chunks_speculated();
    serial = s.chunks_serial();
  }
  for (auto _ : state) {
    ocipipe::memory_source src(d.gz);
    ocipipe::pipeline::parallel_gzip_source s(src, opts);
    benchmark::DoNotOptimize(drain(s, nullptr));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.raw.size()));
  state.counters["chunks_guessed"] = static_cast<double>(spec);
  state.counters["chunks_serial"] = static_cast<double>(serial);
}
BENCHMARK(BM_InflateParallelGzipSource)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
