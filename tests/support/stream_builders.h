#pragma once
// Streams for tests that need what libarchive will not write, or more than memory holds:
// tar blocks made by hand (GNU L headers before a PAX entry, GNU old sparse headers, huge
// sparse maps, base-256 sizes, 8 GiB entries), layer streams compressed and digested as they
// are produced (only the compressed blob is kept), deterministic pseudo-random bytes, and a
// watch on the process's peak resident memory.
//
// Not part of ocipipe. Failures throw std::runtime_error, which GoogleTest reports as a
// failure of the test that asked.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "stages/digester.h"
#include "stages/oci/digest.h"

namespace ocipipe::testing {

// ---- hand-made tar blocks ----

/// `s` padded with NUL bytes to a multiple of 512.
[[nodiscard]] std::string pad512(std::string s);

/// Writes `v` as len-1 zero-filled octal digits and a NUL at h[off, off+len).
void put_octal(std::string& h, std::size_t off, std::size_t len, std::uint64_t v);

/// Writes `v` in GNU base-256 at h[off, off+len): 0x80, then the value big-endian.
void put_base256(std::string& h, std::size_t off, std::size_t len, std::uint64_t v);

/// How tar_header() writes the size field.
enum class size_encoding { octal, base256, zero };

/// What tar_header() writes.
struct header_spec {
  std::string name;  ///< the name field (at most 100 bytes are kept)
  std::uint64_t size = 0;
  char type = '0';
  bool gnu = false;  ///< GNU magic "ustar  \0" instead of POSIX "ustar\0" "00"
  size_encoding encoding = size_encoding::octal;
};

/// One 512-byte header block: mode 0755 for directories ('5') else 0644, uid/gid 0,
/// mtime default_mtime, the checksum correct.
[[nodiscard]] std::string tar_header(const header_spec& s);

/// One PAX record "<len> key=value\n", its length counting itself.
[[nodiscard]] std::string pax_record(const std::string& key, const std::string& value);

/// An `x` header named "PaxHeaders/<for_name>" and its body `records`, padded.
[[nodiscard]] std::string pax_header(const std::string& for_name, const std::string& records);

/// A regular file member: header and padded data (GNU magic when `gnu`).
[[nodiscard]] std::string tar_file(const std::string& name, const std::string& data, bool gnu = false);

/// What follows `written` bytes of members: two zero blocks, then zeros to tar's
/// 10240-byte record.
[[nodiscard]] std::string end_of_archive(std::size_t written);

/// `tar` followed by end_of_archive(tar.size()).
[[nodiscard]] std::string finish_tar(std::string tar);

/// The padding after `n` bytes of member data: 0 to 511 bytes.
[[nodiscard]] constexpr std::uint64_t padding_of(std::uint64_t n) { return (512 - n % 512) % 512; }

// ---- layer streams ----

/// Compresses a tar as it is produced, digesting the uncompressed tar (the diff_id) on the
/// way; only the compressed blob is kept.
class layer_stream_writer {
 public:
  virtual ~layer_stream_writer() = default;
  /// Appends `b` to the tar.
  void bytes(std::string_view b);
  /// Appends `n` zero bytes, fed in 1 MiB pieces.
  void zeros(std::uint64_t n);
  /// Appends the end-of-archive marker and zeros to the 10240-byte record.
  void end_archive();

  struct result {
    std::string blob;        ///< the compressed stream
    digest diff_id;          ///< sha256 of the tar
    std::uint64_t tar_bytes = 0;
  };
  /// Ends the compressed stream; call once, last.
  result finish();

 protected:
  /// Compresses `in` onto blob_; `last` ends the stream (with `in` empty).
  virtual void compress(std::string_view in, bool last) = 0;
  std::string blob_;

 private:
  digester digest_;
  std::uint64_t tar_bytes_ = 0;
};

/// zstd (libzstd, level 1, one frame).
class zstd_writer final : public layer_stream_writer {
 public:
  zstd_writer();
  ~zstd_writer() override;

 private:
  void compress(std::string_view in, bool last) override;
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// gzip, one member: ISA-L's igzip deflate at level 1, several times zlib's
/// speed for the big generated layers; zlib's level 4 in a build without ISA-L.
class fast_gzip_writer final : public layer_stream_writer {
 public:
  fast_gzip_writer();
  ~fast_gzip_writer() override;

 private:
  void compress(std::string_view in, bool last) override;
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// `bytes` gzipped by fast_gzip_writer.
[[nodiscard]] std::string fast_gzip(const std::string& bytes);

/// `bytes` as one gzip member by zlib at `level` (0-9) with zlib's `strategy`
/// (Z_DEFAULT_STRATEGY is 0): zlib's block layouts, for decoders to read.
[[nodiscard]] std::string zlib_gzip(std::string_view bytes, int level, int strategy = 0);

// ---- deterministic bytes ----

/// splitmix64: the same sequence on every platform and standard library (std::mt19937 is
/// portable, but the std distributions on top of it are not).
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// A number below `n` (n > 0).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  /// True with probability `p` percent.
  bool percent(unsigned p) { return below(100) < p; }
  /// `n` bytes, eight from each next().
  std::string bytes(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint64_t v = next();
      std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
    }
    return s;
  }
};

// ---- memory ----

/// Peak resident memory during a scope, over the resident size at its start. The peak mark
/// is reset through /proc/self/clear_refs where the kernel allows it (VmHWM), else
/// getrusage's maxrss is used (never reset, so only growth past the process's earlier peak
/// counts).
class rss_watch {
 public:
  rss_watch();
  /// Growth of the peak over the resident size at the start, in KiB.
  [[nodiscard]] long growth_kib() const;
  /// The growth and the figures behind it, for assertion messages.
  [[nodiscard]] std::string describe() const;

 private:
  bool reset_ = false;
  long start_rss_ = 0;
  long start_maxrss_ = 0;
};

}  // namespace ocipipe::testing
