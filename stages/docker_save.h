#pragma once
// The metadata of a docker-archive (`docker save` format, Docker image/spec
// v1.2 "Combined Image JSON + Filesystem Changeset Format") as skopeo's
// docker-archive: transport writes it (containers/image
// docker/internal/tarfile/writer.go), so archives from `ocipipe copy` load
// wherever skopeo's do:
//   manifest.json  [{"Config":"<config hex>.json","RepoTags":["name:tag"],
//                    "Layers":["<diff_id hex>.tar",...]}]
//   repositories   {"name":{"tag":"<top legacy layer id>"}}
//   <id>/VERSION "1.0", <id>/json (legacy layer config), <id>/layer.tar a
//   symlink to "../<diff_id hex>.tar", one per layer, ids chained base first.
// JSON is written as Go's encoding/json does (keys of maps sorted, compact,
// '<' '>' '&' escaped as \u003c \u003e \u0026), so for ordinary configs the
// legacy ids equal skopeo's. Pure and thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/digest.h"

namespace ocipipe {

/// A RepoTags entry, normalized as Docker's reference.ParseNormalizedNamed
/// and TagNameOnly do: "debian" is docker.io/library/debian:latest.
struct docker_repo_tag {
  std::string name;  ///< "docker.io/library/debian"
  std::string tag;   ///< "latest"
  [[nodiscard]] std::string str() const { return name + ":" + tag; }
};

/// Parses NAME[:TAG] (the part of docker-archive:FILE:NAME[:TAG] after the
/// file) and normalizes it. Errors: `invalid_argument` for a digest
/// reference (a docker-archive names images by tag), an uppercase or
/// otherwise invalid repository name, an invalid tag.
[[nodiscard]] result<docker_repo_tag> normalize_docker_repo_tag(std::string_view text);

/// One legacy layer directory of the archive.
struct docker_legacy_layer {
  std::string id;          ///< 64 hex characters; the directory's name
  std::string json;        ///< <id>/json
  std::string layer_file;  ///< the member <id>/layer.tar links to: "<diff_id hex>.tar"
};

/// Everything of a docker-archive but the config and layer data.
struct docker_save_metadata {
  std::string config_member;               ///< "<config hex>.json"
  std::vector<std::string> layer_members;  ///< "<diff_id hex>.tar", base first
  std::vector<docker_legacy_layer> legacy_layers;  ///< base first
  std::string manifest_json;
  std::string repositories;
};

/// Builds the metadata of a one-image archive. `config_bytes` is the image
/// config as stored (digest `config_digest`), `diff_ids` its
/// rootfs.diff_ids (the layers' digests as stored in the archive, which are
/// uncompressed). `tags` may be empty (RepoTags [] and no repositories
/// entry, as skopeo writes an untagged destination). Errors: `malformed`
/// when `config_bytes` is not a JSON object.
[[nodiscard]] result<docker_save_metadata> make_docker_save_metadata(std::string_view config_bytes,
                                                                     const digest& config_digest,
                                                                     const std::vector<digest>& diff_ids,
                                                                     const std::vector<docker_repo_tag>& tags);

}  // namespace ocipipe
