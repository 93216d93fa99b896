#include "io/target_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "io/unique_fd.h"

namespace ocipipe::io {
namespace {

result<void> remove_children(int dfd, const std::string& what) {
  unique_fd own(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!own) return fail_errno("open " + quote(what), errno);
  DIR* d = ::fdopendir(own.release());
  if (!d) return fail_errno("read " + quote(what), errno);
  std::vector<std::pair<std::string, bool>> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(std::move(n), de->d_type == DT_DIR);
  }
  const int fd = ::dirfd(d);
  result<void> out;
  for (const auto& [name, is_dir] : names) {
    if (::unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      out = fail_errno("remove " + quote(what + "/" + name), errno);
      break;
    }
    unique_fd child(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) {
      out = fail_errno("open " + quote(what + "/" + name), errno);
      break;
    }
    if (out = remove_children(child.get(), what + "/" + name); !out) break;
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      out = fail_errno("remove " + quote(what + "/" + name), errno);
      break;
    }
  }
  ::closedir(d);
  return out;
}

}  // namespace

result<bool> prepare_empty_dir(const std::string& dir, bool force) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno != EEXIST) return fail_errno("create " + quote(dir), errno);
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOTDIR) return fail(errc::invalid_argument, quote(dir) + " is not a directory");
    return fail_errno("open " + quote(dir), errno);
  }
  DIR* d = ::fdopendir(::dup(fd.get()));
  if (!d) return fail_errno("read " + quote(dir), errno);
  bool empty = true;
  while (dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (empty) return false;
  if (!force)
    return fail(errc::invalid_argument,
                quote(dir) + " exists and is not empty (use --force to replace its contents)");
  OCIPIPE_TRY(remove_children(fd.get(), dir));
  return false;
}

result<void> remove_dir_contents(const std::string& dir, bool remove_self) {
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    return fail_errno("open " + quote(dir), errno);
  }
  OCIPIPE_TRY(remove_children(fd.get(), dir));
  if (remove_self && ::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return fail_errno("remove " + quote(dir), errno);
  return {};
}

result<void> write_file_atomic(const std::string& dir, const std::string& name,
                               std::string_view bytes, unsigned mode) {
  unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return fail_errno("open " + quote(dir), errno);
  const std::string tmp = "." + name + ".tmp-" + std::to_string(::getpid());
  unique_fd fd(::openat(dfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        mode));
  if (!fd) return fail_errno("create " + quote(dir + "/" + tmp), errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::unlinkat(dfd.get(), tmp.c_str(), 0);
      return fail_errno("write " + quote(dir + "/" + tmp), e);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) != 0) {
    const int e = errno;
    ::unlinkat(dfd.get(), tmp.c_str(), 0);
    return fail_errno("write " + quote(dir + "/" + name), e);
  }
  ::fsync(dfd.get());
  return {};
}

}  // namespace ocipipe::io
