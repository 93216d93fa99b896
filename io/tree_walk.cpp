// Sorted, no-follow directory walk (io/tree_walk.h).
#include "io/tree_walk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "io/regular_file.h"
#include "io/tree_stat.h"
#include "io/tree_walk_parallel.h"
#include "io/unique_fd.h"
#include "stages/oci/path_record.h"

namespace ocipipe::io {
namespace {

struct walker {
  const std::string& root;
  const tree_walk_options& opts;
  std::uint64_t root_dev = 0;
  const tree_visitor& visit;

  // Lists `dirfd` (the directory `prefix`, "" for the root), sorted bytewise,
  // and descends into each child directory right after its own entry: that
  // preorder is tree_path_less order.
  result<void> walk(int dirfd, const std::string& prefix) {
    OCIPIPE_ASSIGN_OR_RETURN(auto names, detail::list_names(dirfd, prefix.empty() ? root : prefix));
    for (const auto& name : names) {
      std::string rel = prefix.empty() ? name : prefix + "/" + name;
      OCIPIPE_ASSIGN_OR_RETURN(auto e, detail::stat_entry(dirfd, name.c_str(), std::move(rel), opts.xattrs, root));
      const bool descend = S_ISDIR(e.mode) && (opts.cross_mounts || e.dev == root_dev);
      std::string child_prefix = descend ? e.path : std::string();
      OCIPIPE_TRY(visit(std::move(e)));
      if (!descend) continue;
      unique_fd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) return fail_errno("open " + quote(child_prefix), errno);
      OCIPIPE_TRY(walk(child.get(), child_prefix));
    }
    return {};
  }
};

}  // namespace

bool tree_path_less(std::string_view a, std::string_view b) noexcept { return rootfs_path_less(a, b); }

result<void> for_each_tree_entry(const std::string& root, const tree_walk_options& opts, const tree_visitor& visit) {
  unique_fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOTDIR) return fail(errc::invalid_argument, quote(root) + " is not a directory");
    return fail_errno("open " + quote(root), errno);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + quote(root), errno);
  const auto root_dev = static_cast<std::uint64_t>(st.st_dev);
  auto ok = opts.threads > 1 && detail::have_openat2() ? detail::walk_parallel(root, fd.get(), root_dev, opts, visit)
                                                       : walker{root, opts, root_dev, visit}.walk(fd.get(), "");
  if (!ok) return tl::unexpected(std::move(ok).error().context("walk " + quote(root)));
  return {};
}

result<std::vector<tree_entry>> walk_tree(const std::string& root, const tree_walk_options& opts) {
  std::vector<tree_entry> out;
  OCIPIPE_TRY(for_each_tree_entry(root, opts, [&](tree_entry&& e) -> result<void> {
    out.push_back(std::move(e));
    return {};
  }));
  return out;
}

namespace {

// Opens the parent directory of tree path `path` below `root_fd` one
// component at a time with O_NOFOLLOW|O_DIRECTORY, so a symlink anywhere on
// the way is refused (ENOTDIR), never followed. Gives the parent (invalid
// for the root itself), the last component and the cleaned path.
struct tree_parent {
  unique_fd fd;
  std::string name, rel;
};

result<tree_parent> open_parent_in_tree(int root_fd, const std::string& path) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i <= path.size();) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      std::string comp = path.substr(i, j - i);
      if (comp == "..") return fail(errc::unsafe_path, quote(path) + ": \"..\" in a tree path");
      if (comp != ".") parts.push_back(std::move(comp));
    }
    i = j + 1;
  }
  if (parts.empty()) return fail(errc::invalid_argument, quote(path) + ": not below the root");
  tree_parent out;
  for (std::size_t k = 0; k < parts.size(); ++k) out.rel += (k ? "/" : "") + parts[k];
  for (std::size_t k = 0; k + 1 < parts.size(); ++k) {
    unique_fd next(::openat(out.fd ? out.fd.get() : root_fd, parts[k].c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ENOTDIR || errno == ELOOP)
        return fail(errc::not_found, quote(out.rel) + ": not a directory on the way", errno);
      return fail_errno(quote(out.rel), errno);
    }
    out.fd = std::move(next);
  }
  out.name = std::move(parts.back());
  return out;
}

}  // namespace

result<tree_entry> stat_in_tree(int root_fd, const std::string& path, bool xattrs) {
  auto parent = open_parent_in_tree(root_fd, path);
  if (!parent) return tl::unexpected(std::move(parent).error().context("lstat"));
  const int dirfd = parent->fd ? parent->fd.get() : root_fd;
  return detail::stat_entry(dirfd, parent->name.c_str(), std::move(parent->rel), xattrs, std::string());
}

result<unique_fd> open_file_in_tree(int root_fd, const std::string& path) {
  auto parent = open_parent_in_tree(root_fd, path);
  if (!parent) return tl::unexpected(std::move(parent).error().context("open"));
  const int dirfd = parent->fd ? parent->fd.get() : root_fd;
  return open_regular_file(dirfd, parent->name, quote(parent->rel));
}

}  // namespace ocipipe::io
