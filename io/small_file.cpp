#include "io/small_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fd_io.h"
#include "io/blob_reader.h"
#include "io/regular_file.h"

namespace ocipipe::io {

result<std::string> read_small_file(int dirfd, const std::string& name, std::size_t max_bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_regular_file(dirfd, name, quote(name)));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(quote(name), errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return fail(errc::resource_exhausted, quote(name) + ": larger than " + std::to_string(max_bytes) + " bytes");
  // A regular file's size is its length (blob_file_source refuses growth).
  blob_file_source src(std::move(fd), static_cast<std::uint64_t>(st.st_size), quote(name));
  return read_whole(src, static_cast<std::size_t>(st.st_size));
}

result<std::string> read_linked_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(quote(path), errno);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = read_retrying(fd, buf, sizeof buf);
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return fail_errno(quote(path), e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return fail(errc::resource_exhausted, quote(path) + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace ocipipe::io
