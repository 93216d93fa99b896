#pragma once
// Tree comparison for tests: is the rootfs we unpacked the same, entry by entry, as the one a
// reference tool (umoci, or ocipipe itself from another image) unpacked?
//
// Used by tests/interop (ocipipe vs umoci, zstd vs gzip images) and tests/unit. Not part of
// ocipipe itself; it may use plain syscalls and throw nothing.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ocipipe::testing {

/// Which properties `compare_trees` checks. Everything is on by default; directory mtimes
/// are never compared (unpacking a child changes its parent's mtime, and tools restore them
/// at different moments), nor atimes, ctimes, inode numbers or link counts.
struct tree_compare_options {
  bool compare_mode = true;            ///< st_mode & 07777: permission, setuid, setgid, sticky
  bool compare_owner = true;           ///< st_uid and st_gid
  bool compare_size = true;            ///< st_size of regular files
  bool compare_content = true;         ///< sha256 of regular files' bytes
  bool compare_symlink_target = true;  ///< readlink() of symlinks, byte for byte
  bool compare_hardlinks = true;       ///< which paths share an inode, within each tree
  bool compare_xattrs = true;          ///< names and values of every xattr (llistxattr)
  bool compare_mtime = true;           ///< mtime of regular files and symlinks
  bool mtime_seconds_only = false;     ///< with compare_mtime: ignore the nanoseconds
  bool compare_devices = true;         ///< st_rdev of character and block devices
  /// Relative paths (as in `tree_difference::path`, e.g. "etc/hostname") skipped in both
  /// trees together with everything below them.
  std::vector<std::string> ignore_paths;
};

/// The property a `tree_difference` is about.
enum class tree_check {
  presence,        ///< the path exists in one tree only
  type,            ///< regular file vs directory vs symlink vs fifo vs device vs socket
  mode,
  uid,
  gid,
  size,
  content,
  symlink_target,
  hardlink,        ///< the set of paths sharing the entry's inode differs
  xattr,
  mtime,
  device,
  error,           ///< a syscall failed while reading a tree; `detail` says which
};

/// Stable lowercase name of a check ("presence", "symlink_target", ...).
std::string_view tree_check_name(tree_check c) noexcept;

/// One difference between tree A and tree B.
struct tree_difference {
  /// Path relative to the tree roots, without a leading "/" ("usr/bin/env"); the roots
  /// themselves are ".".
  std::string path;
  tree_check check;
  /// Human-readable values, A first: "mode 0755 vs 0700", "only in B".
  std::string detail;

  /// "usr/bin/env: mode: mode 0755 vs 0700".
  [[nodiscard]] std::string to_string() const;
};

/// Walks the trees rooted at `a` and `b` with lstat (symlinks are never followed, the
/// roots included, which must be directories) and returns every difference the enabled
/// checks find, sorted by path, then by check. An empty result means the trees are equal
/// under `opts`.
///
/// - An entry whose type differs yields one `type` difference and no other check for it;
///   when one of the two is a directory, the entries below it show up as `presence`
///   differences.
/// - Regular-file content is hashed (SHA-256, OpenSSL EVP) only when both sizes are equal;
///   a size difference is reported as `size` (or `content` when `compare_size` is off).
/// - Hardlinks: for every path present in both trees, the set of paths (present in both
///   trees) sharing its inode in A must equal the one in B; each distinct pair of unequal
///   sets is reported once, at its first path. Inode sharing with files outside a tree
///   is ignored.
/// - Errors while reading (a directory that cannot be opened, a file that cannot be read,
///   a root that is missing or not a directory) are reported as `error` differences, so
///   a failed read can never pass as equal.
///
/// Reads only; thread-safe for distinct or unchanging trees. Cost: one lstat, one
/// llistxattr per entry and a full read of every equal-sized regular file pair.
[[nodiscard]] std::vector<tree_difference> compare_trees(const std::string& a,
                                                         const std::string& b,
                                                         const tree_compare_options& opts = {});

/// The first `limit` differences, one per line, plus a "... and N more" line when some
/// were left out; "" for none. For test failure messages.
[[nodiscard]] std::string format_differences(const std::vector<tree_difference>& diffs,
                                             std::size_t limit = 50);

}  // namespace ocipipe::testing
