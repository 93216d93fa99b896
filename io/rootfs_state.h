#pragma once
// The state file unpack and create leave beside the rootfs they wrote, so
// pack --diff can tell what changed since without reading unchanged files:
// `<rootfs basename>.ocipipe-state` in the rootfs's parent directory
// (BUNDLE/rootfs.ocipipe-state for create, /x/root.ocipipe-state for
// `unpack REF /x/root`). It says which image the rootfs came from and holds
// one path_record per path below the rootfs.
//
// Format, version 2 (binary; integers are unsigned LEB128 varints, signed
// ones zigzag-encoded first; a "string" is a varint length and its bytes):
//   magic "OCIPSTAT"            8 bytes
//   format version              4 bytes, little-endian (2)
//   header                      reference as given (string), the image
//                               layout's absolute path (string), the
//                               manifest's media type (string), digest
//                               (string) and size (varint), the config
//                               digest (string),
//                               recorded at: seconds (signed), nanoseconds,
//                               racy window in nanoseconds
//   records, in rootfs_path_less order, each:
//     tag                       1 byte, 1
//     path                      bytes shared with the previous path (varint),
//                               then the rest (string)
//     mode uid gid size         varints
//     mtime ctime btime         seconds (signed) and nanoseconds each
//     ino                       varint
//     flags                     varint: 1 = link target follows (string),
//                               2 = content digest follows (string)
//   end                         1 byte, 0, then the record count (varint)
//   checksum                    8 bytes, little-endian FNV-1a 64 of all the
//                               bytes before it (catches truncation and
//                               corruption; the file is the user's own, so
//                               no defence against forgery is needed)
// The count follows the records so that a writer can stream them as a walk
// finds them, holding none. Version 1 (still read) had the count before the
// records and no tags.
// The debian dataset's rootfs (6 663 paths) gives 323 KB, ~49 bytes a path.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/unique_fd.h"
#include "stages/oci/descriptor.h"
#include "stages/oci/digest.h"
#include "stages/oci/error.h"
#include "stages/oci/path_record.h"

namespace ocipipe::io {

/// Suffix of the state file's name, after the rootfs's basename.
inline constexpr std::string_view rootfs_state_suffix = ".ocipipe-state";
/// The format version this build writes and reads.
inline constexpr std::uint32_t rootfs_state_format = 2;

/// What a state file says of the image, before its records.
struct rootfs_state_header {
  /// The image reference as given to unpack/create ("oci:img:debian").
  std::string reference;
  /// Absolute path of the image layout (or archive file) it was read from;
  /// "" for a docker:// or oci+http(s):// reference (read through it).
  std::string layout_path;
  /// The image manifest unpacked (its media type, digest and size: enough
  /// to read it again from the layout by digest, whatever tags say now).
  descriptor manifest;
  digest config_digest;
  /// When the state was recorded, by the clock of the filesystem the state
  /// file is on (its ctime when created), seconds and nanoseconds.
  std::int64_t recorded_sec = 0, recorded_nsec = 0;
  /// Records whose ctime lay within this many nanoseconds before
  /// `recorded_*` (or later) carry a content digest: a change made in the
  /// same clock tick leaves ctime as it was.
  std::int64_t racy_window_nsec = 0;
};

/// A decoded state file.
struct rootfs_state : rootfs_state_header {
  /// Every path below the rootfs, sorted by rootfs_path_less.
  std::vector<path_record> records;
};

/// The state file's bytes. Records must be sorted (as decode checks).
[[nodiscard]] std::string encode_rootfs_state(const rootfs_state& state);

/// Parses a state file's bytes. Checks the magic, version, checksum, that
/// records are strictly sorted and that every path is a clean relative path
/// (no "", ".", ".." components, no leading "/", no NUL), so a damaged file
/// cannot name a path outside the rootfs. Errors: `unsupported` (another
/// format version), `malformed` (naming what is wrong).
[[nodiscard]] result<rootfs_state> decode_rootfs_state(std::string_view bytes);

/// Path of the state file of `rootfs`: the parent directory, resolved to an
/// absolute path, plus "<basename>.ocipipe-state". `rootfs` itself need not
/// exist. Errors: `invalid_argument` ("/" has no parent), `not_found` (no
/// parent directory), `io`.
[[nodiscard]] result<std::string> rootfs_state_path(const std::string& rootfs);

/// Reads the state of `rootfs`. nullopt when there is no state file.
/// Errors: those of decode_rootfs_state (with the file's path), `io`.
[[nodiscard]] result<std::optional<rootfs_state>> read_rootfs_state(const std::string& rootfs);

/// Removes the state file of `rootfs`, if any (a stale state must never
/// describe a rootfs written since), and the temporaries of writers killed
/// before they committed (best effort). Errors: `io`.
[[nodiscard]] result<void> remove_rootfs_state(const std::string& rootfs);

class rootfs_state_encoder;

/// Writes a state file atomically and as a stream: begin() creates a
/// temporary file (".<name>.tmp-XXXXXX") beside the final name and takes the
/// recording time from it (the filesystem's own clock, as git's racy-clean
/// check compares with the index file's mtime); start() writes the header,
/// add() each record (buffered: memory stays at about 1 MiB however many
/// records), commit() ends the file, fsyncs, renames it over the final name
/// and fsyncs the directory. Destroying it uncommitted removes the
/// temporary. Move-only; not thread-safe.
class rootfs_state_writer {
 public:
  /// Starts the state file of `rootfs` (a complete, existing directory).
  /// Errors: `permission_denied` (the parent directory cannot be written;
  /// also EROFS), `invalid_argument`, `io`.
  [[nodiscard]] static result<rootfs_state_writer> begin(const std::string& rootfs);

  rootfs_state_writer(rootfs_state_writer&&) noexcept;
  rootfs_state_writer& operator=(rootfs_state_writer&&) noexcept;
  rootfs_state_writer(const rootfs_state_writer&) = delete;
  rootfs_state_writer& operator=(const rootfs_state_writer&) = delete;
  ~rootfs_state_writer();

  /// The recording time (the temporary file's ctime), seconds and nanoseconds.
  [[nodiscard]] std::int64_t recorded_sec() const noexcept { return sec_; }
  [[nodiscard]] std::int64_t recorded_nsec() const noexcept { return nsec_; }
  /// How far before the recording time a ctime counts as racy: 0 where the
  /// state file shares the rootfs's filesystem and its clock has sub-second
  /// timestamps (a ctime equal to the recording time is racy; earlier ones
  /// are not), else 2 s (coarse or different clocks).
  [[nodiscard]] std::int64_t racy_window_nsec() const noexcept { return window_nsec_; }
  /// Final path of the state file.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Writes the header, once, first; its recorded_* and racy_window_nsec
  /// are replaced by this writer's. Errors: `internal` (called twice),
  /// `resource_exhausted`, `io`.
  [[nodiscard]] result<void> start(rootfs_state_header header);
  /// Appends one record; its path must be clean and come after the previous
  /// record's in rootfs_path_less order. Errors: `internal` (before start(),
  /// out of order), `resource_exhausted`, `io`.
  [[nodiscard]] result<void> add(const path_record& record);
  /// Ends the file and gives it its final name. Errors: `internal` (before
  /// start(), twice), `resource_exhausted`, `io`.
  [[nodiscard]] result<void> commit();

 private:
  rootfs_state_writer() = default;
  void discard() noexcept;
  result<void> flush(bool all);
  unique_fd dir_;
  unique_fd file_;
  std::string dir_path_, temp_name_, final_name_, path_;
  std::int64_t sec_ = 0, nsec_ = 0, window_nsec_ = 0;
  bool started_ = false, committed_ = false;
  std::unique_ptr<rootfs_state_encoder> encoder_;
};

/// True when a record with this ctime must carry a content digest.
[[nodiscard]] inline bool racy(std::int64_t ctime_sec, std::int64_t ctime_nsec, std::int64_t recorded_sec,
                               std::int64_t recorded_nsec, std::int64_t window_nsec) noexcept {
  // In nanoseconds as __int128: seconds since 1970 times 1e9 fit in 64 bits
  // only until 2262, and ctimes far in the future are possible.
  const __int128 c = static_cast<__int128>(ctime_sec) * 1000000000 + ctime_nsec;
  const __int128 r = static_cast<__int128>(recorded_sec) * 1000000000 + recorded_nsec;
  return c >= r - window_nsec;
}

}  // namespace ocipipe::io
