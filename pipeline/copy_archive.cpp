// copy's archive destinations: oci-archive: (a tar of an image layout) and
// docker-archive: (`docker save` format as skopeo writes it). Each archive
// is written whole to a temporary file by io::archive_writer and named only
// when every member was verified (DESIGN.md §6).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "io/archive_writer.h"
#include "pipeline/blob_copy.h"
#include "pipeline/copy_plan.h"
#include "pipeline/counting_source.h"
#include "pipeline/prefetch_source.h"
#include "stages/digester.h"
#include "stages/docker_save.h"
#include "stages/image_json_write.h"
#include "stages/layer_stream.h"
#include "stages/oci/media_type.h"

namespace ocipipe::pipeline {
namespace {

// Layers at least this big inflate on a thread of their own while the
// archive is written (as validate and unpack do).
constexpr std::int64_t prefetch_min_bytes = 4 << 20;

// Passes a blob's chunks through and digests them on the way, so the member
// written from them can be checked once the archive writer drained it.
class digest_tap final : public byte_source {
 public:
  digest_tap(byte_source& inner, digest_algorithm alg) : inner_(inner), hash_(alg) {}
  result<byte_view> next() override {
    auto chunk = inner_.next();
    if (chunk) hash_.update(*chunk);
    return chunk;
  }
  [[nodiscard]] digest finish() { return hash_.finish(); }

 private:
  byte_source& inner_;
  digester hash_;
};

std::unique_ptr<byte_source> metered(std::unique_ptr<byte_source> s, copy_run& run) {
  if (!run.meter.enabled()) return s;
  return std::make_unique<counting_source>(std::move(s), [&run](std::size_t n) { run.meter.add(n); });
}

// Writes one blob of the source as member `name`, verifying size and digest.
result<void> add_verified_blob(io::archive_writer& w, const std::string& name, const copy_item& item,
                               const io::image_layout& store, copy_run& run) {
  const auto& d = item.desc;
  auto in_blob = [&d](error e) { return tl::unexpected(in_blob_context(std::move(e), d.digest)); };
  if (item.bytes) return w.add_file(name, *item.bytes);  // made by copy: its digest is of these bytes
  if (d.digest.algorithm() == digest_algorithm::unregistered)
    return in_blob(error(errc::unsupported, "digest algorithm " + quote(d.digest.algorithm_name()) +
                                                " cannot be verified"));
  if (d.size < 0) return in_blob(error(errc::malformed, "negative size " + std::to_string(d.size)));
  auto blob = store.open_blob(d);
  if (!blob) return in_blob(std::move(blob).error());
  auto source = metered(std::move(*blob), run);
  digest_tap tap(*source, d.digest.algorithm());
  if (auto ok = w.add_file(name, static_cast<std::uint64_t>(d.size), tap); !ok) return in_blob(std::move(ok).error());
  if (const auto got = tap.finish(); !(got == d.digest))
    return in_blob(error(errc::digest_mismatch, "digest mismatch: content is " + got.str()));
  return {};
}

std::string oci_layout_file() { return nlohmann::json{{"imageLayoutVersion", "1.0.0"}}.dump(); }

// ---- docker-archive ----

// One distinct layer of the image as the archive stores it: uncompressed,
// named by its diff_id.
struct docker_layer {
  descriptor blob;  ///< as the source stores it (compressed or not)
  digest diff_id;
  std::uint64_t tar_bytes = 0;  ///< known up front for plain tar; measured for compressed layers
  bool measured = false;
};

result<std::unique_ptr<layer_stream>> open_layer(std::unique_ptr<byte_source>& blob, const docker_layer& l,
                                                 bool own_thread) {
  layer_stream::hooks threads;
  if (own_thread)
    threads.decompressed = [](std::unique_ptr<byte_source> s) -> std::unique_ptr<byte_source> {
      return std::make_unique<prefetch_source>(std::move(s));
    };
  return layer_stream::open(*blob, l.blob, {}, l.diff_id.algorithm(), threads);
}

// A corrupt blob usually breaks the inflater before its digest is known:
// finish the digest of the compressed bytes so the error names the real
// cause (image-spec descriptor.md "Verification"), as unpack does.
error blame_blob(layer_stream& stream, const docker_layer& l, error decode_error) {
  if (decode_error.code() != errc::malformed) return decode_error;
  auto blob_only = stream.finish_compressed_only();
  if (blob_only)
    if (auto r = check_layer_digests(*blob_only, l.blob, nullptr); !r) return std::move(r).error();
  return decode_error;
}

// First pass over a compressed layer: the tar header needs the uncompressed
// size before the data, and no manifest records it. Both digests are
// checked here too, so a corrupt layer fails before anything is written.
result<void> measure_layer(const io::image_layout& store, docker_layer& l, copy_run& run) {
  OCIPIPE_ASSIGN_OR_RETURN(auto opened, store.open_blob(l.blob));
  auto blob = metered(std::move(opened), run);
  OCIPIPE_ASSIGN_OR_RETURN(auto stream, open_layer(blob, l, false));
  for (;;) {
    auto chunk = stream->next();
    if (!chunk) return tl::unexpected(blame_blob(*stream, l, std::move(chunk).error()));
    if (chunk->empty()) break;
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto got, stream->finish());
  OCIPIPE_TRY(check_layer_digests(got, l.blob, &l.diff_id));
  l.tar_bytes = got.tar_bytes;
  l.measured = true;
  return {};
}

// Measures the compressed layers in parallel (`jobs` at a time).
result<void> measure_layers(const io::image_layout& store, std::vector<docker_layer>& layers, copy_run& run) {
  std::vector<std::optional<error>> errors(layers.size());
  const int jobs = run.opts.jobs > 0 ? run.opts.jobs : tbb::this_task_arena::max_concurrency();
  tbb::task_arena arena(jobs);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, layers.size(), 1), [&](const auto& r) {
      for (auto i = r.begin(); i != r.end(); ++i) {
        if (layers[i].measured) continue;
        if (auto c = run.check_cancel(); !c) {
          errors[i] = std::move(c).error();
          continue;
        }
        if (auto ok = measure_layer(store, layers[i], run); !ok)
          errors[i] = std::move(ok).error().context("layer " + layers[i].blob.digest.str());
      }
    });
  });
  for (auto& e : errors)
    if (e) return tl::unexpected(std::move(*e));
  return {};
}

// Second pass: the uncompressed stream becomes the member; digests checked again.
result<void> add_layer_member(io::archive_writer& w, const io::image_layout& store, const docker_layer& l,
                              const std::string& name, copy_run& run) {
  OCIPIPE_ASSIGN_OR_RETURN(auto opened, store.open_blob(l.blob));
  auto blob = metered(std::move(opened), run);
  OCIPIPE_ASSIGN_OR_RETURN(auto stream, open_layer(blob, l, l.blob.size >= prefetch_min_bytes));
  if (auto ok = w.add_file(name, l.tar_bytes, *stream); !ok) return tl::unexpected(blame_blob(*stream, l, std::move(ok).error()));
  OCIPIPE_ASSIGN_OR_RETURN(auto got, stream->finish());
  OCIPIPE_TRY(check_layer_digests(got, l.blob, &l.diff_id));
  return {};
}

}  // namespace

result<void> write_oci_archive(copy_source& src, const image_reference& dst, copy_run& run) {
  OCIPIPE_ASSIGN_OR_RETURN(auto w, io::archive_writer::create(dst.path, run.opts.force));
  // Members sorted by name, as skopeo's oci-archive (a walk of a layout
  // directory) has them: blobs/, blobs/<alg>/, the blobs, index.json, oci-layout.
  std::vector<const copy_item*> blobs;
  for (const auto& item : src.items) blobs.push_back(&item);
  std::sort(blobs.begin(), blobs.end(),
            [](const copy_item* a, const copy_item* b) { return a->desc.digest.str() < b->desc.digest.str(); });
  OCIPIPE_TRY(w.add_directory("blobs/"));
  std::string alg_dir;
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    const auto& item = *blobs[i];
    OCIPIPE_TRY(run.check_cancel());
    const auto dir = "blobs/" + std::string(item.desc.digest.algorithm_name()) + "/";
    if (dir != alg_dir) {
      OCIPIPE_TRY(w.add_directory(dir));
      alg_dir = dir;
    }
    OCIPIPE_TRY(add_verified_blob(w, item.desc.digest.blob_path(), item, src.store, run));
    ++run.report.blobs_copied;
    run.report.bytes_copied += static_cast<std::uint64_t>(item.desc.size);
    run.meter.finished_item("blob", blobs.size(), item.desc.digest.short_str(), !item.bytes);
  }
  image_index index;
  index.manifests.push_back(index_entry(src.root, dst.tag));
  OCIPIPE_TRY(w.add_file("index.json", image_index_json(index)));
  OCIPIPE_TRY(w.add_file("oci-layout", oci_layout_file()));
  OCIPIPE_TRY(w.commit());
  run.report.manifest = index.manifests.front();
  return {};
}

result<void> write_docker_archive(copy_source& src, const image_reference& dst, copy_run& run) {
  if (!src.image) return fail(errc::internal, "docker-archive destination without a single image");
  const auto& image = *src.image;
  const auto& diff_ids = image.config.diff_ids;
  if (diff_ids.size() != image.manifest.layers.size())
    return fail(errc::malformed, "image config " + image.config_descriptor.digest.str() + " lists " +
                                     std::to_string(diff_ids.size()) + " diff_ids for " +
                                     std::to_string(image.manifest.layers.size()) + " layers");
  std::vector<docker_repo_tag> tags;
  if (!dst.tag.empty()) {
    OCIPIPE_ASSIGN_OR_RETURN(auto t, normalize_docker_repo_tag(dst.tag));
    run.report.tag = t.str();
    tags.push_back(std::move(t));
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto meta, make_docker_save_metadata(image.config_bytes, image.config_descriptor.digest,
                                                                 diff_ids, tags));

  // Distinct layers, in manifest order: an archive holds each diff_id once.
  std::vector<docker_layer> layers;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < diff_ids.size(); ++i) {
    const auto& l = image.manifest.layers[i];
    const auto c = media_type::compression_of(l.media_type);
    if (c == media_type::layer_compression::unknown)
      return fail(errc::unsupported, "layer " + std::to_string(i) + " (" + l.digest.str() + "): media type " +
                                         quote(l.media_type) + " is not a tar layer, which a docker-archive needs");
    if (!seen.insert(diff_ids[i].str()).second) continue;
    docker_layer dl{l, diff_ids[i], 0, false};
    if (c == media_type::layer_compression::none) {
      dl.tar_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(l.size, 0));
      dl.measured = true;
    }
    layers.push_back(std::move(dl));
  }
  // Member order as skopeo writes it: layers, config, legacy layer
  // directories, manifest.json, repositories; all read-only (0444), mtime 0.
  // Created before the layers are measured, so an existing file is refused
  // at once.
  io::archive_member_meta member_meta;
  member_meta.file_mode = 0444;
  member_meta.symlink_mode = 0;
  OCIPIPE_ASSIGN_OR_RETURN(auto w, io::archive_writer::create(dst.path, run.opts.force, member_meta));
  OCIPIPE_TRY(measure_layers(src.store, layers, run));
  manifest read_back;  // the OCI manifest a reader of this archive sees (pipeline/docker_archive.h)
  read_back.media_type = std::string(media_type::image_manifest);
  read_back.config = {std::string(media_type::image_config), image.config_descriptor.digest,
                      static_cast<std::int64_t>(image.config_bytes.size())};
  std::map<std::string, std::uint64_t> tar_size;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    OCIPIPE_TRY(run.check_cancel());
    const auto name = std::string(l.diff_id.encoded()) + ".tar";
    if (auto ok = add_layer_member(w, src.store, l, name, run); !ok)
      return tl::unexpected(std::move(ok).error().context("layer " + l.blob.digest.str()));
    tar_size[l.diff_id.str()] = l.tar_bytes;
    ++run.report.blobs_copied;
    run.report.bytes_copied += l.tar_bytes;
    run.meter.finished_item("layer", layers.size(), l.blob.digest.short_str());
  }
  for (const auto& d : diff_ids)
    read_back.layers.push_back({std::string(media_type::layer_tar), d, static_cast<std::int64_t>(tar_size[d.str()])});
  OCIPIPE_TRY(w.add_file(meta.config_member, image.config_bytes));
  ++run.report.blobs_copied;
  run.report.bytes_copied += image.config_bytes.size();
  std::set<std::string> legacy_seen;
  for (const auto& legacy : meta.legacy_layers) {
    if (!legacy_seen.insert(legacy.id).second) continue;
    OCIPIPE_TRY(w.add_symlink(legacy.id + "/layer.tar", "../" + legacy.layer_file));
    OCIPIPE_TRY(w.add_file(legacy.id + "/VERSION", "1.0"));
    OCIPIPE_TRY(w.add_file(legacy.id + "/json", legacy.json));
  }
  OCIPIPE_TRY(w.add_file("manifest.json", meta.manifest_json));
  OCIPIPE_TRY(w.add_file("repositories", meta.repositories));
  OCIPIPE_TRY(w.commit());
  const auto text = manifest_json(read_back);
  run.report.manifest = {std::string(media_type::image_manifest),
                         digester::of(std::as_bytes(std::span(text.data(), text.size()))),
                         static_cast<std::int64_t>(text.size())};
  return {};
}

}  // namespace ocipipe::pipeline
