#pragma once
// ocipipe's implementation-defined defaults (image-spec conversion.md): the
// runtime config `runc spec` writes (runc 1.1, runtime-spec 1.0.2-dev), and
// what `runc spec --rootless` changes in it.

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace ocipipe {

/// The host user a rootless config maps to root (0:0) in the container's user
/// namespace; `runc spec --rootless` takes the caller's effective ids.
struct rootless_ids {
  std::uint32_t host_uid = 0;
  std::uint32_t host_gid = 0;
};

/// `runc spec`'s config.json, keys in runc's order, but with process.args and
/// process.env empty and process.terminal false: the image fills the first
/// two, and bundles are run by scripts (DESIGN.md §4). With `rootless`, the
/// changes of runc's specconv.ToRootless, as `runc spec --rootless` writes
/// them: linux.uidMappings and gidMappings of the host ids to 0 (size 1), no
/// network namespace and a user namespace last, /sys bind-mounted (rbind) from
/// the host instead of a new sysfs (which needs a network namespace of one's
/// own), no uid=/gid= mount options (gid=5 of /dev/pts is unmapped), and no
/// linux.resources (cgroup settings need root). Cannot fail.
[[nodiscard]] nlohmann::ordered_json runc_spec(const std::optional<rootless_ids>& rootless);

}  // namespace ocipipe
