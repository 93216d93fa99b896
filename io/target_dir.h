#pragma once
// Target directories of unpack and create: never clobbered without being
// asked (DESIGN.md §4).

#include <string>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// Makes `dir` an empty directory. Creates it (and not its parents) when
/// missing and returns true; returns false when it existed and was empty, or
/// was emptied because `force`. Errors: `invalid_argument` for a non-empty
/// directory without `force` or a non-directory, `io`.
[[nodiscard]] result<bool> prepare_empty_dir(const std::string& dir, bool force);

/// Removes everything inside `dir`, never following symlinks; with
/// `remove_self` the directory too. Errors: `io`.
[[nodiscard]] result<void> remove_dir_contents(const std::string& dir, bool remove_self);

/// Writes `bytes` to `dir`/`name` atomically: a temporary file in `dir`,
/// fsync, rename over the final name. Errors: `io`.
[[nodiscard]] result<void> write_file_atomic(const std::string& dir, const std::string& name,
                                             std::string_view bytes, unsigned mode = 0644);

}  // namespace ocipipe::io
