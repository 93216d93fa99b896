#include "io/fd_io.h"

#include <unistd.h>

#include <cerrno>

namespace ocipipe::io {

int write_fully(int fd, const void* buf, std::size_t n) noexcept {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

int pwrite_fully(int fd, const void* buf, std::size_t n, off_t offset) noexcept {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    p += w;
    offset += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

ssize_t read_retrying(int fd, void* buf, std::size_t n) noexcept {
  ssize_t r;
  do r = ::read(fd, buf, n);
  while (r < 0 && errno == EINTR);
  return r;
}

ssize_t pread_retrying(int fd, void* buf, std::size_t n, off_t offset) noexcept {
  ssize_t r;
  do r = ::pread(fd, buf, n, offset);
  while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace ocipipe::io
