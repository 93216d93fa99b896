#pragma once
// Read access to an OCI image layout directory (image-spec image-layout.md):
// `oci-layout`, `index.json` and `blobs/<alg>/<encoded>`. Every open is
// relative to the layout's directory fd and refuses symlinks in blob paths.
// Digest verification belongs to the caller (pipeline/), which owns the
// digesters; this class bounds every read by descriptor.size.

#include <memory>
#include <string>

#include "io/unique_fd.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::io {

/// An open image layout. Movable; const methods are thread-safe (each call
/// opens its own fd).
class image_layout {
 public:
  /// Opens the directory. Errors: `not_found` (no such directory),
  /// `io`/`permission_denied`.
  static result<image_layout> open(const std::string& path);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] int dir_fd() const noexcept { return dir_.get(); }

  /// Reads a small top-level file ("oci-layout", "index.json") whole, at most
  /// `max_bytes`. Errors: `not_found`, `resource_exhausted` when larger.
  [[nodiscard]] result<std::string> read_file(const std::string& name,
                                              std::size_t max_bytes = 64 << 20) const;

  /// Reads a blob whole. Errors: `not_found` (blob missing), `size_mismatch`
  /// (length differs from descriptor.size), `resource_exhausted` when
  /// descriptor.size is over `max_bytes`. The digest is not checked here.
  [[nodiscard]] result<std::string> read_blob(const descriptor& d,
                                              std::size_t max_bytes = 64 << 20) const;

  /// Opens a blob for streaming in chunks, bounded by descriptor.size.
  [[nodiscard]] result<std::unique_ptr<byte_source>> open_blob(const descriptor& d) const;

  /// Size of the blob file in bytes. Errors: `not_found`.
  [[nodiscard]] result<std::uint64_t> blob_size(const ocipipe::digest& d) const;

 private:
  result<unique_fd> open_blob_fd(const ocipipe::digest& d) const;
  std::string path_;
  unique_fd dir_;
};

}  // namespace ocipipe::io
