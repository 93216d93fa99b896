#pragma once
// One validate run in its three steps, so that a sharded run (validate_shard)
// can stop after the second and a merge start at the third:
//   1. walk_references: every reference's documents, serially (small), giving
//      the document findings and the run's distinct blobs (jobs) and who names
//      them (uses);
//   2. check_blobs: the jobs in a flow graph, in parallel, largest first;
//   3. finish_validation: the per-use rules (diff_id against the image config,
//      hardlinks into lower layers) from what step 2 measured.
// Internal to pipeline/.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "pipeline/remote.h"
#include "pipeline/validate_blob.h"

namespace ocipipe::pipeline {

/// Which document or blob a finding is about.
struct place {
  std::string path;    ///< descriptor path: "manifests[0].layers[2]", "index.json"
  std::string digest;  ///< the blob's digest, "" for layout files
};

/// A finding at `at` (location composed as finding::location documents).
[[nodiscard]] finding make_finding(std::string rule, bool error, const place& at, std::string json_path,
                                   std::string entry, std::string message);

/// One reference naming one distinct blob: image `image` of the run names
/// job `job` at `at`.
struct blob_use {
  std::size_t image = 0;
  std::size_t job = 0;
  place at;
  std::optional<digest> want_diff_id;  ///< what the image config claims
};

/// One image's layers in order, as indexes into run_state::uses: for the
/// image-wide hardlink rule.
struct layer_stack {
  std::vector<std::size_t> uses;
};

/// What the walks of all references collect, and what check_blobs fills in.
struct run_state {
  std::vector<blob_job> jobs;
  std::vector<const io::image_layout*> job_store;  ///< where each job's blob is read; empty after a merge
  std::map<std::string, std::size_t> job_keys;     ///< dedup key -> job
  std::vector<blob_use> uses;
  std::vector<layer_stack> stacks;
  std::uint64_t documents = 0;  ///< manifests, indexes, configs read by the walks
  std::uint64_t document_bytes = 0;
};

/// Steps 1 to 3's state for one set of references. Owns the stores the jobs
/// point into and the run's registry connections; not movable for that reason.
struct validate_run {
  explicit validate_run(const remote_options& remote) : remote(remote) {}
  validate_run(const validate_run&) = delete;
  validate_run& operator=(const validate_run&) = delete;

  remote_session remote;
  std::vector<std::unique_ptr<io::image_layout>> stores;
  std::vector<image_validation> images;  ///< one per reference, in order
  run_state run;
};

/// Step 1: opens each of `refs` and walks its documents into `r`
/// (images[i].findings, .failure, .blobs and .blob_bytes for the documents;
/// run.jobs, run.uses, run.stacks). Never fails as a whole.
void walk_references(const std::vector<image_reference>& refs, const validate_options& opts, validate_run& r);

/// How many blobs step 2 checks at once: -j (`jobs`, 0: all `cores`), at
/// most `blobs`, and at most `cores` when every blob is local (`any_remote`
/// false), where a check is CPU work and each one more holds its buffers
/// (the mirror at -j64 on 2 cores: 181 MB against 32 MB, no faster); a
/// registry's blobs wait on the network, so there -j is honoured. >= 1.
[[nodiscard]] int blobs_checked_at_once(int jobs, std::size_t blobs, bool any_remote, int cores);

/// Step 2: checks the jobs `pick` accepts (all when empty), largest first,
/// blobs_checked_at_once() of them at a time; progress counts the picked
/// jobs only.
void check_blobs(run_state& run, const validate_options& opts,
                 const std::function<bool(const blob_job&)>& pick = {});

/// Step 3: per use, the blob's problems at the use's place, its bytes (once
/// per image and job), the diff_id rule; then the hardlink rule per stack.
void finish_validation(const run_state& run, std::vector<image_validation>& images);

/// Step 3 and the run's end: finish_validation, then every image's `seconds`
/// and `totals` (when given; validate_totals documents what it counts) with
/// the wall time since `start`. Returns the images, moved out of `r`.
[[nodiscard]] std::vector<image_validation> finish_run(validate_run& r, std::chrono::steady_clock::time_point start,
                                                       validate_totals* totals);

}  // namespace ocipipe::pipeline
