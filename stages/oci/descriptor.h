#pragma once
// Value types of the image-spec documents: descriptor (descriptor.md),
// platform (image-index.md), manifest (manifest.md), image index
// (image-index.md) and image config (config.md). Plain values: copyable,
// movable, thread-safe to share read-only. Parsing lives in
// stages/image_json.h; spec rule checks in stages/schema_rules.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stages/oci/digest.h"

namespace ocipipe {

using annotations = std::map<std::string, std::string>;

/// image-index.md "platform".
struct platform {
  std::string architecture;
  std::string os;
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;
};

/// descriptor.md. `size` is in bytes and never negative once parsed.
struct descriptor {
  std::string media_type;
  ocipipe::digest digest;
  std::int64_t size = 0;
  std::vector<std::string> urls;
  ocipipe::annotations annotations;
  std::optional<std::string> data;  ///< base64 text as in the document
  std::string artifact_type;
  std::optional<ocipipe::platform> platform;

  /// annotations["org.opencontainers.image.ref.name"], or "" (image-layout.md).
  [[nodiscard]] std::string ref_name() const {
    auto it = annotations.find("org.opencontainers.image.ref.name");
    return it == annotations.end() ? std::string() : it->second;
  }
};

/// manifest.md. Layers are base first.
struct manifest {
  std::string media_type;
  descriptor config;
  std::vector<descriptor> layers;
  std::optional<descriptor> subject;
  std::string artifact_type;
  ocipipe::annotations annotations;
};

/// image-index.md; also the shape of an image layout's index.json.
struct image_index {
  std::string media_type;
  std::vector<descriptor> manifests;
  std::optional<descriptor> subject;
  std::string artifact_type;
  ocipipe::annotations annotations;
};

/// The parts of config.md "config" that conversion.md maps to a runtime config.
struct container_config {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  bool has_entrypoint = false;  ///< distinguishes absent from []
  bool has_cmd = false;
  std::string working_dir;
  std::string stop_signal;
  std::vector<std::string> volumes;
  std::vector<std::string> exposed_ports;
  annotations labels;
};

/// config.md image config.
struct image_config {
  std::string architecture;
  std::string os;
  std::string os_version;
  std::vector<std::string> os_features;  ///< config.md "os.features"
  std::string variant;
  std::string created;
  std::string author;
  container_config config;
  std::string rootfs_type;              ///< MUST be "layers"
  std::vector<digest> diff_ids;         ///< rootfs.diff_ids, base first
};

}  // namespace ocipipe
