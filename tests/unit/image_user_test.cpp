// stages/image_user.h: Config.User (config.md "User") against the rootfs's /etc/passwd and
// /etc/group text, in every form config.md allows, per conversion.md "Config.User". Buglog
// class 8 cases B54 and B55 are named in the comments.

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "stages/image_user.h"
#include "tests/support/user_files.h"

namespace ocipipe::testing {
namespace {

struct user_case {
  std::string user;
  std::uint32_t uid;
  std::uint32_t gid;
  std::vector<std::uint32_t> additional_gids;
  std::string home;
};

void expect_resolves(const user_case& c, const std::optional<std::string>& passwd,
                     const std::optional<std::string>& group) {
  SCOPED_TRACE("User \"" + c.user + "\"");
  auto u = resolve_user(c.user, passwd, group);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->user.uid, c.uid);
  EXPECT_EQ(u->user.gid, c.gid);
  EXPECT_EQ(u->user.additional_gids, c.additional_gids);
  EXPECT_EQ(u->home, c.home);
}

// config.md "User": every form, and what each resolves to. A form with a group (by id or by
// name) has no supplementary groups; one without takes its primary group from /etc/passwd.
TEST(ImageUser, EveryUserFormResolves) {
  for (const auto& c : {
           user_case{"1000", 1000, 1000, {10, 50}, "/home/app"},  // uid
           user_case{"1000:1000", 1000, 1000, {}, "/home/app"},   // uid:gid
           user_case{"app", 1000, 1000, {10, 50}, "/home/app"},   // name
           user_case{"app:staff", 1000, 50, {}, "/home/app"},     // name:group
           user_case{"1000:staff", 1000, 50, {}, "/home/app"},    // uid:group
           user_case{"app:10", 1000, 10, {}, "/home/app"},        // name:gid
           user_case{"0:wheel", 0, 10, {}, "/root"},              // uid:group, root
           user_case{"root", 0, 0, {10}, "/root"},                // name, root
       })
    expect_resolves(c, passwd_text, group_text);
}

// B54: the user's supplementary groups from /etc/group apply when no group is given; any
// explicit group means no supplementary groups. A numeric user listed in /etc/passwd is
// treated like its name (what the fixed containerd does; conversion.md leaves it open).
TEST(ImageUser, SupplementaryGroupsFromEtcGroup) {
  const std::string b54_group = "wheel:x:10:root,app\napp:x:1000:\n";
  for (const auto& c :
       {user_case{"", 0, 0, {10}, "/root"}, user_case{"app", 1000, 1000, {10}, "/home/app"},
        user_case{"app:app", 1000, 1000, {}, "/home/app"},
        user_case{"app:10", 1000, 10, {}, "/home/app"},
        user_case{"1000", 1000, 1000, {10}, "/home/app"},
        user_case{"1000:1000", 1000, 1000, {}, "/home/app"}})
    expect_resolves(c, passwd_text, b54_group);
}

// Numeric ids need no /etc/passwd and are copied verbatim (conversion.md); a numeric user
// not listed gets gid 0 and HOME "/", as runc and containerd default them.
TEST(ImageUser, NumericUserWithoutPasswdCopiedVerbatim) {
  for (const auto& c :
       {user_case{"1234", 1234, 0, {}, "/"}, user_case{"1234:5678", 1234, 5678, {}, "/"},
        user_case{"2147483647:2147483647", 2147483647, 2147483647, {}, "/"},
        user_case{"0", 0, 0, {}, "/"}, user_case{"", 0, 0, {}, "/"}})
    expect_resolves(c, std::nullopt, std::nullopt);
  expect_resolves(user_case{"4242:4242", 4242, 4242, {}, "/"}, passwd_text, group_text);
}

// A passwd record with an empty home field gives HOME "/" too.
TEST(ImageUser, EmptyHomeFieldIsRoot) {
  expect_resolves(user_case{"svc", 7, 7, {}, "/"}, "svc:x:7:7:::/bin/sh\n", std::nullopt);
}

// The default user is uid 0, looked up by uid: a passwd naming uid 0 otherwise still gives
// its home and groups.
TEST(ImageUser, DefaultUserIsUidZeroWhateverItsName) {
  expect_resolves(user_case{"", 0, 3, {9}, "/var/toor"}, "toor:x:0:3::/var/toor:/bin/sh\n",
                  std::string("adm:x:9:toor\n"));
}

// B55: a numeric id above 2^31 - 1 (runc's limit) is refused, never wrapped to 0, and an
// all-digit value is never looked up as a name, even when /etc/passwd has such a name.
TEST(ImageUser, OversizedNumericUserRefused) {
  const std::string hostile_passwd = passwd_text + "99999999999999999999:x:0:0::/:/bin/sh\n";
  for (const std::string user :
       {"2147483648:2147483648", "2147483648", "1000:2147483648", "4294967296", "4294967295",
        "99999999999999999999", "app:99999999999999999999", "00000000002147483648"}) {
    SCOPED_TRACE(user);
    auto u = resolve_user(user, hostile_passwd, group_text);
    ASSERT_FALSE(u) << "resolved to uid " << u->user.uid << " gid " << u->user.gid;
    EXPECT_EQ(u.error().code(), errc::invalid_argument) << u.error().message();
  }
}

// conversion.md: a user or group name the rootfs does not know MUST be an error, and the
// message names it.
TEST(ImageUser, UnknownNamesAreNotFound) {
  for (const auto& [user, passwd, name] :
       std::vector<std::tuple<std::string, std::optional<std::string>, std::string>>{
           {"nobody", passwd_text, "\"nobody\""},
           {"app:nogroup", passwd_text, "\"nogroup\""},
           {"app", std::nullopt, "\"app\""},
           {"1000:nogroup", passwd_text, "\"nogroup\""}}) {
    SCOPED_TRACE(user);
    auto u = resolve_user(user, passwd, group_text);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code(), errc::not_found) << u.error().message();
    EXPECT_NE(u.error().message().find(name), std::string::npos) << u.error().message();
  }
}

// "app:" names no group: an error, not gid 0.
TEST(ImageUser, EmptyGroupIsAnError) {
  auto u = resolve_user("app:", passwd_text, group_text);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code(), errc::invalid_argument) << u.error().message();
}

// A named user whose record has no valid uid cannot be resolved: an error, not uid 0.
TEST(ImageUser, NamedUserWithBrokenRecordIsMalformed) {
  for (const std::string passwd : {"app:x:abc:1000::/:/bin/sh\n", "app:x:1000:-1::/:/bin/sh\n",
                                   "app:x:4294967296:0::/:/bin/sh\n"}) {
    SCOPED_TRACE(passwd);
    auto u = resolve_user("app", passwd, group_text);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code(), errc::malformed) << u.error().message();
  }
}

}  // namespace
}  // namespace ocipipe::testing
