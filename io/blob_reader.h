#pragma once
// Bounded reads of blobs: a blob is read in chunks and never past
// descriptor.size; a blob shorter or longer than its descriptor says is a
// `size_mismatch` (image-spec descriptor.md "size"; umoci verified_blob.go).

#include <optional>
#include <string>
#include <vector>

#include "io/unique_fd.h"
#include "stages/oci/byte_source.h"

namespace ocipipe::io {

/// A byte range of a file that holds a blob: a member of an archive.
struct file_region {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

/// Read size of blob_file_source: big enough that syscalls cost nothing next
/// to digesting, small enough to stay in cache for the stage that reads the
/// chunk next (pipeline/README.md "Chunk and queue sizes").
inline constexpr std::size_t blob_chunk_bytes = 256 << 10;

/// Streams one open blob file (or `region` of it, read with pread) in chunks
/// of `chunk_bytes`. Owns the fd. next() fails with `size_mismatch` when the
/// blob ends before `expected_size` bytes or has bytes beyond it. Not
/// thread-safe.
class blob_file_source final : public byte_source {
 public:
  blob_file_source(unique_fd fd, std::uint64_t expected_size, std::string what,
                   std::size_t chunk_bytes = blob_chunk_bytes, std::optional<file_region> region = {});
  result<byte_view> next() override;
  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return hand_over(next(), buf_, buf); }

 private:
  unique_fd fd_;
  std::optional<file_region> region_;
  std::uint64_t expected_;
  std::uint64_t done_ = 0;
  std::string what_;
  std::vector<std::byte> buf_;
  bool at_end_ = false;
};

/// Reads `src` to its end into one string (`reserve`: expected length, a
/// hint). Errors: those of src.next().
[[nodiscard]] result<std::string> read_whole(byte_source& src, std::size_t reserve = 0);

}  // namespace ocipipe::io
