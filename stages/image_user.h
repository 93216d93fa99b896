#pragma once
// Resolution of an image config's User (image-spec config.md "User";
// conversion.md "process.user") against the rootfs's /etc/passwd and
// /etc/group text. Pure: the caller reads the files, safely inside the rootfs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe {

/// runtime-spec process.user.
struct process_user {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> additional_gids;  ///< supplementary groups from /etc/group
};

/// Resolves `user` ("", "uid", "uid:gid", "name", "name:group", mixed).
/// Names are looked up in `passwd` / `group` (file contents; nullopt when the
/// file is absent). A user given without a group takes the primary gid from
/// /etc/passwd (0 when the user is numeric and not listed); supplementary
/// groups are those of /etc/group naming the user (containerd
/// GHSA-hmfx-3pcx-653p), and only when no group is given, as runc does.
/// Errors: `invalid_argument` for a numeric id above 2147483647 (runc's limit)
/// or not a plain decimal (never wrapped to 0 — CVE-2024-40635; an all-digit
/// value is never looked up as a name), `not_found` for a name missing from
/// its file.
[[nodiscard]] result<process_user> resolve_user(std::string_view user,
                                                const std::optional<std::string>& passwd,
                                                const std::optional<std::string>& group);

}  // namespace ocipipe
