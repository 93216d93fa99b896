// ocipipe copy SRC DST: the entry point, and the oci: destination (an image
// layout written under its lock: verified blobs in parallel, then
// index.json replaced atomically).

#include <algorithm>
#include <mutex>
#include <optional>

#include "io/layout_writer.h"
#include "pipeline/blob_copy.h"
#include "pipeline/blob_pull.h"
#include "pipeline/copy_plan.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/signature_check.h"
#include "stages/oci/media_type.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/layout_index.h"

namespace ocipipe {
namespace pipeline {
namespace {

// skopeo's oci transport for a destination without a tag (containers/image
// oci/layout addManifest): an entry without a ref.name, replacing an
// untagged one of the same digest rather than adding a duplicate.
void add_untagged(image_index& index, const descriptor& entry) {
  for (auto& d : index.manifests)
    if (d.digest == entry.digest && d.ref_name().empty()) {
      d = entry;
      return;
    }
  index.manifests.push_back(entry);
}

// Copies the blobs that are not documents (for_each_leaf). Those already
// copied when one fails stay (verified, and unreferenced until index.json
// names them: gc removes them).
result<void> copy_leaves(copy_source& src, io::layout_writer& writer, copy_run& run) {
  std::mutex count_mu;
  return for_each_leaf(src, run, [&](const copy_item& item) -> result<void> {
    const bool had = writer.has_blob(item.desc.digest);
    std::uint64_t resumed = 0;
    if (item.bytes) {
      OCIPIPE_TRY(writer.put_blob(item.desc.digest, *item.bytes));
    } else if (src.store.remote()) {
      // From a server: through a partial file a later run can continue.
      OCIPIPE_ASSIGN_OR_RETURN(auto pulled, pull_blob(*src.store.remote(), item.desc, writer,
                                                      [&run](std::size_t n) { run.meter.add(n); }, run.opts.cancel));
      resumed = pulled.resumed;
    } else {
      OCIPIPE_TRY(copy_blob(src.store, item.desc, writer, [&run](std::size_t n) { run.meter.add(n); }));
    }
    if (had && !item.bytes) run.meter.add(static_cast<std::uint64_t>(item.desc.size));  // done without reading
    std::lock_guard lock(count_mu);
    if (had) {
      ++run.report.blobs_skipped;
    } else {
      ++run.report.blobs_copied;
      run.report.bytes_copied += static_cast<std::uint64_t>(item.desc.size);
      run.report.bytes_resumed += resumed;
    }
    return {};
  });
}

}  // namespace

result<void> write_oci_layout(copy_source& src, const image_reference& dst, copy_run& run) {
  OCIPIPE_ASSIGN_OR_RETURN(auto writer, io::layout_writer::open(dst.path, true));
  OCIPIPE_TRY(copy_leaves(src, writer, run));
  // Documents after the blobs they name, in plan order (children first), so
  // no manifest is ever present without its config and layers.
  for (const auto& item : src.items) {
    if (!item.document) continue;
    OCIPIPE_TRY(run.check_cancel());
    const bool had = writer.has_blob(item.desc.digest);
    if (item.bytes)
      OCIPIPE_TRY(writer.put_blob(item.desc.digest, *item.bytes));
    else
      OCIPIPE_TRY(copy_blob(src.store, item.desc, writer, [&run](std::size_t n) { run.meter.add(n); }));
    if (had) {
      ++run.report.blobs_skipped;
    } else {
      ++run.report.blobs_copied;
      run.report.bytes_copied += static_cast<std::uint64_t>(item.desc.size);
    }
  }

  OCIPIPE_ASSIGN_OR_RETURN(auto text, writer.read_index());
  auto index = parse_image_index(text);
  if (!index) return tl::unexpected(std::move(index).error().context("index.json of " + quote(dst.path)));
  const auto entry = index_entry(src.root, dst.tag);
  if (dst.tag.empty()) {
    add_untagged(*index, entry);
  } else {
    OCIPIPE_TRY(set_tag(*index, entry, dst.tag));
  }
  OCIPIPE_TRY(writer.write_index(image_index_json(*index)));
  run.report.manifest = entry;
  return {};
}

}  // namespace pipeline

result<copy_report> copy(const image_reference& src, const image_reference& dst, const copy_options& opts) {
  return pipeline::copy_as("copy", src, dst, opts);
}

result<copy_report> pipeline::copy_as(std::string_view verb, const image_reference& named_src,
                                      const image_reference& dst, const copy_options& opts, bool all_platforms) {
  auto where = [&](error e) {
    return tl::unexpected(std::move(e).context(std::string(verb) + " " + named_src.str() + " to " + dst.str()));
  };
  // A registry stores a manifest under its digest; every other DST is tagged.
  if (dst.manifest_digest && dst.kind != transport::docker)
    return where(error(errc::invalid_argument, "a destination is named by a tag, not by a digest"));
  // --policy before anything is written; then exactly the accepted root is read.
  auto accepted = enforce_policy(named_src, opts.policy, opts.source_remote);
  if (!accepted) return where(std::move(accepted).error());
  const image_reference src = *accepted ? pipeline::pinned_reference(named_src, **accepted) : named_src;
  pipeline::remote_session source_remote(opts.source_remote);
  if (all_platforms && dst.kind == transport::docker_archive) {
    // A docker-archive holds one image: an index asked for whole cannot go
    // there (skopeo refuses it too), and narrowing it silently would not be
    // what was asked.
    auto store = pipeline::open_store(src, &source_remote);
    if (!store) return where(std::move(store).error());
    auto root = pipeline::select_root(*store, src);
    if (!root) return where(std::move(root).error());
    if (media_type::is_image_index(root->media_type))
      return where(error(errc::invalid_argument,
                         "--all-platforms: the source is an image index, and a docker-archive holds one image; "
                         "write it to oci: or oci-archive:, or pick one image with --platform"));
  }
  auto plan = pipeline::plan_copy(src, opts.platform, dst.kind == transport::docker_archive, &source_remote);
  if (!plan) return where(std::move(plan).error());
  pipeline::copy_run run{opts, pipeline::progress_meter(opts.progress, pipeline::copy_read_total(*plan, dst.kind)), {}};
  run.report.source = named_src;
  run.report.destination = dst;
  run.report.images = plan->images;
  run.report.tag = dst.tag;  // the docker-archive writer replaces it with the normalized NAME:TAG
  result<void> ok;
  switch (dst.kind) {
    case transport::oci: ok = pipeline::write_oci_layout(*plan, dst, run); break;
    case transport::oci_archive: ok = pipeline::write_oci_archive(*plan, dst, run); break;
    case transport::docker_archive: ok = pipeline::write_docker_archive(*plan, dst, run); break;
    case transport::docker: ok = pipeline::write_registry(*plan, dst, run); break;
    case transport::oci_url:  // static files: nothing to write them through
      ok = fail(errc::unsupported, "an oci+http(s):// layout is read-only; it cannot be a destination");
      break;
  }
  if (!ok) return where(std::move(ok).error());
  return std::move(run.report);
}

}  // namespace ocipipe
