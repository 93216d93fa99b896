#pragma once
// Writes image layer tar streams (image-spec layer.md) with libarchive's
// "restricted pax" writer: a plain ustar header for every entry, preceded by
// a PAX extended header only where ustar cannot hold a field (names over 100
// bytes that cannot be split at a '/' into 155 + 100, link targets over 100,
// non-ASCII names, sizes of 8 GiB and more, ids of 2^18 and more, xattrs).
// xattrs are written as SCHILY.xattr.NAME only (the form Go's archive/tar,
// umoci, containerd and GNU tar read), not twice with LIBARCHIVE.xattr.
//
// The bytes are deterministic: entries in the order given; numeric uid/gid,
// no uname/gname; mtime in whole seconds (clamped to SOURCE_DATE_EPOCH when
// given); no atime/ctime; directories end in '/'; the stream ends with the
// two zero blocks and is not padded to a record size; names are written in
// the C.UTF-8 locale whatever the caller's (a valid UTF-8 name goes into a
// PAX "path" record, any other non-ASCII name raw with hdrcharset=BINARY).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tree_walk.h"
#include "io/unique_fd.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe::io {

/// Push-style tar writer: headers and content in, tar bytes out through
/// `sink`, in order, as soon as libarchive produces them (nothing is
/// buffered here). Move-only; not thread-safe (one thread at a time; it may
/// change between calls).
class layer_tar_writer {
 public:
  /// Receives every byte of the stream. Must not fail (it appends to memory).
  using sink = std::function<void(byte_view)>;

  /// Errors: `internal` (libarchive refused its setup).
  [[nodiscard]] static result<layer_tar_writer> create(sink out);
  layer_tar_writer(layer_tar_writer&&) noexcept;
  layer_tar_writer& operator=(layer_tar_writer&&) noexcept;
  ~layer_tar_writer();

  /// Writes one entry's header. `e.path` is relative ("usr/bin/env", no
  /// leading '/'); `e.mode` the permission bits (07777); `e.size` the content
  /// length of a regular file (0 otherwise); `link_target` the symlink target
  /// or, for `hardlink`, the path of the earlier entry; dev_major/minor for
  /// devices; `mtime_nsec` is ignored (whole seconds). A regular file's
  /// content follows through write_data, exactly `e.size` bytes.
  /// Errors: `invalid_argument` (empty path, content of the previous entry
  /// short), `internal` (libarchive refused the header: the message says why).
  [[nodiscard]] result<void> write_header(const tar_entry& e);
  /// Appends content of the current regular file.
  /// Errors: `invalid_argument` (more than the header's size), `internal`.
  [[nodiscard]] result<void> write_data(byte_view bytes);
  /// Ends the stream (end-of-archive blocks). No call may follow.
  /// Errors: `invalid_argument` (content of the last entry short), `internal`.
  [[nodiscard]] result<void> finish();

 private:
  struct impl;
  explicit layer_tar_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// One entry of a layer built from a directory tree.
struct layer_tar_item {
  enum class kind {
    entry,            ///< `entry` as lstat saw it; a regular file's content read from the tree
    hardlink,         ///< a hardlink entry to `link_path`, with `entry`'s metadata
    whiteout,         ///< `.wh.<name>` hiding `path` in lower layers
    opaque_whiteout,  ///< `<path>/.wh..wh..opq`: hides the lower children of directory `path`
  };
  kind what = kind::entry;
  /// Relative to the root, no leading '/' ("etc/passwd"); for whiteouts the
  /// path hidden, for opaque whiteouts the directory.
  std::string path;
  /// entry / hardlink: lstat of `path` (io::walk_tree), xattrs included when
  /// they are to be kept. Sockets cannot be written (`unsupported`).
  tree_entry entry;
  /// hardlink: an earlier entry's path in this stream.
  std::string link_path;
};

struct layer_tar_options {
  /// Mtimes later than this (seconds since the epoch) are written as it.
  std::optional<std::int64_t> source_date_epoch;
  /// Bytes of file content read per read(2).
  std::size_t read_bytes = std::size_t{1} << 20;
  /// Each next() gathers at least this much of the stream (or the rest).
  std::size_t min_chunk_bytes = std::size_t{256} << 10;
};

/// The tar header ocipipe writes for a tree entry: type from st_mode, mode &
/// 07777, uid, gid, size (regular files), mtime clamped, symlink target,
/// device numbers, xattrs in name order. Errors: `unsupported` (a socket or
/// an unknown file type, naming the path).
[[nodiscard]] result<tar_entry> tar_entry_of(const std::string& path, const tree_entry& e,
                                             const layer_tar_options& opts);

/// The tar stream of `items` below the directory `root_fd`, pulled in pieces
/// (a byte_source, so a compressor drives it). Regular-file content is read
/// through an in-root open (io::open_in_root, O_NOFOLLOW); the opened file
/// must still be the walked one (same device, inode, type and size), and
/// must yield exactly that size, or the stream fails with `io` "... changed
/// while packing". Errors also: those of tar_entry_of and layer_tar_writer,
/// `not_found`/`permission_denied`/`io` for a file that cannot be read (all
/// naming the path). `root_fd` and `items` are borrowed and must outlive
/// this. Not thread-safe (one puller at a time, any thread).
class layer_tar_source final : public byte_source {
 public:
  [[nodiscard]] static result<std::unique_ptr<layer_tar_source>> create(
      int root_fd, const std::vector<layer_tar_item>& items, const layer_tar_options& opts);
  ~layer_tar_source() override;

  [[nodiscard]] result<byte_view> next() override;
  /// Tar entries written so far (every item is one entry).
  [[nodiscard]] std::uint64_t entries() const noexcept { return entries_; }

 private:
  layer_tar_source(int root_fd, const std::vector<layer_tar_item>& items, layer_tar_options opts);
  result<void> step();
  result<void> start_item(const layer_tar_item& item);
  result<void> read_content();

  int root_fd_;
  const std::vector<layer_tar_item>& items_;
  layer_tar_options opts_;
  std::optional<layer_tar_writer> writer_;
  std::vector<std::byte> out_;   // the stream bytes next() hands out
  std::vector<std::byte> read_buf_;
  std::size_t next_item_ = 0;
  std::uint64_t entries_ = 0;
  // The regular file whose content is being read.
  unique_fd file_;
  std::string file_path_;
  std::uint64_t file_left_ = 0;
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace ocipipe::io
