#include "io/blob_reader.h"

#include <cerrno>
#include <vector>

namespace ocipipe::io {

blob_file_source::blob_file_source(unique_fd fd, std::uint64_t expected_size, std::string what,
                                   std::size_t chunk_bytes)
    : fd_(std::move(fd)), expected_(expected_size), what_(std::move(what)), buf_(chunk_bytes) {}

result<byte_view> blob_file_source::next() {
  if (at_end_) return byte_view{};
  const std::uint64_t left = expected_ - done_;
  // Ask for one byte more than is left, so a longer blob shows itself.
  const std::size_t want = left + 1 < buf_.size() ? static_cast<std::size_t>(left + 1) : buf_.size();
  ssize_t n;
  do n = ::read(fd_.get(), buf_.data(), want);
  while (n < 0 && errno == EINTR);
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

}  // namespace ocipipe::io
