#include "tests/support/dataset_image.h"

#include <nlohmann/json.hpp>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

dataset_image read_dataset_image(const std::string& name) {
  dataset_image out;
  const std::string layout = dataset_layout(name);
  const auto index = nlohmann::json::parse(read_bytes(layout + "/index.json"), nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    out.error = layout + "/index.json is missing or not an image index";
    return out;
  }
  for (const auto& d : index["manifests"]) {
    const auto annotations = d.value("annotations", nlohmann::json::object());
    if (annotations.value("org.opencontainers.image.ref.name", "") != name) continue;
    out.manifest_digest = d.value("digest", "");
    out.manifest_size = d.value("size", std::uint64_t{0});
  }
  if (out.manifest_digest.rfind("sha256:", 0) != 0) {
    out.error = layout + "/index.json has no sha256 manifest tagged " + name;
    return out;
  }
  const auto manifest = nlohmann::json::parse(
      read_bytes(layout + "/blobs/sha256/" + out.manifest_digest.substr(7)), nullptr, false);
  if (!manifest.is_object() || !manifest.contains("config") || !manifest.contains("layers")) {
    out.error = "manifest " + out.manifest_digest + " of " + layout + " is missing or not a manifest";
    return out;
  }
  out.config_digest = manifest["config"].value("digest", "");
  for (const auto& l : manifest["layers"]) out.layers.push_back({l.value("digest", ""), l.value("size", std::uint64_t{0})});
  return out;
}

}  // namespace ocipipe::testing
