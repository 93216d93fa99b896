#include "io/image_layout.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "io/blob_reader.h"
#include "io/regular_file.h"

namespace ocipipe::io {
namespace {

result<std::string> read_all(int fd, std::size_t max_bytes, const std::string& what) {
  std::string out;
  struct stat st{};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
      return fail(errc::resource_exhausted, what + ": larger than " + std::to_string(max_bytes) +
                                                " bytes");
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read " + what, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return fail(errc::resource_exhausted, what + ": larger than " + std::to_string(max_bytes) +
                                                " bytes");
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

result<image_layout> image_layout::open(const std::string& path) {
  image_layout l;
  l.path_ = path;
  l.dir_ = unique_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!l.dir_) return fail_errno("image layout " + quote(path), errno);
  return l;
}

result<std::string> image_layout::read_file(const std::string& name, std::size_t max_bytes) const {
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_regular_file(dir_.get(), name, quote(name)));
  return read_all(fd.get(), max_bytes, quote(name));
}

result<unique_fd> image_layout::open_blob_fd(const ocipipe::digest& d) const {
  // digest::parse admits neither "/" nor "..", so blob_path() stays inside blobs/.
  const std::string rel = d.blob_path();
  auto fd = open_regular_file(dir_.get(), rel, "blob " + d.str());
  if (!fd && fd.error().code() == errc::not_found)
    return fail(errc::not_found, "blob " + d.str() + ": missing", ENOENT);
  return fd;
}

result<std::string> image_layout::read_blob(const descriptor& d, std::size_t max_bytes) const {
  if (d.size < 0) return fail(errc::malformed, "blob " + d.digest.str() + ": negative size");
  if (static_cast<std::uint64_t>(d.size) > max_bytes)
    return fail(errc::resource_exhausted, "blob " + d.digest.str() + ": size " +
                                              std::to_string(d.size) + " over limit");
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_blob_fd(d.digest));
  blob_file_source src(std::move(fd), static_cast<std::uint64_t>(d.size), "blob " + d.digest.str());
  std::string out;
  out.reserve(static_cast<std::size_t>(d.size));
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, src.next());
    if (chunk.empty()) break;
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  }
  return out;
}

result<std::unique_ptr<byte_source>> image_layout::open_blob(const descriptor& d) const {
  if (d.size < 0) return fail(errc::malformed, "blob " + d.digest.str() + ": negative size");
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_blob_fd(d.digest));
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<byte_source>(std::make_unique<blob_file_source>(
      std::move(fd), static_cast<std::uint64_t>(d.size), "blob " + d.digest.str()));
}

result<std::uint64_t> image_layout::blob_size(const ocipipe::digest& d) const {
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_blob_fd(d));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat blob " + d.str(), errno);
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace ocipipe::io
