#pragma once
// Resolution of an image config's User (image-spec config.md "User";
// conversion.md "Config.User") against the rootfs's /etc/passwd and
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

/// A Config.User resolved in the rootfs: the process user, and the home
/// directory /etc/passwd gives it (process.env HOME comes from it).
struct resolved_user {
  process_user user;
  /// The passwd record's home directory; "/" when the uid has no record (or
  /// an empty home field), as runc and containerd default it.
  std::string home = "/";
};

/// Resolves `user` in every form config.md allows: "" (root), "uid",
/// "uid:gid", "name", "name:group", "uid:group", "name:gid". Names are looked
/// up in `passwd` / `group` (file contents; nullopt when the file is absent);
/// a numeric uid is looked up too, for its primary gid (0 when not listed),
/// its home and its name. A user given without a group takes the primary gid
/// from /etc/passwd; supplementary groups are those of /etc/group naming the
/// user (containerd GHSA-hmfx-3pcx-653p, buglog B54), numeric users included
/// (what the fixed containerd does; conversion.md leaves it open), and only
/// when no group is given, as runc does.
/// Errors: `invalid_argument` for a numeric id above 2147483647 (runc's limit)
/// or an empty group ("app:") — never wrapped to 0 (CVE-2024-40635; an
/// all-digit value is never looked up as a name, CVE-2026-46680; buglog B55);
/// `not_found` naming a user or group missing from its file (conversion.md:
/// MUST be an error); `malformed` for the passwd record of a named user whose
/// uid or gid field is not an id.
[[nodiscard]] result<resolved_user> resolve_user(std::string_view user,
                                                 const std::optional<std::string>& passwd,
                                                 const std::optional<std::string>& group);

}  // namespace ocipipe
