#pragma once
// Streaming decompression of layer blobs (image-spec layer.md
// "gzip Media Types", "zstd Media Types"): gzip with ISA-L's igzip inflate
// (zlib's in a build without ISA-L), zstd with libzstd, or a pass-through for
// plain tar.

#include <cstdint>
#include <memory>
#include <string_view>

#include "stages/oci/byte_source.h"
#include "stages/oci/media_type.h"

namespace ocipipe {

/// Limits that make decompression bombs fail cleanly (DESIGN.md §6).
struct decompress_limits {
  /// Largest uncompressed stream accepted, in bytes.
  std::uint64_t max_output_bytes = std::uint64_t{1} << 40;
  /// What the caller calls this limit ("--max-layer-bytes"): the error names
  /// it, so a user knows what to raise. Static storage; may be empty.
  std::string_view max_output_name;
};

/// Wraps `upstream` (compressed bytes) and yields the uncompressed stream.
/// gzip: every member of a multi-member stream is decoded (RFC 1952 §2.2);
/// truncation or trailing garbage is `malformed`. A member's last block is
/// handed out only once its CRC-32 and ISIZE trailer is checked (unless it
/// fills a whole output chunk), so a damaged member fails here, as a gzip
/// error, before a consumer has read all of it. zstd: every frame is
/// decoded; a truncated frame is `malformed`. Exceeding the limit is
/// `resource_exhausted`. `upstream` must outlive this object. Not thread-safe.
/// `unknown` compression is refused by make_decompressor with `unsupported`.
[[nodiscard]] result<std::unique_ptr<byte_source>> make_decompressor(
    byte_source& upstream, media_type::layer_compression compression,
    decompress_limits limits = {});

/// The inflaters of gzip streams. ISA-L's igzip is 3-4x zlib's speed where
/// it has SIMD code (x86-64, arm64, ppc64le), and the build uses it wherever
/// it finds ISA-L (CMake OCIPIPE_WITH_ISAL=AUTO, the default); without ISA-L
/// (an architecture Debian does not package it for, or OCIPIPE_WITH_ISAL=OFF)
/// zlib's takes its place. Both take the same streams and fail on the same
/// ones (`malformed`); only their messages about broken deflate data differ.
enum class gzip_inflater { isal, zlib };

/// isal when this build has ISA-L, else zlib.
[[nodiscard]] gzip_inflater default_gzip_inflater() noexcept;
/// "isa-l" or "zlib".
[[nodiscard]] std::string_view gzip_inflater_name(gzip_inflater inflater) noexcept;
/// Whether this build can use `inflater` (zlib: always).
[[nodiscard]] bool have_gzip_inflater(gzip_inflater inflater) noexcept;

/// make_decompressor for gzip with a chosen inflater (tests compare the two;
/// bench measures each). Errors: `unsupported` (isal in a build without it).
[[nodiscard]] result<std::unique_ptr<byte_source>> make_gzip_decompressor(byte_source& upstream,
                                                                          gzip_inflater inflater,
                                                                          decompress_limits limits = {});

/// What a layer blob's first bytes say it is: gzip (1f 8b), zstd (28 b5 2f fd)
/// or a tar stream ("ustar" magic at offset 257, so `head` needs 262 bytes);
/// `unknown` otherwise. For naming a media type that disagrees with the bytes
/// (buglog B42). Pure.
[[nodiscard]] media_type::layer_compression sniff_compression(byte_view head) noexcept;

}  // namespace ocipipe
