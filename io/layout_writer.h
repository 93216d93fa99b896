#pragma once
// Write access to an OCI image layout directory (image-spec image-layout.md),
// following DESIGN.md §6: every blob is written to an unnamed file (O_TMPFILE
// in blobs/<alg>/, or a named file in the layout's ingest area where the
// filesystem lacks O_TMPFILE), fsynced, then given its final name
// blobs/<alg>/<encoded> and the directory fsynced; index.json is replaced by
// rename. A writer holds an exclusive lock on the layout's lock file
// (`.ocipipe-lock`, an fcntl OFD lock, so it also works on NFS) from open()
// until it is destroyed, so two processes never interleave their
// read-modify-write of index.json, and gc never runs while a pack's blobs are
// not yet referenced. A killed writer leaves a valid layout: nothing gets a
// final name before it is complete.
//
// Digests are the caller's (pipeline/ owns the digesters): commit() and
// put_blob() are given the digest computed over exactly the bytes written.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/image_layout.h"
#include "io/unique_fd.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/descriptor.h"
#include "stages/oci/error.h"

namespace ocipipe::io {

/// Name of the lock file in the layout directory.
inline constexpr std::string_view layout_lock_name = ".ocipipe-lock";
/// Directory of named temporary files (where O_TMPFILE is not supported, and
/// index.json's replacement). Nothing in it is ever trusted by a reader.
inline constexpr std::string_view layout_ingest_dir = ".ocipipe-ingest";

/// A blob being written. Nothing is visible under blobs/ until commit().
/// Move-only; not thread-safe. Destroying it uncommitted discards the bytes
/// (an O_TMPFILE file vanishes with its fd; a named temporary is unlinked).
class blob_ingest {
 public:
  blob_ingest(blob_ingest&&) noexcept;
  blob_ingest& operator=(blob_ingest&&) noexcept;
  blob_ingest(const blob_ingest&) = delete;
  blob_ingest& operator=(const blob_ingest&) = delete;
  ~blob_ingest();

  /// Appends bytes (whole: short writes and EINTR are retried).
  /// Errors: `resource_exhausted` (ENOSPC, EDQUOT), `io`, `invalid_argument`
  /// after commit().
  [[nodiscard]] result<void> write(byte_view bytes);
  [[nodiscard]] result<void> write(std::string_view bytes) {
    return write(byte_view(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  }
  /// Bytes written so far.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  /// fsyncs the file and names it blobs/<alg>/<encoded> of `d`, then fsyncs
  /// that directory. A blob of that digest already present is kept (same
  /// digest, same bytes) and this one discarded. `d` must be of the
  /// algorithm given to begin_blob(). Errors: `invalid_argument` (another
  /// or an unregistered algorithm, committed twice), `resource_exhausted`,
  /// `io`.
  [[nodiscard]] result<void> commit(const digest& d);

  /// Removes the bytes now, also those of a resumable ingest (whose
  /// destructor keeps them): after a digest mismatch they must not be
  /// continued. The ingest is unusable afterwards.
  void abandon() noexcept;

 private:
  friend class layout_writer;
  blob_ingest(int layout_dir, unique_fd alg_dir, digest_algorithm alg, unique_fd file,
              std::string temp_name, std::string what, bool keep = false);
  void discard() noexcept;
  int layout_dir_ = -1;     ///< borrowed from the layout_writer, which outlives this
  unique_fd alg_dir_;       ///< blobs/<alg>/, opened without following symlinks
  digest_algorithm alg_ = digest_algorithm::sha256;
  unique_fd file_;
  std::string temp_name_;   ///< "" for an O_TMPFILE file; else its name in the ingest dir
  std::string what_;        ///< "layout \"DIR\": blob ingest" for messages
  std::uint64_t size_ = 0;
  bool committed_ = false;
  bool keep_ = false;       ///< resumable: an uncommitted file outlives this object
};

/// A blob download that survives its process (begin_resumable_blob).
struct resumable_ingest {
  /// Appends after the bytes already present; size() counts them.
  blob_ingest ingest;
  /// The bytes already present, from the first, for the caller to digest
  /// before appending (the digest covers the whole blob); nullptr when none.
  std::unique_ptr<byte_source> present;
};

/// A file left in the ingest directory by a killed writer, or the partial
/// blob of an interrupted pull (gc removes them).
struct stale_ingest_file {
  std::string name;          ///< name inside layout_ingest_dir
  std::uint64_t size = 0;    ///< bytes
};

/// An image layout open for writing, its lock held. Move-only. Methods are
/// not thread-safe, except begin_blob(), has_blob(), blob_size() and the
/// blob_ingest objects begin_blob() returns, which parallel writers may use
/// at once (one ingest per thread).
///
/// The lock belongs to the open file description, so a second layout_writer
/// on the same layout waits even within one process: open at most one per
/// layout at a time (copy oci:A oci:A must reuse the first). A child forked
/// while a writer is open shares that description, and so holds the lock
/// until it execs (the fd is O_CLOEXEC) or exits.
class layout_writer {
 public:
  layout_writer(layout_writer&&) noexcept = default;
  layout_writer& operator=(layout_writer&&) noexcept = default;
  /// Releases the lock and removes the ingest directory when it is empty.
  ~layout_writer();

  /// Opens the layout at `path` and takes its lock, waiting for another
  /// writer to release it. With `create`, a missing directory (and missing
  /// parents) is created as a new empty layout: oci-layout
  /// {"imageLayoutVersion":"1.0.0"}, index.json {"schemaVersion":2,
  /// "manifests":[]} (written atomically), blobs/sha256/. An existing
  /// directory must hold an oci-layout file (`invalid_argument` otherwise:
  /// never turn an unrelated directory into a layout) unless it is empty.
  /// Errors: `not_found` (missing and not `create`), `invalid_argument`,
  /// `permission_denied`, `io`.
  ///
  /// Process-safe: when the layout is removed (remove_layout()) or replaced
  /// while this waits for its lock, the lock it then gets is on a file nobody
  /// else can find; open() notices (the directory and lock file at `path` are
  /// no longer the ones it locked) and starts over, so it never writes into
  /// a deleted directory. A removal caught half done, before the lock is
  /// taken, also starts over: it is never taken for a non-layout directory.
  /// `unavailable` when that happens again and again.
  [[nodiscard]] static result<layout_writer> open(const std::string& path, bool create);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// A read view of the same layout (for resolve and reading blobs).
  [[nodiscard]] result<image_layout> reader() const;

  /// Makes begin_blob() use named temporary files in the ingest directory
  /// (renamed into blobs/ on commit) instead of O_TMPFILE, as it does by
  /// itself where the filesystem lacks O_TMPFILE. For tests of that path, and
  /// filesystems whose O_TMPFILE misbehaves. Not thread-safe with begin_blob().
  void use_named_temp_files(bool on) noexcept { named_temp_only_ = on; }

  /// Starts writing a blob (blobs/<alg>/ is created when missing).
  /// Errors: `io`, `resource_exhausted`.
  [[nodiscard]] result<blob_ingest> begin_blob(digest_algorithm alg = digest_algorithm::sha256);
  /// Starts or continues blob `d` in a named file of the ingest directory,
  /// `partial-<alg>-<encoded>` (partial_blob_name), so that a pull killed
  /// or cut off goes on later from the bytes it had: unlike begin_blob()'s,
  /// this ingest keeps its file when destroyed uncommitted (abandon()
  /// removes it). commit() renames it into blobs/ as begin_blob()'s named
  /// files. A file holding more than `expected_size` bytes cannot be a
  /// prefix of the blob and is emptied first. The layout lock keeps other
  /// processes off the file; the caller must not begin the same digest
  /// twice at once. Errors: `invalid_argument` (unregistered algorithm),
  /// `io`, `resource_exhausted`.
  [[nodiscard]] result<resumable_ingest> begin_resumable_blob(const digest& d, std::uint64_t expected_size);
  /// The ingest directory's name of the partial file of `d`.
  [[nodiscard]] static std::string partial_blob_name(const digest& d);

  /// Writes a whole small blob (config, manifest) under digest `d`, which the
  /// caller computed over `bytes`. No-op when the blob exists already.
  [[nodiscard]] result<void> put_blob(const digest& d, std::string_view bytes);
  /// Whether blobs/<alg>/<encoded> exists as a regular file.
  [[nodiscard]] bool has_blob(const digest& d) const;
  /// Size in bytes of an existing blob. Errors: `not_found`, `io`.
  [[nodiscard]] result<std::uint64_t> blob_size(const digest& d) const;
  /// Every file under blobs/ whose name parses as a registered digest of its
  /// directory's algorithm, in sorted order (gc's candidates). Other names are
  /// left alone and not listed.
  [[nodiscard]] result<std::vector<digest>> list_blobs() const;
  /// Unlinks a blob (gc, rm --blobs); the directory is fsynced by sync().
  /// Errors: `not_found`, `io`.
  [[nodiscard]] result<void> remove_blob(const digest& d);
  /// fsyncs blobs/<alg>/ directories after removals.
  [[nodiscard]] result<void> sync();

  /// Files in the ingest directory. Every writer holds the lock while it
  /// uses them, so with the lock held here and no blob_ingest of this writer
  /// alive, each is left over from a killed run. Sorted by name.
  [[nodiscard]] result<std::vector<stale_ingest_file>> stale_ingest() const;
  /// Unlinks the files stale_ingest() lists (same precondition). Errors: `io`.
  [[nodiscard]] result<void> remove_stale_ingest();

  /// Removes the whole layout directory, the lock held throughout: blobs/ and
  /// the ingest area first, then oci-layout, index.json, the lock file and
  /// the directory last, so that a run killed part way leaves a layout with
  /// no image or a directory the next open() makes a layout again.
  /// Writers waiting for the lock then find it gone and start over (open());
  /// one that makes a new layout in the directory before it is removed keeps
  /// it (the directory stays). For a run that created the layout and failed
  /// before any image was tagged in it (pipeline's created_layout_guard,
  /// which checks that under this lock). The writer holds nothing afterwards
  /// and must only be destroyed. Errors: `io`.
  [[nodiscard]] result<void> remove_layout();

  /// index.json as it is now (at most 64 MiB). Errors: `not_found`, `io`,
  /// `resource_exhausted`.
  [[nodiscard]] result<std::string> read_index() const;
  /// Replaces index.json: temporary file in the ingest dir, fsync, rename over
  /// index.json, fsync the layout directory. Errors: `io`, `resource_exhausted`.
  [[nodiscard]] result<void> write_index(std::string_view json);

 private:
  layout_writer() = default;
  /// How often open() starts over on a layout removed under it.
  static constexpr int max_open_attempts = 64;
  [[nodiscard]] static result<layout_writer> open_once(const std::string& path, bool create, bool& again);
  [[nodiscard]] static bool still_in_place(const std::string& path, int dir, int lock);
  [[nodiscard]] result<unique_fd> open_alg_dir(digest_algorithm alg, bool create) const;
  [[nodiscard]] result<unique_fd> open_ingest_dir() const;
  [[nodiscard]] result<void> init_layout();
  std::string path_;
  unique_fd dir_;
  unique_fd lock_;
  bool named_temp_only_ = false;
  std::vector<digest_algorithm> dirty_dirs_;  ///< blobs/<alg> with removals not yet fsynced
};

}  // namespace ocipipe::io
