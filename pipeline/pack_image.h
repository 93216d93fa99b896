#pragma once
// Turns a packed layer into an image in an image layout: the base image's
// blobs copied in where missing, the image config (base config edited, see
// stages/image_config_write.h), the image manifest (manifest.md: base layers
// then the new one) and the tag in index.json. Shared by `pack DIR` and
// `pack --diff BUNDLE`: both build their layer with pack_layer() first, then
// call write_packed_image() with the same destination writer.

#include <cstdint>
#include <optional>
#include <string>

#include "io/layout_writer.h"
#include "pipeline/api.h"
#include "pipeline/pack_layer.h"
#include "pipeline/resolve.h"

namespace ocipipe::pipeline {

struct image_write_options {
  /// --entrypoint, --cmd, --env, --workdir, --user, --label, --annotation,
  /// --platform, --author, --created, --history-comment.
  image_edits edits;
  /// Default of `created` when edits.created is unset (else: now).
  std::optional<std::int64_t> source_date_epoch;
  /// The tag to set in index.json (image-layout.md ref name); "" = "latest".
  std::string tag;
  /// history[].created_by of the new layer.
  std::string created_by = "ocipipe pack";
  int jobs = 0;  ///< threads copying base blobs; 0 = all cores
};

/// The image written.
struct packed_image {
  descriptor manifest;  ///< as tagged in index.json (with the ref name annotation)
  descriptor config;
  std::uint64_t base_layers = 0;
};

/// Writes the image whose layers are `base`'s (when given) followed by
/// `layer` (already committed in `dest` by pack_layer) and tags it `tag`:
///   1. every base layer blob missing from `dest` is copied in, verified
///      (pipeline/blob_copy.h), in parallel;
///   2. the config: base config bytes edited (rootfs.diff_ids += layer.diff_id,
///      history += {created, created_by, author, comment}, the edits), or a
///      fresh one (os "linux", the host's architecture, or --platform's);
///      created = edits.created, else SOURCE_DATE_EPOCH, else now (RFC 3339,
///      UTC, whole seconds);
///   3. the manifest: OCI media types (a base's Docker layer media types are
///      mapped to their OCI equals, which name the same bytes), base layers
///      as the base manifest has them, then the new layer; annotations: the
///      base manifest's digest as org.opencontainers.image.base.digest, then
///      edits.annotations;
///   4. index.json: `tag` moved onto the new manifest (stages/layout_index.h
///      set_tag), written atomically under dest's lock.
/// Blobs get their final names only once complete (io::layout_writer), and
/// the tag is written last, so a failure leaves the layout valid (with
/// unreferenced blobs for gc). Errors: `invalid_argument` (bad tag,
/// platform, created or env edit), those of copy_blob, `io`,
/// `resource_exhausted`. Not thread-safe on `dest`.
[[nodiscard]] result<packed_image> write_packed_image(io::layout_writer& dest,
                                                      const opened_image* base,
                                                      const packed_layer& layer,
                                                      const image_write_options& opts);

/// The same with no new layer when `layer` is nullptr (pack --diff of an
/// unchanged bundle, as umoci repack does it): the manifest has the base's
/// layers only, rootfs.diff_ids is unchanged, and the history entry says
/// "empty_layer": true. Errors: as above; `invalid_argument` when both
/// `base` and `layer` are null (an image needs one or the other).
[[nodiscard]] result<packed_image> write_packed_image(io::layout_writer& dest,
                                                      const opened_image* base,
                                                      const packed_layer* layer,
                                                      const image_write_options& opts);

/// What pack and pack --diff share around the layer and the image.
/// DEST must be an oci: layout named by tag (not digest). Errors:
/// `invalid_argument`, prefixed with `what` ("pack \"DIR\"").
[[nodiscard]] result<void> check_pack_destination(const image_reference& dest, const std::string& what);
/// The image options of a pack run into `dest` (its tag), with `created_by`
/// for the history entry.
[[nodiscard]] image_write_options image_options_of(const pack_options& opts, const image_reference& dest,
                                                   std::string created_by);
/// The layer options of a pack run.
[[nodiscard]] layer_pack_options layer_options_of(const pack_options& opts);
/// The report of a pack run; `layer` null when no layer was added.
[[nodiscard]] pack_report pack_report_of(const packed_image& image, packed_layer* layer);

/// Removes an image layout that this pack created, unless keep() is called:
/// a failed pack must not leave behind an empty layout the user never had
/// (an existing layout is never removed: it keeps its state, plus at worst
/// unreferenced blobs for gc). Construct it before opening the writer, and
/// destroy it after the writer is closed: it takes the layout lock itself,
/// and removes the layout only while index.json lists no image, so an image
/// another process tagged into the new layout meanwhile is never lost.
class created_layout_guard {
 public:
  explicit created_layout_guard(std::string path);
  ~created_layout_guard();
  created_layout_guard(const created_layout_guard&) = delete;
  created_layout_guard& operator=(const created_layout_guard&) = delete;
  void keep() noexcept { armed_ = false; }

 private:
  std::string path_;
  bool armed_;  ///< the directory did not exist at construction
};

/// Checks what write_packed_image would refuse in `opts` (tag, --created,
/// --platform, --env entries) before any work is done, so a typo does not
/// cost a whole pack. Errors: `invalid_argument`, naming the flag.
[[nodiscard]] result<void> check_image_write_options(const image_write_options& opts);

/// "2024-01-02T03:04:05Z" for `seconds` since the epoch (UTC).
[[nodiscard]] std::string rfc3339_utc(std::int64_t seconds);

}  // namespace ocipipe::pipeline
