#include "stages/deflate_scan.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ocipipe::deflate {
namespace {

// ---- Huffman decode tables (RFC 1951 §3.2.2) ----
//
// An entry is a uint32: bits 0-4 how many bits to consume, bits 5-7 its kind,
// bits 8-12 the extra bits that follow (lengths, distances; §3.2.5), bits
// 16-31 the value (literal byte, base length, base distance, code-length
// symbol, or a subtable's offset). Codes longer than the main table's bits
// go through one subtable of (15 - main bits) bits per main-table prefix.
enum : std::uint32_t { k_lit = 0, k_len = 1, k_eob = 2, k_sub = 3, k_bad = 4, k_dist = 5 };
constexpr std::uint32_t entry(std::uint32_t kind, std::uint32_t extra, std::uint32_t value) {
  return (kind << 5) | (extra << 8) | (value << 16);
}
constexpr std::uint32_t kind_of(std::uint32_t e) { return (e >> 5) & 7; }
constexpr std::uint32_t bad_entry = entry(k_bad, 0, 0) | 1;

constexpr std::uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                        31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                         33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                         1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// Order of the code-length code lengths in a dynamic header (§3.2.7).
constexpr std::uint8_t cl_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

constexpr unsigned lit_bits = 11, dist_bits = 8, cl_bits = 7;
constexpr std::size_t lit_table_size = (1u << lit_bits) + 288 * (1u << (15 - lit_bits));
constexpr std::size_t dist_table_size = (1u << dist_bits) + 32 * (1u << (15 - dist_bits));

std::uint32_t lit_info(unsigned sym) {
  if (sym < 256) return entry(k_lit, 0, sym);
  if (sym == 256) return entry(k_eob, 0, 0);
  if (sym < 286) return entry(k_len, len_extra[sym - 257], len_base[sym - 257]);
  return entry(k_bad, 0, 0);
}
std::uint32_t dist_info(unsigned sym) {
  return sym < 30 ? entry(k_dist, dist_extra[sym], dist_base[sym]) : entry(k_bad, 0, 0);
}
std::uint32_t cl_info(unsigned sym) { return entry(k_lit, 0, sym); }

// Kraft check of a code: 0 complete, >0 incomplete, <0 over-subscribed;
// `max_len` receives the longest length used (0: no codes).
int kraft(const std::uint8_t* lens, unsigned n, unsigned& max_len, unsigned* count_out = nullptr) {
  unsigned count[16] = {};
  for (unsigned i = 0; i < n; ++i) ++count[lens[i]];
  int left = 1;
  max_len = 0;
  for (unsigned len = 1; len <= 15; ++len) {
    left = left * 2 - static_cast<int>(count[len]);
    if (left < 0) return -1;
    if (count[len]) max_len = len;
  }
  if (count_out) std::copy(count, count + 16, count_out);
  return left;
}

// Whether a code is one a decoder accepts: not over-subscribed; complete, or
// (allow_incomplete) a single code of length 1, or (allow_empty) no code at
// all — zlib's rules (inftrees.c).
bool acceptable(const std::uint8_t* lens, unsigned n, bool allow_incomplete, bool allow_empty) {
  unsigned max_len = 0;
  const int left = kraft(lens, n, max_len);
  if (left < 0) return false;
  if (max_len == 0) return allow_empty;
  return left == 0 || (allow_incomplete && max_len == 1);
}

unsigned reverse_bits(unsigned code, unsigned len) {
  unsigned r = 0;
  for (unsigned i = 0; i < len; ++i, code >>= 1) r = (r << 1) | (code & 1);
  return r;
}

// Fills `table` for the code `lens`; false if the code is not acceptable.
template <class Info>
bool build_table(const std::uint8_t* lens, unsigned n, unsigned main_bits, Info info, std::uint32_t* table,
                 bool allow_incomplete, bool allow_empty) {
  unsigned count[16];
  unsigned max_len = 0;
  const int left = kraft(lens, n, max_len, count);
  if (left < 0) return false;
  if (max_len == 0 && !allow_empty) return false;
  if (left > 0 && max_len != 0 && !(allow_incomplete && max_len == 1)) return false;
  const unsigned main_size = 1u << main_bits, sub_bits = 15 - main_bits, sub_size = 1u << sub_bits;
  std::fill(table, table + main_size, bad_entry);
  unsigned next_code[16];
  unsigned code = 0;
  count[0] = 0;
  for (unsigned len = 1; len <= 15; ++len) {
    code = (code + count[len - 1]) << 1;
    next_code[len] = code;
  }
  unsigned sub_next = main_size;
  for (unsigned sym = 0; sym < n; ++sym) {
    const unsigned len = lens[sym];
    if (!len) continue;
    const unsigned rev = reverse_bits(next_code[len]++, len);
    const std::uint32_t e = info(sym);
    if (len <= main_bits) {
      for (unsigned i = rev; i < main_size; i += 1u << len) table[i] = e | len;
      continue;
    }
    const unsigned prefix = rev & (main_size - 1);
    if (kind_of(table[prefix]) != k_sub) {
      table[prefix] = entry(k_sub, 0, sub_next) | main_bits;
      std::fill(table + sub_next, table + sub_next + sub_size, bad_entry);
      sub_next += sub_size;
    }
    const unsigned off = table[prefix] >> 16, rem = len - main_bits;
    for (unsigned i = rev >> main_bits; i < sub_size; i += 1u << rem) table[off + i] = e | rem;
  }
  return true;
}

// ---- bit reader (LSB first, §3.1.1) ----
// Reads past the end of the input as zero bits; overrun() tells.
struct bit_reader {
  const std::uint8_t* in;
  std::size_t n;
  std::size_t pos = 0;  // next byte to load
  std::uint64_t buf = 0;
  unsigned cnt = 0;

  bit_reader(const std::uint8_t* in_, std::size_t n_, std::uint64_t bit) : in(in_), n(n_), pos(bit / 8) {
    refill();
    drop(static_cast<unsigned>(bit % 8));
  }
  // At least 56 bits in buf afterwards.
  void refill() {
    if (pos + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, in + pos, 8);
      buf |= w << cnt;
      pos += (63 - cnt) >> 3;
      cnt |= 56;
    } else {
      while (cnt <= 56) {
        const std::uint64_t b = pos < n ? in[pos] : 0;
        buf |= b << cnt;
        ++pos;
        cnt += 8;
      }
    }
  }
  std::uint32_t peek(unsigned k) const { return static_cast<std::uint32_t>(buf & ((std::uint64_t{1} << k) - 1)); }
  void drop(unsigned k) {
    buf >>= k;
    cnt -= k;
  }
  std::uint32_t take(unsigned k) {
    const auto v = peek(k);
    drop(k);
    return v;
  }
  std::uint64_t bit_pos() const { return std::uint64_t{pos} * 8 - cnt; }
  bool overrun() const { return pos > n && bit_pos() > std::uint64_t{n} * 8; }
};

// Reads a dynamic header's code lengths (§3.2.7) after BFINAL/BTYPE:
// lens[0..nlit) literal/length, lens[nlit..nlit+ndist) distance. Returns
// nullptr or what is wrong. Checks the code-length code and the ranges, not
// the two codes built from the lengths.
const char* read_code_lengths(bit_reader& br, std::uint8_t* lens, unsigned& nlit, unsigned& ndist) {
  br.refill();
  nlit = br.take(5) + 257;
  ndist = br.take(5) + 1;
  const unsigned nclen = br.take(4) + 4;
  if (nlit > 286 || ndist > 30) return "too many length or distance symbols";
  std::uint8_t cl_lens[19] = {};
  for (unsigned i = 0; i < nclen; ++i) {
    if (br.cnt < 3) br.refill();
    cl_lens[cl_order[i]] = static_cast<std::uint8_t>(br.take(3));
  }
  std::uint32_t cl_table[1u << cl_bits];
  if (!build_table(cl_lens, 19, cl_bits, cl_info, cl_table, false, false)) return "invalid code lengths set";
  const unsigned total = nlit + ndist;
  unsigned i = 0;
  while (i < total) {
    if (br.cnt < 16) br.refill();
    const std::uint32_t e = cl_table[br.peek(cl_bits)];
    br.drop(e & 31);
    const unsigned sym = e >> 16;
    if (sym < 16) {
      lens[i++] = static_cast<std::uint8_t>(sym);
      continue;
    }
    unsigned rep;
    std::uint8_t val = 0;
    if (sym == 16) {
      if (i == 0) return "invalid bit length repeat";
      val = lens[i - 1];
      rep = 3 + br.take(2);
    } else if (sym == 17) {
      rep = 3 + br.take(3);
    } else {
      rep = 11 + br.take(7);
    }
    if (i + rep > total) return "invalid bit length repeat";
    std::fill(lens + i, lens + i + rep, val);
    i += rep;
  }
  if (lens[256] == 0) return "invalid code -- missing end-of-block";
  return nullptr;
}

template <class Sym>
void copy_match(Sym* d, std::size_t dist, unsigned len) {
  const Sym* s = d - dist;
  if (dist >= 8) {
    Sym* const end = d + len;
    do {  // may write up to 7 symbols past end: the buffer keeps slack
      std::memcpy(d, s, 8 * sizeof(Sym));
      d += 8;
      s += 8;
    } while (d < end);
  } else if (dist == 1) {
    std::fill(d, d + len, *s);
  } else {
    for (unsigned i = 0; i < len; ++i) d[i] = s[i];
  }
}

constexpr std::size_t slack = 258 + 16;

// The decoder for both modes. `prefix` symbols (the window) are already in
// out; Markers tracks window references and marker-free runs.
template <class Sym, bool Markers>
decode_result inflate_blocks(const std::uint8_t* in, std::size_t n, std::uint64_t start_bit,
                             std::uint64_t stop_bit, std::size_t max_output, bool stop_when_clean,
                             out_buffer<Sym>& out, std::size_t prefix) {
  decode_result r;
  const std::size_t limit = prefix + max_output;  // largest size of out
  auto stopped = [&](stop_reason why) {
    r.why = why;
    return r;
  };
  if (start_bit >= std::uint64_t{n} * 8) return stopped(stop_reason::need_input);
  bit_reader br(in, n, start_bit);
  auto invalid = [&](const char* what) {
    // Zero bits read past the end may look invalid: that is truncation.
    r.why = br.overrun() ? stop_reason::need_input : stop_reason::invalid;
    r.what = what;
    return r;
  };
  std::vector<std::uint32_t> lit_table(lit_table_size), dist_table(dist_table_size);
  bool tables_fixed = false;
  std::size_t o = prefix;
  std::size_t last_marker = prefix - 1;  // highest index known to hold a marker (Markers)
  std::size_t scanned_to = prefix;       // out[prefix, scanned_to) was searched for markers
  out.reserve(std::min(limit, prefix + (std::size_t{1} << 16)) + slack);
  Sym* dst = out.data();
  // Capacity as far as the cap allows: reaching it means output_full.
  auto usable = [&] { return std::min(out.capacity(), limit + slack); };
  std::size_t cap = usable();

  for (;;) {
    br.refill();
    if (br.overrun()) return stopped(stop_reason::need_input);
    const unsigned final_block = br.take(1);
    const unsigned type = br.take(2);
    if (type == 0) {  // stored (§3.2.4)
      br.drop(br.cnt & 7);
      std::size_t p = br.pos - br.cnt / 8;
      br.buf = 0;
      br.cnt = 0;
      if (p + 4 > n) return stopped(stop_reason::need_input);
      const unsigned len = in[p] | (in[p + 1] << 8), nlen = in[p + 2] | (in[p + 3] << 8);
      if (len != (~nlen & 0xffffu)) return invalid("invalid stored block lengths");
      p += 4;
      if (p + len > n) return stopped(stop_reason::need_input);
      if (o + len + slack > cap) {
        if (o + len > limit) return stopped(stop_reason::output_full);
        out.set_size(o);
        out.reserve(std::min(limit, std::max(o + len, cap * 2)) + slack);
        dst = out.data();
        cap = usable();
      }
      for (unsigned i = 0; i < len; ++i) dst[o + i] = in[p + i];
      o += len;
      br.pos = p + len;
    } else if (type == 3) {
      return invalid("invalid block type");
    } else {
      if (type == 1) {  // fixed Huffman codes (§3.2.6)
        if (!tables_fixed) {
          std::uint8_t lens[320];
          std::fill(lens, lens + 144, 8);
          std::fill(lens + 144, lens + 256, 9);
          std::fill(lens + 256, lens + 280, 7);
          std::fill(lens + 280, lens + 288, 8);
          std::fill(lens + 288, lens + 320, 5);
          build_table(lens, 288, lit_bits, lit_info, lit_table.data(), false, false);
          build_table(lens + 288, 32, dist_bits, dist_info, dist_table.data(), false, false);
          tables_fixed = true;
        }
      } else {  // dynamic (§3.2.7)
        std::uint8_t lens[320];
        unsigned nlit = 0, ndist = 0;
        if (const char* what = read_code_lengths(br, lens, nlit, ndist)) return invalid(what);
        if (!build_table(lens, nlit, lit_bits, lit_info, lit_table.data(), true, false))
          return invalid("invalid literal/lengths set");
        if (!build_table(lens + nlit, ndist, dist_bits, dist_info, dist_table.data(), true, true))
          return invalid("invalid distances set");
        tables_fixed = false;
      }
      const std::uint32_t* lt = lit_table.data();
      const std::uint32_t* dt = dist_table.data();
      constexpr std::uint32_t lmask = (1u << lit_bits) - 1, dmask = (1u << dist_bits) - 1;
      for (;;) {
        br.refill();
        if (br.overrun()) return stopped(stop_reason::need_input);
        if (o + slack > cap) {
          if (o >= limit) return stopped(stop_reason::output_full);
          out.set_size(o);
          out.reserve(std::min(limit, cap * 2) + slack);
          dst = out.data();
          cap = usable();
        }
        std::uint32_t e = lt[br.buf & lmask];
        if (kind_of(e) == k_sub) {
          br.drop(lit_bits);
          e = lt[(e >> 16) + br.peek(15 - lit_bits)];
        }
        br.drop(e & 31);
        const std::uint32_t kind = kind_of(e);
        if (kind == k_lit) {
          dst[o++] = static_cast<Sym>(e >> 16);
          const std::uint32_t e2 = lt[br.buf & lmask];
          if (kind_of(e2) == k_lit) {  // a second literal without a refill: <= 30 bits used
            br.drop(e2 & 31);
            dst[o++] = static_cast<Sym>(e2 >> 16);
          }
          continue;
        }
        if (kind == k_len) {
          const unsigned len = (e >> 16) + br.take((e >> 8) & 31);
          std::uint32_t d = dt[br.buf & dmask];
          if (kind_of(d) == k_sub) {
            br.drop(dist_bits);
            d = dt[(d >> 16) + br.peek(15 - dist_bits)];
          }
          br.drop(d & 31);
          if (kind_of(d) != k_dist) return invalid("invalid distance code");
          const std::size_t dist = (d >> 16) + br.take((d >> 8) & 31);
          if (dist > o) return invalid("invalid distance too far back");
          if constexpr (Markers) {
            const std::size_t src = o - dist;
            if (src < r.lowest_window_ref) r.lowest_window_ref = src;
          }
          copy_match(dst + o, dist, len);
          o += len;
          continue;
        }
        if (kind == k_eob) break;
        return invalid("invalid literal/length code");
      }
    }
    if (br.overrun()) return stopped(stop_reason::need_input);
    out.set_size(o);
    r.end_bit = br.bit_pos();
    if (final_block) return stopped(stop_reason::member_end);
    if (r.end_bit >= stop_bit) return stopped(stop_reason::boundary);
    if constexpr (Markers) {
      if (stop_when_clean) {
        // Markers spread only through copies, so look at what this block
        // wrote: the last marker in it, if any, is the newest.
        for (std::size_t i = o; i > scanned_to; --i)
          if (dst[i - 1] >= marker_base) {
            last_marker = i - 1;
            break;
          }
        scanned_to = o;
        if (o - 1 - last_marker >= window_bytes) return stopped(stop_reason::clean);
      }
    }
  }
}

const std::uint8_t* bytes_of(byte_view v) { return reinterpret_cast<const std::uint8_t*>(v.data()); }

}  // namespace

decode_result decode_markers(byte_view in, std::uint64_t start_bit, std::uint64_t stop_bit,
                             std::size_t max_output, bool stop_when_clean, out_buffer<std::uint16_t>& out) {
  out.clear();
  out.reserve(window_bytes + slack);
  for (std::size_t i = 0; i < window_bytes; ++i) out.data()[i] = static_cast<std::uint16_t>(marker_base + i);
  out.set_size(window_bytes);
  auto r = inflate_blocks<std::uint16_t, true>(bytes_of(in), in.size(), start_bit, stop_bit, max_output,
                                               stop_when_clean, out, window_bytes);
  return r;
}

decode_result decode_bytes(byte_view in, std::uint64_t start_bit, std::uint64_t stop_bit, byte_view window,
                           std::size_t max_output, out_buffer<std::uint8_t>& out) {
  if (window.size() > window_bytes) window = window.last(window_bytes);
  out.clear();
  out.reserve(window.size() + slack);
  if (!window.empty()) std::memcpy(out.data(), window.data(), window.size());
  out.set_size(window.size());
  return inflate_blocks<std::uint8_t, false>(bytes_of(in), in.size(), start_bit, stop_bit, max_output, false,
                                             out, window.size());
}

bool plausible_dynamic_block(byte_view in, std::uint64_t bit) noexcept {
  const auto* p = bytes_of(in);
  const std::size_t n = in.size();
  if (bit / 8 + 2 >= n) return false;
  bit_reader br(p, n, bit);
  // BFINAL = 0, BTYPE = 2 (10 binary): the three bits read 0, 0, 1.
  if ((br.peek(3)) != 4) return false;
  const unsigned hlit = (br.buf >> 3) & 31, hdist = (br.buf >> 8) & 31;
  if (hlit > 29 || hdist > 29) return false;
  // The code-length code must be complete (cheap test before the rest).
  {
    const unsigned nclen = ((br.buf >> 13) & 15) + 4;
    bit_reader b2 = br;
    b2.drop(17);
    std::uint8_t cl_lens[19] = {};
    for (unsigned i = 0; i < nclen; ++i) {
      if (b2.cnt < 3) b2.refill();
      cl_lens[cl_order[i]] = static_cast<std::uint8_t>(b2.take(3));
    }
    unsigned max_len = 0;
    if (kraft(cl_lens, 19, max_len) != 0 || max_len == 0) return false;
  }
  br.drop(3);
  std::uint8_t lens[320];
  unsigned nlit = 0, ndist = 0;
  if (read_code_lengths(br, lens, nlit, ndist)) return false;
  if (br.overrun()) return false;
  return acceptable(lens, nlit, true, false) && acceptable(lens + nlit, ndist, true, true);
}

std::optional<std::uint64_t> find_block_start(byte_view in, std::uint64_t from_bit, std::uint64_t to_bit) noexcept {
  const auto* p = bytes_of(in);
  const std::uint64_t end = std::min<std::uint64_t>(to_bit, std::uint64_t{in.size()} * 8);
  for (std::uint64_t b = from_bit; b < end; ++b) {
    // Fast pre-filter on the first 3 bits, the rest in plausible_dynamic_block.
    if (((p[b / 8] >> (b % 8)) & 1) != 0) continue;
    if (plausible_dynamic_block(in, b)) return b;
  }
  return std::nullopt;
}

bool resolve_markers(std::span<const std::uint16_t> symbols, byte_view window, std::byte* out) noexcept {
  if (window.size() > window_bytes) window = window.last(window_bytes);
  // One table for literals and markers: no branch per symbol.
  std::array<std::uint8_t, marker_base + window_bytes> map;
  for (unsigned i = 0; i < 256; ++i) map[i] = static_cast<std::uint8_t>(i);
  const std::size_t missing = window_bytes - window.size();
  std::fill(map.begin() + marker_base, map.begin() + marker_base + missing, 0);
  // An empty window (a stream's start) may have no storage: memcpy's source
  // must never be null, even for 0 bytes.
  if (!window.empty()) std::memcpy(map.data() + marker_base + missing, window.data(), window.size());
  unsigned bad = 0;
  auto* o = reinterpret_cast<std::uint8_t*>(out);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const std::uint16_t s = symbols[i];
    bad |= static_cast<unsigned>(static_cast<std::uint16_t>(s - marker_base) < missing);
    o[i] = map[s];
  }
  return bad == 0;
}

// ---- gzip header (RFC 1952 §2.3.1) ----

gzip_header_parser::state gzip_header_parser::feed(byte_view in, std::size_t& used) noexcept {
  enum { fixed = 0, xlen = 1, extra = 2, name = 3, comment = 4, hcrc = 5, done = 6, bad = 7 };
  constexpr std::uint8_t fextra = 4, fname = 8, fcomment = 16, fhcrc = 2;
  const auto* p = bytes_of(in);
  std::size_t i = 0;
  auto hash = [&](std::size_t from) { crc_ = static_cast<std::uint32_t>(::crc32(crc_, p + from, static_cast<uInt>(i - from))); };
  auto next_phase = [&] {
    // Moves past the phases whose flag is clear.
    for (;;) {
      ++phase_;
      if (phase_ == xlen && !(flags_ & fextra)) { phase_ = extra; continue; }
      if (phase_ == extra && !(flags_ & fextra)) continue;
      if (phase_ == name && !(flags_ & fname)) continue;
      if (phase_ == comment && !(flags_ & fcomment)) continue;
      if (phase_ == hcrc && !(flags_ & fhcrc)) continue;
      break;
    }
    if (phase_ == xlen || phase_ == hcrc) need_ = 2;
  };
  while (phase_ != done && phase_ != bad) {
    if (i == in.size()) break;
    const std::size_t from = i;
    switch (phase_) {
      case fixed:
      case xlen:
      case hcrc: {
        const std::size_t k = std::min<std::size_t>(need_, in.size() - i);
        const std::size_t have = (phase_ == fixed ? 10 : 2) - need_;
        std::memcpy(fixed_ + have, p + i, k);
        i += k;
        need_ -= static_cast<std::uint32_t>(k);
        if (phase_ != hcrc) hash(from);
        if (need_) break;
        if (phase_ == fixed) {
          if (fixed_[0] != 0x1f || fixed_[1] != 0x8b) { what_ = "not a gzip header (bad magic)"; phase_ = bad; break; }
          if (fixed_[2] != 8) { what_ = "unsupported compression method"; phase_ = bad; break; }
          if (fixed_[3] & 0xe0) { what_ = "reserved header flags set"; phase_ = bad; break; }
          flags_ = fixed_[3];
          next_phase();
        } else if (phase_ == xlen) {
          need_ = static_cast<std::uint32_t>(fixed_[0] | (fixed_[1] << 8));
          phase_ = extra;
          if (need_ == 0) next_phase();
        } else {
          const unsigned want = fixed_[0] | (fixed_[1] << 8);
          if (want != (crc_ & 0xffffu)) { what_ = "header CRC mismatch"; phase_ = bad; break; }
          next_phase();
        }
        break;
      }
      case extra: {
        const std::size_t k = std::min<std::size_t>(need_, in.size() - i);
        i += k;
        need_ -= static_cast<std::uint32_t>(k);
        hash(from);
        if (!need_) next_phase();
        break;
      }
      case name:
      case comment: {
        const auto* z = static_cast<const std::uint8_t*>(std::memchr(p + i, 0, in.size() - i));
        i = z ? static_cast<std::size_t>(z - p) + 1 : in.size();
        hash(from);
        if (z) next_phase();
        break;
      }
    }
  }
  used = i;
  length_ += i;
  if (phase_ == done) return state::done;
  if (phase_ == bad) return state::bad;
  return state::more;
}

// ---- serial inflater (zlib) ----

struct serial_inflater::impl {
  z_stream z{};
  bool init = false;
  ~impl() {
    if (init) inflateEnd(&z);
  }
};

serial_inflater::serial_inflater() : impl_(std::make_unique<impl>()) {}
serial_inflater::~serial_inflater() = default;

result<void> serial_inflater::start(unsigned bit_in_first_byte, std::uint8_t first_byte, byte_view window) {
  auto& z = impl_->z;
  int rc = impl_->init ? inflateReset(&z) : inflateInit2(&z, -15);
  if (rc == Z_MEM_ERROR) return fail(errc::resource_exhausted, "gzip: no memory for zlib inflate");
  if (rc != Z_OK) return fail(errc::internal, "gzip: zlib inflate init failed");
  impl_->init = true;
  if (window.size() > window_bytes) window = window.last(window_bytes);
  if (!window.empty() &&
      inflateSetDictionary(&z, bytes_of(window), static_cast<uInt>(window.size())) != Z_OK)
    return fail(errc::internal, "gzip: zlib refused the window");
  if (bit_in_first_byte > 0 &&
      inflatePrime(&z, static_cast<int>(8 - bit_in_first_byte), first_byte >> bit_in_first_byte) != Z_OK)
    return fail(errc::internal, "gzip: zlib refused the start bits");
  return {};
}

result<serial_inflater::event> serial_inflater::run(byte_view in, std::span<std::byte> out, std::size_t& used,
                                                    std::size_t& produced, unsigned& unused_bits) {
  auto& z = impl_->z;
  z.next_in = const_cast<Bytef*>(bytes_of(in));
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), 1u << 30));
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), 1u << 30));
  const uInt in0 = z.avail_in, out0 = z.avail_out;
  const int rc = inflate(&z, Z_BLOCK);
  used = in0 - z.avail_in;
  produced = out0 - z.avail_out;
  unused_bits = static_cast<unsigned>(z.data_type & 7);
  if (rc == Z_STREAM_END) return event::member_end;
  if (rc == Z_MEM_ERROR) return fail(errc::resource_exhausted, "gzip: no memory for zlib inflate");
  if (rc != Z_OK && rc != Z_BUF_ERROR)
    return fail(errc::malformed, std::string("gzip: ") + (z.msg ? z.msg : "invalid deflate data"));
  // 128: stopped after a block; 64: that was the final block (zlib.h, inflate).
  if (z.data_type & 128) return (z.data_type & 64) ? event::member_end : event::boundary;
  if (z.avail_out == 0) return event::output_full;
  return event::need_input;
}

}  // namespace ocipipe::deflate
