#pragma once
// Inside stages/decompress: the gzip stream sources of each inflater and the
// helpers every decompressor shares. Not a public header.
//
// Both sources read member headers with deflate::gzip_header_parser, not
// with the inflater's own parsing: ISA-L's depends on where the input's
// chunks end (a header split across chunks had its FHCRC go unchecked, or
// was misread so that valid data failed as "invalid lookback"; found by
// tests/fuzz/decompress_fuzz.cpp), and one parser gives one behaviour and
// the same messages, as parallel_gzip_source does. What follows a member
// (RFC 1952 §2.2): another member, zero bytes of tape padding to the end
// (gzip(1) takes them), or nothing.

#include <cstdint>
#include <memory>
#include <string>

#include "stages/decompress.h"
#include "stages/oci/error.h"

namespace ocipipe::detail {

/// Output chunk of the gzip sources, bytes. Small enough to stay in a core's
/// cache until the next stage (digest, tar parse) reads it on another thread:
/// 1 MiB chunks cost unpack -j1 of big-1g 10% more CPU than 256 KiB
/// (pipeline/README.md "Chunk and queue sizes").
inline constexpr std::size_t out_chunk = 256 << 10;

/// " at compressed byte N": where a broken stream stopped decoding, so a
/// damaged blob can be looked at (issue 4: "fail with the layer and offset").
inline std::string blob_offset(std::uint64_t n) { return " at compressed byte " + std::to_string(n); }

/// Adds `n` uncompressed bytes to `total` and refuses a stream past the limit
/// (a decompression bomb, moby CVE-2017-14992), naming the limit.
inline result<void> count_output(std::uint64_t& total, std::size_t n, const decompress_limits& lim) {
  total += n;
  if (total > lim.max_output_bytes)
    return fail(errc::resource_exhausted, "uncompressed layer exceeds " + std::to_string(lim.max_output_bytes) +
                                              " bytes" + limit_name(lim.max_output_name));
  return {};
}

/// The message for a member header gzip_header_parser refused (`what`):
/// member 0 is the blob's first, which means it is no gzip at all (buglog B42).
inline std::string bad_header_message(unsigned members_done, const std::string& what) {
  if (members_done == 0)
    return "gzip: blob is not a gzip stream (bad header: " + what + ") but its media type says gzip";
  return "gzip: bad header of member " + std::to_string(members_done + 1) + " (trailing garbage?): " + what;
}

/// A stream that ends inside member `members_done + 1`.
inline std::string truncated_message(unsigned members_done) {
  return "gzip: truncated stream (ended inside member " + std::to_string(members_done + 1) + ")";
}

/// The sources. `up` must outlive them. make_isal_gzip_source exists only
/// in builds with ISA-L (OCIPIPE_HAVE_ISAL).
std::unique_ptr<byte_source> make_zlib_gzip_source(byte_source& up, decompress_limits lim);
#if OCIPIPE_HAVE_ISAL
std::unique_ptr<byte_source> make_isal_gzip_source(byte_source& up, decompress_limits lim);
#endif

}  // namespace ocipipe::detail
