// pipeline/parallel_gzip_source: differential against ISA-L (stages/decompress),
// libdeflate and zlib on gzip from zlib (levels 0-9, fixed Huffman), igzip and
// libdeflate, multi-member streams, tiny chunks and 1-4 threads; a seeded fuzz
// loop; damaged streams (error or exact output, never wrong bytes); limits,
// upstream errors and destruction mid-stream.
#include "pipeline/parallel_gzip_source.h"

#include <gtest/gtest.h>
#if OCIPIPE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#include <libdeflate.h>
#include <zlib.h>

#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "bench/micro/bench_data.h"
#include "stages/gzip_source.h"
#include "tests/support/stream_builders.h"

namespace ocipipe::pipeline {
namespace {

using bytes = std::vector<std::byte>;

bytes zlib_gzip(const bytes& in, int level, int strategy = Z_DEFAULT_STRATEGY) {
  const std::string gz =
      testing::zlib_gzip(std::string_view(reinterpret_cast<const char*>(in.data()), in.size()), level, strategy);
  const auto* p = reinterpret_cast<const std::byte*>(gz.data());
  return bytes(p, p + gz.size());
}

bytes libdeflate_gzip(const bytes& in, int level) {
  auto* c = libdeflate_alloc_compressor(level);
  bytes out(libdeflate_gzip_compress_bound(c, in.size()));
  out.resize(libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

// igzip's gzip at level 1 (its own block layout), or zlib's where the build has no ISA-L.
bytes level1_gzip(const bytes& in) {
#if OCIPIPE_HAVE_ISAL
  isal_zstream s;
  isal_deflate_init(&s);
  std::vector<std::uint8_t> level_buf(ISAL_DEF_LVL1_DEFAULT);
  s.level = 1;
  s.level_buf = level_buf.data();
  s.level_buf_size = static_cast<std::uint32_t>(level_buf.size());
  s.gzip_flag = IGZIP_GZIP;
  s.end_of_stream = 1;
  s.flush = NO_FLUSH;
  bytes out(in.size() + in.size() / 2 + 1024);
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(in.data()));
  s.avail_in = static_cast<std::uint32_t>(in.size());
  s.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  s.avail_out = static_cast<std::uint32_t>(out.size());
  EXPECT_EQ(isal_deflate(&s), COMP_OK);
  EXPECT_EQ(s.internal_state.state, ZSTATE_END);
  out.resize(s.total_out);
  return out;
#else
  return zlib_gzip(in, 1);
#endif
}

bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  bytes v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Rootfs-like text with stretches of random bytes (stored blocks).
bytes mixed_bytes(std::size_t n, std::uint64_t seed) {
  auto v = bench::rootfs_like_bytes(n, seed);
  std::mt19937_64 rng(seed);
  for (std::size_t at = 0; at + 40000 < n; at += 300000)
    for (std::size_t i = 0; i < 40000; ++i) v[at + i] = static_cast<std::byte>(rng());
  return v;
}

bytes runs(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  bytes v(n, std::byte{0});
  for (std::size_t i = 0; i < n; i += 1 + rng() % 100000) v[i] = static_cast<std::byte>(rng());
  return v;
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct decoded {
  result<bytes> out = bytes{};
  std::uint64_t speculated = 0, serial = 0;
};

decoded parallel(const bytes& gz, unsigned threads, std::size_t chunk, std::size_t upstream_piece = 100000,
                 decompress_limits lim = {}) {
  memory_source src(gz, upstream_piece);
  parallel_gzip_source s(src, {threads, chunk, lim});
  decoded d;
  bytes out;
  for (;;) {
    auto c = s.next();
    if (!c) {
      d.out = tl::unexpected(c.error());
      break;
    }
    if (c->empty()) {
      d.out = std::move(out);
      break;
    }
    out.insert(out.end(), c->begin(), c->end());
  }
  d.speculated = s.chunks_speculated();
  d.serial = s.chunks_serial();
  return d;
}

// ISA-L through make_decompressor: the decoder this one replaces.
result<bytes> isal(const bytes& gz) {
  memory_source src(gz);
  auto dec = make_decompressor(src, media_type::layer_compression::gzip);
  if (!dec) return tl::unexpected(dec.error());
  bytes out;
  for (;;) {
    auto c = (*dec)->next();
    if (!c) return tl::unexpected(c.error());
    if (c->empty()) return out;
    out.insert(out.end(), c->begin(), c->end());
  }
}

// The three reference decoders agree with `want` on `gz`.
void expect_references(const bytes& gz, const bytes& want) {
  auto i = isal(gz);
  ASSERT_TRUE(i.has_value()) << i.error().message();
  EXPECT_TRUE(*i == want);
  bytes z(want.size() + 1);
  uLongf zn = z.size();
  // zlib's uncompress takes zlib format only: use inflate with gzip detection.
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 47), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(z.data());
  zs.avail_out = static_cast<uInt>(zn);
  std::size_t total = 0;
  for (;;) {  // every member
    const int rc = inflate(&zs, Z_FINISH);
    total = zs.total_out;
    if (rc != Z_STREAM_END || zs.avail_in == 0 || *zs.next_in == 0) break;
    inflateReset(&zs);
    zs.total_out = total;
  }
  inflateEnd(&zs);
  EXPECT_EQ(total, want.size());
  EXPECT_EQ(std::memcmp(z.data(), want.data(), want.size()), 0);
  auto* d = libdeflate_alloc_decompressor();
  bytes l(want.size() + 1);
  std::size_t in_used = 0, done = 0;
  while (in_used < gz.size() && gz[in_used] != std::byte{0}) {
    std::size_t ni = 0, no = 0;
    ASSERT_EQ(libdeflate_gzip_decompress_ex(d, gz.data() + in_used, gz.size() - in_used, l.data() + done,
                                            l.size() - done, &ni, &no),
              LIBDEFLATE_SUCCESS);
    in_used += ni;
    done += no;
  }
  libdeflate_free_decompressor(d);
  EXPECT_EQ(done, want.size());
  EXPECT_EQ(std::memcmp(l.data(), want.data(), want.size()), 0);
}

void expect_decodes(const bytes& gz, const bytes& want, unsigned threads, std::size_t chunk,
                    const std::string& what) {
  auto d = parallel(gz, threads, chunk);
  ASSERT_TRUE(d.out.has_value()) << what << ": " << d.out.error().message();
  ASSERT_EQ(d.out->size(), want.size()) << what;
  EXPECT_TRUE(*d.out == want) << what;
}

TEST(ParallelGzip, RootfsLikeDataMatchesEveryReferenceAcrossThreadsAndChunkSizes) {
  const auto data = mixed_bytes(3u << 20, 1);
  const auto gz = zlib_gzip(data, 6);
  expect_references(gz, data);
  for (unsigned t = 1; t <= 4; ++t)
    for (std::size_t c : {std::size_t{4} << 10, std::size_t{64} << 10, std::size_t{256} << 10})
      expect_decodes(gz, data, t, c, "threads " + std::to_string(t) + " chunk " + std::to_string(c));
}

TEST(ParallelGzip, GuessedChunkStartsAreUsedOnOrdinaryData) {
  // No stored stretches here (those are decoded serially): every chunk but
  // a rare false start should come from a worker.
  const auto data = bench::rootfs_like_bytes(4u << 20, 2);
  const auto gz = zlib_gzip(data, 6);
  auto d = parallel(gz, 2, 128u << 10);
  ASSERT_TRUE(d.out.has_value()) << d.out.error().message();
  EXPECT_TRUE(*d.out == data);
  EXPECT_GE(d.speculated, 7u) << "serial " << d.serial;
  EXPECT_GE(d.speculated, 4 * d.serial) << "serial " << d.serial;
}

// Each view is at most one gzip output chunk (256 KiB), however much a
// chunk's speculative decode produced: a prefetch_source downstream copies
// every view into its queue (unpack -j8 of big-1g held 48 MB there).
TEST(ParallelGzip, ViewsAreAtMostOneOutputChunk) {
  // Speculated chunks of ~1 MiB output each, then long runs that hit the
  // output cap and go through the serial path (1 MiB of output a step).
  const auto data = cat({bench::rootfs_like_bytes(6u << 20, 3), runs(4u << 20, 4)});
  const auto gz = zlib_gzip(data, 6);
  memory_source src(gz, 100000);
  parallel_gzip_source s(src, {2, 256u << 10, {}});
  bytes out;
  std::size_t largest = 0;
  for (;;) {
    auto c = s.next();
    ASSERT_TRUE(c) << c.error().message();
    if (c->empty()) break;
    largest = std::max(largest, c->size());
    out.insert(out.end(), c->begin(), c->end());
  }
  EXPECT_TRUE(out == data);
  EXPECT_LE(largest, detail::out_chunk);
  EXPECT_GT(s.chunks_speculated(), 0u);
  EXPECT_GT(s.chunks_serial(), 0u);
}

// Speculative decodes go into buffers that are reused, not allocated per
// chunk: megabytes per chunk allocated afresh on a worker and freed on the
// consumer fragmented the heap (unpack -j8 of big-1g: 186 MB peak RSS, 122
// MB with reuse).
TEST(ParallelGzip, ResultBuffersAreReusedNotAllocatedPerChunk) {
  const auto data = bench::rootfs_like_bytes(8u << 20, 5);
  const auto gz = zlib_gzip(data, 6);
  memory_source src(gz, 100000);
  parallel_inflate_options o;
  o.threads = 3;
  o.chunk_bytes = 64u << 10;
  o.chunks_ahead = 4;
  parallel_gzip_source s(src, o);
  bytes out;
  for (;;) {
    auto c = s.next();
    ASSERT_TRUE(c) << c.error().message();
    if (c->empty()) break;
    out.insert(out.end(), c->begin(), c->end());
  }
  EXPECT_TRUE(out == data);
  EXPECT_GE(s.chunks_speculated(), 20u);
  EXPECT_LE(s.result_buffers(), 3u + 4u + 1u);
}

TEST(ParallelGzip, IncompressibleRandomBytesAndLongRunsMatch) {
  const auto noise = random_bytes(1u << 20, 3);
  const auto gz_noise = zlib_gzip(noise, 6);
  const auto zeros = runs(8u << 20, 4);  // ratio ~1000: every chunk hits the output cap
  const auto gz_zeros = zlib_gzip(zeros, 9);
  expect_references(gz_noise, noise);
  expect_references(gz_zeros, zeros);
  for (unsigned t : {1u, 3u}) {
    expect_decodes(gz_noise, noise, t, 16u << 10, "random");
    expect_decodes(gz_zeros, zeros, t, 4u << 10, "runs");
  }
}

TEST(ParallelGzip, ZlibLevelsZeroToNineAndFixedHuffmanMatch) {
  const auto data = mixed_bytes(700000, 5);
  for (auto [level, strategy] : {std::pair{0, Z_DEFAULT_STRATEGY}, std::pair{1, Z_DEFAULT_STRATEGY},
                                 std::pair{6, Z_DEFAULT_STRATEGY}, std::pair{9, Z_DEFAULT_STRATEGY},
                                 std::pair{6, Z_FIXED}}) {
    const auto gz = zlib_gzip(data, level, strategy);
    expect_references(gz, data);
    for (std::size_t c : {std::size_t{8} << 10, std::size_t{100} << 10})
      expect_decodes(gz, data, 2, c, "level " + std::to_string(level) + " strategy " + std::to_string(strategy));
  }
}

TEST(ParallelGzip, IgzipAndLibdeflateOutputMatch) {
  const auto data = mixed_bytes(1500000, 6);
  for (const auto& gz : {level1_gzip(data), libdeflate_gzip(data, 6), libdeflate_gzip(data, 12)}) {
    expect_references(gz, data);
    for (std::size_t c : {std::size_t{16} << 10, std::size_t{256} << 10}) expect_decodes(gz, data, 2, c, "");
  }
}

TEST(ParallelGzip, MultiMemberStreamsWithAnEmptyMemberAndHeaderFieldsMatch) {
  const auto a = mixed_bytes(900000, 7), b = bench::rootfs_like_bytes(700000, 8);
  auto named = zlib_gzip(b, 6);
  {  // FNAME "b.tar" and FCOMMENT, inserted after the fixed header
    named[3] = std::byte{8 | 16};
    const char extra[] = "b.tar\0comment";
    named.insert(named.begin() + 10, reinterpret_cast<const std::byte*>(extra),
                 reinterpret_cast<const std::byte*>(extra) + sizeof extra);
  }
  const auto gz = cat({zlib_gzip(a, 6), zlib_gzip({}, 6), named, level1_gzip(a)});
  const auto want = cat({a, b, a});
  expect_references(gz, want);
  for (unsigned t : {1u, 2u, 4u})
    for (std::size_t c : {std::size_t{4} << 10, std::size_t{64} << 10, std::size_t{1} << 20})
      expect_decodes(gz, want, t, c, "members");
  expect_decodes(zlib_gzip({}, 6), {}, 2, 4096, "one empty member");
}

// Bytes handed out by `next` before it failed, and the failure (an error, or none).
template <typename Next>
std::pair<std::size_t, std::optional<error>> handed_out_before_error(Next&& next) {
  std::size_t n = 0;
  for (;;) {
    auto c = next();
    if (!c) return {n, c.error()};
    if (c->empty()) return {n, std::nullopt};
    n += c->size();
  }
}

// A member whose trailer fails never hands out its last bytes: the trailer is read before
// them, so a consumer gets the gzip error rather than the whole damaged member (it used to
// hand out every byte first, and tar then reported the damage as its own: "entry without a
// path" instead of the CRC mismatch). The serial inflater too, with the trailer arriving
// in a later piece of the blob than the member's last block.
TEST(ParallelGzip, AMemberWhoseTrailerFailsNeverHandsOutItsEnd) {
  const auto data = mixed_bytes(300000, 12);
  const auto gz = zlib_gzip(data, 6);
  for (std::size_t off : {gz.size() - 8, gz.size() - 4}) {  // CRC, then ISIZE
    auto bad = gz;
    bad[off] ^= std::byte{1};
    for (unsigned threads : {1u, 2u, 3u}) {
      for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}, std::size_t{1} << 20}) {
        SCOPED_TRACE("trailer byte " + std::to_string(off) + ", " + std::to_string(threads) + " threads, chunk " +
                     std::to_string(chunk));
        memory_source src(bad, 100000);
        parallel_gzip_source p(src, {threads, chunk, {}});
        const auto [n, failure] = handed_out_before_error([&] { return p.next(); });
        ASSERT_TRUE(failure.has_value());
        EXPECT_NE(failure->message().find(off == gz.size() - 8 ? "CRC32" : "size"), std::string::npos)
            << failure->message();
        EXPECT_LT(n, data.size());
      }
    }
    // The serial inflaters, with upstream pieces ending inside the last block, just before
    // the trailer and inside it.
    std::vector<std::pair<const char*, decltype(&detail::make_zlib_gzip_source)>> serial{
        {"zlib", &detail::make_zlib_gzip_source}};
#if OCIPIPE_HAVE_ISAL
    serial.emplace_back("ISA-L", &detail::make_isal_gzip_source);
#endif
    for (const auto& [name, make] : serial) {
      for (std::size_t piece : {gz.size() - 9, gz.size() - 8, gz.size() - 6, gz.size() - 2}) {
        SCOPED_TRACE(std::string(name) + ", trailer byte " + std::to_string(off) + ", upstream piece " +
                     std::to_string(piece));
        memory_source src(bad, piece);
        auto dec = make(src, {});
        const auto [n, failure] = handed_out_before_error([&] { return dec->next(); });
        ASSERT_TRUE(failure.has_value());
        EXPECT_LT(n, data.size());
      }
    }
  }
}

TEST(ParallelGzip, ZeroPaddingAfterTheLastMemberIsAcceptedOtherTrailingBytesAreNot) {
  const auto data = mixed_bytes(300000, 9);
  const auto gz = zlib_gzip(data, 6);
  expect_decodes(cat({gz, bytes(5000, std::byte{0})}), data, 2, 4096, "padding");
  for (const auto& tail : {bytes{std::byte{0}, std::byte{0}, std::byte{7}}, bytes{std::byte{'x'}, std::byte{'y'}}}) {
    auto d = parallel(cat({gz, tail}), 2, 4096);
    ASSERT_FALSE(d.out.has_value());
    EXPECT_EQ(d.out.error().code(), errc::malformed);
    EXPECT_NE(d.out.error().message().find("compressed byte"), std::string::npos) << d.out.error().message();
  }
}

TEST(ParallelGzip, SeededFuzzOfDataLevelsChunkSizesAndThreadsMatchesIsal) {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 150; ++i) {
    const std::size_t n = rng() % 200000;
    bytes data;
    switch (rng() % 4) {
      case 0: data = random_bytes(n, rng()); break;
      case 1: data = bench::rootfs_like_bytes(n, rng()); break;
      case 2: data = mixed_bytes(n, rng()); break;
      default: data = runs(n, rng()); break;
    }
    const int level = static_cast<int>(rng() % 10);
    const auto gz = rng() % 5 == 0 ? libdeflate_gzip(data, 1 + static_cast<int>(rng() % 12))
                                   : zlib_gzip(data, level, rng() % 6 == 0 ? Z_FIXED : Z_DEFAULT_STRATEGY);
    const std::size_t chunk = 1024u << (rng() % 7);
    const unsigned threads = 1 + static_cast<unsigned>(rng() % 3);
    auto d = parallel(gz, threads, chunk, 1 + rng() % 70000);
    ASSERT_TRUE(d.out.has_value()) << "case " << i << ": " << d.out.error().message();
    ASSERT_TRUE(*d.out == data) << "case " << i << " n " << n << " level " << level << " chunk " << chunk;
  }
}

TEST(ParallelGzip, DamagedStreamsGiveAnErrorOrTheExactBytesNeverOtherBytes) {
  const auto data = mixed_bytes(250000, 10);
  const auto gz = zlib_gzip(data, 6);
  std::mt19937_64 rng(99);
  int errors = 0;
  for (int i = 0; i < 100; ++i) {  // flipped bits anywhere
    auto bad = gz;
    const std::size_t at = i < 20 ? static_cast<std::size_t>(i) : rng() % bad.size();
    bad[at] ^= static_cast<std::byte>(1u << (rng() % 8));
    auto d = parallel(bad, 1 + static_cast<unsigned>(i % 3), 4096u << (i % 5));
    if (d.out.has_value()) {
      EXPECT_TRUE(*d.out == data) << "flip at " << at << " gave other bytes without an error";
    } else {
      ++errors;
      EXPECT_TRUE(d.out.error().code() == errc::malformed) << d.out.error().message();
    }
  }
  EXPECT_GT(errors, 60);
  for (std::size_t cut = 0; cut < gz.size(); cut += 1 + gz.size() / 61) {  // truncation
    auto d = parallel(bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(cut)), 2, 8192);
    ASSERT_FALSE(d.out.has_value()) << "cut at " << cut;
    EXPECT_EQ(d.out.error().code(), errc::malformed);
    EXPECT_NE(d.out.error().message().find("compressed byte"), std::string::npos) << d.out.error().message();
  }
  for (std::size_t off : {gz.size() - 8, gz.size() - 4}) {  // CRC, then ISIZE
    auto bad = gz;
    bad[off] ^= std::byte{1};
    auto d = parallel(bad, 2, 8192);
    ASSERT_FALSE(d.out.has_value());
    EXPECT_NE(d.out.error().message().find(off == gz.size() - 8 ? "CRC32" : "size"), std::string::npos)
        << d.out.error().message();
    EXPECT_NE(d.out.error().message().find("at compressed byte " + std::to_string(off)), std::string::npos)
        << d.out.error().message();
  }
  auto d = parallel(random_bytes(1000, 1), 2, 4096);
  ASSERT_FALSE(d.out.has_value());
  EXPECT_NE(d.out.error().message().find("not a gzip stream"), std::string::npos);
  auto empty = parallel({}, 2, 4096);
  ASSERT_FALSE(empty.out.has_value());
  EXPECT_NE(empty.out.error().message().find("truncated"), std::string::npos);
}

TEST(ParallelGzip, OutputPastTheLimitIsResourceExhaustedNamingTheLimit) {
  const auto data = mixed_bytes(1u << 20, 11);
  const auto gz = zlib_gzip(data, 6);
  for (std::size_t c : {std::size_t{4096}, std::size_t{1} << 20}) {
    auto d = parallel(gz, 2, c, 100000, {data.size() - 1, "--max-layer-bytes"});
    ASSERT_FALSE(d.out.has_value());
    EXPECT_EQ(d.out.error().code(), errc::resource_exhausted);
    EXPECT_NE(d.out.error().message().find("--max-layer-bytes"), std::string::npos);
    auto ok = parallel(gz, 2, c, 100000, {data.size(), "--max-layer-bytes"});
    EXPECT_TRUE(ok.out.has_value());
  }
}

class failing_source final : public byte_source {
 public:
  failing_source(const bytes& b, std::size_t fail_after) : inner_(b, 10000), left_(fail_after) {}
  result<byte_view> next() override {
    if (left_ == 0) return fail(errc::io, "read blob: injected failure");
    auto c = inner_.next();
    if (c && !c->empty()) left_ = c->size() >= left_ ? 0 : left_ - c->size();
    return c;
  }

 private:
  memory_source inner_;
  std::size_t left_;
};

TEST(ParallelGzip, AnUpstreamErrorIsPassedOnUnchanged) {
  const auto data = mixed_bytes(1u << 20, 12);
  const auto gz = zlib_gzip(data, 6);
  for (std::size_t after : {std::size_t{0}, std::size_t{30000}, gz.size() / 2}) {
    failing_source src(gz, after);
    parallel_gzip_source s(src, {2, 16384, {}});
    result<byte_view> c = byte_view{};
    do c = s.next();
    while (c && !c->empty());
    ASSERT_FALSE(c.has_value()) << after;
    EXPECT_EQ(c.error().code(), errc::io);
    EXPECT_EQ(c.error().message(), "read blob: injected failure");
  }
}

TEST(ParallelGzip, DestroyingItMidStreamJoinsItsThreads) {
  const auto data = mixed_bytes(4u << 20, 13);
  const auto gz = zlib_gzip(data, 6);
  for (int reads : {0, 1, 5, 40}) {
    for (unsigned t : {1u, 4u}) {
      memory_source src(gz, 65536);
      parallel_gzip_source s(src, {t, 65536, {}});
      for (int i = 0; i < reads; ++i) ASSERT_TRUE(s.next().has_value());
    }  // the destructor must return: the test would hang otherwise
  }
}

}  // namespace
}  // namespace ocipipe::pipeline
