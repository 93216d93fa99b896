#pragma once
// for_each_tree_entry on several threads (tree_walk_options::threads > 1):
// helper threads list and lstat directories ahead of the caller, which visits
// the entries in the same order as the sequential walk. The walk after an
// unpack (its state file) was one statx per entry on one thread: 0.2-0.35 s
// of big-1g's unpack, idle cores around it. Internal to io/.

#include "io/tree_walk.h"

namespace ocipipe::io::detail {

/// The walk of `root` (open as `root_fd`, on device `root_dev`) with
/// `opts.threads` threads in all, the caller's included: `visit` runs on the
/// caller's thread only, in tree_path_less order, as for_each_tree_entry's.
/// Memory: listings done ahead of the caller are bounded (parallel_walk_
/// ahead_entries entries, plus one directory of any width). Directories are
/// opened from the root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS):
/// a symlink swapped in on the way fails the walk, as O_NOFOLLOW does in the
/// sequential one. Needs have_openat2(). Errors: those of
/// for_each_tree_entry, at the same entry.
[[nodiscard]] result<void> walk_parallel(const std::string& root, int root_fd, std::uint64_t root_dev,
                                         const tree_walk_options& opts, const tree_visitor& visit);

/// Whether this kernel has openat2 (Linux 5.6); without it
/// for_each_tree_entry walks on one thread. Checked once.
[[nodiscard]] bool have_openat2() noexcept;

/// Entries listed ahead of the caller before the helpers wait (~200 bytes each).
inline constexpr std::size_t parallel_walk_ahead_entries = std::size_t{1} << 15;

}  // namespace ocipipe::io::detail
