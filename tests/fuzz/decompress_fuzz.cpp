// Differential fuzzing of gzip decoding: the same bytes through
//   - stages/decompress with each gzip inflater the build has (ISA-L's igzip,
//     what unpack and validate stream with, and zlib's, what they use in a
//     build without ISA-L), fed whole and in 13-byte chunks (chunk ends must
//     not matter), the two inflaters giving the same outcome;
//   - zlib and libdeflate, each driven with the same multi-member rules
//     (RFC 1952 §2.2; zero bytes after a member end the stream, as gzip(1)
//     takes tape padding; anything else must be a member);
//   - stages/deflate_scan on the first member: the gzip header parser, the
//     known-window decoder (decode_bytes) and the marker decoder
//     (decode_markers + resolve_markers) against zlib's raw inflate.
// Outcomes are compared by class: the same bytes out, or all failing. Past the
// output cap a decoder may say "too big" where another, still decoding, finds
// the data broken, so "too big" matches a failure but never a success.
// Any other disagreement aborts: a layer one reader accepts and another refuses
// (or reads differently) is the layer a registry, a runtime and ocipipe unpack
// to different trees.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <libdeflate.h>
#include <zlib.h>

#include "stages/decompress.h"
#include "stages/deflate_scan.h"
#include "stages/oci/byte_source.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ocipipe;

namespace {

constexpr std::size_t cap = std::size_t{1} << 23;  // bytes of output any decoder may produce

enum class outcome { ok, failed, too_big };
const char* name(outcome o) { return o == outcome::ok ? "ok" : o == outcome::failed ? "failed" : "too big"; }

struct decoded {
  outcome what = outcome::failed;
  std::vector<std::uint8_t> bytes;
};

bool all_zero(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

decoded with_ocipipe(const std::uint8_t* data, std::size_t size, std::size_t chunk,
                     gzip_inflater inflater = default_gzip_inflater()) {
  decoded d;
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(data), size), chunk);
  decompress_limits lim;
  lim.max_output_bytes = cap;
  auto dec = make_gzip_decompressor(src, inflater, lim);
  FUZZ_CHECK(dec.has_value(), "make_gzip_decompressor failed");
  for (;;) {
    auto c = (*dec)->next();
    if (!c) {
      d.what = c.error().code() == errc::resource_exhausted ? outcome::too_big : outcome::failed;
      return d;
    }
    if (c->empty()) break;
    const auto* p = reinterpret_cast<const std::uint8_t*>(c->data());
    d.bytes.insert(d.bytes.end(), p, p + c->size());
  }
  d.what = outcome::ok;
  return d;
}

decoded with_zlib(const std::uint8_t* data, std::size_t size) {
  decoded d;
  z_stream z{};
  if (inflateInit2(&z, 16 + 15) != Z_OK) std::abort();
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  std::uint8_t buf[65536];
  bool in_member = true;
  for (;;) {
    if (!in_member) {
      // Between members: the end, zero padding, or the next member.
      if (z.avail_in == 0 || all_zero(z.next_in, z.avail_in)) {
        d.what = outcome::ok;
        break;
      }
      if (z.next_in[0] == 0) break;  // padding, then something else
      inflateReset(&z);
      in_member = true;
    }
    z.next_out = buf;
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    d.bytes.insert(d.bytes.end(), buf, buf + (sizeof buf - z.avail_out));
    if (d.bytes.size() > cap) {
      d.what = outcome::too_big;
      break;
    }
    if (rc == Z_STREAM_END) {
      in_member = false;
      continue;
    }
    if (rc != Z_OK) break;  // broken data, or Z_BUF_ERROR: the input ended inside a member
  }
  inflateEnd(&z);
  return d;
}

decoded with_libdeflate(const std::uint8_t* data, std::size_t size) {
  static std::vector<std::uint8_t> out(cap + 1);
  decoded d;
  libdeflate_decompressor* dec = libdeflate_alloc_decompressor();
  std::size_t pos = 0, total = 0;
  for (;;) {
    // libdeflate skips a header's FHCRC without checking it (zlib and ISA-L
    // check it); the header parser checks it here, so that known leniency of
    // libdeflate (never used to read layers) is not reported as a finding.
    deflate::gzip_header_parser header;
    std::size_t header_used = 0;
    if (header.feed(byte_view(reinterpret_cast<const std::byte*>(data + pos), size - pos), header_used) ==
        deflate::gzip_header_parser::state::bad)
      break;
    std::size_t in_used = 0, produced = 0;
    const auto rc = libdeflate_gzip_decompress_ex(dec, data + pos, size - pos, out.data() + total,
                                                  out.size() - total, &in_used, &produced);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
      d.what = outcome::too_big;
      break;
    }
    if (rc != LIBDEFLATE_SUCCESS) break;
    total += produced;
    pos += in_used;
    if (total > cap) {
      d.what = outcome::too_big;
      break;
    }
    if (pos == size || all_zero(data + pos, size - pos)) {
      d.what = outcome::ok;
      break;
    }
    if (data[pos] == 0) break;
  }
  libdeflate_free_decompressor(dec);
  if (d.what == outcome::ok) d.bytes.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(total));
  return d;
}

void compare(const decoded& a, const char* an, const decoded& b, const char* bn, std::size_t size) {
  if (a.what == outcome::ok || b.what == outcome::ok) {
    FUZZ_CHECK(a.what == b.what, "%s: %s, %s: %s (input %zu bytes)", an, name(a.what), bn, name(b.what), size);
    FUZZ_CHECK(a.bytes == b.bytes, "%s and %s decode to different bytes (%zu vs %zu)", an, bn, a.bytes.size(),
               b.bytes.size());
  }
}

// zlib's raw inflate of the deflate data at `in`: the bytes, and where the
// final block ended, when the data is valid and complete. zlib drops the rest
// of the final block's last byte (BYTEBITS), so end_bit is a whole byte.
struct raw_result {
  enum { ok, invalid, truncated, too_big } what = invalid;
  std::vector<std::uint8_t> bytes;
  std::uint64_t end_bit = 0;
};

raw_result zlib_raw(const std::uint8_t* in, std::size_t n) {
  raw_result r;
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) std::abort();
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = static_cast<uInt>(n);
  std::uint8_t buf[65536];
  for (;;) {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_BLOCK);
    r.bytes.insert(r.bytes.end(), buf, buf + (sizeof buf - z.avail_out));
    if (r.bytes.size() > cap) {
      r.what = raw_result::too_big;
      break;
    }
    if (rc == Z_STREAM_END) {
      r.what = raw_result::ok;
      r.end_bit = 8 * (n - z.avail_in) - static_cast<unsigned>(z.data_type & 7);
      break;
    }
    // Z_OK made progress (with Z_BLOCK it also stops at each block end, the
    // final one included, before Z_STREAM_END); Z_BUF_ERROR with output room
    // left means no progress without more input: truncated.
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) r.what = raw_result::truncated;
    break;
  }
  inflateEnd(&z);
  return r;
}

void check_deflate_scan(const std::uint8_t* data, std::size_t size) {
  const byte_view all(reinterpret_cast<const std::byte*>(data), size);
  deflate::gzip_header_parser header;
  std::size_t used = 0;
  // Two pieces: the parser keeps state across feeds.
  const std::size_t first = size / 3;
  auto st = header.feed(all.first(first), used);
  FUZZ_CHECK(used <= first, "header parser used %zu of %zu", used, first);
  if (st == deflate::gzip_header_parser::state::more) {
    std::size_t used2 = 0;
    st = header.feed(all.subspan(used), used2);
    FUZZ_CHECK(used + used2 <= size, "header parser overran");
  }
  if (st != deflate::gzip_header_parser::state::done) return;
  const std::size_t start = header.length();
  FUZZ_CHECK(start <= size, "header length %zu of %zu", start, size);
  const auto raw = zlib_raw(data + start, size - start);
  if (raw.what == raw_result::too_big) return;
  const byte_view deflate_data = all.subspan(start);

  deflate::out_buffer<std::uint8_t> bytes;
  const auto b = deflate::decode_bytes(deflate_data, 0, ~std::uint64_t{0}, {}, cap, bytes);
  if (b.why == deflate::stop_reason::output_full) return;
  if (raw.what == raw_result::ok) {
    FUZZ_CHECK(b.why == deflate::stop_reason::member_end, "decode_bytes: stop %d (%s), zlib: ok",
               static_cast<int>(b.why), b.what);
    FUZZ_CHECK((b.end_bit + 7) / 8 * 8 == raw.end_bit, "decode_bytes ends at bit %llu, zlib at %llu",
               static_cast<unsigned long long>(b.end_bit), static_cast<unsigned long long>(raw.end_bit));
    FUZZ_CHECK(std::equal(bytes.data(), bytes.data() + bytes.size(), raw.bytes.begin(), raw.bytes.end()),
               "decode_bytes and zlib differ (%zu vs %zu bytes)", bytes.size(), raw.bytes.size());
  } else {
    FUZZ_CHECK(b.why != deflate::stop_reason::member_end, "decode_bytes accepts what zlib refuses (%s)",
               raw.what == raw_result::truncated ? "truncated" : "invalid");
  }

  // The marker decoder from the stream's start: a valid stream never reads
  // before its start, so every marker resolves against an empty window.
  deflate::out_buffer<std::uint16_t> symbols;
  const auto m = deflate::decode_markers(deflate_data, 0, ~std::uint64_t{0}, cap, false, symbols);
  if (raw.what == raw_result::ok && m.why == deflate::stop_reason::member_end) {
    FUZZ_CHECK((m.end_bit + 7) / 8 * 8 == raw.end_bit, "decode_markers ends at bit %llu, zlib at %llu",
               static_cast<unsigned long long>(m.end_bit), static_cast<unsigned long long>(raw.end_bit));
    FUZZ_CHECK(m.lowest_window_ref == deflate::window_bytes, "valid stream refers to window byte %zu",
               m.lowest_window_ref);
    FUZZ_CHECK(symbols.size() == deflate::window_bytes + raw.bytes.size(), "decode_markers: %zu symbols for %zu bytes",
               symbols.size() - deflate::window_bytes, raw.bytes.size());
    std::vector<std::byte> resolved(raw.bytes.size());
    FUZZ_CHECK(deflate::resolve_markers(symbols.view().subspan(deflate::window_bytes), {}, resolved.data()),
               "markers of a valid stream do not resolve");
    FUZZ_CHECK(std::equal(resolved.begin(), resolved.end(), raw.bytes.begin(), raw.bytes.end(),
                          [](std::byte a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }),
               "decode_markers and zlib differ");
  } else if (m.why == deflate::stop_reason::member_end) {
    // Markers stand for what zlib calls "too far back", its first complaint;
    // a stream without them is one zlib must accept.
    FUZZ_CHECK(raw.what == raw_result::invalid && m.lowest_window_ref < deflate::window_bytes,
               "decode_markers accepts a stream zlib finds %s",
               raw.what == raw_result::truncated ? "truncated" : "invalid");
  }
  if (raw.what == raw_result::ok && size > start) {
    // A real dynamic block that is not the last must be found as one.
    const auto first_byte = data[start];
    if ((first_byte & 7) == 4)  // BFINAL = 0, BTYPE = 10
      FUZZ_CHECK(deflate::plausible_dynamic_block(deflate_data, 0), "valid dynamic block not plausible");
  }
  (void)deflate::find_block_start(deflate_data, 0, std::min<std::uint64_t>(8 * deflate_data.size(), 1 << 15));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const decoded whole = with_ocipipe(data, size, size ? size : 1);
  const decoded chunked = with_ocipipe(data, size, 13);
  FUZZ_CHECK(whole.what == chunked.what && (whole.what != outcome::ok || whole.bytes == chunked.bytes),
             "chunking changes the outcome: %s vs %s", name(whole.what), name(chunked.what));
  const decoded zlib = with_zlib(data, size);
  const decoded libdeflate = with_libdeflate(data, size);
  compare(whole, "ocipipe", zlib, "zlib", size);
  compare(whole, "ocipipe", libdeflate, "libdeflate", size);
  if (default_gzip_inflater() != gzip_inflater::zlib) {
    compare(with_ocipipe(data, size, 13, gzip_inflater::zlib), "ocipipe's zlib inflater", whole, "ocipipe", size);
  }
  compare(zlib, "zlib", libdeflate, "libdeflate", size);
  check_deflate_scan(data, size);
  (void)sniff_compression(byte_view(reinterpret_cast<const std::byte*>(data), size));
  return 0;
}
