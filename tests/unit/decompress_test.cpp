// stages/decompress: gzip members whose header carries an FHCRC (RFC 1952
// §2.3.1), read whatever sizes the upstream's chunks have; and the two gzip
// inflaters (ISA-L's, and zlib's for builds without ISA-L) giving the same
// bytes, or failing alike, on every kind of stream.
#include "stages/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "tests/support/stream_builders.h"

namespace ocipipe {
namespace {

// A gzip member of `text` with FEXTRA, FNAME, FCOMMENT and FHCRC; the header
// CRC-16 flipped when `bad_hcrc`.
std::string member_with_header_crc(const std::string& text, bool bad_hcrc) {
  std::string h("\x1f\x8b\x08\x1e\0\0\0\0\0\x03", 10);
  h += std::string("\x02\0AB", 4) + "file.tar" + '\0' + "comment" + '\0';
  const auto hcrc = crc32(0, reinterpret_cast<const Bytef*>(h.data()), static_cast<uInt>(h.size())) ^ (bad_hcrc ? 1 : 0);
  h += static_cast<char>(hcrc & 0xff);
  h += static_cast<char>((hcrc >> 8) & 0xff);
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string body(deflateBound(&z, text.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(body.data());
  z.avail_out = static_cast<uInt>(body.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  body.resize(z.total_out);
  deflateEnd(&z);
  const auto crc = crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
  std::string trailer;
  for (auto v : {static_cast<std::uint32_t>(crc), static_cast<std::uint32_t>(text.size())})
    for (int i = 0; i < 4; ++i) trailer += static_cast<char>((v >> (8 * i)) & 0xff);
  return h + body + trailer;
}

result<std::string> gunzip(const std::string& blob, std::size_t chunk,
                           gzip_inflater inflater = default_gzip_inflater(), decompress_limits limits = {}) {
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(blob.data()), blob.size()), chunk);
  OCIPIPE_ASSIGN_OR_RETURN(auto dec, make_gzip_decompressor(src, inflater, limits));
  std::string out;
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto c, dec->next());
    if (c.empty()) return out;
    out.append(reinterpret_cast<const char*>(c.data()), c.size());
  }
}

// Found by tests/fuzz/decompress_fuzz.cpp: ISA-L checked FHCRC only when the
// header arrived in one input buffer, so a bad header CRC passed when the
// upstream's chunks split the header.
TEST(GzipDecompress, BadHeaderCrcFailsWhateverTheChunkSize) {
  const std::string first = member_with_header_crc("first member\n", false);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{13}, std::size_t{1} << 20}) {
    for (const auto& blob : {member_with_header_crc("hello\n", true), first + member_with_header_crc("two\n", true)}) {
      auto r = gunzip(blob, chunk);
      ASSERT_FALSE(r) << "chunk " << chunk;
      EXPECT_EQ(r.error().code(), errc::malformed);
      EXPECT_NE(r.error().message().find("header CRC mismatch"), std::string::npos) << r.error().message();
    }
  }
}

// Found by the same target: with the header's optional fields split across
// chunks, ISA-L misread where the deflate data began and failed valid members
// as "invalid lookback distance". Headers are now read by
// deflate::gzip_header_parser.
TEST(GzipDecompress, GoodHeaderCrcReadsWhateverTheChunkSize) {
  const std::string blob = member_with_header_crc("hello\n", false) + member_with_header_crc("world\n", false);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{13}, std::size_t{1} << 20}) {
    auto r = gunzip(blob, chunk);
    ASSERT_TRUE(r) << "chunk " << chunk << ": " << r.error().message();
    EXPECT_EQ(*r, "hello\nworld\n");
  }
}

std::string gzip_member(const std::string& text, int level = 6) { return testing::zlib_gzip(text, level); }

std::string text_of(std::size_t n) {
  std::string t;
  for (std::size_t i = 0; t.size() < n; ++i) t += "line " + std::to_string(i * 7919 % 1000) + " of a layer\n";
  t.resize(n);
  return t;
}

TEST(GzipInflaters, TheBuildSaysWhichItUses) {
  EXPECT_TRUE(have_gzip_inflater(gzip_inflater::zlib));
  EXPECT_TRUE(have_gzip_inflater(default_gzip_inflater()));
  EXPECT_EQ(gzip_inflater_name(default_gzip_inflater()), OCIPIPE_HAVE_ISAL ? "isa-l" : "zlib");
  if (!OCIPIPE_HAVE_ISAL) {
    memory_source src(byte_view{});
    auto r = make_gzip_decompressor(src, gzip_inflater::isal);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::unsupported);
  }
}

// Every kind of stream, through each inflater the build has and in chunks of 1, 13 and
// 64 KiB bytes: the same output, or both refuse it (malformed) at the same place.
TEST(GzipInflaters, AgreeOnGoodAndBrokenStreams) {
  // big spans two of the sources' 1 MiB output chunks.
  const std::string big = text_of(1536 << 10), small = text_of(1000);
  const std::string a = gzip_member(big), b = gzip_member(small, 1), empty = gzip_member("");
  std::string bad_crc = a;
  bad_crc[bad_crc.size() - 6] ^= 1;
  std::string bad_size = b;
  bad_size[bad_size.size() - 1] ^= 1;
  std::string bad_data = a;
  bad_data[a.size() / 2] ^= 0x55;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"one member", a},
      {"three members", a + b + empty},
      {"an empty member", empty},
      {"zero padding after the last member", b + std::string(1000, '\0')},
      {"FHCRC header", member_with_header_crc(small, false)},
      {"bad FHCRC", member_with_header_crc(small, true)},
      {"garbage in the padding", b + std::string(10, '\0') + "x"},
      {"garbage after a member", b + "garbage"},
      {"not gzip", "plain text, no gzip at all"},
      {"empty blob", ""},
      {"truncated in the data", a.substr(0, a.size() / 3)},
      {"truncated in the trailer", b.substr(0, b.size() - 3)},
      {"truncated in the second header", b + b.substr(0, 5)},
      {"CRC32 mismatch", bad_crc},
      {"ISIZE mismatch", bad_size},
      {"broken deflate data", bad_data},
  };
  std::vector<gzip_inflater> inflaters = {gzip_inflater::zlib};
  if (have_gzip_inflater(gzip_inflater::isal)) inflaters.push_back(gzip_inflater::isal);
  for (const auto& [name, blob] : cases) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{13}, std::size_t{65536}}) {
      if (chunk == 1 && blob.size() > 100000) continue;  // a byte at a time through 3 MB: slow, nothing new
      SCOPED_TRACE(name + ", chunks of " + std::to_string(chunk));
      auto want = gunzip(blob, chunk, gzip_inflater::zlib);
      for (auto inflater : inflaters) {
        auto got = gunzip(blob, chunk, inflater);
        ASSERT_EQ(got.has_value(), want.has_value())
            << gzip_inflater_name(inflater) << ": " << (got ? "read it" : got.error().message()) << "; zlib: "
            << (want ? "read it" : want.error().message());
        if (got) {
          EXPECT_TRUE(*got == *want) << gzip_inflater_name(inflater);
        } else {
          EXPECT_EQ(got.error().code(), errc::malformed) << got.error().message();
          // Header, trailer and framing messages are shared; only the words for
          // broken deflate data are each library's own.
          if (name != "broken deflate data") {
            EXPECT_EQ(got.error().message(), want.error().message());
          }
        }
      }
    }
  }
  EXPECT_EQ(gunzip(a + b + empty, 4096, gzip_inflater::zlib).value(), big + small);
}

TEST(GzipInflaters, ZlibStopsAtTheOutputLimitLikeIsal) {
  const std::string blob = gzip_member(text_of(1 << 20));
  decompress_limits lim;
  lim.max_output_bytes = 100000;
  lim.max_output_name = "--max-layer-bytes";
  auto r = gunzip(blob, 4096, gzip_inflater::zlib, lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted);
  EXPECT_NE(r.error().message().find("--max-layer-bytes"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace ocipipe
