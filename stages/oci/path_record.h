#pragma once
// What ocipipe remembers of one path of a rootfs: the metadata a later change
// to it would alter. unpack and create record one per path of the rootfs they
// wrote (io/rootfs_state.h); pack --diff compares them with the rootfs as it
// is now (stages/rootfs_diff.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stages/oci/digest.h"

namespace ocipipe {

/// One path below a rootfs. A value; thread-safe to share.
struct path_record {
  /// Relative to the rootfs, '/'-separated, no leading "/"; never "".
  std::string path;
  std::uint32_t mode = 0;  ///< st_mode: type bits (S_IFMT) and permission bits
  std::uint32_t uid = 0, gid = 0;
  std::uint64_t size = 0;  ///< bytes (regular files; symlinks: target length)
  std::int64_t mtime_sec = 0, mtime_nsec = 0;
  /// Inode change data: ctime moves on every change of content or metadata
  /// (chmod, chown, xattrs, link count); ino and btime (0/0 where the
  /// filesystem has none) tell a recreated inode from the old one.
  std::int64_t ctime_sec = 0, ctime_nsec = 0;
  std::int64_t btime_sec = 0, btime_nsec = 0;
  std::uint64_t ino = 0;
  std::string link_target;  ///< symlinks only
  /// sha256 of a regular file's content, only where a later change could
  /// hide from size, mtime and ctime: files whose ctime fell within the
  /// filesystem clock's granularity of the recording (git's racy-clean rule).
  std::optional<digest> content;

  friend bool operator==(const path_record&, const path_record&) = default;
};

/// The order of rootfs paths in every walk, layer and state file
/// (io::tree_path_less is this rule): component by component, bytewise, so a
/// directory comes right before its children ("a", "a/b", "a.b") and the same
/// tree always gives the same order. Bytewise with '/' below every other
/// byte: at the first difference, the string holding '/' has the shorter
/// component there, which comes first.
[[nodiscard]] inline bool rootfs_path_less(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    if (x == '/') return true;
    if (y == '/') return false;
    return x < y;
  }
  return a.size() < b.size();
}

}  // namespace ocipipe
