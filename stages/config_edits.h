#pragma once
// What the caller of `create` gives beside the image: --env, --cwd and --user.
// image-spec conversion.md counts such externally provided inputs as a
// modification of the image config, with no restrictions, so they are applied
// to the image config before conversion, and everything derived from the
// config (HOME, the WorkingDir created in the rootfs) follows them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/descriptor.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// Edits of config.md "config" fields.
struct config_edits {
  /// NAME=value entries: each replaces the Config.Env entry of the same NAME
  /// (all of them, when the image repeats it), else is appended, in order.
  std::vector<std::string> env;
  std::optional<std::string> working_dir;  ///< replaces Config.WorkingDir
  std::optional<std::string> user;         ///< replaces Config.User (any form config.md allows)
};

/// `image` with `edits` applied. Errors: `invalid_argument` for an env entry
/// that is not NAME=value with a non-empty NAME (runtime-spec process.env).
[[nodiscard]] result<image_config> apply_config_edits(image_config image,
                                                      const config_edits& edits);

/// The NAME of a process.env entry "NAME=value"; nullopt when `entry` has no
/// "=" or an empty NAME.
[[nodiscard]] std::optional<std::string_view> env_name(std::string_view entry);

}  // namespace ocipipe
