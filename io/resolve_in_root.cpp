// Path resolution under a rootfs directory, as if it were "/".
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

#include "io/rootfs_writer.h"

namespace ocipipe::io {
namespace {

constexpr int max_symlinks = 40;  // Linux's own limit

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Kernels before 5.6 lack openat2: walk one component at a time with
// O_NOFOLLOW, resolving each symlink ourselves against the rootfs.
result<unique_fd> walk_in_root(int root_fd, const std::string& path, int flags) {
  std::vector<unique_fd> stack;  // directory fds below the root
  auto current = [&] { return stack.empty() ? root_fd : stack.back().get(); };
  std::vector<std::string> todo = split(path);
  std::reverse(todo.begin(), todo.end());
  int links = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.back());
    todo.pop_back();
    if (comp == ".") continue;
    if (comp == "..") {
      if (!stack.empty()) stack.pop_back();  // ".." at the root stays at the root
      continue;
    }
    const bool last = todo.empty();
    unique_fd fd(::openat(current(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return fail_errno(quote(path), errno);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return fail_errno(quote(path), errno);
    if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
      if (++links > max_symlinks) return fail_errno(quote(path), ELOOP);
      char buf[4096];
      const ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf);
      if (n < 0) return fail_errno(quote(path), errno);
      std::string target(buf, static_cast<std::size_t>(n));
      if (!target.empty() && target[0] == '/') stack.clear();
      auto parts = split(target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (last) {
      if ((flags & O_PATH) && (!(flags & O_DIRECTORY) || S_ISDIR(st.st_mode))) return fd;
      if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) return fail_errno(quote(path), ENOTDIR);
      unique_fd out(::openat(current(), comp.c_str(), (flags | O_NOFOLLOW | O_CLOEXEC) & ~O_CREAT));
      if (!out) return fail_errno(quote(path), errno);
      return out;
    }
    if (!S_ISDIR(st.st_mode)) return fail_errno(quote(path), ENOTDIR);
    stack.push_back(std::move(fd));
  }
  unique_fd out(::openat(current(), ".", (flags | O_CLOEXEC) & ~O_NOFOLLOW));
  if (!out) return fail_errno(quote(path), errno);
  return out;
}

}  // namespace

result<unique_fd> open_in_root(int root_fd, const std::string& path, int flags) {
  static std::atomic<bool> have_openat2{true};
  if (have_openat2) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const char* p = path.empty() ? "." : path.c_str();
    const long fd = ::syscall(SYS_openat2, root_fd, p, &how, sizeof how);
    if (fd >= 0) return unique_fd(static_cast<int>(fd));
    if (errno != ENOSYS) {
      if (errno == EXDEV) return fail(errc::unsafe_path, quote(path) + ": escapes rootfs", EXDEV);
      return fail_errno(quote(path), errno);
    }
    have_openat2 = false;
  }
  return walk_in_root(root_fd, path, flags);
}

}  // namespace ocipipe::io
