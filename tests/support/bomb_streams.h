#pragma once
// Decompression bombs made without compressing what they expand to (issue 4): a layer blob
// whose tar stream is a few header blocks followed by tens of gigabytes of zeros, written
// straight to a file in seconds. The zstd form is a frame written by hand (RFC 8878): the
// headers in a raw block, then RLE blocks of zeros. The gzip form is one deflate chunk of
// zeros, made once by ISA-L and ending on a full flush, repeated (RFC 1951/1952). Both are
// valid streams that decode to exactly the tar they describe.
//
// Not part of ocipipe. Failures throw std::runtime_error, which GoogleTest reports as a
// failure of the test that asked.

#include <cstdint>
#include <string>

#include "stages/oci/digest.h"

namespace ocipipe::testing {

/// An uncompressed layer that is `head` followed by `zeros` zero bytes.
struct zero_tar {
  std::string head;
  std::uint64_t zeros = 0;
  [[nodiscard]] std::uint64_t size() const { return head.size() + zeros; }
};

/// A tar stream of one regular file `name` holding `size` zero bytes, then the
/// end-of-archive marker and zeros to the 10240-byte record. The size is in a PAX `size`
/// record (ustar field 0, as GNU tar --format=posix writes it), so any size fits; the ustar
/// field alone stops at 8 GiB - 1.
[[nodiscard]] zero_tar zero_file_tar(const std::string& name, std::uint64_t size);

/// What a write_*_bomb wrote: the blob's descriptor fields.
struct blob_file {
  ocipipe::digest digest;  ///< sha256 of the bytes written
  std::int64_t size = 0;
};

/// Writes `tar` as one zstd frame (content size not declared, 128 KiB window, no checksum):
/// the head as a raw block, the zeros as RLE blocks of 128 KiB. A block holds at most
/// 128 KiB (RFC 8878 "Block_Maximum_Size") and an RLE block costs 4 bytes, so the blob is
/// about zeros / 32768 bytes: 1.6 MB for 50 GB; a stream of a few KB cannot carry that much.
blob_file write_zstd_bomb(const std::string& path, const zero_tar& tar);

/// Writes `tar` as one gzip member: the head and every 16 MiB of zeros as byte-aligned
/// deflate chunks (ISA-L level 1, full flush), the 16 MiB chunk written once and repeated,
/// then an empty final block and the trailer (CRC-32 computed without reading the zeros).
/// Deflate cannot beat about 1030:1, so the blob is about zeros / 1030 bytes: 52 MB for 50 GB.
blob_file write_gzip_bomb(const std::string& path, const zero_tar& tar);

/// sha256 of the whole of `tar`, for the diff_id of a small one (it reads every byte).
[[nodiscard]] ocipipe::digest diff_id_of(const zero_tar& tar);

}  // namespace ocipipe::testing
