#pragma once
// Writes an uncompressed tar file (oci-archive:, docker-archive:;
// containers-transports(5)) with libarchive: ustar headers, PAX records only
// where a name or size does not fit (libarchive's "pax_restricted" format).
// Following DESIGN.md §6, the archive is written to a temporary file beside
// the destination (O_TMPFILE where the filesystem has it, so a killed run
// leaves nothing behind; else a dot-named file removed on failure), fsynced,
// and only then given the destination's name; the directory is fsynced after.
// Until commit() nothing is visible under the destination's name, and an
// existing file there is either kept untouched (a failed or abandoned write)
// or replaced as a whole.
//
// Members are written in the order they are added. Regular members of a
// known size are streamed from a byte_source, so no blob is ever held whole.
// Verifying what passes through is the caller's (pipeline/ owns the
// digesters): it taps the source, and abandons the writer when a check fails.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "stages/oci/byte_source.h"
#include "stages/oci/error.h"

namespace ocipipe::io {

/// The metadata every member of one archive gets: owner 0:0, no user or
/// group names, these modes and this mtime (seconds since the epoch), so
/// the same content always gives the same archive bytes.
struct archive_member_meta {
  unsigned file_mode = 0644;
  unsigned dir_mode = 0755;
  unsigned symlink_mode = 0777;
  std::int64_t mtime = 0;
};

/// One archive being written. Move-only; not thread-safe. Destroying it
/// before commit() discards the temporary file and leaves the destination
/// as it was.
class archive_writer {
 public:
  /// Starts writing an archive that will be named `path`. An existing
  /// `path` is refused (`invalid_argument`, the message suggesting --force)
  /// unless `replace`; a directory there is always refused. The temporary
  /// file lies in `path`'s directory, which must exist. Errors: `not_found`
  /// (no such directory), `invalid_argument`, `permission_denied`, `io`.
  [[nodiscard]] static result<archive_writer> create(const std::string& path, bool replace,
                                                     archive_member_meta meta = {});

  archive_writer(archive_writer&&) noexcept;
  archive_writer& operator=(archive_writer&&) noexcept;
  ~archive_writer();

  [[nodiscard]] const std::string& path() const noexcept;

  /// Adds directory member `name` ("blobs/"; a trailing '/' is optional).
  [[nodiscard]] result<void> add_directory(std::string_view name);
  /// Adds regular member `name` holding `bytes`.
  [[nodiscard]] result<void> add_file(std::string_view name, std::string_view bytes);
  /// Adds regular member `name` of exactly `size` bytes read from `src` to
  /// its end (`src` is drained, so a caller's tap sees every byte).
  /// Errors: `size_mismatch` when `src` yields fewer or more bytes (the
  /// archive is then unusable: abandon the writer), those of src.next(),
  /// `resource_exhausted` (ENOSPC), `io`.
  [[nodiscard]] result<void> add_file(std::string_view name, std::uint64_t size, byte_source& src);
  /// Adds symlink member `name` pointing at `target` (docker-archive's
  /// legacy "<id>/layer.tar" -> "../<diff_id hex>.tar").
  [[nodiscard]] result<void> add_symlink(std::string_view name, std::string_view target);

  /// Ends the archive (end-of-archive blocks), fsyncs it, names it `path`
  /// (replacing an existing file only when create() was told `replace`;
  /// without it a file that appeared meanwhile is not clobbered) and fsyncs
  /// the directory. Call once; the writer is done afterwards.
  /// Errors: `invalid_argument` (the destination appeared meanwhile), `io`,
  /// `resource_exhausted`.
  [[nodiscard]] result<void> commit();

  /// Bytes of member data written so far (headers and padding not counted).
  [[nodiscard]] std::uint64_t data_bytes() const noexcept;

 private:
  struct state;
  explicit archive_writer(std::unique_ptr<state> s);
  std::unique_ptr<state> s_;
};

}  // namespace ocipipe::io
