#pragma once
// What changed in a rootfs since unpack or create recorded it: the entries of
// pack --diff's new layer (image-spec layer.md "Change Types", "Whiteouts").
// Pure: both sides come in as path records, sorted by rootfs_path_less
// (stages/oci/path_record.h); nothing here touches a file.

#include <cstddef>
#include <string>
#include <vector>

#include "stages/oci/error.h"
#include "stages/oci/path_record.h"

namespace ocipipe {

/// One entry of the new layer, in layer order.
struct rootfs_change {
  enum class kind {
    add,              ///< `now[current]`: new, or changed since recorded
    whiteout,         ///< `path` was deleted (the topmost deleted path only)
    opaque_whiteout,  ///< directory `path` was replaced as a whole: hide all below it
  };
  kind what = kind::add;
  std::string path;
  /// add: index of the entry in the `now` list.
  std::size_t current = 0;
  /// add of a regular file whose metadata all match a record that carries a
  /// content digest (a racy record): the caller digests the file and drops
  /// the change when the digest equals `recorded`'s content.
  bool check_content = false;
  /// add: index of the record of the same path in `recorded`, when there is
  /// one of the same type (npos otherwise).
  std::size_t recorded = npos;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/// Compares the rootfs as recorded with the rootfs as it is now. Both lists
/// hold every path below the root, sorted by rootfs_path_less. The result, in
/// that order, where a path's own entry comes before what is below it:
/// - a path only in `now`: add (a new directory's children are new too);
/// - a path only in `recorded`: whiteout for it, nothing for its children;
/// - a directory in both whose inode is another one (ino, or btime where
///   the filesystem has one), or a non-directory that became a directory:
///   add, opaque_whiteout, then every path below it in `now` as add;
/// - any other type change (a directory became a file, a file a symlink):
///   add (an applier replaces the old path, directories recursively);
/// - same type, any of mode, uid, gid, size, mtime, ctime, ino, btime, link
///   target differing: add (a directory as its own entry, its unchanged
///   children left out);
/// - otherwise unchanged, except a regular file whose record has a content
///   digest: add with check_content.
/// Errors: `invalid_argument` when a list is not strictly sorted by
/// rootfs_path_less or holds an empty path.
[[nodiscard]] result<std::vector<rootfs_change>> rootfs_diff(const std::vector<path_record>& recorded,
                                                             const std::vector<path_record>& now);

}  // namespace ocipipe
