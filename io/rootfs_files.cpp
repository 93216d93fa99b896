#include "io/rootfs_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fd_io.h"
#include "io/regular_file.h"
#include "io/rootfs_writer.h"

namespace ocipipe::io {

result<std::optional<std::string>> read_file_in_root(const std::string& rootfs,
                                                     const std::string& path,
                                                     std::size_t max_bytes) {
  unique_fd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open rootfs " + quote(rootfs), errno);
  const auto first = path.find_first_not_of('/');
  const std::string rel = first == std::string::npos ? std::string() : path.substr(first);
  auto fd = open_checked_regular([&] { return open_in_root(root.get(), rel, O_PATH); },
                                 [&] { return open_in_root(root.get(), rel, O_RDONLY); },
                                 "rootfs file " + quote(path));
  if (!fd) {
    if (fd.error().sys_errno() == ENOENT) return std::optional<std::string>{};
    return tl::unexpected(std::move(fd).error());
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = read_retrying(fd->get(), buf, sizeof buf);
    if (n < 0) {
      return fail_errno("read " + quote(path), errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes)
      return fail(errc::resource_exhausted, quote(path) + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return std::optional<std::string>(std::move(out));
}

result<void> make_dirs_in_root(const std::string& rootfs, const std::string& path, unsigned uid,
                               unsigned gid) {
  unique_fd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open rootfs " + quote(rootfs), errno);
  std::string prefix;
  std::size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string comp = path.substr(i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    const std::string parent = prefix;
    prefix = prefix.empty() ? comp : prefix + "/" + comp;
    if (open_in_root(root.get(), prefix, O_PATH | O_DIRECTORY)) continue;
    OCIPIPE_ASSIGN_OR_RETURN(auto pfd, open_in_root(root.get(), parent, O_PATH | O_DIRECTORY));
    if (::mkdirat(pfd.get(), comp.c_str(), 0755) != 0) {
      if (errno != EEXIST) return fail_errno("create " + quote("/" + prefix), errno);
      // Not a directory, nor a symlink to one: a file, or a dangling symlink,
      // is in the way (a WorkingDir that is a file cannot be a cwd: podman#9040).
      return fail(errc::invalid_argument, quote("/" + prefix) + " exists and is not a directory",
                  ENOTDIR);
    }
    if (::geteuid() == 0 && ::fchownat(pfd.get(), comp.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_errno("chown " + quote("/" + prefix), errno);
  }
  return {};
}

}  // namespace ocipipe::io
