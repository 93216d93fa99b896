#pragma once
// Files a user names for a verb's output (sign's signature and keys, validate
// --shard's facts): written whole or not at all, and never at the cost of what
// the name already is.

#include <string>
#include <string_view>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// Writes `bytes` (file mode `mode`) to `path`: a temporary file beside it,
/// fsynced, then linked to the final name, or with `replace` renamed over it,
/// so no reader ever sees part of it under that name. Something already at
/// `path` must be a regular file, and is replaced only with `replace`: a
/// symlink (rename would replace the link, not write through it), a device
/// such as /dev/null, a FIFO or a directory is refused, since renaming over
/// it would destroy it. Errors: `invalid_argument` (no file name; exists
/// without `replace`, saying so; not a regular file, naming its type), `io`
/// (errno kept). Thread-safe for distinct paths.
[[nodiscard]] result<void> write_output_file(const std::string& path, std::string_view bytes, unsigned mode,
                                             bool replace);

}  // namespace ocipipe::io
