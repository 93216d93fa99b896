#pragma once
// validate's check of one distinct blob: what can be known from its bytes
// alone, measured once however many images and descriptors name it (bulk
// mode). What depends on who names it (the diff_id the config claims,
// hardlinks into lower layers) is compared per use by validate_graph.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "pipeline/layer_threads.h"
#include "pipeline/progress_meter.h"

namespace ocipipe::pipeline {

/// A problem found in a blob; validate_graph adds the locations of its uses.
struct blob_problem {
  std::string rule;
  bool error = true;
  std::string entry;  ///< tar entry, when the problem is about one
  std::string message;
};

/// One distinct blob to check, and what the check measured. Filled by
/// check_blob() on one thread; read after the graph is done.
struct blob_job {
  descriptor desc;          ///< as the first use named it (digest, size, media type)
  bool is_layer = false;    ///< decompress and walk the tar stream too
  /// Docker-archive layers are named by their diff_id: a content mismatch is
  /// reported as layer.diff_id, not blob.digest.
  bool digest_is_diff_id = false;
  digest_algorithm diff_id_algorithm = digest_algorithm::sha256;
  std::vector<blob_problem> problems;
  std::optional<digest> diff_id;  ///< measured, when the tar stream was read to its end
  std::uint64_t compressed_bytes = 0;
  std::uint64_t tar_bytes = 0;
  /// Hashes of the paths the layer creates (sorted), and its hardlinks whose
  /// target it does not create before them: (entry, target). For the
  /// image-wide hardlink rule.
  std::vector<std::uint64_t> path_hashes;
  std::vector<std::pair<std::string, std::string>> open_hardlinks;
  /// Hashes (sorted) of the paths the layer's whiteouts hide, and of the
  /// directories its opaque whiteouts empty ("" for the rootfs).
  std::vector<std::uint64_t> whiteout_hashes;
  std::vector<std::uint64_t> opaque_hashes;
  /// Of path_hashes, those whose last entry is a directory, or a symlink.
  std::vector<std::uint64_t> dir_hashes;
  std::vector<std::uint64_t> symlink_hashes;
};

/// Checks one blob: size and digest always; for layers also the compressed
/// stream, the tar stream (libarchive's parse, tar_header_check's light
/// checks, entry paths, whiteout names, duplicate paths) and measures the
/// diff_id. Never fails: problems go to `job.problems`. The blob bytes read
/// are added to `meter` when given. `threading`: the threads a big layer may
/// use besides the caller's (none for -j1). Thread-safe for distinct jobs.
void check_blob(const io::image_layout& store, blob_job& job, progress_meter* meter = nullptr,
                const layer_threading& threading = {});

/// The rule id for a failure to read a blob whole (missing, wrong size or
/// digest, a symlink or a link out of an archive, other read errors):
/// blob.missing, blob.size, blob.digest, blob.symlink, blob.read.
[[nodiscard]] std::string blob_rule(const error& e);

/// The hash check_blob() keeps of a cleaned entry path.
[[nodiscard]] std::uint64_t path_hash(std::string_view cleaned) noexcept;

}  // namespace ocipipe::pipeline
