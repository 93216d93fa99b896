// io/tree_stat.h: lstat with link target and xattrs, and sorted listings.
#include "io/tree_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ocipipe::io::detail {
namespace {

tree_entry entry_of(std::string path, const struct statx& st) {
  tree_entry e;
  e.path = std::move(path);
  e.mode = st.stx_mode;
  e.uid = st.stx_uid;
  e.gid = st.stx_gid;
  e.size = st.stx_size;
  e.mtime_sec = st.stx_mtime.tv_sec;
  e.mtime_nsec = st.stx_mtime.tv_nsec;
  e.ctime_sec = st.stx_ctime.tv_sec;
  e.ctime_nsec = st.stx_ctime.tv_nsec;
  if (st.stx_mask & STATX_BTIME) {
    e.btime_sec = st.stx_btime.tv_sec;
    e.btime_nsec = st.stx_btime.tv_nsec;
  }
  e.dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  e.ino = st.stx_ino;
  e.nlink = st.stx_nlink;
  e.rdev = makedev(st.stx_rdev_major, st.stx_rdev_minor);
  return e;
}

// readlinkat of `name` in `dirfd`; `hint` is lstat's st_size, which some
// filesystems report as 0, so the buffer grows until the target fits.
result<std::string> read_link(int dirfd, const char* name, std::uint64_t hint, const std::string& path) {
  std::string buf(std::max<std::uint64_t>(hint, 255) + 1, '\0');
  for (;;) {
    const ssize_t n = ::readlinkat(dirfd, name, buf.data(), buf.size());
    if (n < 0) return fail_errno("readlink " + quote(path), errno);
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (buf.size() > (1u << 20)) return fail(errc::malformed, "readlink " + quote(path) + ": target too long");
    buf.resize(buf.size() * 2);
  }
}

// The l*xattr calls take a path. "/proc/self/fd/N/name" names `name` in the
// directory open as fd N without resolving any path component again, so a
// rename racing the walk cannot redirect it; the final component is not
// followed (l* forms). Without /proc the walk's own path is used.
// stat_in_tree has no root path to fall back on: there xattrs need /proc.
result<std::string> xattr_path(int dirfd, const char* name, const std::string& fallback_root,
                               const std::string& rel) {
  static const bool have_proc = ::access("/proc/self/fd", X_OK) == 0;
  if (have_proc) return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  if (fallback_root.empty())
    return fail(errc::unsupported, "read xattrs of " + quote(rel) + ": /proc is not mounted");
  return fallback_root + "/" + rel;
}

result<void> read_xattrs(const std::string& path, tree_entry& e) {
  std::string names(256, '\0');
  ssize_t n;
  for (;;) {
    n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n >= 0) break;
    if (errno == ENOTSUP) return {};  // a filesystem without xattrs: none
    if (errno != ERANGE) return fail_errno("list xattrs of " + quote(e.path), errno);
    const ssize_t need = ::llistxattr(path.c_str(), nullptr, 0);
    if (need < 0) return fail_errno("list xattrs of " + quote(e.path), errno);
    names.resize(static_cast<std::size_t>(need) + 1);
  }
  names.resize(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < names.size();) {
    const std::size_t end = names.find('\0', i);
    const std::string name = names.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? names.size() : end + 1;
    if (name.empty()) continue;
    std::string value(64, '\0');
    for (;;) {
      const ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      if (v >= 0) {
        value.resize(static_cast<std::size_t>(v));
        break;
      }
      if (errno == ENODATA) {  // removed since it was listed
        value.clear();
        break;
      }
      if (errno != ERANGE) return fail_errno("read xattr " + quote(name) + " of " + quote(e.path), errno);
      const ssize_t need = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (need < 0) return fail_errno("read xattr " + quote(name) + " of " + quote(e.path), errno);
      value.resize(static_cast<std::size_t>(need) + 1);
    }
    e.xattrs.emplace(name, std::move(value));
  }
  return {};
}

}  // namespace

// lstat of `name` in `dirfd`, with link target and (optionally) xattrs.
result<tree_entry> stat_entry(int dirfd, const char* name, std::string rel, bool xattrs,
                              const std::string& root) {
  struct statx st{};
  if (::statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_BTIME, &st) != 0)
    return fail_errno("lstat " + quote(rel), errno);
  tree_entry e = entry_of(std::move(rel), st);
  if (S_ISLNK(e.mode)) {
    OCIPIPE_ASSIGN_OR_RETURN(e.link_target, read_link(dirfd, name, e.size, e.path));
  }
  if (xattrs) {
    OCIPIPE_ASSIGN_OR_RETURN(auto where, xattr_path(dirfd, name, root, e.path));
    OCIPIPE_TRY(read_xattrs(where, e));
  }
  return e;
}


result<std::vector<std::string>> list_names(int dirfd, const std::string& what) {
  std::vector<std::string> names;
  const int dup_fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return fail_errno("read " + quote(what), errno);
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return fail_errno("read " + quote(what), errno);
  }
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0))) continue;
    names.emplace_back(de->d_name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return fail_errno("read " + quote(what), err);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ocipipe::io::detail
