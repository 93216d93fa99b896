// pipeline/layer_compressor and stages/gzip_chunk: the parallel gzip stream
// inflates to its input under three independent decoders (zlib, ISA-L through
// stages/decompress, libdeflate), is one member, and does not depend on -j;
// zstd and none likewise; digests and diff_ids are those of the bytes.

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/layer_compressor.h"
#include "stages/decompress.h"
#include "stages/digester.h"
#include "stages/gzip_chunk.h"

namespace ocipipe::testing {
namespace {

using bytes = std::vector<std::byte>;
using pipeline::compress_stream;
using pipeline::compressed_stream;
using pipeline::layer_compressor_options;

byte_view view(const bytes& b) { return byte_view(b.data(), b.size()); }

bytes random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng() & 0xff);
  return b;
}

// Text-like input: words from a small vocabulary, so deflate finds matches
// across chunk boundaries (the dictionary matters).
bytes compressible_bytes(std::size_t n, unsigned seed) {
  static const char* words[] = {"layer ", "image ", "manifest ", "digest ", "tar ", "usr/lib/ ", "\n", "0644 "};
  std::mt19937 rng(seed);
  bytes b;
  b.reserve(n);
  while (b.size() < n) {
    const char* w = words[rng() % 8];
    for (const char* p = w; *p && b.size() < n; ++p) b.push_back(static_cast<std::byte>(*p));
  }
  return b;
}

struct compressed {
  bytes out;
  compressed_stream s;
};

compressed run(const bytes& input, layer_compressor_options opts, std::size_t source_chunk = 1000) {
  memory_source src(view(input), source_chunk);
  compressed c;
  auto r = compress_stream(src, [&](byte_view b) -> result<void> {
    c.out.insert(c.out.end(), b.begin(), b.end());
    return {};
  }, opts);
  EXPECT_TRUE(r) << r.error().message();
  if (r) c.s = *r;
  return c;
}

bytes inflate_zlib(const bytes& gz, bool& one_member) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + 15), Z_OK);
  bytes out;
  std::byte buf[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << "zlib inflate: " << rc;
    out.insert(out.end(), buf, buf + (sizeof buf - z.avail_out));
  } while (rc == Z_OK);
  one_member = rc == Z_STREAM_END && z.avail_in == 0;  // nothing after the first member
  inflateEnd(&z);
  return out;
}

bytes inflate_isal(const bytes& gz) {
  memory_source src(view(gz), 777);
  auto d = make_decompressor(src, media_type::layer_compression::gzip);
  EXPECT_TRUE(d);
  bytes out;
  for (;;) {
    auto chunk = (*d)->next();
    EXPECT_TRUE(chunk) << chunk.error().message();
    if (!chunk || chunk->empty()) break;
    out.insert(out.end(), chunk->begin(), chunk->end());
  }
  return out;
}

bytes inflate_libdeflate(const bytes& gz, std::size_t expected_size, std::size_t& consumed) {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  bytes out(expected_size);
  std::size_t got = 0;
  const auto rc = libdeflate_gzip_decompress_ex(d, gz.data(), gz.size(), out.data(), out.size(), &consumed, &got);
  libdeflate_free_decompressor(d);
  EXPECT_EQ(rc, LIBDEFLATE_SUCCESS);
  out.resize(got);
  return out;
}

digest sha256(const bytes& b) { return digester::of(view(b)); }

// Sizes around the chunk boundaries of a 4 KiB chunk, plus empty and odd ones.
std::vector<std::size_t> boundary_sizes(std::size_t chunk) {
  return {0, 1, 2, 100, chunk - 1, chunk, chunk + 1, 2 * chunk - 1, 2 * chunk, 2 * chunk + 1,
          3 * chunk + 17, 7 * chunk + chunk / 2, 40000};
}

TEST(GzipChunk, Crc32MatchesZlibAndCombines) {
  const bytes a = random_bytes(100000, 1), b = random_bytes(33333, 2);
  bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  const auto zlib_crc = [](const bytes& x) {
    return static_cast<std::uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(x.data()), x.size()));
  };
  EXPECT_EQ(crc32_update(0, view(a)), zlib_crc(a));
  EXPECT_EQ(crc32_update(0, byte_view{}), 0u);
  EXPECT_EQ(crc32_concat(crc32_update(0, view(a)), crc32_update(0, view(b)), b.size()), zlib_crc(ab));
  EXPECT_EQ(crc32_update(crc32_update(0, view(a)), view(b)), zlib_crc(ab));
}

TEST(GzipChunk, LevelOutsideOneToNineIsRefused) {
  EXPECT_FALSE(chunk_deflater::create(0));
  EXPECT_FALSE(chunk_deflater::create(10));
  EXPECT_EQ(chunk_deflater::create(0).error().code(), errc::invalid_argument);
}

TEST(LayerCompressor, GzipInflatesToTheInputWithZlibIsalAndLibdeflate) {
  constexpr std::size_t chunk = 4096;
  for (int level : {1, 2, 3, 4, 6, 9}) {
    for (bool random : {true, false}) {
      for (std::size_t n : boundary_sizes(chunk)) {
        SCOPED_TRACE("level " + std::to_string(level) + (random ? " random " : " text ") + std::to_string(n));
        const bytes input = random ? random_bytes(n, static_cast<unsigned>(n)) : compressible_bytes(n, 7);
        layer_compressor_options o;
        o.level = level;
        o.gzip_chunk_bytes = chunk;
        o.jobs = 3;
        const auto c = run(input, o, n % 3 == 0 ? 1000 : 4096 + 1);
        bool one_member = false;
        EXPECT_EQ(inflate_zlib(c.out, one_member), input);
        EXPECT_TRUE(one_member) << "zlib saw more than one gzip member or trailing bytes";
        EXPECT_EQ(inflate_isal(c.out), input);
        std::size_t consumed = 0;
        EXPECT_EQ(inflate_libdeflate(c.out, input.size(), consumed), input);
        EXPECT_EQ(consumed, c.out.size()) << "libdeflate read one member shorter than the stream";
        EXPECT_EQ(c.s.diff_id, sha256(input));
        EXPECT_EQ(c.s.stream_digest, sha256(c.out));
        EXPECT_EQ(c.s.stream_bytes, c.out.size());
        EXPECT_EQ(c.s.input_bytes, input.size());
      }
    }
  }
}

TEST(LayerCompressor, GzipWithTheDefaultChunkSizeSpansManyChunks) {
  const bytes input = compressible_bytes((std::size_t{3} << 20) + 12345, 3);
  const auto c = run(input, {}, 1 << 16);
  bool one_member = false;
  EXPECT_EQ(inflate_zlib(c.out, one_member), input);
  EXPECT_TRUE(one_member);
  std::size_t consumed = 0;
  EXPECT_EQ(inflate_libdeflate(c.out, input.size(), consumed), input);
  EXPECT_LT(c.out.size(), input.size() / 3) << "the dictionary should keep text well compressed";
}

TEST(LayerCompressor, GzipBytesDoNotDependOnJobsOrSourceChunking) {
  const bytes input = compressible_bytes(100000, 5);
  for (int level : {3, 6}) {
    layer_compressor_options o;
    o.level = level;
    o.gzip_chunk_bytes = 8192;
    o.jobs = 1;
    const auto one = run(input, o, 999);
    o.jobs = 4;
    const auto four = run(input, o, 65536);
    EXPECT_EQ(one.out, four.out) << "level " << level;
    EXPECT_EQ(one.s.stream_digest, four.s.stream_digest);
  }
}

TEST(LayerCompressor, GzipHeaderIsReproducible) {
  const auto c = run(bytes{}, {});
  ASSERT_GE(c.out.size(), 18u);
  // ID1 ID2 CM FLG, then MTIME 0 (no timestamp), OS Unix.
  EXPECT_EQ(c.out[0], std::byte{0x1f});
  EXPECT_EQ(c.out[1], std::byte{0x8b});
  EXPECT_EQ(c.out[3], std::byte{0});
  for (int i = 4; i < 8; ++i) EXPECT_EQ(c.out[static_cast<std::size_t>(i)], std::byte{0});
  EXPECT_EQ(c.out[9], std::byte{3});
}

TEST(LayerCompressor, ZstdDecodesToTheInputAndDoesNotDependOnJobs) {
  // 12 MiB spans two of libzstd's jobs (4 x its 2 MiB window at level 3).
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{70000}, std::size_t{12} << 20}) {
    SCOPED_TRACE(n);
    const bytes input = n > 100000 ? compressible_bytes(n, 9) : random_bytes(n, 9);
    layer_compressor_options o;
    o.compression = layer_compression::zstd;
    o.jobs = 1;
    const auto one = run(input, o, 1 << 16);
    o.jobs = 3;
    const auto three = run(input, o, 5000);
    EXPECT_EQ(one.out, three.out);
    bytes out(input.size() + 1);
    const std::size_t got = ZSTD_decompress(out.data(), out.size(), one.out.data(), one.out.size());
    ASSERT_FALSE(ZSTD_isError(got)) << ZSTD_getErrorName(got);
    out.resize(got);
    EXPECT_EQ(out, input);
    memory_source src(view(one.out), 333);
    auto d = make_decompressor(src, media_type::layer_compression::zstd);
    ASSERT_TRUE(d);
    bytes via_stage;
    for (;;) {
      auto chunk = (*d)->next();
      ASSERT_TRUE(chunk) << chunk.error().message();
      if (chunk->empty()) break;
      via_stage.insert(via_stage.end(), chunk->begin(), chunk->end());
    }
    EXPECT_EQ(via_stage, input);
    EXPECT_EQ(one.s.diff_id, sha256(input));
    EXPECT_EQ(one.s.stream_digest, sha256(one.out));
  }
}

TEST(LayerCompressor, NoneIsTheInputAndItsDigestIsTheDiffId) {
  const bytes input = random_bytes(12345, 4);
  layer_compressor_options o;
  o.compression = layer_compression::none;
  const auto c = run(input, o);
  EXPECT_EQ(c.out, input);
  EXPECT_EQ(c.s.stream_digest, c.s.diff_id);
  EXPECT_EQ(c.s.diff_id, sha256(input));
}

TEST(LayerCompressor, LevelsAreCheckedPerCompression) {
  using pipeline::resolve_level;
  EXPECT_EQ(*resolve_level(layer_compression::gzip, -1), 2);
  EXPECT_EQ(*resolve_level(layer_compression::zstd, -1), 3);
  EXPECT_EQ(*resolve_level(layer_compression::none, -1), -1);
  EXPECT_EQ(*resolve_level(layer_compression::gzip, 9), 9);
  EXPECT_EQ(*resolve_level(layer_compression::zstd, 19), 19);
  for (auto [c, level] : {std::pair{layer_compression::gzip, 0}, std::pair{layer_compression::gzip, 10},
                          std::pair{layer_compression::zstd, 0}, std::pair{layer_compression::zstd, 20},
                          std::pair{layer_compression::none, 1}}) {
    auto r = resolve_level(c, level);
    ASSERT_FALSE(r) << level;
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_NE(r.error().message().find("--level"), std::string::npos) << r.error().message();
  }
}

// A source failing half-way: the error comes back, whatever the compression.
class failing_source final : public byte_source {
 public:
  result<byte_view> next() override {
    if (calls_++ < 20) return byte_view(buf_.data(), buf_.size());
    return fail(errc::io, "disk on fire");
  }

 private:
  bytes buf_ = random_bytes(5000, 1);
  int calls_ = 0;
};

TEST(LayerCompressor, AnInputErrorEndsTheStreamWithThatError) {
  for (auto c : {layer_compression::gzip, layer_compression::zstd, layer_compression::none}) {
    failing_source src;
    layer_compressor_options o;
    o.compression = c;
    o.gzip_chunk_bytes = 4096;
    auto r = compress_stream(src, [](byte_view) -> result<void> { return {}; }, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::io);
    EXPECT_NE(r.error().message().find("disk on fire"), std::string::npos);
  }
}

TEST(LayerCompressor, AnOutputErrorEndsTheStream) {
  const bytes input = random_bytes(std::size_t{1} << 20, 2);
  for (auto c : {layer_compression::gzip, layer_compression::zstd, layer_compression::none}) {
    memory_source src(view(input), 4096);
    layer_compressor_options o;
    o.compression = c;
    o.gzip_chunk_bytes = 4096;
    int calls = 0;
    auto r = compress_stream(src, [&](byte_view) -> result<void> {
      if (++calls == 3) return fail(errc::resource_exhausted, "disk full");
      return {};
    }, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::resource_exhausted);
  }
}

}  // namespace
}  // namespace ocipipe::testing
