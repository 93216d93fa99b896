// Runtime bundles: ocipipe::create() on images built in the test, and the stages it uses
// (stages/image_user.h: User against /etc/passwd and /etc/group; stages/runtime_config.h:
// image config to config.json per image-spec conversion.md). Buglog class 8 cases are named
// in the comments.

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/image_user.h"
#include "stages/runtime_config.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::json;

// buglog B54's /etc/passwd and /etc/group.
const std::string passwd_text =
    "root:x:0:0::/root:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n";
const std::string group_text =
    "wheel:x:10:root,app\n"
    "app:x:1000:\n";

// An image whose rootfs has /etc/passwd and /etc/group, and `extra` entries after them.
std::vector<layer_spec> etc_layers(std::vector<tar_spec_entry> extra = {}) {
  layer_spec l;
  l.entries = {dir("etc/"), file("etc/passwd", passwd_text), file("etc/group", group_text)};
  l.entries.insert(l.entries.end(), extra.begin(), extra.end());
  return {l};
}

config_overrides runnable(std::string user = {}) {
  config_overrides c;
  c.cmd = std::vector<std::string>{"/bin/sh"};
  c.user = std::move(user);
  return c;
}

// A scratch area: the bundle alone in a parent directory, so anything created beside it
// shows up; `outside` stands for the host.
struct scratch {
  temp_dir tmp{"ocipipe-create"};
  std::string layout = tmp.sub("layout");
  std::string parent = tmp.sub("parent");
  std::string bundle = tmp.sub("parent/bundle");
  scratch() { ::mkdir(parent.c_str(), 0755); }
  [[nodiscard]] std::string in_rootfs(const std::string& rel) const { return bundle + "/rootfs/" + rel; }
};

bool is_dir(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

json process_of(const create_report& rep) { return json::parse(rep.config_json).at("process"); }

// ---- users: stages/image_user.h ----

struct user_case {
  std::string user;
  std::uint32_t uid;
  std::uint32_t gid;
  std::vector<std::uint32_t> additional_gids;
};

// B54: the user's supplementary groups from /etc/group apply when no group is given; any
// explicit group means no supplementary groups. A numeric user listed in /etc/passwd is
// treated like its name (what the fixed containerd does; conversion.md leaves it open).
TEST(ImageUser, SupplementaryGroupsFromEtcGroup) {
  for (const auto& c : {user_case{"", 0, 0, {10}}, user_case{"app", 1000, 1000, {10}},
                        user_case{"app:app", 1000, 1000, {}}, user_case{"app:10", 1000, 10, {}},
                        user_case{"1000", 1000, 1000, {10}}, user_case{"1000:1000", 1000, 1000, {}},
                        user_case{"root", 0, 0, {10}}, user_case{"0:wheel", 0, 10, {}}}) {
    SCOPED_TRACE("User \"" + c.user + "\"");
    auto u = resolve_user(c.user, passwd_text, group_text);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->uid, c.uid);
    EXPECT_EQ(u->gid, c.gid);
    EXPECT_EQ(u->additional_gids, c.additional_gids);
  }
}

// Numeric ids need no /etc/passwd; a numeric user not listed gets gid 0.
TEST(ImageUser, NumericUserWithoutPasswdCopiedVerbatim) {
  for (const auto& c : {user_case{"1234", 1234, 0, {}}, user_case{"1234:5678", 1234, 5678, {}},
                        user_case{"2147483647:2147483647", 2147483647, 2147483647, {}}}) {
    SCOPED_TRACE(c.user);
    auto u = resolve_user(c.user, std::nullopt, std::nullopt);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->uid, c.uid);
    EXPECT_EQ(u->gid, c.gid);
    EXPECT_EQ(u->additional_gids, c.additional_gids);
  }
}

// B55: a numeric id above 2^31 - 1 (runc's limit) is refused, never wrapped to 0, and an
// all-digit value is never looked up as a name, even when /etc/passwd has such a name.
TEST(ImageUser, OversizedNumericUserRefused) {
  const std::string hostile_passwd = passwd_text + "99999999999999999999:x:0:0::/:/bin/sh\n";
  for (const std::string user : {"2147483648:2147483648", "2147483648", "1000:2147483648",
                                 "4294967296", "4294967295", "99999999999999999999",
                                 "app:99999999999999999999"}) {
    SCOPED_TRACE(user);
    auto u = resolve_user(user, hostile_passwd, group_text);
    ASSERT_FALSE(u) << "resolved to uid " << u->uid << " gid " << u->gid;
    EXPECT_EQ(u.error().code(), errc::invalid_argument) << u.error().message();
  }
}

// conversion.md: a user or group name the rootfs does not know MUST be an error.
TEST(ImageUser, UnknownNamesAreNotFound) {
  for (const auto& [user, passwd] :
       std::vector<std::pair<std::string, std::optional<std::string>>>{
           {"nobody", passwd_text}, {"app:nogroup", passwd_text}, {"app", std::nullopt},
           {"1000:nogroup", passwd_text}}) {
    SCOPED_TRACE(user);
    auto u = resolve_user(user, passwd, group_text);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code(), errc::not_found) << u.error().message();
  }
}

// ---- process.args and the rest: stages/runtime_config.h ----

json runtime_config(const image_config& cfg, const runtime_config_options& opts = {}) {
  auto text = make_runtime_config(cfg, process_user{}, opts);
  EXPECT_TRUE(text) << text.error().message();
  return text ? json::parse(*text) : json();
}

image_config with_command(std::optional<std::vector<std::string>> entrypoint,
                          std::optional<std::vector<std::string>> cmd) {
  image_config c;
  c.os = "linux";
  c.architecture = "amd64";
  if (entrypoint) {
    c.config.has_entrypoint = true;
    c.config.entrypoint = *entrypoint;
  }
  if (cmd) {
    c.config.has_cmd = true;
    c.config.cmd = *cmd;
  }
  return c;
}

using args = std::vector<std::string>;

// B58: process.args is Entrypoint followed by Cmd, exactly; [""] stays one empty argument.
TEST(RuntimeConfig, ArgsAreEntrypointThenCmd) {
  struct args_case {
    const char* what;
    std::optional<args> entrypoint;
    std::optional<args> cmd;
    args want;
  };
  for (const auto& c : {args_case{"both", args{"a", "b"}, args{"c"}, {"a", "b", "c"}},
                        args_case{"entrypoint alone", args{"a", "b"}, std::nullopt, {"a", "b"}},
                        args_case{"cmd alone", std::nullopt, args{"x"}, {"x"}},
                        args_case{"empty entrypoint", args{}, args{"x"}, {"x"}},
                        args_case{"empty string cmd", std::nullopt, args{""}, {""}}}) {
    SCOPED_TRACE(c.what);
    const auto rc = runtime_config(with_command(c.entrypoint, c.cmd));
    EXPECT_EQ(rc["process"]["args"].get<args>(), c.want);
  }
}

// B58: with nothing to run the bundle cannot be made.
TEST(RuntimeConfig, NothingToRunIsAnError) {
  for (const auto& [entrypoint, cmd] : std::vector<std::pair<std::optional<args>, std::optional<args>>>{
           {std::nullopt, std::nullopt}, {args{}, args{}}, {args{}, std::nullopt}}) {
    auto text = make_runtime_config(with_command(entrypoint, cmd), process_user{}, {});
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().code(), errc::invalid_argument) << text.error().message();
  }
}

TEST(RuntimeConfig, ArgsOptionReplacesEntrypointAndCmd) {
  runtime_config_options opts;
  opts.args = args{"/bin/echo", "hi"};
  const auto rc = runtime_config(with_command(args{"a"}, args{"b"}), opts);
  EXPECT_EQ(rc["process"]["args"].get<args>(), (args{"/bin/echo", "hi"}));
}

// DESIGN.md §4: bundles are run by scripts, so no terminal unless asked.
TEST(RuntimeConfig, TerminalFalseUnlessAsked) {
  EXPECT_EQ(runtime_config(with_command(std::nullopt, args{"x"}))["process"]["terminal"], false);
  runtime_config_options opts;
  opts.terminal = true;
  EXPECT_EQ(runtime_config(with_command(std::nullopt, args{"x"}), opts)["process"]["terminal"], true);
}

// B59: runtime-spec wants an absolute cwd.
TEST(RuntimeConfig, RelativeWorkingDirIsAnError) {
  auto cfg = with_command(std::nullopt, args{"x"});
  cfg.config.working_dir = "app";
  auto text = make_runtime_config(cfg, process_user{}, {});
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code(), errc::invalid_argument) << text.error().message();
}

// ---- create() ----

// B54 end to end: config.json carries the user and its supplementary groups.
TEST(Create, UserAndSupplementaryGroupsInConfig) {
  scratch s;
  const auto img = build_layout(s.layout, "t", etc_layers(), runnable("app"));
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  const auto user = process_of(*rep).at("user");
  EXPECT_EQ(user.at("uid"), 1000);
  EXPECT_EQ(user.at("gid"), 1000);
  EXPECT_EQ(user.at("additionalGids"), json::array({10}));
  EXPECT_EQ(names_in(s.bundle), (std::vector<std::string>{"config.json", "rootfs"}));
}

// B55 and conversion.md: a user create cannot resolve fails the bundle, and nothing is left.
TEST(Create, UnresolvableUserFailsAndLeavesNoBundle) {
  struct user_failure {
    std::string user;
    errc code;
  };
  for (const auto& c : {user_failure{"2147483648:2147483648", errc::invalid_argument},
                        user_failure{"nobody", errc::not_found}}) {
    SCOPED_TRACE(c.user);
    scratch s;
    const auto img = build_layout(s.layout, "t", etc_layers(), runnable(c.user));
    auto rep = create(img.ref(), s.bundle, {});
    ASSERT_FALSE(rep);
    EXPECT_EQ(rep.error().code(), c.code) << rep.error().message();
    EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
  }
}

// B58 end to end, and --args and --tty.
TEST(Create, ArgsFromImageOrOptions) {
  scratch s;
  auto cfg = runnable();
  cfg.entrypoint = args{"/usr/bin/java", "-jar", "app.jar"};
  cfg.cmd = args{"--port", "80"};
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("args").get<args>(),
            (args{"/usr/bin/java", "-jar", "app.jar", "--port", "80"}));
  EXPECT_EQ(process_of(*rep).at("terminal"), false);

  create_options opts;
  opts.args = args{"/bin/true"};
  opts.terminal = true;
  opts.unpack.force = true;
  rep = create(img.ref(), s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("args").get<args>(), args{"/bin/true"});
  EXPECT_EQ(process_of(*rep).at("terminal"), true);
}

// B59: a WorkingDir no layer creates is created inside the rootfs; one that is a symlink to
// a directory is used as it is.
TEST(Create, MissingWorkingDirIsCreatedInRootfs) {
  scratch s;
  auto cfg = runnable("app");
  cfg.working_dir = "/opt/app/run";
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("cwd"), "/opt/app/run");
  EXPECT_TRUE(is_dir(s.in_rootfs("opt/app/run")));
  if (::geteuid() == 0) {
    struct stat st{};
    ASSERT_EQ(::stat(s.in_rootfs("opt/app/run").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);  // the directory belongs to the process user, as Docker does
  }
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{"bundle"});
}

TEST(Create, WorkingDirSymlinkToDirectoryIsKept) {
  scratch s;
  auto cfg = runnable();
  cfg.working_dir = "/work";
  const auto img = build_layout(s.layout, "t",
                                etc_layers({dir("opt/"), dir("opt/real/"), symlink("work", "/opt/real")}), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("cwd"), "/work");
  EXPECT_EQ(names_in(s.in_rootfs("opt/real")), std::vector<std::string>{});
  struct stat st{};
  ASSERT_EQ(::lstat(s.in_rootfs("work").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// B59: a WorkingDir that exists as a regular file cannot be a cwd: an error, not a bundle
// that fails at start.
TEST(Create, WorkingDirThatIsAFileIsAnError) {
  scratch s;
  auto cfg = runnable();
  cfg.working_dir = "/etc/passwd";
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::invalid_argument) << rep.error().message();
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
}

// B60: Volumes are not mounted or seeded, so a path with ".." or through a symlink to "/"
// creates nothing, inside the rootfs or out, and adds no mount.
TEST(Create, VolumesWithDotDotCreateNothing) {
  scratch s;
  auto cfg = runnable();
  cfg.volumes = {"/../../../../../../etc", "/data/secrets", "/../../outside-volume"};
  const auto img = build_layout(s.layout, "t", {layer_spec{{symlink("data", "/"), file("bin-sh", "")}}}, cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(names_in(s.tmp.path()), (std::vector<std::string>{"layout", "parent"}));
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{"bundle"});
  EXPECT_EQ(names_in(s.bundle), (std::vector<std::string>{"config.json", "rootfs"}));
  EXPECT_EQ(names_in(s.bundle + "/rootfs"), (std::vector<std::string>{"bin-sh", "data"}));
  EXPECT_FALSE(path_exists("/secrets"));
  EXPECT_FALSE(path_exists("/outside-volume"));
  const auto config = json::parse(rep->config_json);
  for (const auto& m : config.at("mounts")) {
    const auto dest = m.at("destination").get<std::string>();
    EXPECT_EQ(dest.find(".."), std::string::npos) << dest;
    EXPECT_NE(dest, "/data/secrets");
  }
}

// /etc/passwd is read inside the rootfs: a symlink to an absolute path resolves to that path
// in the rootfs, never to the host file of the same name.
TEST(Create, PasswdSymlinkResolvedInsideRootfs) {
  scratch s;
  const std::string host_dir = s.tmp.sub("host");
  ::mkdir(host_dir.c_str(), 0755);
  // The host's file would make "app" root; the rootfs's copy says uid 1000.
  std::ofstream(host_dir + "/passwd") << "app:x:0:0::/:/bin/sh\n";
  const std::string in_root = host_dir.substr(1);  // the same path, relative to the rootfs
  layer_spec l;
  l.entries = {dir("etc/"), symlink("etc/passwd", host_dir + "/passwd"), file("etc/group", group_text),
               file(in_root + "/passwd", passwd_text)};
  const auto img = build_layout(s.layout, "t", {l}, runnable("app"));
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("user").at("uid"), 1000);
}

}  // namespace
}  // namespace ocipipe::testing
