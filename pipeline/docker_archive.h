#pragma once
// A docker-archive (`docker save`) read as an OCI image: the config member is
// the image config, and each Layers[i] member is an uncompressed tar layer
// whose digest is rootfs.diff_ids[i] (Docker image/spec v1.2). The view's
// manifest names the layers by those digests, each descriptor carrying its
// member's name (io::image_layout::member_annotation), so two entries that
// claim one diff_id for different members are each read from their own.

#include <string>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "stages/docker_manifest.h"

namespace ocipipe::pipeline {

/// One docker-archive image, as an OCI image manifest and image config.
struct docker_image_view {
  ocipipe::manifest manifest;      /// layers: media type layer.v1.tar, digest = diff_id
  std::vector<std::size_t> layer_member;  ///< for each manifest layer, its index in Layers
  descriptor manifest_descriptor;  ///< of the OCI manifest JSON ocipipe reads the entry as
  std::string config_bytes;        ///< the config member, whole
  /// What is wrong with the entry (rule ids docker.config.digest,
  /// docker.layers.count, docker.layer.missing), JSON paths under manifest.json.
  std::vector<diagnostic> problems;
};

/// Reads entry `img` (at JSON path `at` of manifest.json, e.g. "[0]") from
/// `store` (an archive view). Layers it cannot name or find are left out and reported in
/// `problems`. Errors: the config member unreadable (`not_found`, `io`,
/// `resource_exhausted` over 64 MiB).
[[nodiscard]] result<docker_image_view> load_docker_image(const io::image_layout& store,
                                                          const docker_archive_image& img,
                                                          const std::string& at);

/// Picks the image `ref` names: by RepoTags (`ref.tag`, Docker-normalized),
/// by position (`ref.tag` "@N", as skopeo's docker-archive:PATH:@N), or the
/// only one. Errors: `not_found` (listing the tags), `invalid_argument`
/// (several images and none named).
[[nodiscard]] result<std::size_t> select_docker_image(const std::vector<docker_archive_image>& images,
                                                      const image_reference& ref);

}  // namespace ocipipe::pipeline
