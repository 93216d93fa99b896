#pragma once
// A second, light look at the raw (uncompressed) tar stream of a layer, for the
// well-formedness checks libarchive does not expose. libarchive stays the parser
// of entries (stages/tar_reader); this walks only the 512-byte headers beside it:
//
//  - header checksums (POSIX ustar "chksum"); libarchive fails on a bad one but
//    does not say which header or why;
//  - PAX `size` records against the ustar size field of the header they govern.
//    libarchive applies the PAX size and hides the ustar value, so it cannot see
//    an archive whose two sizes disagree, which other readers walk differently:
//    content of one entry becomes headers of further entries to one parser and
//    data to another (buglog B26). Sizes of 8 GiB and more do not fit the
//    11-digit octal field, so there any ustar value is tolerated (B25: GNU tar
//    writes 0 there). A pending PAX record never resizes the extension headers
//    `x`, `g`, `L`, `K` that stand between it and its entry (B26 b), as GNU tar
//    and Go read it;
//  - the end-of-archive marker (two zero blocks, POSIX pax "ustar Interchange
//    Format") and nothing but zero padding after it: libarchive stops at the
//    marker and never reports what follows, where a second archive or other
//    bytes can hide.
//
// Contract: pure (no syscalls, no clocks, no globals); one instance walks one
// stream and is not thread-safe; chunks may have any size. File data is never
// buffered: data blocks are skipped arithmetically, and after the marker bytes
// are only scanned for zero. Memory is bounded: a PAX or GNU long-name body is
// buffered up to 1 MiB (Go's cap, buglog B29); a bigger one is skipped and
// reported. Problems are collected, never thrown; after one that leaves the
// header positions unknown (bad checksum or size field, malformed or over-cap
// PAX body) the walk stops and says so, because every later "header" would be
// a guess.
//
// It also guards the parser beside it: a sparse entry whose map lists more than
// `max_sparse_regions` regions (GNU sparse 1.0 map in the data, 0.x
// `GNU.sparse.numblocks`, old GNU `S` extension headers) makes libarchive
// allocate per region (buglog B29). Such a map is a `layer.limits` problem and
// `limit_exceeded()` turns true as soon as the count is seen, before the map's
// bytes are handed on, so the caller can stop the stream first.

#include <cstddef>
#include <cstdint>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ocipipe {

/// One finding. Rules:
///   "layer.tar.checksum"      a header whose chksum field does not match;
///   "layer.tar.eoa"           end-of-archive marker missing (error) or short
///                             (warning: one zero block, or an empty stream);
///   "layer.tar.trailing_data" a non-zero byte after the marker (or after a
///                             single zero block, which GNU tar and libarchive
///                             take as the end);
///   "layer.tar.pax_size"      a PAX size below 8 GiB that differs from the
///                             ustar size field of the header it governs;
///   "layer.tar.sparse"        (warning) a sparse entry: layer.md "File
///                             Attributes" says sparse files SHOULD NOT be used;
///   "layer.tar"               a header or PAX body that cannot be parsed, a
///                             truncated stream, an over-cap extension body.
struct tar_header_problem {
  std::string rule;
  bool error = true;          ///< false: a warning
  std::uint64_t offset = 0;   ///< of the header, or of the first offending byte
  std::string entry;          ///< entry path when known, else ""
  std::string message;        ///< lowercase: what, and what POSIX/the readers want
};

/// Walks tar headers fed chunk by chunk. Call feed() with consecutive chunks of
/// the uncompressed stream, then finish() once.
class tar_header_check {
 public:
  /// Default cap on an extension header's body (Go's 1 MiB, B29).
  static constexpr std::size_t default_max_extension_body = std::size_t{1} << 20;

  /// `max_extension_body`: a PAX `x` body above it is a `layer.limits`
  /// problem and stops the walk (limit_exceeded()); `L`/`K`/`g` bodies above
  /// it are skipped and reported.
  explicit tar_header_check(std::size_t max_extension_body = default_max_extension_body)
      : max_extension_body_(max_extension_body) {}
  /// Problems kept per rule; further ones are counted in one "and N more".
  static constexpr std::size_t max_problems_per_rule = 8;
  /// Regions a sparse entry may list (Go caps the map at 1 MiB of text).
  static constexpr std::uint64_t max_sparse_regions = 1u << 16;

  /// The next bytes of the stream (any size, including empty).
  void feed(std::span<const std::byte> chunk);
  /// After the last chunk: every problem found, in stream order per rule, with
  /// end-of-stream problems (truncation, marker) last. Call once.
  [[nodiscard]] std::vector<tar_header_problem> finish();
  /// Header blocks seen, extension headers (x, g, L, K) included.
  [[nodiscard]] std::uint64_t headers() const noexcept { return headers_; }
  /// True once a sparse map over max_sparse_regions or a PAX header over the
  /// extension cap was seen; the walk has stopped and the stream should not be
  /// parsed further. limit_message() says which.
  [[nodiscard]] bool limit_exceeded() const noexcept { return limit_exceeded_; }
  [[nodiscard]] const std::string& limit_message() const noexcept { return limit_message_; }

 private:
  enum class state : std::uint8_t {
    header,      // collecting a 512-byte header block
    skip,        // skipping data and padding
    body,        // reading an extension body (x, g, L, K)
    sparse_ext,  // collecting a GNU extended sparse header block
    zeros,       // after a zero block: every byte must be zero
    stopped,     // nothing more is checked
  };

  void on_header_block();
  void on_entry_header(char typeflag, std::uint64_t ustar_size, const std::string& name);
  void on_body_done();
  void on_sparse_block();
  void parse_pax(const std::string& body);
  void skip_data(std::uint64_t size);
  void stop() noexcept { state_ = state::stopped; }
  void report(const char* rule, bool error, std::uint64_t offset, std::string entry,
              std::string message);
  [[nodiscard]] std::string pending_name() const;

  state state_ = state::header;
  std::uint64_t pos_ = 0;  // bytes fed so far
  std::array<std::byte, 512> block_{};
  std::size_t block_len_ = 0;
  std::uint64_t skip_left_ = 0;
  std::uint64_t headers_ = 0;

  // The member being read (for truncation messages).
  std::uint64_t cur_offset_ = 0;
  std::string cur_name_;
  const char* cur_part_ = "";     // "data", "pax extended header body", …
  std::uint64_t part_start_ = 0;  // stream offset where that part begins
  std::uint64_t part_size_ = 0;   // its bytes
  std::uint64_t part_len_ = 0;    // its bytes, padding included

  // Extension body being read.
  char body_kind_ = 0;
  std::uint64_t body_left_ = 0;
  std::uint64_t body_pad_ = 0;
  bool body_keep_ = false;  // buffered (x or L within the cap)
  std::string body_;

  // GNU sparse: data bytes that follow the extended sparse headers.
  std::uint64_t sparse_data_ = 0;

  // Extension state pending for the next entry header.
  bool pending_ext_ = false;
  std::uint64_t pending_offset_ = 0;
  std::optional<std::uint64_t> pax_size_;
  std::optional<std::string> pax_path_;
  std::optional<std::string> long_name_;

  // End of archive.
  std::uint64_t zero_offset_ = 0;  // first zero block
  std::uint64_t zero_after_ = 0;   // zero bytes seen after it
  std::string last_entry_;

  std::vector<tar_header_problem> problems_;
  struct overflow {
    std::string rule;
    bool error = false;
    std::uint64_t offset = 0;
    std::uint64_t count = 0;
  };
  std::vector<overflow> overflow_;
  bool finished_ = false;

  // Sparse maps (B29).
  void sparse_over_limit(std::uint64_t regions, const char* form);
  bool sparse10_pending_ = false;   // GNU.sparse.major=1: the map leads the data
  bool sparse0_pending_ = false;    // GNU.sparse.numblocks: a 0.x map in the PAX header
  bool counting_map_ = false;       // reading the data's first line (region count)
  std::uint64_t map_regions_ = 0;
  std::uint64_t map_digits_ = 0;
  std::uint64_t sparse_ext_blocks_ = 0;
  bool limit_exceeded_ = false;
  std::string limit_message_;
  std::size_t max_extension_body_;
};

}  // namespace ocipipe
