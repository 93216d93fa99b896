#pragma once
// What a tree walk reads of one directory and of one entry in it, shared by
// the sequential walk (io/tree_walk.cpp) and the parallel one
// (io/tree_walk_parallel.cpp). Internal to io/.

#include <string>
#include <vector>

#include "io/tree_walk.h"

namespace ocipipe::io::detail {

/// lstat of `name` in the open directory `dirfd` (statx, not following it),
/// with its link target when a symlink and its xattrs when `xattrs`; `rel` is
/// its path below the walk's root (for messages and the entry), `root` the
/// root's own path ("" when unknown: xattrs then need /proc). Errors: `io`
/// (lstat, readlink, xattrs failing), `unsupported` (xattrs without /proc or
/// a root path).
[[nodiscard]] result<tree_entry> stat_entry(int dirfd, const char* name, std::string rel, bool xattrs,
                                            const std::string& root);

/// The names in the open directory `dirfd` but "." and "..", sorted bytewise
/// (tree_path_less order among siblings). Reads a duplicate of `dirfd`, whose
/// offset is left alone. `what` names the directory in errors (`io`).
[[nodiscard]] result<std::vector<std::string>> list_names(int dirfd, const std::string& what);

}  // namespace ocipipe::io::detail
