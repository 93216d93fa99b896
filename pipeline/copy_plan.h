#pragma once
// What `copy` reads from its source (pipeline/copy_source.cpp) and the
// writers of its three destinations (copy.cpp: oci:, copy_archive.cpp:
// oci-archive: and docker-archive:). Internal to pipeline/.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "pipeline/progress_meter.h"

namespace ocipipe::pipeline {

/// One blob to copy: read from the source store (verified as it streams),
/// or made by copy itself (`bytes`: the OCI manifest of a docker-archive
/// image, its config member), whose digest was computed over those bytes.
struct copy_item {
  descriptor desc;  ///< as the source names it (an archive member annotation included)
  std::optional<std::string> bytes;
  /// An image manifest or image index: written after every blob it names.
  bool document = false;
};

/// Everything one copy reads, in an order a destination may write it in:
/// each blob after those it references, each digest once, the root last.
struct copy_source {
  io::image_layout store;
  /// What DST is to name: media type, digest, size (and platform when an
  /// index entry gave one); annotations not copied.
  descriptor root;
  std::vector<copy_item> items;
  std::size_t images = 0;  ///< image manifests among the items
  /// The image, when the root is one image manifest (docker-archive DST).
  std::optional<resolved_image> image;
};

class remote_session;

/// Reads what `src` names and plans the copy. `single`: the root must be one
/// image (the one for `platform`, the host's by default); else an image index
/// is taken whole unless `platform` is given. Documents are read verified.
/// A docker:// or oci+https:// `src` is reached through `remote` (nullptr:
/// default options). Errors: those of open_image / resolve_image.
[[nodiscard]] result<copy_source> plan_copy(const image_reference& src,
                                            const std::optional<platform_selector>& platform, bool single,
                                            remote_session* remote = nullptr);

/// Shared state of one run: options, progress, counts.
struct copy_run {
  const copy_options& opts;
  progress_meter meter;
  copy_report report;
  /// `cancelled` once opts.cancel is set.
  [[nodiscard]] result<void> check_cancel() const {
    if (opts.cancel && opts.cancel->load(std::memory_order_relaxed))
      return fail(errc::cancelled, "cancelled");
    return {};
  }
};

/// Runs `one` for each blob of `src` that is not a document, largest first
/// (the big ones start early), opts.jobs at a time on a TBB arena. After a
/// failure or a cancel no further blob is started; the first real failure is
/// returned, not the cancellations it caused. `one` runs on many threads at
/// once (its report counts need a lock); each success marks a blob finished
/// on run.meter. pipeline/copy_leaves.cpp.
[[nodiscard]] result<void> for_each_leaf(copy_source& src, copy_run& run,
                                         const std::function<result<void>(const copy_item&)>& one);

/// Bytes a run reads from the source to write `src` as DST of kind `to`:
/// the progress total.
[[nodiscard]] std::uint64_t copy_read_total(const copy_source& src, transport to);

/// The destination writers. Each fills run.report's counts and `manifest`.
[[nodiscard]] result<void> write_oci_layout(copy_source& src, const image_reference& dst, copy_run& run);
[[nodiscard]] result<void> write_oci_archive(copy_source& src, const image_reference& dst, copy_run& run);
[[nodiscard]] result<void> write_docker_archive(copy_source& src, const image_reference& dst, copy_run& run);
/// docker:// (pipeline/copy_registry.cpp): blobs HEADed, mounted from SRC's
/// repository on the same registry, or uploaded in parallel (chunked and
/// resumable above opts.chunk_bytes); then documents children first, the
/// root under DST's tag or digest. Also sets run.report.tag.
[[nodiscard]] result<void> write_registry(copy_source& src, const image_reference& dst, copy_run& run);

/// copy() as verb `verb` ("copy", "pull", "push") names it in messages
/// ("pull SRC to DST: …"). `all_platforms`: an image index is asked for
/// whole, so a docker-archive DST (one image) refuses an index source with
/// `invalid_argument` before anything is written. Errors: those of copy().
[[nodiscard]] result<copy_report> copy_as(std::string_view verb, const image_reference& src,
                                          const image_reference& dst, const copy_options& opts,
                                          bool all_platforms = false);

/// The descriptor DST's index.json gets for `root`: media type, digest,
/// size, platform, artifact type, and `tag` as its ref.name when not empty.
[[nodiscard]] descriptor index_entry(const descriptor& root, const std::string& tag);

}  // namespace ocipipe::pipeline
