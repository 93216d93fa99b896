// copy's source side: which blobs an image (or a whole image index) is made
// of, found by reading its documents verified, children before parents.
#include <set>

#include "pipeline/copy_plan.h"
#include "pipeline/resolve.h"
#include "pipeline/verified_blob.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/oci/media_type.h"

namespace ocipipe::pipeline {
namespace {

// Collects the blobs of a tree of documents, children first, each once.
class planner {
 public:
  explicit planner(copy_source& out) : out_(out) {}

  void add(copy_item item) {
    if (!seen_.insert(item.desc.digest.str()).second) return;
    out_.items.push_back(std::move(item));
  }

  result<void> manifest_tree(const descriptor& d) {
    if (seen_.count(d.digest.str())) return {};
    auto in = [&d](error e) { return tl::unexpected(std::move(e).context("manifest " + d.digest.str())); };
    auto bytes = read_verified_blob(out_.store, d);
    if (!bytes) return in(std::move(bytes).error());
    auto m = parse_manifest(*bytes);
    if (!m) return in(std::move(m).error());
    if (auto ok = check_media_type_matches(m->media_type, d); !ok) return in(std::move(ok).error());
    add({m->config, {}, false});
    for (const auto& l : m->layers) add({l, {}, false});
    add({d, {}, true});
    ++out_.images;
    return {};
  }

  // An image index and all it references (image-index.md): nested indexes,
  // image manifests, and entries of other media types (artifacts), which are
  // copied as plain blobs since a copy must not leave a dangling descriptor.
  result<void> index_tree(const descriptor& d, int depth) {
    if (seen_.count(d.digest.str())) return {};
    auto in = [&d](error e) { return tl::unexpected(std::move(e).context("image index " + d.digest.str())); };
    if (depth == media_type::max_index_depth)
      return in(error(errc::malformed, "image indexes nested deeper than " + std::to_string(media_type::max_index_depth)));
    auto bytes = read_verified_blob(out_.store, d);
    if (!bytes) return in(std::move(bytes).error());
    auto index = parse_image_index(*bytes);
    if (!index) return in(std::move(index).error());
    if (auto ok = check_media_type_matches(index->media_type, d); !ok) return in(std::move(ok).error());
    for (const auto& child : index->manifests) {
      if (media_type::is_image_index(child.media_type)) {
        OCIPIPE_TRY(index_tree(child, depth + 1));
      } else if (media_type::is_image_manifest(child.media_type)) {
        OCIPIPE_TRY(manifest_tree(child));
      } else {
        add({child, {}, false});
      }
    }
    add({d, {}, true});
    return {};
  }

 private:
  copy_source& out_;
  std::set<std::string> seen_;
};

// A docker-archive image, or one image picked from a layout by platform:
// its config, layers and manifest. A docker-archive has no OCI manifest
// and stores its config as a member of another name: both are made here,
// the manifest as pipeline/docker_archive.h reads the entry.
result<copy_source> plan_one_image(const image_reference& src, const platform_selector& platform,
                                   remote_session* remote) {
  OCIPIPE_ASSIGN_OR_RETURN(auto opened, open_image(src, platform, remote));
  copy_source out{std::move(opened.store), {}, {}, 0, std::nullopt};
  auto& image = opened.image;
  planner plan(out);
  if (src.kind == transport::docker_archive) {
    manifest m = image.manifest;
    for (auto& l : m.layers) l.annotations.clear();  // the member name is ours, not the image's
    const auto bytes = manifest_json(m);
    descriptor md{std::string(media_type::image_manifest),
                  digester::of(std::as_bytes(std::span(bytes.data(), bytes.size()))),
                  static_cast<std::int64_t>(bytes.size())};
    plan.add({image.config_descriptor, image.config_bytes, false});
    for (const auto& l : image.manifest.layers) plan.add({l, {}, false});
    plan.add({md, bytes, true});
    // image.manifest keeps the member annotations: a docker-archive
    // destination reads the layers through them.
    image.manifest_descriptor = md;
    out.root = md;
  } else {
    plan.add({image.config_descriptor, image.config_bytes, false});
    for (const auto& l : image.manifest.layers) plan.add({l, {}, false});
    plan.add({image.manifest_descriptor, {}, true});
    out.root = image.manifest_descriptor;
  }
  out.images = 1;
  out.image = std::move(image);
  return out;
}

}  // namespace

result<copy_source> plan_copy(const image_reference& src, const std::optional<platform_selector>& platform,
                              bool single, remote_session* remote) {
  if (single || platform || src.kind == transport::docker_archive)
    return plan_one_image(src, platform.value_or(platform_selector{}), remote);

  OCIPIPE_ASSIGN_OR_RETURN(auto store, open_store(src, remote));
  copy_source out{std::move(store), {}, {}, 0, std::nullopt};
  OCIPIPE_ASSIGN_OR_RETURN(auto root, select_root(out.store, src));
  planner plan(out);
  if (media_type::is_image_index(root.media_type)) {
    OCIPIPE_TRY(plan.index_tree(root, 0));
  } else if (media_type::is_image_manifest(root.media_type)) {
    // One image: resolve it as every verb does (config parsed and checked),
    // keeping its value for a docker-archive destination.
    return plan_one_image(src, {}, remote);
  } else {
    return fail(errc::unsupported, "descriptor " + root.digest.str() + ": media type " + quote(root.media_type) +
                                       " is neither an image manifest nor an image index");
  }
  out.root = root;
  return out;
}

descriptor index_entry(const descriptor& root, const std::string& tag) {
  descriptor d;
  d.media_type = root.media_type;
  d.digest = root.digest;
  d.size = root.size;
  d.platform = root.platform;
  d.artifact_type = root.artifact_type;
  if (!tag.empty()) d.annotations["org.opencontainers.image.ref.name"] = tag;
  return d;
}

std::uint64_t copy_read_total(const copy_source& src, transport to) {
  std::uint64_t total = 0;
  for (const auto& item : src.items) {
    // Made in memory, or (a docker-archive's manifest) never read: no source bytes.
    if (item.bytes || (to == transport::docker_archive && item.document)) continue;
    auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(item.desc.size, 0));
    // A compressed layer is read twice into a docker-archive: once to learn
    // its uncompressed size (the tar header comes first), once to write it.
    const auto c = media_type::compression_of(item.desc.media_type);
    if (to == transport::docker_archive && c != media_type::layer_compression::none &&
        c != media_type::layer_compression::unknown)
      n *= 2;
    total += n;
  }
  return total;
}

}  // namespace ocipipe::pipeline
