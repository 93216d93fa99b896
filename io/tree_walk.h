#pragma once
// Reads a directory tree (a rootfs, or pack's input DIR) without following
// symlinks: fd-relative openat(O_NOFOLLOW|O_DIRECTORY) and fstatat with
// AT_SYMLINK_NOFOLLOW, never crossing into another filesystem's mount unless
// asked. pack and pack --diff build layers from it; unpack and create record
// the state they wrote with it (io/rootfs_state.h).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/unique_fd.h"
#include "stages/oci/error.h"

namespace ocipipe::io {

/// One path below the walked root, as lstat (statx without following) saw it.
struct tree_entry {
  /// Relative to the root, '/'-separated, no leading "/" or "./"; never "".
  std::string path;
  std::uint32_t mode = 0;  ///< st_mode: type bits and permission bits
  std::uint32_t uid = 0, gid = 0;
  std::uint64_t size = 0;  ///< bytes (regular files; symlinks: target length)
  std::int64_t mtime_sec = 0, mtime_nsec = 0;
  std::int64_t ctime_sec = 0, ctime_nsec = 0;
  /// Birth time (statx STATX_BTIME) where the filesystem reports one, else
  /// 0/0. With `ino` it tells a recreated inode from the old one even when
  /// the filesystem hands out the same inode number again.
  std::int64_t btime_sec = 0, btime_nsec = 0;
  std::uint64_t dev = 0, ino = 0, nlink = 0, rdev = 0;
  std::string link_target;  ///< symlinks only
  /// Extended attributes by name (only when the walk asked for them).
  std::map<std::string, std::string> xattrs;
};

struct tree_walk_options {
  bool xattrs = false;          ///< read every entry's xattrs (llistxattr/lgetxattr)
  bool cross_mounts = false;    ///< descend into directories on another st_dev
  /// Threads that list and lstat directories, the caller's included (0 and
  /// 1: the caller alone). The visitor still runs on the caller's thread
  /// only, in the same order (io/tree_walk_parallel.h).
  unsigned threads = 1;
};

/// Order of paths in every walk, layer and state file: component by
/// component, bytewise, so a directory comes right before its children
/// ("a", "a/b", "a.b"), and the same tree always gives the same order.
[[nodiscard]] bool tree_path_less(std::string_view a, std::string_view b) noexcept;

/// Walks everything below `root` (not `root` itself), in tree_path_less
/// order. Directories on another filesystem are listed but not descended
/// unless `cross_mounts`. Errors: `not_found` (no root), `invalid_argument`
/// (root not a directory), `permission_denied`, `io` (with the path).
[[nodiscard]] result<std::vector<tree_entry>> walk_tree(const std::string& root,
                                                        const tree_walk_options& opts = {});

/// Called once per path of a walk; an error stops the walk and is returned.
using tree_visitor = std::function<result<void>(tree_entry&&)>;

/// walk_tree without the list: gives each entry to `visit` as it is read, in
/// the same order, so memory grows with the depth of the tree and the width
/// of its widest directory (its names are sorted), never with its size.
/// Errors: those of walk_tree, and whatever `visit` returns.
[[nodiscard]] result<void> for_each_tree_entry(const std::string& root, const tree_walk_options& opts,
                                               const tree_visitor& visit);

/// lstat of one path below the open directory `root_fd`, resolved without
/// following any symlink (O_NOFOLLOW walk; a symlink on the way is
/// `not_found`, ".." is `unsafe_path`), with its xattrs when `xattrs`.
/// Errors: `not_found`, `unsafe_path`, `io`.
[[nodiscard]] result<tree_entry> stat_in_tree(int root_fd, const std::string& path, bool xattrs);

/// Opens regular file `path` below `root_fd` for reading, resolved as
/// stat_in_tree does; never opens a FIFO or device (checked through O_PATH
/// first). Errors: those of stat_in_tree, `malformed` (not a regular file),
/// `unsafe_path` (a symlink).
[[nodiscard]] result<unique_fd> open_file_in_tree(int root_fd, const std::string& path);

}  // namespace ocipipe::io
