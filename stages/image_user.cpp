#include "stages/image_user.h"

#include <algorithm>

namespace ocipipe {
namespace {

// One colon-separated record of /etc/passwd or /etc/group.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  for (;;) {
    const auto j = line.find(':', i);
    out.push_back(line.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

template <typename F>
void for_each_record(std::string_view text, F&& f) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    const auto line = text.substr(i, j - i);
    i = j + 1;
    if (line.empty() || line.front() == '#') continue;
    if (f(fields(line))) return;
  }
}

enum class id_kind { numeric, name };

// Decimal ids only, at most 2^31 - 1: runc takes ids as signed 32-bit ints, so a
// larger one would wrap, to 0 among others (containerd CVE-2024-40635).
constexpr std::uint64_t max_id = 2147483647;

result<std::optional<std::uint32_t>> parse_id(std::string_view s, std::string_view what) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::optional<std::uint32_t>{};
  if (s.size() > 10)
    return fail(errc::invalid_argument, std::string(what) + " " + quote(s) + " is out of range");
  const std::uint64_t v = std::stoull(std::string(s));
  if (v > max_id)
    return fail(errc::invalid_argument, std::string(what) + " " + quote(s) + " is out of range");
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(v));
}

result<std::uint32_t> field_id(std::string_view s, std::string_view what) {
  OCIPIPE_ASSIGN_OR_RETURN(auto id, parse_id(s, what));
  if (!id) return fail(errc::malformed, std::string(what) + " " + quote(s) + " is not numeric");
  return *id;
}

}  // namespace

result<process_user> resolve_user(std::string_view user, const std::optional<std::string>& passwd,
                                  const std::optional<std::string>& group) {
  process_user out;
  const auto colon = user.find(':');
  const auto user_part = user.substr(0, colon);
  const auto group_part = colon == std::string_view::npos ? std::string_view() : user.substr(colon + 1);
  if (colon != std::string_view::npos && group_part.empty())
    return fail(errc::invalid_argument, "user " + quote(user) + ": empty group");

  std::string user_name;
  bool gid_from_passwd = false;
  if (user_part.empty()) {
    out.uid = 0;
    user_name = "root";
    gid_from_passwd = true;
  } else {
    OCIPIPE_ASSIGN_OR_RETURN(auto uid, parse_id(user_part, "uid"));
    std::optional<std::uint32_t> primary;
    if (uid) {
      out.uid = *uid;
    } else {
      user_name = std::string(user_part);
    }
    // Look the user up by name or by uid to learn its name and primary group.
    bool found = false;
    result<void> bad;
    if (passwd) {
      for_each_record(*passwd, [&](const std::vector<std::string_view>& f) {
        if (f.size() < 4) return false;
        auto fuid = field_id(f[2], "uid");
        if (!fuid) return false;
        if (uid ? *fuid != *uid : f[0] != user_part) return false;
        auto fgid = field_id(f[3], "gid");
        if (!fgid) {
          bad = tl::unexpected(std::move(fgid).error().context("/etc/passwd"));
          return true;
        }
        found = true;
        out.uid = *fuid;
        user_name = std::string(f[0]);
        primary = *fgid;
        return true;
      });
    }
    if (!bad) return tl::unexpected(std::move(bad).error());
    if (!uid && !found)
      return fail(errc::not_found, "user " + quote(user_part) + " not found in the rootfs's /etc/passwd");
    out.gid = primary.value_or(0);
    gid_from_passwd = true;
  }
  if (!group_part.empty()) {
    gid_from_passwd = false;
    OCIPIPE_ASSIGN_OR_RETURN(auto gid, parse_id(group_part, "gid"));
    if (gid) {
      out.gid = *gid;
    } else {
      bool found = false;
      if (group)
        for_each_record(*group, [&](const std::vector<std::string_view>& f) {
          if (f.size() < 3 || f[0] != group_part) return false;
          auto g = field_id(f[2], "gid");
          if (!g) return false;
          out.gid = *g;
          found = true;
          return true;
        });
      if (!found)
        return fail(errc::not_found, "group " + quote(group_part) + " not found in the rootfs's /etc/group");
    }
  }
  if (user_part.empty() && passwd) {
    for_each_record(*passwd, [&](const std::vector<std::string_view>& f) {
      if (f.size() < 4 || f[0] != "root") return false;
      if (auto g = field_id(f[3], "gid"); g && gid_from_passwd) out.gid = *g;
      return true;
    });
  }
  // Supplementary groups: every /etc/group record listing the user by name,
  // only when no group is given (runc: they make sense in the implicit form
  // only; an explicit group replaces all of the user's groups).
  if (group_part.empty() && !user_name.empty() && group) {
    for_each_record(*group, [&](const std::vector<std::string_view>& f) {
      if (f.size() < 4) return false;
      auto g = field_id(f[2], "gid");
      if (!g) return false;
      std::string_view members = f[3];
      std::size_t i = 0;
      while (i <= members.size()) {
        auto j = members.find(',', i);
        if (j == std::string_view::npos) j = members.size();
        if (members.substr(i, j - i) == user_name && *g != out.gid &&
            std::find(out.additional_gids.begin(), out.additional_gids.end(), *g) ==
                out.additional_gids.end())
          out.additional_gids.push_back(*g);
        i = j + 1;
      }
      return false;
    });
  }
  return out;
}

}  // namespace ocipipe
