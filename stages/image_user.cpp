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

// Calls f on each record until it returns true.
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

// Decimal ids only, at most 2^31 - 1: runc takes ids as signed 32-bit ints, so a
// larger one would wrap, to 0 among others (containerd CVE-2024-40635).
constexpr std::uint64_t max_id = 2147483647;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// nullopt when `s` is not all digits (a name); an error when it is but is out of range.
result<std::optional<std::uint32_t>> parse_id(std::string_view s, std::string_view what) {
  if (!all_digits(s)) return std::optional<std::uint32_t>{};
  const auto digits = s.substr(std::min(s.find_first_not_of('0'), s.size()));
  if (digits.size() > 10 || std::stoull("0" + std::string(digits)) > max_id)
    return fail(errc::invalid_argument, std::string(what) + " " + quote(s) + " is out of range");
  return std::optional<std::uint32_t>(
      static_cast<std::uint32_t>(std::stoull("0" + std::string(digits))));
}

// An id field of a record: numeric and in range, else `malformed`.
result<std::uint32_t> field_id(std::string_view s, std::string_view what) {
  auto id = parse_id(s, what);
  if (!id || !*id)
    return fail(errc::malformed, std::string(what) + " " + quote(s) + " is not an id");
  return **id;
}

// The passwd record of a user, as far as resolution needs it.
struct passwd_record {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string home;
};

// The record of uid `uid` (records whose ids are not ids are skipped: they
// cannot be that uid), or of name `name` (such a record is an error: the user
// asked for cannot be resolved).
result<std::optional<passwd_record>> find_passwd(std::string_view passwd,
                                                 std::optional<std::uint32_t> uid,
                                                 std::string_view name) {
  std::optional<passwd_record> found;
  std::optional<error> bad;
  for_each_record(passwd, [&](const std::vector<std::string_view>& f) {
    if (f.size() < 4) return false;
    if (!uid && f[0] != name) return false;
    auto fuid = field_id(f[2], "uid");
    auto fgid = field_id(f[3], "gid");
    if (uid && (!fuid || *fuid != *uid)) return false;
    if (!fuid || !fgid) {
      bad = (!fuid ? fuid.error() : fgid.error()).context("/etc/passwd entry " + quote(name));
      return true;
    }
    found = passwd_record{std::string(f[0]), *fuid, *fgid, f.size() > 5 ? std::string(f[5]) : ""};
    return true;
  });
  if (bad) return tl::unexpected(std::move(*bad));
  return found;
}

// The gid of group `name` in /etc/group.
std::optional<std::uint32_t> find_group(std::string_view group, std::string_view name) {
  std::optional<std::uint32_t> gid;
  for_each_record(group, [&](const std::vector<std::string_view>& f) {
    if (f.size() < 3 || f[0] != name) return false;
    if (auto g = field_id(f[2], "gid")) gid = *g;
    return gid.has_value();
  });
  return gid;
}

// Every /etc/group record listing `user_name` as a member, but `primary`.
std::vector<std::uint32_t> supplementary_groups(std::string_view group, std::string_view user_name,
                                                std::uint32_t primary) {
  std::vector<std::uint32_t> out;
  for_each_record(group, [&](const std::vector<std::string_view>& f) {
    if (f.size() < 4) return false;
    auto g = field_id(f[2], "gid");
    if (!g || *g == primary || std::find(out.begin(), out.end(), *g) != out.end()) return false;
    std::string_view members = f[3];
    for (std::size_t i = 0; i <= members.size();) {
      auto j = members.find(',', i);
      if (j == std::string_view::npos) j = members.size();
      if (members.substr(i, j - i) == user_name) {
        out.push_back(*g);
        break;
      }
      i = j + 1;
    }
    return false;
  });
  return out;
}

}  // namespace

result<resolved_user> resolve_user(std::string_view user, const std::optional<std::string>& passwd,
                                   const std::optional<std::string>& group) {
  const auto colon = user.find(':');
  // No user part means the default user, root (uid 0), as runc takes it.
  const auto user_part = colon == 0 || user.empty() ? std::string_view("0") : user.substr(0, colon);
  const bool has_group = colon != std::string_view::npos;
  const auto group_part = has_group ? user.substr(colon + 1) : std::string_view();
  if (has_group && group_part.empty())
    return fail(errc::invalid_argument, "user " + quote(user) + ": empty group");

  OCIPIPE_ASSIGN_OR_RETURN(auto uid, parse_id(user_part, "uid"));
  std::optional<passwd_record> record;
  if (passwd) {
    OCIPIPE_ASSIGN_OR_RETURN(record, find_passwd(*passwd, uid, user_part));
  }
  if (!uid && !record)
    return fail(errc::not_found,
                "user " + quote(user_part) + " not found in the rootfs's /etc/passwd");

  resolved_user out;
  // conversion.md: a numeric uid is copied verbatim, listed or not.
  out.user.uid = uid ? *uid : record->uid;
  out.user.gid = record ? record->gid : 0;
  if (record && !record->home.empty()) out.home = record->home;

  if (has_group) {
    OCIPIPE_ASSIGN_OR_RETURN(auto gid, parse_id(group_part, "gid"));
    if (!gid && group) gid = find_group(*group, group_part);
    if (!gid)
      return fail(errc::not_found,
                  "group " + quote(group_part) + " not found in the rootfs's /etc/group");
    // An explicit group replaces all of the user's groups (runc; conversion.md:
    // additionalGids SHOULD NOT be set when Config.User names a group).
    out.user.gid = *gid;
  } else if (record && group) {
    out.user.additional_gids = supplementary_groups(*group, record->name, out.user.gid);
  }
  return out;
}

}  // namespace ocipipe
