#pragma once
// Streaming tar parsing with libarchive (ustar, PAX, GNU extensions), fed
// chunk by chunk from a byte_source, so no layer is ever held whole
// (DESIGN.md §2). Only the tar format is enabled: compression is ours to
// decode, and a gzip layer labelled plain tar is an error, not a guess.

#include <functional>
#include <memory>
#include <optional>

#include "stages/oci/byte_source.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe {

/// Limits that keep hostile headers from exhausting memory (B29).
struct tar_limits {
  std::uint64_t max_entry_size = std::uint64_t{1} << 40;  ///< bytes of one file
  /// Path or link target, in bytes: Linux's PATH_MAX. It also bounds the
  /// depth of a tree (2048 levels), which recursive removal relies on.
  std::size_t max_path_bytes = 4096;
  std::size_t max_xattr_bytes = 1 << 20;                  ///< all xattrs of one entry
  /// What the caller calls max_entry_size and max_path_bytes ("--max-path-bytes"):
  /// their errors name them. Static storage; may be empty.
  std::string_view max_entry_size_name, max_path_name;
};

/// Reads entries in stream order. `source` (the uncompressed tar stream) must
/// outlive the reader. Not thread-safe. Errors: `malformed` for broken
/// headers, truncation, unsupported entry types; `resource_exhausted` for
/// limits; the source's own errors pass through unchanged.
class tar_reader {
 public:
  explicit tar_reader(byte_source& source, tar_limits limits = {});
  ~tar_reader();
  tar_reader(const tar_reader&) = delete;
  tar_reader& operator=(const tar_reader&) = delete;

  /// The next entry header, or nullopt at the end of the archive. Content of
  /// the previous entry that was not read is skipped.
  [[nodiscard]] result<std::optional<tar_entry>> next_entry();

  /// Calls `sink(offset, bytes)` for each block of the current entry's
  /// content, in order. Offsets leave gaps for sparse holes (B28). For a
  /// regular file every block lies in [0, size) and after the previous one:
  /// a sparse map that places data elsewhere is `malformed`. Returns the
  /// error of the first failing sink call or of the stream.
  [[nodiscard]] result<void> read_content(
      const std::function<result<void>(std::uint64_t offset, byte_view bytes)>& sink);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ocipipe
