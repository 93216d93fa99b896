#include "pipeline/docker_archive.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "pipeline/verified_blob.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe::pipeline {

result<docker_image_view> load_docker_image(const io::image_layout& store, const docker_archive_image& img,
                                            const std::string& at) {
  docker_image_view v;
  auto problem = [&](std::string rule, std::string path, std::string message) {
    v.problems.push_back({std::move(rule), severity::error, std::move(path), std::move(message)});
  };
  auto bytes = store.read_file(img.config, max_image_document_bytes);
  if (!bytes) return tl::unexpected(std::move(bytes).error().context("docker-archive config"));
  v.config_bytes = std::move(*bytes);
  const auto config_digest = digester::of(std::as_bytes(std::span(v.config_bytes.data(), v.config_bytes.size())),
                                          digest_algorithm::sha256);
  if (auto named = digest_from_member_name(img.config); named && !(*named == config_digest))
    problem("docker.config.digest", json_member_path(at, "Config"),
            "config member " + quote(img.config) + " is named for " + named->str() + " but its content is " +
                config_digest.str());
  v.manifest.media_type = std::string(media_type::image_manifest);
  v.manifest.config = {std::string(media_type::image_config), config_digest,
                       static_cast<std::int64_t>(v.config_bytes.size())};

  auto cfg = parse_image_config(v.config_bytes);
  const std::vector<digest> diff_ids = cfg ? cfg->diff_ids : std::vector<digest>{};
  if (cfg && diff_ids.size() != img.layers.size())
    problem("docker.layers.count", json_member_path(at, "Layers"),
            "Layers lists " + std::to_string(img.layers.size()) + " members but the config's rootfs.diff_ids has " +
                std::to_string(diff_ids.size()));
  for (std::size_t i = 0; i < img.layers.size(); ++i) {
    const auto& member = img.layers[i];
    const auto path = json_index_path(json_member_path(at, "Layers"), i);
    auto size = store.file_size(member);
    if (!size) {
      // A member that is a link out of the archive is refused like a symlinked blob.
      problem(size.error().code() == errc::unsafe_path ? "blob.symlink" : "docker.layer.missing", path,
              size.error().message());
      continue;
    }
    std::optional<digest> d = i < diff_ids.size() ? std::optional(diff_ids[i]) : digest_from_member_name(member);
    if (!d) continue;  // no digest to check it against; the count problem says why
    descriptor layer{std::string(media_type::layer_tar), *d, static_cast<std::int64_t>(*size)};
    layer.annotations[std::string(io::image_layout::member_annotation)] = member;
    v.manifest.layers.push_back(std::move(layer));
    v.layer_member.push_back(i);
  }

  // The manifest ocipipe reads the entry as, so reports can name it.
  nlohmann::ordered_json m = {{"schemaVersion", 2},
                              {"mediaType", v.manifest.media_type},
                              {"config", {{"mediaType", v.manifest.config.media_type},
                                          {"digest", config_digest.str()},
                                          {"size", v.manifest.config.size}}},
                              {"layers", nlohmann::ordered_json::array()}};
  for (const auto& l : v.manifest.layers)
    m["layers"].push_back({{"mediaType", l.media_type}, {"digest", l.digest.str()}, {"size", l.size}});
  const auto text = m.dump();
  v.manifest_descriptor = {v.manifest.media_type,
                           digester::of(std::as_bytes(std::span(text.data(), text.size())), digest_algorithm::sha256),
                           static_cast<std::int64_t>(text.size())};
  return v;
}

result<std::size_t> select_docker_image(const std::vector<docker_archive_image>& images,
                                        const image_reference& ref) {
  if (images.empty()) return fail(errc::not_found, "manifest.json lists no images");
  if (ref.tag.starts_with("@")) {
    std::size_t n = 0;
    const auto text = std::string_view(ref.tag).substr(1);
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || p != text.data() + text.size() || n >= images.size())
      return fail(errc::not_found, "no image " + quote(ref.tag) + " in manifest.json; it lists " +
                                       std::to_string(images.size()) + " (@0 to @" +
                                       std::to_string(images.size() - 1) + ")");
    return n;
  }
  std::string tags;
  for (std::size_t i = 0; i < images.size(); ++i)
    for (const auto& t : images[i].repo_tags) {
      if (!ref.tag.empty() && docker_tag_matches(t, ref.tag)) return i;
      tags += (tags.empty() ? "" : ", ") + quote(t);
    }
  if (!ref.tag.empty())
    return fail(errc::not_found, "no image tagged " + quote(ref.tag) + " in manifest.json" +
                                     (tags.empty() ? " (it has no RepoTags)" : "; tags: " + tags));
  if (images.size() == 1) return std::size_t{0};
  return fail(errc::invalid_argument, "manifest.json lists " + std::to_string(images.size()) +
                                          " images; name one by tag or @N: " + tags);
}

}  // namespace ocipipe::pipeline
