// stages/decompress: gzip members whose header carries an FHCRC (RFC 1952
// §2.3.1), read whatever sizes the upstream's chunks have.
#include "stages/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

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

result<std::string> gunzip(const std::string& blob, std::size_t chunk) {
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(blob.data()), blob.size()), chunk);
  OCIPIPE_ASSIGN_OR_RETURN(auto dec, make_decompressor(src, media_type::layer_compression::gzip));
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

}  // namespace
}  // namespace ocipipe
