#pragma once
// The pure pieces of parallel inflate of one gzip stream (the method of
// rapidgzip, Knespel & Brunst 2023, in code of our own): a block finder that
// guesses where a dynamic-Huffman deflate block starts at an arbitrary bit
// offset, a deflate decoder that works without the 32 KiB window before its
// start (a copy from that unknown window yields a marker naming the window
// position), the resolution of markers once the window is known, a streaming
// gzip header parser, and a zlib-backed serial inflater that starts at any
// block boundary with a known window and stops at block boundaries.
// pipeline/parallel_gzip_source runs these on threads and chains the pieces;
// correctness never rests on a guess there: a guessed start is used only when
// the previous piece really ended on it.
//
// Bit offsets count from the first bit of the input span given, LSB first
// within each byte, as RFC 1951 §3.1.1 packs deflate data.
//
// Pure: no I/O, no threads, no globals. Every function is thread-safe; a
// serial_inflater or gzip_header_parser is used by one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stages/oci/byte_source.h"
#include "stages/oci/error.h"

namespace ocipipe::deflate {

/// Deflate's window: the most a distance reaches back (RFC 1951 §3.2.5).
inline constexpr std::size_t window_bytes = 32768;
/// Symbols of the marker decoder: 0..255 are literal bytes; marker_base + i
/// is the byte at index i (0 = oldest) of the unknown window_bytes-long
/// window that precedes the decode's start.
inline constexpr std::uint16_t marker_base = 256;

/// A growable array of T left uninitialised past size(): decoders write
/// ahead of size() (match copies overshoot by up to 16 elements) without
/// paying for zeroing. Move-only.
template <class T>
class out_buffer {
 public:
  [[nodiscard]] T* data() noexcept { return buf_.get(); }
  [[nodiscard]] const T* data() const noexcept { return buf_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<const T> view() const noexcept { return {buf_.get(), size_}; }
  void clear() noexcept { size_ = 0; }
  /// Room for at least n elements in all; keeps the first size() elements.
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    const std::size_t c = std::max(n, cap_ + cap_ / 2);
    auto b = std::make_unique_for_overwrite<T[]>(c);
    if (size_) std::copy(buf_.get(), buf_.get() + size_, b.get());
    buf_ = std::move(b);
    cap_ = c;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
  void set_size(std::size_t n) noexcept { size_ = n; }

 private:
  std::unique_ptr<T[]> buf_;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

/// Why a decode stopped.
enum class stop_reason {
  boundary,    ///< a block ended at end_bit >= stop_bit; end_bit starts the next block
  member_end,  ///< the final block (BFINAL=1) ended at end_bit (RFC 1951 §3.2.3)
  clean,       ///< (marker decode, when asked) a block ended and the last window_bytes symbols hold no marker
  need_input,  ///< the input span ended first: truncated, or the block goes on past the span
  output_full, ///< more than max_output symbols would have been produced
  invalid,     ///< not valid deflate data from start_bit
};

/// What a decode did. Symbols produced are appended to the caller's buffer.
struct decode_result {
  stop_reason why = stop_reason::invalid;
  /// Bit offset where decoding stopped: the next block's start (boundary,
  /// clean) or the bit after the final block's end-of-block code (member_end).
  /// Meaningless for the failures.
  std::uint64_t end_bit = 0;
  /// Smallest window index any copy read (window_bytes when none): a marker
  /// decode is resolvable only with a window at least window_bytes - lowest
  /// bytes long. Marker decodes only.
  std::size_t lowest_window_ref = window_bytes;
  /// For invalid: what was wrong (static string).
  const char* what = "";
};

/// Decodes raw deflate data (RFC 1951 §3.2.3-§3.2.7) in `in` from bit
/// `start_bit`, which must be a block start, without knowing the window:
/// `out` is cleared and receives window_bytes markers (marker_base + i, the
/// stand-in window) followed by the decoded symbols, so the symbols are
/// out[window_bytes..]. Stops at the first block end at or past `stop_bit`
/// (at least one block is decoded), at the end of the final block, or, when
/// `stop_when_clean`, at the first block end after which the last
/// window_bytes symbols are all literals (the rest can then be decoded as
/// bytes by decode_bytes with those symbols narrowed as its window).
/// Stops `output_full` once `max_output` symbols (excluding the markers)
/// are reached; the last match may overshoot by up to 258.
[[nodiscard]] decode_result decode_markers(byte_view in, std::uint64_t start_bit,
                                           std::uint64_t stop_bit, std::size_t max_output,
                                           bool stop_when_clean, out_buffer<std::uint16_t>& out);

/// Decodes like decode_markers with a known window: `out` is cleared and
/// receives `window` (its last window_bytes bytes at most; empty at a
/// stream's start) followed by the decoded bytes, so a distance reaching
/// before the window is `invalid`. Never stops `clean`.
[[nodiscard]] decode_result decode_bytes(byte_view in, std::uint64_t start_bit,
                                         std::uint64_t stop_bit, byte_view window,
                                         std::size_t max_output, out_buffer<std::uint8_t>& out);

/// Whether a dynamic-Huffman block header (RFC 1951 §3.2.7) that a decoder
/// would accept starts at bit `bit` of `in`: BFINAL=0, BTYPE=2, HLIT <= 29,
/// HDIST <= 29, a complete code-length code, code lengths that stay in
/// range (no repeat without a previous length), a literal/length code with a
/// non-zero end-of-block length, and literal/length and distance codes that
/// are neither over-subscribed nor incomplete (one code of length one, or no
/// distance code, excepted, as zlib allows).
[[nodiscard]] bool plausible_dynamic_block(byte_view in, std::uint64_t bit) noexcept;

/// The first bit offset in [from_bit, to_bit) where plausible_dynamic_block
/// holds, or nullopt. Stored and fixed-Huffman blocks are never found.
[[nodiscard]] std::optional<std::uint64_t> find_block_start(byte_view in, std::uint64_t from_bit,
                                                            std::uint64_t to_bit) noexcept;

/// Replaces the markers of `symbols` with the bytes of `window` and narrows
/// every symbol to a byte: out[i] = symbols[i] for a literal, else the byte
/// at window index symbols[i] - marker_base, where `window` holds the last
/// window.size() bytes (<= window_bytes) before the decode's start, right-
/// aligned (index window_bytes - window.size() is window[0]). `out` must have
/// room for symbols.size() bytes. Returns false (with `out` partly written)
/// when a marker falls before the window: the decode read data that is not
/// there.
[[nodiscard]] bool resolve_markers(std::span<const std::uint16_t> symbols, byte_view window,
                                   std::byte* out) noexcept;

/// A gzip member header (RFC 1952 §2.3.1) read in pieces of any size:
/// ID1 ID2, CM = 8, FLG without reserved bits, MTIME XFL OS, then FEXTRA,
/// FNAME, FCOMMENT and FHCRC (the CRC-16 is checked) when flagged.
class gzip_header_parser {
 public:
  enum class state { more, done, bad };
  /// Consumes bytes of `in` up to the end of the header; `used` is set to how
  /// many were taken. `bad` sets what() (a static string): the bytes are not
  /// a gzip header.
  state feed(byte_view in, std::size_t& used) noexcept;
  [[nodiscard]] const char* what() const noexcept { return what_; }
  /// Header bytes consumed so far.
  [[nodiscard]] std::uint64_t length() const noexcept { return length_; }

 private:
  int phase_ = 0;
  std::uint8_t flags_ = 0;
  std::uint32_t need_ = 10;  // bytes still wanted by the fixed-length phases
  std::uint8_t fixed_[10]{};
  std::uint32_t crc_ = 0;    // CRC-32 of the header so far, for FHCRC
  std::uint16_t hcrc_ = 0;
  std::uint64_t length_ = 0;
  const char* what_ = "";
};

/// Streaming raw inflate (zlib) from a block boundary with a known window,
/// stopping at the block boundaries asked for: the serial path, for any
/// stream the speculative one could not take (long stored runs, fixed-Huffman
/// blocks, false block starts, a block longer than a chunk). Not copyable.
class serial_inflater {
 public:
  serial_inflater();
  ~serial_inflater();
  serial_inflater(const serial_inflater&) = delete;
  serial_inflater& operator=(const serial_inflater&) = delete;

  /// Starts a raw inflate at a block start with `window` (the last <=
  /// window_bytes bytes of the member's output) as the dictionary. The block
  /// starts at bit `bit_in_first_byte` (0-7) of `first_byte`: for 0, run()
  /// is then fed from `first_byte` on; otherwise its upper bits are primed
  /// here and run() is fed from the byte after it. Errors:
  /// `resource_exhausted` (no memory for zlib), `internal`.
  [[nodiscard]] result<void> start(unsigned bit_in_first_byte, std::uint8_t first_byte,
                                   byte_view window);

  enum class event { need_input, output_full, boundary, member_end };
  /// Decodes `in` into `out`, returning when `in` is used up (need_input),
  /// `out` is full, a block ended (boundary), or the final block ended
  /// (member_end). `used`/`produced` count the bytes taken and written;
  /// `unused_bits` (boundary, member_end) is how many bits of the last byte
  /// taken were left, so the stop is at bit 8 * taken - unused_bits.
  /// Errors: `malformed` with zlib's message.
  [[nodiscard]] result<event> run(byte_view in, std::span<std::byte> out, std::size_t& used,
                                  std::size_t& produced, unsigned& unused_bits);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ocipipe::deflate
