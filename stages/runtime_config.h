#pragma once
// Image config → runtime-spec config.json, per image-spec conversion.md,
// with everything the image does not say taken from `runc spec`'s defaults
// (stages/runc_spec.h), or `runc spec --rootless`'s.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stages/image_user.h"
#include "stages/oci/descriptor.h"
#include "stages/runc_spec.h"

namespace ocipipe {

/// runc's default PATH (libcontainer's, and `runc spec`'s env), which
/// process.env gets when the image's Env has no PATH.
inline constexpr const char* default_path_env =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct runtime_config_options {
  std::optional<std::vector<std::string>> args;  ///< replaces Entrypoint + Cmd
  bool terminal = false;                         ///< process.terminal
  std::string rootfs = "rootfs";                 ///< root.path, relative to the bundle
  /// A config for a user namespace that maps these host ids to 0:0, as
  /// `runc spec --rootless` writes it (no cgroup settings, no network
  /// namespace). The process user must then be 0:0, and its supplementary
  /// groups are dropped: nothing else is mapped, and an unprivileged runc
  /// cannot call setgroups.
  std::optional<rootless_ids> rootless;
};

/// A converted runtime config.
struct runtime_config {
  std::string json;  ///< config.json's text: 2-space indented, keys in runc's order
  /// What of the image config.json leaves out, as (rule id, message):
  /// `runtime.annotations.key` for a label with an empty key (runtime-spec
  /// config.md "Annotations": keys MUST NOT be empty; conversion.md: a
  /// converter that omits an annotation SHOULD say so).
  std::vector<std::pair<std::string, std::string>> warnings;
};

/// Builds the runtime config.
/// conversion.md "Verbatim Fields": process.args is Entrypoint followed by Cmd
/// (or `opts.args`); process.env is Env, then runc's default PATH only when Env
/// has no PATH, HOME = `user.home` only when Env has no HOME (an image's HOME
/// wins), TERM=xterm only with a terminal and no TERM (runc spec's); process.cwd
/// is WorkingDir ("/" when empty). "Parsed Fields": process.user from `user`.
/// "Annotation Fields": Config.Labels, then org.opencontainers.image.{os,
/// architecture,variant,os.version,os.features,author,created,stopSignal,
/// exposedPorts} from the image's fields, each only where no label of that key
/// is (labels take precedence); list values are comma-separated; a label with
/// an empty key is left out with a warning. The manifest's
/// and index's annotations are not copied (conversion.md: SHOULD NOT).
/// "Optional Fields": each Config.Volumes path becomes a tmpfs mount at that
/// path (normalised: no "//", "." or trailing "/"), in path order, so
/// application data is not written to the rootfs; nothing is seeded into it
/// (umoci's choice; a runtime resolves the destination inside the rootfs).
/// Errors: `invalid_argument` when there is nothing to run (no Entrypoint, Cmd
/// or args), WorkingDir is not absolute, an Env entry is not NAME=value, a
/// Volumes path is not absolute, is "/", or has a ".." component (buglog B60:
/// containerd CVE-2022-23648 copied host files through one), the user is not
/// 0:0 with `rootless`, or a string is not UTF-8.
[[nodiscard]] result<runtime_config> make_runtime_config(const image_config& image,
                                                         const resolved_user& user,
                                                         const runtime_config_options& opts);

}  // namespace ocipipe
