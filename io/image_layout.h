#pragma once
// Read access to an OCI image layout (image-spec image-layout.md):
// `oci-layout`, `index.json` and `blobs/<alg>/<encoded>`, in a directory or
// in place inside an uncompressed tar of one (oci-archive), or on a server
// (io/remote_store.h: a registry repository, a layout served over HTTP). A
// docker-archive (`docker save`) is read through the same view: a descriptor may name the
// archive member that holds its blob (member_annotation). Every directory open
// is relative to the layout's directory fd and refuses symlinks in blob
// paths; archive members are found by tar_archive. Digest verification
// belongs to the caller (pipeline/), which owns the digesters; this class
// bounds every read by descriptor.size.

#include <memory>
#include <string>

#include "io/blob_reader.h"
#include "io/remote_store.h"
#include "io/tar_archive.h"
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

  /// Opens an archive (an image layout or a `docker save` tar, uncompressed)
  /// for reading in place. Errors: those of tar_archive::open.
  static result<image_layout> open_archive(const std::string& path);

  /// A view of a remote store (docker://, oci+https://): read_file,
  /// read_blob, open_blob and blob_identity go to it; file_size is
  /// `unsupported`. Shares ownership of `store`, which must not be null.
  static image_layout open_remote(std::shared_ptr<const remote_store> store);

  /// Annotation naming the archive member that holds a descriptor's blob
  /// (docker-archive layers: "<hex>.tar", "<id>/layer.tar"), where the blob
  /// is not at blobs/<alg>/<hex>. Set by pipeline/ on descriptors it builds;
  /// never read from an image's own documents' meaning.
  static constexpr std::string_view member_annotation = "dev.ocipipe.archive.member";

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool is_archive() const noexcept { return archive_ != nullptr; }
  [[nodiscard]] bool is_remote() const noexcept { return remote_ != nullptr; }
  /// The remote store of a view made by open_remote(), else nullptr.
  [[nodiscard]] const remote_store* remote() const noexcept { return remote_.get(); }

  /// Reads a small top-level file ("oci-layout", "index.json") whole, at most
  /// `max_bytes`. Errors: `not_found`, `resource_exhausted` when larger.
  [[nodiscard]] result<std::string> read_file(const std::string& name,
                                              std::size_t max_bytes = 64 << 20) const;

  /// Size in bytes of a top-level file or archive member `name` (regular
  /// files only). Errors: as read_file.
  [[nodiscard]] result<std::uint64_t> file_size(const std::string& name) const;

  /// Reads a blob whole. Errors: `not_found` (blob missing), `size_mismatch`
  /// (length differs from descriptor.size), `resource_exhausted` when
  /// descriptor.size is over `max_bytes`. The digest is not checked here.
  [[nodiscard]] result<std::string> read_blob(const descriptor& d,
                                              std::size_t max_bytes = 64 << 20) const;

  /// Opens a blob for streaming in chunks, bounded by descriptor.size.
  [[nodiscard]] result<std::unique_ptr<byte_source>> open_blob(const descriptor& d) const;

  /// Names the stored bytes of blob `d`: "dev:ino" of its file, plus
  /// "@offset" inside an archive; "remote:" + where + "@" + digest for a
  /// remote store (content-addressed: one digest, one blob there). Equal
  /// identities are the same bytes, so a blob that layouts share by
  /// hardlink is read once (validate's bulk mode).
  /// Errors: those of opening the blob.
  [[nodiscard]] result<std::string> blob_identity(const descriptor& d) const;

 private:
  struct blob_location {
    unique_fd fd;
    std::optional<file_region> region;  ///< set inside an archive
  };
  result<blob_location> locate_blob(const descriptor& d) const;
  std::string path_;
  unique_fd dir_;
  std::shared_ptr<const tar_archive> archive_;
  std::shared_ptr<const remote_store> remote_;
};

}  // namespace ocipipe::io
