#pragma once
// The `manifest.json` of a docker-archive (`docker save`, and skopeo's
// docker-archive: transport): a JSON array with one object per image,
// {"Config": member, "RepoTags": ["name:tag", ...], "Layers": [member, ...]},
// members named relative to the archive root. This format has no spec of its
// own beyond Docker's image/spec/v1.2 "Combined Image JSON + Filesystem
// Changeset Format" and moby's image/tarexport; ocipipe reads it as they do:
// Layers[i] is the uncompressed tar whose digest is the config's
// rootfs.diff_ids[i].
//
// Pure and thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/digest.h"
#include "stages/schema_rules.h"

namespace ocipipe {

/// One image of a docker-archive, as manifest.json lists it.
struct docker_archive_image {
  std::string config;                  ///< member holding the image config
  std::vector<std::string> repo_tags;  ///< may be empty
  std::vector<std::string> layers;     ///< members, base layer first
};

/// What manifest.json holds, and what is wrong with it.
struct docker_manifest_report {
  std::vector<docker_archive_image> images;  ///< the entries that had the required shape
  /// `docker.manifest` (not an array; an entry without a Config string or a
  /// Layers array of strings) and `docker.repoTags` (not strings of the
  /// form NAME:TAG) errors, with JSON paths like `[0].Layers[2]`.
  std::vector<diagnostic> problems;
};

/// Parses manifest.json. Never fails: problems are reported, entries that
/// cannot be used are left out.
[[nodiscard]] docker_manifest_report parse_docker_manifest(std::string_view json);

/// The digest a member's name claims, if it claims one: "<hex>.json",
/// "<hex>.tar" (skopeo, docker < 25) or "blobs/sha256/<hex>" (docker >= 25).
[[nodiscard]] std::optional<digest> digest_from_member_name(std::string_view name);

/// Whether RepoTags entry `repo_tag` is the image `wanted` names, with
/// Docker's normalization: "debian:12" is "docker.io/library/debian:12".
[[nodiscard]] bool docker_tag_matches(std::string_view repo_tag, std::string_view wanted);

}  // namespace ocipipe
