#include "io/rootfs_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "io/fd_io.h"
#include "io/small_file.h"
#include "stages/oci/rootless_owner.h"

namespace ocipipe::io {
namespace {

std::pair<std::string, std::string> split_parent(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {std::string(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// The writer's paths arrive cleaned (stages/tar_path.h); this is the last line
// of defence: a "", "." or ".." component would make an *at() call act on the
// directory itself or its parent, outside the rootfs.
result<void> check_clean(const std::string& path, bool allow_root) {
  if (path.empty()) {
    if (allow_root) return {};
    return fail(errc::unsafe_path, "empty path");
  }
  std::size_t i = 0;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const auto comp = std::string_view(path).substr(i, j - i);
    if (comp.empty() || comp == "." || comp == "..")
      return fail(errc::unsafe_path, "path " + quote(path) + " is not a clean path inside the rootfs");
    i = j + 1;
  }
  return {};
}

// Creates directory `path` and its missing ancestors inside the rootfs, every
// component resolved as if the rootfs were "/". A symlink on the way whose
// target is missing gets that target created inside the rootfs, as umoci's
// MkdirAll-in-root does: a layer's `pwn -> /tmp/outside` and then
// `pwn/escaped.txt` writes rootfs/tmp/outside/escaped.txt (buglog B21).
// `path` is relative, or absolute within the rootfs when it comes from a
// symlink target; ".." in it is clamped at the root by open_in_root.
result<void> make_dir_in_root(int root_fd, const std::string& path) {
  // Iterative, not recursive: a layer may nest thousands of directories, and
  // this runs on a flow-graph worker with a modest stack.
  std::vector<std::string> todo;  // components still to walk, last one first
  auto push_components = [&](const std::string& p) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= p.size()) {
      auto j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (j > i) parts.emplace_back(p.substr(i, j - i));
      i = j + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push_components(path);
  std::string done;  // the real directories walked so far, relative to the root
  unique_fd dfd;     // done, opened
  auto reopen = [&]() -> result<void> {
    OCIPIPE_ASSIGN_OR_RETURN(dfd, open_in_root(root_fd, done, O_PATH | O_DIRECTORY));
    return {};
  };
  OCIPIPE_TRY(reopen());
  int links = 0;
  char target_buf[4096];
  while (!todo.empty()) {
    const std::string comp = std::move(todo.back());
    todo.pop_back();
    if (comp == ".") continue;
    if (comp == "..") {  // clamped at the root, as RESOLVE_IN_ROOT does
      const auto slash = done.rfind('/');
      done = slash == std::string::npos ? std::string() : done.substr(0, slash);
      OCIPIPE_TRY(reopen());
      continue;
    }
    const std::string next = join(done, comp);
    if (::mkdirat(dfd.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
      return fail_errno("create parent directory " + quote(next), errno);
    struct stat st{};
    if (::fstatat(dfd.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_errno("stat " + quote(next), errno);
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return fail_errno(quote(path), ELOOP);  // Linux's own limit
      const ssize_t n = ::readlinkat(dfd.get(), comp.c_str(), target_buf, sizeof target_buf);
      if (n < 0) return fail_errno("read symlink " + quote(next), errno);
      const std::string target(target_buf, static_cast<std::size_t>(n));
      if (!target.empty() && target.front() == '/') {
        done.clear();
        OCIPIPE_TRY(reopen());
      }
      push_components(target);  // a relative target continues from `done`
      continue;
    }
    if (!S_ISDIR(st.st_mode))
      return fail(errc::malformed, "parent " + quote(next) + " is not a directory", ENOTDIR);
    unique_fd child(::openat(dfd.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) return fail_errno("open " + quote(next), errno);
    dfd = std::move(child);
    done = next;
  }
  return {};
}

// Read, not set: umask(2) can only be queried by changing it, which races
// with other threads creating files.
std::optional<mode_t> process_umask() {
  auto status = read_linked_file("/proc/self/status", 1 << 16);
  if (!status) return std::nullopt;
  const auto at = status->find("\nUmask:\t");
  if (at == std::string::npos) return std::nullopt;
  mode_t m = 0;
  for (std::size_t i = at + 8; i < status->size() && (*status)[i] >= '0' && (*status)[i] <= '7'; ++i)
    m = static_cast<mode_t>(m * 8 + static_cast<mode_t>((*status)[i] - '0'));
  return m & 0777;
}

timespec to_timespec(std::int64_t sec, std::int64_t nsec) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(sec);
  t.tv_nsec = static_cast<long>(nsec);
  return t;
}

}  // namespace

result<rootfs_writer> rootfs_writer::open(const std::string& rootfs, rootfs_writer_options opts) {
  rootfs_writer w;
  w.opts_ = opts;
  w.euid_ = ::geteuid();
  if (w.euid_ != 0) w.opts_.rootless = true;
  w.egid_ = ::getegid();
  w.umask_ = process_umask();
  w.root_ = unique_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!w.root_) return fail_errno("rootfs " + quote(rootfs), errno);
  w.root_real_ = w.real_path_of(w.root_.get(), {});
  return w;
}

std::string rootfs_writer::real_path_of(int fd, const std::string& spelled) const {
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return spelled;
  const std::string_view p(buf, static_cast<std::size_t>(n));
  if (root_real_.empty()) return std::string(p);  // open() asking for the root's own
  if (p == root_real_) return {};
  const std::string_view prefix = root_real_ == "/" ? std::string_view() : std::string_view(root_real_);
  if (p.size() > prefix.size() + 1 && p.substr(0, prefix.size()) == prefix && p[prefix.size()] == '/')
    return std::string(p.substr(prefix.size() + 1));
  return spelled;  // /proc not mounted, or a name the kernel marks " (deleted)"
}

void rootfs_writer::warn_once(const std::string& key, const std::string& message) {
  if (std::find(warned_keys_.begin(), warned_keys_.end(), key) != warned_keys_.end()) return;
  warned_keys_.push_back(key);
  warnings_.emplace_back("rootfs.unsupported", message);
}

result<void> rootfs_writer::set_owner(int fd, int dirfd, const std::string& base, const tar_entry& e,
                                      const std::string& path) {
  const auto uid = static_cast<uid_t>(e.uid);
  const auto gid = static_cast<gid_t>(e.gid);
  if (!opts_.rootless) {
    const int rc = fd >= 0 ? ::fchown(fd, uid, gid) : ::fchownat(dirfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    if (rc == 0) return {};
    // EINVAL: the id has no mapping in this user namespace (podman#22092,
    // B37). The file stays ours; the owner is kept as a rootless unpack keeps it.
    if (errno != EINVAL) return fail_errno("chown " + quote(path), errno);
    if (unmapped_.count++ == 0) {
      unmapped_.first_path = path;
      unmapped_.first_uid = e.uid;
      unmapped_.first_gid = e.gid;
    }
  }
  // Linux allows user.* xattrs on regular files and directories only.
  if (fd < 0) return {};
  const std::string value = rootless_owner::encode(uid, gid);
  if (value.empty()) {
    // A lower layer's record must not outlive a new owner of 0:0.
    if (::fremovexattr(fd, rootless_owner::xattr_name) != 0 && errno != ENODATA && errno != ENOTSUP)
      return fail_errno("remove xattr " + quote(rootless_owner::xattr_name) + " of " + quote(path), errno);
    return {};
  }
  if (::fsetxattr(fd, rootless_owner::xattr_name, value.data(), value.size(), 0) == 0) return {};
  if (errno == ENOTSUP) {
    warn_once("xattr:rootless", "owners not recorded: this filesystem has no user.* xattrs (first "
                                "seen on " + quote(path) + ")");
    return {};
  }
  return fail_errno("set xattr " + quote(rootless_owner::xattr_name) + " on " + quote(path), errno);
}

result<int> rootfs_writer::parent_fd(const std::string& parent, bool create) {
  if (parent.empty()) return root_.get();
  if (cache_valid_ && cached_parent_ == parent) return cached_fd_.get();
  auto fd = open_in_root(root_.get(), parent, O_PATH | O_DIRECTORY);
  if (!fd && fd.error().sys_errno() == ENOENT && create) {
    // Implicit parents are created as umoci does: root-owned, mode 0755.
    OCIPIPE_TRY(make_dir_in_root(root_.get(), parent));
    fd = open_in_root(root_.get(), parent, O_PATH | O_DIRECTORY);
  }
  if (!fd) {
    if (fd.error().sys_errno() == ENOTDIR)
      return fail(errc::malformed, "parent " + quote(parent) + " is not a directory", ENOTDIR);
    return tl::unexpected(std::move(fd).error());
  }
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) return fail_errno("stat " + quote(parent), errno);
  cached_parent_ = parent;
  cached_fd_ = std::move(*fd);
  cached_real_parent_ = real_path_of(cached_fd_.get(), parent);
  cached_new_file_gid_ = (st.st_mode & S_ISGID) ? st.st_gid : egid_;
  cache_valid_ = true;
  return cached_fd_.get();
}

result<bool> rootfs_writer::owner_right_at_creation(int pfd, const std::string& parent, const tar_entry& e) {
  if (opts_.rootless || static_cast<std::int64_t>(euid_) != e.uid) return false;
  gid_t gid = cached_new_file_gid_;
  if (parent.empty()) {
    struct stat st{};
    if (::fstat(pfd, &st) != 0) return fail_errno("stat rootfs", errno);
    gid = (st.st_mode & S_ISGID) ? st.st_gid : egid_;
  }
  return static_cast<std::int64_t>(gid) == e.gid;
}

result<void> rootfs_writer::remove_tree(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0) return {};
  if (errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return fail_errno("remove " + quote(name), errno);
  unique_fd dfd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return fail_errno("open directory " + quote(name), errno);
  DIR* d = ::fdopendir(dfd.release());
  if (!d) return fail_errno("read directory " + quote(name), errno);
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  const int fd = ::dirfd(d);
  for (const auto& n : names) {
    if (auto r = remove_tree(fd, n); !r) {
      ::closedir(d);
      return r;
    }
  }
  ::closedir(d);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return fail_errno("remove directory " + quote(name), errno);
  return {};
}

result<void> rootfs_writer::remove_existing(int dirfd, const std::string& name,
                                            const std::string& path) {
  // A removed directory or symlink may be on the cached parent's path.
  cache_valid_ = false;
  if (auto r = remove_tree(dirfd, name); !r) return tl::unexpected(std::move(r).error().context(
                                                  "replace " + quote(path)));
  return {};
}

result<void> rootfs_writer::hide_children(int dirfd, const std::string& dir_path,
                                          const keep_predicate& keep) {
  unique_fd dfd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return fail_errno("open directory " + quote(dir_path), errno);
  DIR* d = ::fdopendir(dfd.release());
  if (!d) return fail_errno("read directory " + quote(dir_path), errno);
  std::vector<std::pair<std::string, unsigned char>> children;
  while (dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n != "." && n != "..") children.emplace_back(n, de->d_type);
  }
  const int fd = ::dirfd(d);
  result<void> out;
  for (const auto& [name, type] : children) {
    const std::string child = join(dir_path, name);
    if (!keep(child)) {
      cache_valid_ = false;
      out = remove_tree(fd, name);
    } else {
      // The current layer wrote at or below it: keep it, hide what is lower inside.
      unique_fd cfd(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (cfd) out = hide_children(cfd.get(), child, keep);
    }
    if (!out) break;
  }
  ::closedir(d);
  return out;
}

result<void> rootfs_writer::remove_lower(const std::string& path, const keep_predicate& keep) {
  OCIPIPE_TRY(check_clean(path, false));
  auto [parent, base] = split_parent(path);
  auto pfd = open_in_root(root_.get(), parent, O_PATH | O_DIRECTORY);
  if (!pfd) {
    const int e = pfd.error().sys_errno();
    if (e == ENOENT || e == ENOTDIR) return {};  // nothing lower to hide
    return tl::unexpected(std::move(pfd).error());
  }
  struct stat st{};
  if (::fstatat(pfd->get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("whiteout " + quote(path), errno);
  }
  // What this layer wrote is known by resolved paths: compare like with like.
  const std::string real = join(real_path_of(pfd->get(), parent), base);
  if (!keep(real)) {
    cache_valid_ = false;
    return remove_tree(pfd->get(), base);
  }
  if (!S_ISDIR(st.st_mode)) return {};
  unique_fd dfd(::openat(pfd->get(), base.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return fail_errno("whiteout " + quote(path), errno);
  return hide_children(dfd.get(), real, keep);
}

result<void> rootfs_writer::clear_lower_children(const std::string& dir, const keep_predicate& keep) {
  OCIPIPE_TRY(check_clean(dir, true));
  auto dfd = open_in_root(root_.get(), dir, O_PATH | O_DIRECTORY);
  if (!dfd) {
    const int e = dfd.error().sys_errno();
    if (e == ENOENT || e == ENOTDIR) return {};
    return tl::unexpected(std::move(dfd).error());
  }
  return hide_children(dfd->get(), real_path_of(dfd->get(), dir), keep);
}

result<void> rootfs_writer::drop_other_xattrs(int fd, const tar_entry& e, const std::string& path) {
  std::string names(4096, '\0');
  ssize_t n = ::flistxattr(fd, names.data(), names.size());
  if (n < 0 && errno == ERANGE) {
    n = ::flistxattr(fd, nullptr, 0);
    if (n > 0) {
      names.resize(static_cast<std::size_t>(n));
      n = ::flistxattr(fd, names.data(), names.size());
    }
  }
  if (n < 0) {
    if (errno == ENOTSUP) return {};
    return fail_errno("list xattrs of " + quote(path), errno);
  }
  names.resize(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < names.size();) {
    const std::string name(names.c_str() + i);
    i += name.size() + 1;
    // The host's SELinux label and the rootless owner record are not the image's to replace.
    if (name.empty() || name == "security.selinux" || name == rootless_owner::xattr_name) continue;
    if (std::any_of(e.xattrs.begin(), e.xattrs.end(), [&](const auto& x) { return x.first == name; })) continue;
    if (::fremovexattr(fd, name.c_str()) != 0 && errno != ENODATA && errno != EPERM && errno != ENOTSUP)
      return fail_errno("remove xattr " + quote(name) + " of " + quote(path), errno);
  }
  return {};
}

result<void> rootfs_writer::set_xattrs(int fd, const tar_entry& e, const std::string& path) {
  for (const auto& [name, value] : e.xattrs) {
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) == 0) continue;
    if (errno == ENOTSUP || errno == EPERM) {
      warn_once("xattr:" + name.substr(0, name.find('.')),
                "xattr " + quote(name) + " not supported here (first seen on " + quote(path) +
                    "); such xattrs are skipped");
      continue;
    }
    // The filesystem refuses this value (too big for its xattr space): the
    // file is still right, so the image unpacks without it (issue 4).
    if (errno == ENOSPC || errno == E2BIG || errno == ERANGE) {
      warn_once("xattr-size:" + name, "xattr " + quote(name) + " of " + std::to_string(value.size()) +
                                          " bytes refused by this filesystem (first seen on " + quote(path) +
                                          "); skipped");
      continue;
    }
    return fail_errno("set xattr " + quote(name) + " on " + quote(path), errno);
  }
  return {};
}

result<void> rootfs_writer::set_dir_metadata(int fd, const tar_entry& e, const std::string& key,
                                             const std::string& path) {
  // The cached parent's setgid bit and group may be about to change.
  if (cache_valid_ && (key == cached_real_parent_ || path == cached_parent_)) cache_valid_ = false;
  OCIPIPE_TRY(set_owner(fd, -1, {}, e, path));
  // Rootless, the owner needs rwx to fill the directory: its own mode waits for finish().
  const std::uint32_t mode_now = opts_.rootless ? (e.mode | 0700) : e.mode;
  if (::fchmod(fd, mode_now) != 0) return fail_errno("chmod " + quote(path), errno);
  // A directory written again takes the entry's xattrs, not the union
  // (layer.md "Changeset over existing files": attributes are replaced).
  OCIPIPE_TRY(drop_other_xattrs(fd, e, path));
  OCIPIPE_TRY(set_xattrs(fd, e, path));
  struct stat st{};
  if (::fstat(fd, &st) != 0) return fail_errno("stat " + quote(path), errno);
  dir_finals_[key] = {e.mtime_sec, e.mtime_nsec,
                      mode_now == e.mode ? std::nullopt : std::optional<std::uint32_t>(e.mode),
                      static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  return {};
}

result<void> rootfs_writer::begin_entry(const tar_entry& e, const std::string& path) {
  last_entry_path_ = path;
  OCIPIPE_TRY(check_clean(path, true));
  if (e.type == entry_type::hardlink) OCIPIPE_TRY(check_clean(e.link_target, false));
  if (path.empty()) {
    // The rootfs itself: its type never changes (CVE-2021-29136); metadata applies.
    if (e.type != entry_type::directory)
      return fail(errc::unsafe_path, "entry for the rootfs itself is not a directory");
    unique_fd fd(::openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno("open rootfs", errno);
    return set_dir_metadata(fd.get(), e, std::string(), ".");
  }
  auto [parent, base] = split_parent(path);
  OCIPIPE_ASSIGN_OR_RETURN(int pfd, parent_fd(parent, true));
  last_entry_path_ = join(parent.empty() ? std::string() : cached_real_parent_, base);
  const auto mtime = to_timespec(e.mtime_sec, e.mtime_nsec);
  const timespec times[2] = {mtime, mtime};

  switch (e.type) {
    case entry_type::regular: {
      // Created with its permission bits (the fd is writable whatever they
      // say), so end_entry() chmods only what the umask or chown took away.
      // Rootless, the owner needs write access for the owner xattr first.
      const bool final_mode_now = umask_ && !opts_.rootless;
      const mode_t create_mode = final_mode_now ? static_cast<mode_t>(e.mode & 0777) : 0600;
      int fd = ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode);
      if (fd < 0 && errno == EEXIST) {
        OCIPIPE_TRY(remove_existing(pfd, base, path));
        OCIPIPE_ASSIGN_OR_RETURN(pfd, parent_fd(parent, true));
        fd = ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode);
      }
      if (fd < 0) return fail_errno("create " + quote(path), errno);
      file_.reset(fd);
      file_entry_ = e;
      file_path_ = path;
      file_end_ = 0;
      OCIPIPE_ASSIGN_OR_RETURN(file_owner_right_, owner_right_at_creation(pfd, parent, e));
      if (e.size == 0) return end_entry();
      return {};
    }
    case entry_type::directory: {
      if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
        if (errno != EEXIST) return fail_errno("create directory " + quote(path), errno);
        struct stat st{};
        if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
          return fail_errno("stat " + quote(path), errno);
        if (!S_ISDIR(st.st_mode)) {
          OCIPIPE_TRY(remove_existing(pfd, base, path));
          OCIPIPE_ASSIGN_OR_RETURN(pfd, parent_fd(parent, true));
          if (::mkdirat(pfd, base.c_str(), 0700) != 0)
            return fail_errno("create directory " + quote(path), errno);
        }
      }
      unique_fd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return fail_errno("open directory " + quote(path), errno);
      return set_dir_metadata(fd.get(), e, last_entry_path_, path);
    }
    case entry_type::symlink: {
      if (::symlinkat(e.link_target.c_str(), pfd, base.c_str()) != 0) {
        if (errno != EEXIST) return fail_errno("create symlink " + quote(path), errno);
        OCIPIPE_TRY(remove_existing(pfd, base, path));
        OCIPIPE_ASSIGN_OR_RETURN(pfd, parent_fd(parent, true));
        if (::symlinkat(e.link_target.c_str(), pfd, base.c_str()) != 0)
          return fail_errno("create symlink " + quote(path), errno);
      }
      OCIPIPE_ASSIGN_OR_RETURN(const bool owner_right, owner_right_at_creation(pfd, parent, e));
      if (!owner_right) OCIPIPE_TRY(set_owner(-1, pfd, base, e, path));
      if (::utimensat(pfd, base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno("set mtime of " + quote(path), errno);
      return {};
    }
    case entry_type::hardlink: {
      // link_target arrives cleaned. A hardlink to itself is a no-op, not a deletion.
      if (e.link_target == path) return {};
      auto [tparent, tbase] = split_parent(e.link_target);
      auto tfd = open_in_root(root_.get(), tparent, O_PATH | O_DIRECTORY);
      if (!tfd)
        return fail(errc::malformed, "hardlink " + quote(path) + ": target " +
                                         quote(e.link_target) + " not found");
      // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it
      // points to (CVE-2021-32760).
      if (::linkat(tfd->get(), tbase.c_str(), pfd, base.c_str(), 0) != 0) {
        if (errno == ENOENT)
          return fail(errc::malformed, "hardlink " + quote(path) + ": target " +
                                           quote(e.link_target) + " not found");
        if (errno != EEXIST) return fail_errno("create hardlink " + quote(path), errno);
        OCIPIPE_TRY(remove_existing(pfd, base, path));
        OCIPIPE_ASSIGN_OR_RETURN(pfd, parent_fd(parent, true));
        if (::linkat(tfd->get(), tbase.c_str(), pfd, base.c_str(), 0) != 0)
          return fail_errno("create hardlink " + quote(path), errno);
      }
      return {};
    }
    case entry_type::char_device:
    case entry_type::block_device:
    case entry_type::fifo: {
      mode_t type = e.type == entry_type::fifo ? S_IFIFO
                    : e.type == entry_type::char_device ? S_IFCHR : S_IFBLK;
      const dev_t dev = e.type == entry_type::fifo ? 0 : makedev(e.dev_major, e.dev_minor);
      const bool may_mknod = !opts_.rootless || e.type == entry_type::fifo;
      if (!may_mknod || ::mknodat(pfd, base.c_str(), type | 0600, dev) != 0) {
        if (!may_mknod || ((errno == EPERM || errno == EACCES) && e.type != entry_type::fifo)) {
          // Unprivileged (rootless, user namespace): device nodes are skipped
          // with one warning, as layer.md's "where supported" allows (B36).
          warn_once("device-nodes", "device node " + quote(path) +
                                        " not created: not permitted here; device nodes are skipped");
          return {};
        }
        if (errno != EEXIST) return fail_errno("create node " + quote(path), errno);
        OCIPIPE_TRY(remove_existing(pfd, base, path));
        OCIPIPE_ASSIGN_OR_RETURN(pfd, parent_fd(parent, true));
        if (::mknodat(pfd, base.c_str(), type | 0600, dev) != 0)
          return fail_errno("create node " + quote(path), errno);
      }
      OCIPIPE_TRY(set_owner(-1, pfd, base, e, path));
      if (::fchmodat(pfd, base.c_str(), e.mode, 0) != 0)
        return fail_errno("chmod " + quote(path), errno);
      if (::utimensat(pfd, base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno("set mtime of " + quote(path), errno);
      return {};
    }
  }
  return fail(errc::internal, "unknown entry type");
}

result<bool> rootfs_writer::drop_entry(const std::string& path) {
  OCIPIPE_TRY(check_clean(path, true));
  if (path.empty()) return false;
  auto [parent, base] = split_parent(path);
  auto pfd = parent_fd(parent, false);
  if (!pfd || (!parent.empty() && cached_real_parent_ != parent)) return false;
  struct stat st{};
  if (::fstatat(*pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return true;
    return fail_errno("stat " + quote(path), errno);
  }
  OCIPIPE_TRY(remove_existing(*pfd, base, path));
  return true;
}

result<void> rootfs_writer::write_content(std::uint64_t offset, byte_view bytes) {
  if (!file_) return fail(errc::internal, "write_content without a regular file");
  if (const int e = pwrite_fully(file_.get(), bytes.data(), bytes.size(), static_cast<off_t>(offset)); e != 0)
    return fail_errno("write " + quote(file_path_), e);
  file_end_ = std::max(file_end_, offset + bytes.size());
  return {};
}

result<void> rootfs_writer::end_entry() {
  if (!file_) return {};
  const auto& e = file_entry_;
  const int fd = file_.get();
  // Sparse files may end in a hole: the size comes from the header, not the last write.
  if (file_end_ != e.size && ::ftruncate(fd, static_cast<off_t>(e.size)) != 0)
    return fail_errno("truncate " + quote(file_path_), errno);
  // chown before chmod: chown clears setuid/setgid (umoci#166), and those
  // bits always take the fchmod below.
  if (!file_owner_right_) OCIPIPE_TRY(set_owner(fd, -1, {}, e, file_path_));
  const bool mode_right = umask_ && !opts_.rootless && (e.mode & 07777) == (e.mode & 0777 & ~*umask_);
  if (!mode_right && ::fchmod(fd, e.mode) != 0) return fail_errno("chmod " + quote(file_path_), errno);
  OCIPIPE_TRY(set_xattrs(fd, e, file_path_));
  const auto mtime = to_timespec(e.mtime_sec, e.mtime_nsec);
  const timespec times[2] = {mtime, mtime};
  if (::futimens(fd, times) != 0) return fail_errno("set mtime of " + quote(file_path_), errno);
  file_.reset();
  return {};
}

result<void> rootfs_writer::finish() {
  if (unmapped_.count > 0)
    warnings_.emplace_back(
        "rootfs.owner", std::to_string(unmapped_.count) + " entries have an owner this user namespace cannot map (first: " +
                            quote(unmapped_.first_path) + ", " + std::to_string(unmapped_.first_uid) + ":" +
                            std::to_string(unmapped_.first_gid) + "); they are owned by the unpacking user, "
                            "with the image's owner in the " + rootless_owner::xattr_name + " xattr");
  // Children before their parents, so a parent's mode never locks a child out;
  // the rootfs itself ("") sorts first, so it goes last.
  for (auto it = dir_finals_.rbegin(); it != dir_finals_.rend(); ++it) {
    const auto& [path, t] = *it;
    // The rootfs's own entry: its mode, never its mtime (as before rootless).
    if (path.empty()) {
      if (t.mode && ::fchmodat(root_.get(), ".", *t.mode, 0) != 0) return fail_errno("chmod rootfs", errno);
      continue;
    }
    auto [parent, base] = split_parent(path);
    auto pfd = open_in_root(root_.get(), parent, O_PATH | O_DIRECTORY);
    if (!pfd) continue;  // removed by a later layer
    // Removed, or removed and made again (implicitly, 0755) by a later layer.
    struct stat st{};
    if (::fstatat(pfd->get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_ino) != t.ino || static_cast<std::uint64_t>(st.st_dev) != t.dev)
      continue;
    if (t.mode && ::fchmodat(pfd->get(), base.c_str(), *t.mode, 0) != 0)
      return fail_errno("chmod " + quote(path), errno);
    const auto mtime = to_timespec(t.mtime_sec, t.mtime_nsec);
    const timespec times[2] = {mtime, mtime};
    if (::utimensat(pfd->get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_errno("set mtime of " + quote(path), errno);
  }
  return {};
}

}  // namespace ocipipe::io
