#pragma once
// Builds one layer blob from entries of a directory tree (image-spec
// layer.md): a deterministic tar stream (libarchive's pax writer, PAX only
// where ustar cannot hold a field), compressed on all cores, its digest and
// diff_id computed in the same pass, written into an image layout through
// io::layout_writer's atomic blob ingest. pack DIR gives every entry of the
// tree; pack --diff gives only what changed, plus whiteouts.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/layout_writer.h"
#include "io/tree_walk.h"
#include "pipeline/api.h"

namespace ocipipe::pipeline {

/// One entry of a new layer, written in the order given (callers sort by
/// io::tree_path_less so the same tree always gives the same bytes).
struct layer_change {
  enum class kind {
    add,              ///< `entry` as it is on disk (content read from root_fd)
    whiteout,         ///< layer.md "Whiteouts": hides `path` of lower layers
    opaque_whiteout,  ///< layer.md "Opaque Whiteout": hides lower children of dir `path`
  };
  kind what = kind::add;
  /// Relative to the root, no leading "/". For whiteouts the path being
  /// hidden (or the opaque directory); pack_layer writes the ".wh." names.
  std::string path;
  /// add only: lstat of the path (io::walk_tree / io::stat_in_tree), with
  /// xattrs when they are to be kept.
  io::tree_entry entry;
};

struct layer_pack_options {
  int jobs = 0;  ///< 0 = all cores
  layer_compression compression = layer_compression::gzip;
  int level = -1;
  std::optional<std::int64_t> source_date_epoch;  ///< clamp mtimes to it
  progress_callback progress;                      ///< optional
};

/// The layer written, ready for a manifest (descriptor) and an image config
/// (diff_id).
struct packed_layer {
  descriptor layer;  ///< media type per compression, digest, size in bytes
  digest diff_id;    ///< sha256 of the uncompressed tar stream
  std::uint64_t tar_bytes = 0;
  std::uint64_t entries = 0;  ///< tar entries written (whiteouts and hardlinks included)
  /// What was left out, as (rule id, message): `pack.socket` (sockets have
  /// no tar type), `pack.xattr` (host-specific xattrs not carried, once per
  /// name).
  std::vector<std::pair<std::string, std::string>> warnings;
};

/// Writes `changes` as one layer into `dest` (io/layer_tar_writer.h gives
/// the tar format, pipeline/layer_compressor.h the compression) and commits
/// the blob under its digest. Regular files of `add` entries that share
/// (dev, ino) with an earlier `add` entry become hardlink entries to its
/// path. Sockets are skipped with a warning; the xattrs `security.selinux`
/// and `system.nfs4_acl` are not carried (host-specific, as umoci's repack
/// leaves them out). A file whose type, size or inode changed since it was
/// walked fails the pack (`io`: "changed while packing"); nothing is
/// committed then. Whiteout paths are written as given (callers check them).
/// Progress: tar bytes done of the estimated tar size. Errors: `io`,
/// `resource_exhausted` (ENOSPC), `invalid_argument` (level), `unsupported`.
/// Not thread-safe on `dest`.
[[nodiscard]] result<packed_layer> pack_layer(int root_fd, const std::vector<layer_change>& changes,
                                              io::layout_writer& dest, const layer_pack_options& opts);

}  // namespace ocipipe::pipeline
