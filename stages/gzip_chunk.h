#pragma once
// One gzip member (RFC 1952) compressed in independent chunks, as pigz does:
// chunk k of the input is deflated (RFC 1951) on its own, primed with the 32
// KiB of input before it as the dictionary, and ended with a sync flush (an
// empty stored block, so the output is byte-aligned and the stream goes on);
// the last chunk ends the stream with a final block. Concatenated in order,
// the chunks are one ordinary deflate stream, which gzip, zlib, ISA-L, Go and
// libdeflate all read; the CRC-32 of the whole input is combined from the
// chunks' CRCs. Because chunk boundaries depend only on the input offsets
// (never on threads or timing), the same input, chunk size and level always
// give the same bytes. pipeline/layer_compressor runs the chunks in parallel.
//
// Engines, per level (measured on the Debian rootfs tar, 172 MB, 1 MiB
// chunks, one core of this project's 2-core Xeon, machine otherwise idle;
// ratio = tar bytes / gzip bytes):
//   level 1-3 -> ISA-L igzip levels 1-3: ratio 2.53 / 2.56 / 2.61 at
//                330 / 320 / 250 MB/s;
//   level 4-9 -> zlib levels 4-9: ratio 2.75 / 2.80 / 2.82 / 2.83 / 2.84 /
//                2.84 at 41 / 33 / 22 / 19 / 12 / 8 MB/s.
// (zlib's own levels 1-3 reach 2.55 / 2.61 / 2.64 at 54 / 36 / 32 MB/s, so ISA-L
// replaces them outright; a build without ISA-L, OCIPIPE_WITH_ISAL, uses them.) Both support a preset dictionary and a sync
// flush, which chunking needs; libdeflate has neither (whole buffers only).
// Reproducibility differs: zlib is plain C with no CPU dispatch, so levels
// 4-9 give the same bytes on every machine with the same zlib version;
// ISA-L picks its code by CPU (base C / SSE / AVX2 / AVX-512, and the base
// C hash differs from the CRC hash of the others), so levels 1-3 give the
// same bytes for the same build on the same kind of CPU, which is what
// `pack` twice on one machine needs, but nothing more is promised.
// pipeline/layer_compressor picks the default level (see there).
//
// Pure: no I/O, no threads. A chunk_deflater is not thread-safe; use one per
// thread. The free functions are thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "stages/oci/byte_source.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// Bytes of preceding input used as a chunk's dictionary: deflate's window.
inline constexpr std::size_t deflate_window_bytes = 32768;

/// Lowest and highest gzip level (gzip's own 1-9 scale).
inline constexpr int gzip_min_level = 1;
inline constexpr int gzip_max_level = 9;

/// Deflates chunks of one stream, reusing its state between chunks.
class chunk_deflater {
 public:
  /// `level` in gzip_min_level..gzip_max_level. Errors: `invalid_argument`
  /// (level out of range), `resource_exhausted` (no memory for zlib's state).
  [[nodiscard]] static result<chunk_deflater> create(int level);
  chunk_deflater(chunk_deflater&&) noexcept;
  chunk_deflater& operator=(chunk_deflater&&) noexcept;
  ~chunk_deflater();

  /// Replaces `out` with the raw deflate data of `input` as the continuation
  /// of a stream whose preceding input ends with `dict` (at most the last
  /// deflate_window_bytes are used; empty for the first chunk). Not `last`:
  /// the data ends with a sync flush (byte-aligned, no final block), so the
  /// next chunk can follow it; `last`: it ends the stream (final block; an
  /// empty `input` gives just that). Errors: `internal` (the engine refused).
  [[nodiscard]] result<void> deflate(byte_view dict, byte_view input, bool last,
                                     std::vector<std::byte>& out);

 private:
  struct impl;
  explicit chunk_deflater(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// CRC-32 (RFC 1952 §8) of `bytes`, continuing from `crc` (0 to start).
[[nodiscard]] std::uint32_t crc32_update(std::uint32_t crc, byte_view bytes) noexcept;
/// CRC-32 of A followed by B, from CRC(A), CRC(B) and B's length.
[[nodiscard]] std::uint32_t crc32_concat(std::uint32_t crc_a, std::uint32_t crc_b,
                                         std::uint64_t length_b) noexcept;

/// The 10-byte member header: no name, no mtime (0, so it is reproducible),
/// XFL per level (2 = best, 4 = fastest, RFC 1952 §2.3.1), OS 3 (Unix).
[[nodiscard]] std::array<std::byte, 10> gzip_header(int level) noexcept;
/// The 8-byte trailer: CRC-32 and input size modulo 2^32, little-endian.
[[nodiscard]] std::array<std::byte, 8> gzip_trailer(std::uint32_t crc,
                                                    std::uint64_t input_bytes) noexcept;

}  // namespace ocipipe
