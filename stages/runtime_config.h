#pragma once
// Image config → runtime-spec config.json, per image-spec conversion.md,
// with everything the image does not say taken from `runc spec`'s defaults.

#include <optional>
#include <string>
#include <vector>

#include "stages/image_user.h"
#include "stages/oci/descriptor.h"

namespace ocipipe {

struct runtime_config_options {
  std::optional<std::vector<std::string>> args;  ///< replaces Entrypoint + Cmd
  bool terminal = false;                         ///< process.terminal
  std::string rootfs = "rootfs";                 ///< root.path, relative to the bundle
};

/// Builds the runtime config JSON (2-space indented). process.args is
/// Entrypoint followed by Cmd (conversion.md "Entrypoint"/"Cmd"), env is
/// Env, cwd is WorkingDir ("/" when empty), user is `user`, annotations
/// carry Labels and the org.opencontainers.image.* keys conversion.md lists.
/// Errors: `invalid_argument` when there is nothing to run (no Entrypoint,
/// Cmd or args) or WorkingDir is not absolute.
[[nodiscard]] result<std::string> make_runtime_config(const image_config& image,
                                                      const process_user& user,
                                                      const runtime_config_options& opts);

}  // namespace ocipipe
