#pragma once
// Recording the state of a rootfs that unpack or create has just written
// (io/rootfs_state.h), and the conversions pack --diff shares with it.

#include <string>
#include <utility>
#include <vector>

#include "io/tree_walk.h"
#include "pipeline/api.h"
#include "stages/oci/path_record.h"

namespace ocipipe::pipeline {

/// The record of a walked entry (no content digest).
[[nodiscard]] path_record record_of(const io::tree_entry& e);

/// sha256 of regular file `path` below `root_fd` (opened without following
/// symlinks). Errors: those of io::open_file_in_tree, `size_mismatch` when
/// it is not `size` bytes long, `io`.
[[nodiscard]] result<digest> digest_file_in_tree(int root_fd, const std::string& path, std::uint64_t size);

/// Records the state of the complete rootfs `rootfs`, unpacked from `image`
/// (reference `ref` as given; for docker:// and oci+http(s):// the layout
/// path is left empty, pack --diff reads the image through the reference),
/// in the state file beside it: walks it,
/// digests the racy regular files, writes the file atomically. Never fails
/// the caller: a parent directory that cannot be written gives the warning
/// ("state.unwritable", message), any other failure ("state.unrecorded",
/// message), appended to `warnings`, and no state file. The walk lists
/// directories on `jobs` threads (-j: 0 means every core).
void record_rootfs_state(const std::string& rootfs, const image_reference& ref, const resolved_image& image,
                         std::vector<std::pair<std::string, std::string>>& warnings, int jobs = 1);

/// Removes the state file of `rootfs` before a new rootfs is written there
/// (it describes the old one); a failure is the warning ("state.unwritable",
/// message).
void forget_rootfs_state(const std::string& rootfs, std::vector<std::pair<std::string, std::string>>& warnings);

}  // namespace ocipipe::pipeline
