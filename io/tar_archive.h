#pragma once
// Random access to the members of an uncompressed tar file: the oci-archive
// and docker-archive transports (containers-transports(5); DESIGN.md §3).
// One pass over the headers (libarchive, data skipped by seeking) records
// where each member's data lies; a blob is then read in place with pread, so
// an archive is never extracted and each blob is read once.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "io/unique_fd.h"
#include "stages/oci/error.h"

namespace ocipipe::io {

/// Where one member's data lies in the archive file, in bytes.
struct archive_member {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// An indexed tar archive. Immutable after open(); all methods are
/// thread-safe. Shared by the image_layout views over it.
class tar_archive {
 public:
  /// Indexes the archive at `path`: regular members by their cleaned name
  /// ("./blobs/x" is "blobs/x"), symlink and hardlink members by their target
  /// (followed by find()). Errors: `not_found`, `malformed` (not an
  /// uncompressed tar; a damaged header, which libarchive would skip past; a
  /// name given to two members other than directories), `io`.
  static result<std::shared_ptr<const tar_archive>> open(const std::string& path);

  /// The data of member `name`, following symlink and hardlink members inside
  /// the archive (at most 16 hops). Errors: `not_found`, `unsafe_path` (a link
  /// leaving the archive's root), `malformed` (a directory, device or sparse
  /// member, a link loop).
  [[nodiscard]] result<archive_member> find(std::string_view name) const;

  /// The archive file, open for reading (pread only: the offset is shared).
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Identifies the archive file (st_dev, st_ino) for deduplication.
  [[nodiscard]] std::string identity() const { return std::to_string(dev_) + ":" + std::to_string(ino_); }

 private:
  struct entry {
    enum class kind { regular, symlink, hardlink, other } type = kind::other;
    archive_member data;
    std::string target;  ///< links: cleaned target name (relative to the archive root)
    std::string what;    ///< for "other": what it is, for the message
  };
  std::string path_;
  unique_fd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::map<std::string, entry, std::less<>> members_;
};

}  // namespace ocipipe::io
