#include "io/target_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "io/fd_io.h"
#include "io/unique_fd.h"

namespace ocipipe::io {
namespace {

// A rootless rootfs holds the image's directory modes (0555, 0000) on
// directories this user owns: to empty it, give them u+rwx first, as the
// owner may. Returns the opened directory, or an invalid fd with errno set.
unique_fd open_own_dir_rwx(int dirfd, const std::string& name) {
  struct stat st{};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    errno = EACCES;
    return {};
  }
  if (::fchmodat(dirfd, name.c_str(), (st.st_mode & 07777) | 0700, 0) != 0) return {};
  return unique_fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

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
    if (!child && errno == EACCES) child = open_own_dir_rwx(fd, name);
    if (!child) {
      out = fail_errno("open " + quote(what + "/" + name), errno);
      break;
    }
    // Never empty another filesystem mounted inside the target (a bind
    // mount of precious data): --force replaces the target, not the mounts.
    struct stat parent_st{}, child_st{};
    if (::fstat(fd, &parent_st) == 0 && ::fstat(child.get(), &child_st) == 0 &&
        parent_st.st_dev != child_st.st_dev) {
      out = fail(errc::invalid_argument, "refusing to empty " + quote(what + "/" + name) +
                                             ": another filesystem is mounted there");
      break;
    }
    // Emptying needs u+wx on it; a rootless rootfs may have left 0555 here.
    if (::geteuid() != 0 && child_st.st_uid == ::geteuid() && (child_st.st_mode & 0300) != 0300)
      ::fchmod(child.get(), (child_st.st_mode & 07777) | 0700);
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

result<bool> prepare_empty_dir(const std::string& dir, bool force, unsigned mode) {
  if (::mkdir(dir.c_str(), mode) == 0) return true;
  if (errno == ENOENT) {
    // Missing parents are created as `mkdir -p` would; only the target itself
    // counts as created (and is removed again on failure).
    for (std::size_t i = dir.find('/', 1); i != std::string::npos; i = dir.find('/', i + 1))
      if (::mkdir(dir.substr(0, i).c_str(), 0755) != 0 && errno != EEXIST)
        return fail_errno("create " + quote(dir.substr(0, i)), errno);
    if (::mkdir(dir.c_str(), mode) == 0) return true;
  }
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
  struct stat st{}, root_st{};
  if (::fstat(fd.get(), &st) == 0 && ::stat("/", &root_st) == 0 && st.st_dev == root_st.st_dev &&
      st.st_ino == root_st.st_ino)
    return fail(errc::invalid_argument, "refusing to empty " + quote(dir) + ": it is \"/\"");
  OCIPIPE_TRY(remove_children(fd.get(), dir));
  return false;
}

namespace {
// realpath() of `p`, or of its deepest existing ancestor with the rest appended.
std::string resolve_partial(const std::string& p) {
  std::string head = p, tail;
  for (;;) {
    if (char* r = ::realpath(head.empty() ? "." : head.c_str(), nullptr)) {
      std::string out(r);
      ::free(r);
      return tail.empty() ? out : (out == "/" ? "" : out) + "/" + tail;
    }
    const auto slash = head.rfind('/');
    if (slash == std::string::npos) {
      tail = tail.empty() ? head : head + "/" + tail;
      head.clear();
      continue;
    }
    tail = tail.empty() ? head.substr(slash + 1) : head.substr(slash + 1) + "/" + tail;
    head = head.substr(0, slash);
    if (head.empty()) head = "/";
  }
}
}  // namespace

bool path_within(const std::string& inner, const std::string& outer) {
  const std::string i = resolve_partial(inner), o = resolve_partial(outer);
  if (o == "/") return true;
  return i == o || (i.size() > o.size() && i.compare(0, o.size(), o) == 0 && i[o.size()] == '/');
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

error discard_target(const std::string& dir, bool remove_self, error cause) {
  auto cleaned = remove_dir_contents(dir, remove_self);
  if (cleaned) return cause;
  return error(cause.code(), cause.message() + " (and removing the partial " + quote(dir) +
                                 " failed: " + cleaned.error().message() + ")",
               cause.sys_errno());
}

result<void> write_file_atomic(const std::string& dir, const std::string& name,
                               std::string_view bytes, unsigned mode) {
  unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return fail_errno("open " + quote(dir), errno);
  const std::string tmp = "." + name + ".tmp-" + std::to_string(::getpid());
  unique_fd fd(::openat(dfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        mode));
  if (!fd) return fail_errno("create " + quote(dir + "/" + tmp), errno);
  if (const int e = write_fully(fd.get(), bytes.data(), bytes.size()); e != 0) {
    ::unlinkat(dfd.get(), tmp.c_str(), 0);
    return fail_errno("write " + quote(dir + "/" + tmp), e);
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
