#include "io/blob_reader.h"

#include <cerrno>
#include <vector>

#include "io/fd_io.h"

namespace ocipipe::io {

blob_file_source::blob_file_source(unique_fd fd, std::uint64_t expected_size, std::string what,
                                   std::size_t chunk_bytes, std::optional<file_region> region)
    : fd_(std::move(fd)), region_(region), expected_(expected_size), what_(std::move(what)), buf_(chunk_bytes) {}

result<byte_view> blob_file_source::next() {
  if (at_end_) return byte_view{};
  const std::uint64_t left = expected_ - done_;
  // Ask for one byte more than is left, so a longer blob shows itself.
  std::size_t want = left + 1 < buf_.size() ? static_cast<std::size_t>(left + 1) : buf_.size();
  ssize_t n;
  if (region_) {
    // The region's end is the blob's end, whatever follows it in the file.
    const std::uint64_t in_region = region_->length > done_ ? region_->length - done_ : 0;
    if (want > in_region) want = static_cast<std::size_t>(in_region);
    n = want ? pread_retrying(fd_.get(), buf_.data(), want, static_cast<off_t>(region_->offset + done_)) : 0;
  } else {
    n = read_retrying(fd_.get(), buf_.data(), want);
  }
  if (n < 0) return fail_errno("read " + what_, errno);
  if (static_cast<std::uint64_t>(n) > left)
    return fail(errc::size_mismatch, what_ + ": blob is larger than descriptor size " +
                                         std::to_string(expected_) + " bytes");
  if (n == 0) {
    if (done_ != expected_)
      return fail(errc::size_mismatch, what_ + ": blob has " + std::to_string(done_) +
                                           " bytes, descriptor size says " +
                                           std::to_string(expected_));
    at_end_ = true;
    return byte_view{};
  }
  done_ += static_cast<std::uint64_t>(n);
  return byte_view(buf_.data(), static_cast<std::size_t>(n));
}

result<std::string> read_whole(byte_source& src, std::size_t reserve) {
  std::string out;
  out.reserve(reserve);
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, src.next());
    if (chunk.empty()) return out;
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  }
}

}  // namespace ocipipe::io
