#pragma once
// Target directories of unpack and create: never clobbered without being
// asked (DESIGN.md §4).

#include <string>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// Makes `dir` an empty directory. Creates it (with `mode`; missing parents 0755) when
/// missing and returns true; returns false when it existed and was empty, or
/// was emptied because `force`. Emptying never descends into another mounted
/// filesystem and never empties "/". Errors: `invalid_argument` for a
/// non-empty directory without `force`, a non-directory, "/", a mount point
/// inside; `io`.
[[nodiscard]] result<bool> prepare_empty_dir(const std::string& dir, bool force,
                                             unsigned mode = 0755);

/// True when `inner` is `outer` or lies below it, after resolving symlinks
/// of both (paths that do not exist yet resolve through their parents).
/// Used to refuse a --force target that holds the image layout being read.
[[nodiscard]] bool path_within(const std::string& inner, const std::string& outer);

/// Removes everything inside `dir`, never following symlinks; with
/// `remove_self` the directory too. Errors: `io`.
[[nodiscard]] result<void> remove_dir_contents(const std::string& dir, bool remove_self);

/// After a failure: removes what was written into the target `dir` (and `dir`
/// itself with `remove_self`), and returns `cause` — extended with the
/// cleanup's own error when that failed too, so a half-written target is
/// never left behind silently.
[[nodiscard]] error discard_target(const std::string& dir, bool remove_self, error cause);

/// Writes `bytes` to `dir`/`name` atomically: a temporary file in `dir`,
/// fsync, rename over the final name. Errors: `io`.
[[nodiscard]] result<void> write_file_atomic(const std::string& dir, const std::string& name,
                                             std::string_view bytes, unsigned mode = 0644);

}  // namespace ocipipe::io
