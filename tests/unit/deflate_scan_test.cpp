// stages/deflate_scan: the decoder against zlib's encoder, the block finder
// against the real block boundaries (zlib's Z_BLOCK stops), marker decoding
// and resolution against the original bytes, the gzip header parser.
#include "stages/deflate_scan.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "bench/micro/bench_data.h"

namespace ocipipe::deflate {
namespace {

std::vector<std::byte> raw_deflate(const std::vector<std::byte>& in, int level, int strategy = Z_DEFAULT_STRATEGY) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy), Z_OK);
  std::vector<std::byte> out(deflateBound(&z, in.size()) + 64);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(::deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Rootfs-like text with stretches of random bytes (which zlib stores).
std::vector<std::byte> mixed_bytes(std::size_t n, std::uint64_t seed) {
  auto v = bench::rootfs_like_bytes(n, seed);
  std::mt19937_64 rng(seed);
  for (std::size_t at = 0; at + 70000 < n; at += 400000)
    for (std::size_t i = 0; i < 70000; ++i) v[at + i] = static_cast<std::byte>(rng());
  return v;
}

struct boundary {
  std::uint64_t bit;     // a block start
  std::uint64_t out_at;  // output bytes before it
};

// Every block start after the first, found with zlib stopping at each block end.
std::vector<boundary> real_boundaries(const std::vector<std::byte>& deflated) {
  serial_inflater inf;
  EXPECT_TRUE(inf.start(0, 0, {}).has_value());
  std::vector<boundary> b;
  std::vector<std::byte> out(1 << 20);
  std::uint64_t pos = 0, produced_all = 0;
  for (;;) {
    std::size_t used = 0, produced = 0;
    unsigned unused = 0;
    auto ev = inf.run(byte_view(deflated).subspan(pos), out, used, produced, unused);
    EXPECT_TRUE(ev.has_value());
    if (!ev) break;
    pos += used;
    produced_all += produced;
    if (*ev == serial_inflater::event::member_end) break;
    if (*ev == serial_inflater::event::boundary) b.push_back({pos * 8 - unused, produced_all});
    if (*ev == serial_inflater::event::need_input) {
      ADD_FAILURE() << "zlib wanted more input";
      break;
    }
  }
  return b;
}

// BFINAL | BTYPE << 1 of the block starting at `bit`.
unsigned block_head_at(const std::vector<std::byte>& in, std::uint64_t bit) {
  unsigned v = 0;
  for (unsigned i = 0; i < 3; ++i) {
    const auto b = bit + i;
    v |= ((static_cast<unsigned>(in[b / 8]) >> (b % 8)) & 1u) << i;
  }
  return v;
}

TEST(DeflateScan, DecodeBytesMatchesZlibAtEveryLevelAndStrategy) {
  const auto data = mixed_bytes(600000, 7);
  const std::pair<int, int> cases[] = {{0, Z_DEFAULT_STRATEGY}, {1, Z_DEFAULT_STRATEGY}, {6, Z_DEFAULT_STRATEGY},
                                       {9, Z_DEFAULT_STRATEGY}, {6, Z_FIXED},            {6, Z_HUFFMAN_ONLY},
                                       {6, Z_RLE}};
  for (auto [level, strategy] : cases) {
    const auto z = raw_deflate(data, level, strategy);
    out_buffer<std::uint8_t> out;
    const auto r = decode_bytes(z, 0, ~std::uint64_t{0}, {}, data.size() + 1000, out);
    ASSERT_EQ(r.why, stop_reason::member_end) << level << "/" << strategy << ": " << r.what;
    ASSERT_EQ(out.size(), data.size());
    EXPECT_EQ(std::memcmp(out.data(), data.data(), data.size()), 0) << level << "/" << strategy;
    EXPECT_LE(r.end_bit, z.size() * 8);
    EXPECT_GT(r.end_bit + 8, z.size() * 8);
  }
}

TEST(DeflateScan, EveryRealDynamicBlockStartIsPlausibleAndFinderMostlyHitsThem) {
  const auto data = bench::rootfs_like_bytes(3u << 20, 11);
  const auto z = raw_deflate(data, 6);
  const auto bounds = real_boundaries(z);
  ASSERT_GT(bounds.size(), 20u);
  std::size_t dynamic = 0, hits = 0;
  std::uint64_t prev = 0;
  for (const auto& b : bounds) {
    if (block_head_at(z, b.bit) == 4) {  // not final, dynamic
      ++dynamic;
      EXPECT_TRUE(plausible_dynamic_block(z, b.bit)) << "bit " << b.bit;
      const auto found = find_block_start(z, prev + 1, b.bit + 1);
      ASSERT_TRUE(found.has_value());
      if (*found == b.bit) ++hits;
    }
    prev = b.bit;
  }
  ASSERT_GT(dynamic, 20u);
  EXPECT_GE(hits * 10, dynamic * 9) << hits << " of " << dynamic;
}

TEST(DeflateScan, MarkerDecodeFromAMidStreamBlockResolvesToTheOriginalBytes) {
  const auto data = bench::rootfs_like_bytes(2u << 20, 3);
  const auto z = raw_deflate(data, 9);
  const auto bounds = real_boundaries(z);
  ASSERT_GT(bounds.size(), 6u);
  for (std::size_t i : {std::size_t{1}, bounds.size() / 2, bounds.size() - 3}) {
    const auto& b = bounds[i];
    ASSERT_GE(b.out_at, window_bytes);
    out_buffer<std::uint16_t> sym;
    const auto stop = bounds[i + 1].bit + 1;  // stops at the end of block i + 1
    const auto r = decode_markers(z, b.bit, stop, 64u << 20, false, sym);
    ASSERT_EQ(r.why, stop_reason::boundary) << r.what;
    EXPECT_EQ(r.end_bit, bounds[i + 2].bit);
    const std::size_t n = sym.size() - window_bytes;
    ASSERT_EQ(n, bounds[i + 2].out_at - b.out_at);
    EXPECT_LT(r.lowest_window_ref, window_bytes);  // text refers back into the window
    std::vector<std::byte> got(n);
    const byte_view win(data.data() + b.out_at - window_bytes, window_bytes);
    ASSERT_TRUE(resolve_markers(std::span(sym.data() + window_bytes, n), win, got.data()));
    EXPECT_EQ(std::memcmp(got.data(), data.data() + b.out_at, n), 0) << "block " << i;
    // A window that lacks the bytes referenced is refused.
    const std::size_t short_len = window_bytes - r.lowest_window_ref - 1;
    EXPECT_FALSE(resolve_markers(std::span(sym.data() + window_bytes, n), win.last(short_len), got.data()));
  }
}

TEST(DeflateScan, CleanStopHandsOverToAByteDecodeWithTheNarrowedWindow) {
  // The random stretches of mixed_bytes end every marker: rootfs_like_bytes
  // alone (a tiny vocabulary) keeps copying the unknown window for megabytes.
  const auto data = mixed_bytes(2u << 20, 5);
  const auto z = raw_deflate(data, 6);
  const auto bounds = real_boundaries(z);
  const auto& b = bounds[2];
  out_buffer<std::uint16_t> sym;
  const auto r = decode_markers(z, b.bit, ~std::uint64_t{0}, 64u << 20, true, sym);
  ASSERT_EQ(r.why, stop_reason::clean);
  std::vector<std::byte> win(window_bytes);
  for (std::size_t i = 0; i < window_bytes; ++i) {
    const auto s = sym.data()[sym.size() - window_bytes + i];
    ASSERT_LT(s, 256);
    win[i] = static_cast<std::byte>(s);
  }
  out_buffer<std::uint8_t> rest;
  const auto r2 = decode_bytes(z, r.end_bit, ~std::uint64_t{0}, win, 64u << 20, rest);
  ASSERT_EQ(r2.why, stop_reason::member_end) << r2.what;
  const std::size_t n1 = sym.size() - window_bytes, n2 = rest.size() - window_bytes;
  ASSERT_EQ(b.out_at + n1 + n2, data.size());
  EXPECT_EQ(std::memcmp(rest.data() + window_bytes, data.data() + b.out_at + n1, n2), 0);
}

// Found by tests/fuzz/decompress_fuzz.cpp (UBSan): resolving with the empty
// window of a stream's start passed a null source to memcpy.
TEST(DeflateScan, MarkersOfAStreamStartResolveWithAnEmptyWindow) {
  std::vector<std::byte> text(3000);
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<std::byte>("abcab"[i % 5]);
  for (const auto& in : {raw_deflate(text, 6), raw_deflate({}, 6)}) {
    out_buffer<std::uint16_t> symbols;
    const auto r = decode_markers(in, 0, ~std::uint64_t{0}, 1 << 20, false, symbols);
    ASSERT_EQ(r.why, stop_reason::member_end);
    EXPECT_EQ(r.lowest_window_ref, window_bytes);
    const auto decoded = symbols.view().subspan(window_bytes);
    std::vector<std::byte> out(decoded.size() + 1);
    ASSERT_TRUE(resolve_markers(decoded, byte_view{}, out.data()));
    out.pop_back();
    EXPECT_EQ(out.size(), in.size() > 2 ? text.size() : 0u);
    if (in.size() > 2) EXPECT_EQ(out, text);
  }
}

TEST(DeflateScan, TruncatedInputIsNeedInputAndOutputCapIsOutputFull) {
  const auto data = bench::rootfs_like_bytes(300000, 9);
  const auto z = raw_deflate(data, 6);
  out_buffer<std::uint8_t> out;
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, z.size() / 3, z.size() - 1}) {
    const auto r = decode_bytes(byte_view(z).first(cut), 0, ~std::uint64_t{0}, {}, 1u << 30, out);
    EXPECT_EQ(r.why, stop_reason::need_input) << cut;
  }
  const auto r = decode_bytes(z, 0, ~std::uint64_t{0}, {}, 1000, out);
  EXPECT_EQ(r.why, stop_reason::output_full);
  EXPECT_LE(out.size(), 1000u + 258);
}

TEST(DeflateScan, GarbageAtEveryStartBitNeverCrashesOrOverreads) {
  // Random bytes and damaged deflate data, decoded from many bit offsets, in
  // both modes; run under ASan this checks the decoder's bounds.
  std::mt19937_64 rng(1);
  auto good = raw_deflate(bench::rootfs_like_bytes(200000, 2), 6);
  for (int round = 0; round < 60; ++round) {
    std::vector<std::byte> in = round % 2 ? random_bytes(5000 + rng() % 20000, rng()) : good;
    if (round % 2 == 0)
      for (int f = 0; f < 20; ++f) in[rng() % in.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    in.resize(in.size() - rng() % 100);
    out_buffer<std::uint16_t> sym;
    out_buffer<std::uint8_t> out;
    for (int s = 0; s < 20; ++s) {
      const std::uint64_t bit = rng() % (in.size() * 8);
      (void)decode_markers(in, bit, bit + 50000, 1u << 20, s % 2 == 0, sym);
      (void)decode_bytes(in, bit, bit + 50000, {}, 1u << 20, out);
      (void)find_block_start(in, bit, bit + 2000);
    }
  }
}

std::vector<std::byte> header_with_all_fields(bool good_hcrc) {
  std::vector<std::uint8_t> h = {0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 1, 2, 3, 4, 0, 3};
  h.push_back(5);
  h.push_back(0);
  for (int i = 0; i < 5; ++i) h.push_back(static_cast<std::uint8_t>('x' + i));
  for (char c : std::string("name.tar")) h.push_back(static_cast<std::uint8_t>(c));
  h.push_back(0);
  for (char c : std::string("a comment")) h.push_back(static_cast<std::uint8_t>(c));
  h.push_back(0);
  const auto crc = ::crc32(0, h.data(), static_cast<uInt>(h.size())) ^ (good_hcrc ? 0 : 1);
  h.push_back(static_cast<std::uint8_t>(crc & 0xff));
  h.push_back(static_cast<std::uint8_t>((crc >> 8) & 0xff));
  std::vector<std::byte> out;
  for (auto c : h) out.push_back(static_cast<std::byte>(c));
  return out;
}

TEST(DeflateScan, GzipHeaderParserReadsEveryOptionalFieldFedByteByByte) {
  auto h = header_with_all_fields(true);
  const std::size_t len = h.size();
  h.push_back(std::byte{0x55});  // first deflate byte: not part of the header
  gzip_header_parser p;
  std::size_t i = 0;
  gzip_header_parser::state st = gzip_header_parser::state::more;
  while (st == gzip_header_parser::state::more && i < h.size()) {
    std::size_t used = 0;
    st = p.feed(byte_view(h).subspan(i, 1), used);
    i += used;
  }
  ASSERT_EQ(st, gzip_header_parser::state::done) << p.what();
  EXPECT_EQ(i, len);
  EXPECT_EQ(p.length(), len);
  gzip_header_parser whole;
  std::size_t used = 0;
  EXPECT_EQ(whole.feed(h, used), gzip_header_parser::state::done);
  EXPECT_EQ(used, len);
}

TEST(DeflateScan, GzipHeaderParserRefusesBadMagicMethodFlagsAndHeaderCrc) {
  std::size_t used = 0;
  {
    gzip_header_parser p;
    EXPECT_EQ(p.feed(header_with_all_fields(false), used), gzip_header_parser::state::bad);
    EXPECT_STREQ(p.what(), "header CRC mismatch");
  }
  for (auto [at, v] : {std::pair{0, 0x1e}, std::pair{2, 7}, std::pair{3, 0x20}}) {
    auto h = header_with_all_fields(true);
    h[static_cast<std::size_t>(at)] = static_cast<std::byte>(v);
    gzip_header_parser p;
    EXPECT_EQ(p.feed(h, used), gzip_header_parser::state::bad) << at;
  }
}

}  // namespace
}  // namespace ocipipe::deflate
