#pragma once
// Writes the image config (config.md) of an image that gets one new layer on
// top of a base, as `pack` does: the base config's JSON is edited in place,
// so fields ocipipe does not model (Docker's container_config, Healthcheck,
// StopSignal, vendor extensions) survive byte-for-byte in value and order;
// rootfs.diff_ids gets the new layer's diff_id, history a new entry, and the
// requested edits are applied. Written with nlohmann::ordered_json (compact),
// so the same base, layer and edits always give the same bytes, hence the
// same config digest. Pure and thread-safe.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/digest.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// What changes in the config, as pack's flags say. Unset fields keep the
/// base's value.
struct image_config_changes {
  /// The new layer's diff_id, appended to rootfs.diff_ids (unless empty_layer).
  digest diff_id;
  /// No new layer: diff_ids stay as they are and the history entry gets
  /// "empty_layer": true (config.md history).
  bool empty_layer = false;
  /// Top-level "created" and the history entry's, RFC 3339 (the caller
  /// chooses: --created, SOURCE_DATE_EPOCH or now).
  std::string created;
  /// history[].created_by of the new entry ("ocipipe pack").
  std::string created_by;
  /// history[].comment of the new entry; "" leaves it out.
  std::string comment;
  /// Top-level "author" and the history entry's; unset keeps the base's
  /// author and writes none in the history entry.
  std::optional<std::string> author;
  std::optional<std::vector<std::string>> entrypoint;  ///< config.Entrypoint
  std::optional<std::vector<std::string>> cmd;         ///< config.Cmd
  /// NAME=value: replaces every config.Env entry of NAME, else appended.
  std::vector<std::string> env;
  std::optional<std::string> working_dir;  ///< config.WorkingDir
  std::optional<std::string> user;         ///< config.User
  std::map<std::string, std::string> labels;  ///< added to config.Labels (replacing equal keys)
  std::optional<std::string> os;            ///< "os"
  std::optional<std::string> architecture;  ///< "architecture"
  /// "variant"; "" removes it (a platform given without a variant).
  std::optional<std::string> variant;
};

/// The new config's JSON. `base` is the base image's config bytes, or
/// nullopt for an image of this one layer: then the config starts as
/// {"created", "author"?, "architecture", "os", "config": {}, "rootfs":
/// {"type": "layers", "diff_ids": []}, "history": []}, and `os` and
/// `architecture` must be given. Errors: `malformed` (base is not a JSON
/// object, or its rootfs/history/config/Env/Labels have the wrong JSON type,
/// naming the field), `invalid_argument` (an env entry not NAME=value, no
/// os/architecture without a base).
[[nodiscard]] result<std::string> write_image_config(std::optional<std::string_view> base,
                                                     const image_config_changes& changes);

}  // namespace ocipipe
