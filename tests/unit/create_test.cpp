// Runtime bundles: ocipipe::create() end to end on images built in the test: the rootfs's
// /etc/passwd and /etc/group read in-root, the WorkingDir created there, --env/--cwd/--user,
// --rootless, archives with --platform, and config.json as stages/runtime_config.h builds it
// (its rules alone: runtime_config_test.cpp, image_user_test.cpp, config_edits_test.cpp).
// Buglog class 8 cases are named in the comments.

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
#include "stages/runtime_config.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/user_files.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::json;

using args = std::vector<std::string>;


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
  [[nodiscard]] std::string in_rootfs(const std::string& rel) const {
    return bundle + "/rootfs/" + rel;
  }
};

bool is_dir(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

json process_of(const create_report& rep) { return json::parse(rep.config_json).at("process"); }

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
  EXPECT_EQ(user.at("additionalGids"), json::array({10, 50}));
  EXPECT_EQ(names_in(s.bundle), (std::vector<std::string>{"config.json", "rootfs", "rootfs.ocipipe-state"}));
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
  const auto img =
      build_layout(s.layout, "t",
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

// B60: a Volumes path with ".." fails the bundle before anything is made of it, and nothing
// is left, inside the bundle or beside it.
TEST(Create, VolumeWithDotDotFailsAndLeavesNoBundle) {
  scratch s;
  auto cfg = runnable();
  cfg.volumes = {"/../../../../../../etc"};
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::invalid_argument) << rep.error().message();
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
  EXPECT_EQ(names_in(s.tmp.path()), (std::vector<std::string>{"layout", "parent"}));
}

// B60, second image: `data -> /` in the rootfs and Volumes "/data/secrets". create copies
// and creates nothing for a volume: the mount's destination is the path as the image wrote
// it, which the runtime resolves inside the rootfs (runc: to rootfs/secrets).
TEST(Create, VolumeThroughSymlinkIsOnlyAMountDestination) {
  scratch s;
  auto cfg = runnable();
  cfg.volumes = {"/data/secrets"};
  const auto img =
      build_layout(s.layout, "t", {layer_spec{{symlink("data", "/"), file("bin-sh", "")}}}, cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(names_in(s.tmp.path()), (std::vector<std::string>{"layout", "parent"}));
  EXPECT_EQ(names_in(s.bundle), (std::vector<std::string>{"config.json", "rootfs", "rootfs.ocipipe-state"}));
  EXPECT_EQ(names_in(s.bundle + "/rootfs"), (std::vector<std::string>{"bin-sh", "data"}));
  EXPECT_FALSE(path_exists("/secrets"));
  const auto mounts = json::parse(rep->config_json).at("mounts");
  ASSERT_FALSE(mounts.empty());
  EXPECT_EQ(mounts.back().at("destination"), "/data/secrets");
  EXPECT_EQ(mounts.back().at("type"), "tmpfs");
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
  l.entries = {dir("etc/"), symlink("etc/passwd", host_dir + "/passwd"),
               file("etc/group", group_text), file(in_root + "/passwd", passwd_text)};
  const auto img = build_layout(s.layout, "t", {l}, runnable("app"));
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("user").at("uid"), 1000);
}

// B58: Entrypoint set and Cmd null (Docker's spelling of absent) runs the Entrypoint alone.
TEST(Create, EntrypointWithNullCmd) {
  scratch s;
  auto cfg = runnable();
  cfg.entrypoint = args{"/bin/sh", "-c", "id"};
  auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  edit_config(img, [](nlohmann::ordered_json& c) { c["config"]["Cmd"] = nullptr; });
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("args").get<args>(), (args{"/bin/sh", "-c", "id"}));
}

// process.env: the image's Env, runc's PATH where it has none, and HOME from the rootfs's
// /etc/passwd for the resolved user where it has none.
TEST(Create, EnvGetsPathAndHomeOfTheUser) {
  scratch s;
  auto cfg = runnable("app");
  cfg.env = {"LANG=C.UTF-8"};
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("env").get<args>(),
            (args{"LANG=C.UTF-8", default_path_env, "HOME=/home/app"}));
}

// An image's HOME wins over /etc/passwd's (umoci overwrote it).
TEST(Create, ImageHomeWins) {
  scratch s;
  auto cfg = runnable("app");
  cfg.env = {"HOME=/custom", "PATH=/bin"};
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(process_of(*rep).at("env").get<args>(), (args{"HOME=/custom", "PATH=/bin"}));
}

// --env, --cwd and --user modify the image config before conversion: the user they name is
// resolved in the rootfs, its HOME yields to --env's, and the new cwd is created for it.
TEST(Create, EnvCwdUserOptionsOverrideTheImage) {
  scratch s;
  auto cfg = runnable("root");
  cfg.env = {"PATH=/bin", "LANG=C", "HOME=/root"};
  cfg.working_dir = "/etc";
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  create_options opts;
  opts.env = {"HOME=/srv/home", "EXTRA=1"};
  opts.cwd = "/srv/work";
  opts.user = "app:staff";
  auto rep = create(img.ref(), s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
  const auto proc = process_of(*rep);
  EXPECT_EQ(proc.at("env").get<args>(), (args{"PATH=/bin", "LANG=C", "HOME=/srv/home", "EXTRA=1"}));
  EXPECT_EQ(proc.at("cwd"), "/srv/work");
  EXPECT_EQ(proc.at("user"), (json{{"uid", 1000}, {"gid", 50}}));
  ASSERT_TRUE(is_dir(s.in_rootfs("srv/work")));
  if (::geteuid() == 0) {
    struct stat st{};
    ASSERT_EQ(::stat(s.in_rootfs("srv/work").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 50u);
  }
}

// A bad option is refused before anything is unpacked: no bundle directory at all.
TEST(Create, BadOptionFailsBeforeUnpack) {
  scratch s;
  const auto img = build_layout(s.layout, "t", etc_layers(), runnable());
  for (const auto& bad : {create_options{.env = {"NOEQUALS"}}, create_options{.env = {"=v"}}}) {
    auto rep = create(img.ref(), s.bundle, bad);
    ASSERT_FALSE(rep);
    EXPECT_EQ(rep.error().code(), errc::invalid_argument) << rep.error().message();
    EXPECT_FALSE(path_exists(s.bundle));
  }
  create_options relative;
  relative.cwd = "work";
  auto rep = create(img.ref(), s.bundle, relative);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::invalid_argument) << rep.error().message();
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
  create_options unknown;
  unknown.user = "nobody";
  rep = create(img.ref(), s.bundle, unknown);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::not_found) << rep.error().message();
  EXPECT_NE(rep.error().message().find("\"nobody\""), std::string::npos) << rep.error().message();
}

// --rootless: the rootfs unpacked rootless and config.json as `runc spec --rootless` writes
// it, mapping the caller; the WorkingDir made for it belongs to the caller.
TEST(Create, RootlessBundleMapsTheCaller) {
  scratch s;
  auto cfg = runnable();
  cfg.working_dir = "/srv/run";
  const auto img = build_layout(s.layout, "t", etc_layers(), cfg);
  create_options opts;
  opts.unpack.rootless = true;
  auto rep = create(img.ref(), s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_TRUE(rep->unpack.rootless);
  const auto rc = json::parse(rep->config_json);
  EXPECT_EQ(rc.at("linux").at("uidMappings"),
            (json{{{"containerID", 0}, {"hostID", ::geteuid()}, {"size", 1}}}));
  EXPECT_EQ(rc.at("linux").at("gidMappings"),
            (json{{{"containerID", 0}, {"hostID", ::getegid()}, {"size", 1}}}));
  EXPECT_FALSE(rc.at("linux").contains("resources"));
  EXPECT_EQ(rc.at("process").at("user"), (json{{"uid", 0}, {"gid", 0}}));  // root's wheel dropped
  struct stat st{};
  ASSERT_EQ(::stat(s.in_rootfs("srv/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

// --rootless maps only the caller: an image user other than root is an error that --user
// 0 overrides.
TEST(Create, RootlessWithImageUserNeedsUserZero) {
  scratch s;
  const auto img = build_layout(s.layout, "t", etc_layers(), runnable("app"));
  create_options opts;
  opts.unpack.rootless = true;
  auto rep = create(img.ref(), s.bundle, opts);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::invalid_argument) << rep.error().message();
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
  opts.user = "0";
  rep = create(img.ref(), s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
}

// conversion.md "Annotations": Labels win over the image's own fields (os.features
// included), and the manifest's annotations are not copied (a converter SHOULD NOT).
TEST(Create, AnnotationsFromConfigNotManifest) {
  scratch s;
  auto img = build_layout(s.layout, "t", etc_layers(), runnable());
  edit_config(img, [](nlohmann::ordered_json& c) {
    c["os.features"] = {"f1", "f2"};
    c["config"]["Labels"] = {{"org.opencontainers.image.architecture", "from-label"},
                             {"", "no key"}};
    c["config"]["StopSignal"] = "SIGINT";
    c["config"]["ExposedPorts"] = {{"8080/tcp", nlohmann::ordered_json::object()}};
  });
  edit_manifest(img, [](nlohmann::ordered_json& m) {
    m["annotations"] = {{"org.example.from-manifest", "x"}};
  });
  auto rep = create(img.ref(), s.bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  const auto ann = json::parse(rep->config_json).at("annotations");
  EXPECT_EQ(ann.at("org.opencontainers.image.architecture"), "from-label");
  EXPECT_EQ(ann.at("org.opencontainers.image.os"), "linux");
  EXPECT_EQ(ann.at("org.opencontainers.image.os.features"), "f1,f2");
  EXPECT_EQ(ann.at("org.opencontainers.image.stopSignal"), "SIGINT");
  EXPECT_EQ(ann.at("org.opencontainers.image.exposedPorts"), "8080/tcp");
  EXPECT_FALSE(ann.contains("org.example.from-manifest"));
  // A label with an empty key cannot be a runtime-spec annotation: left out, and said so.
  EXPECT_FALSE(ann.contains(""));
  ASSERT_EQ(rep->warnings.size(), 1u);
  EXPECT_EQ(rep->warnings[0].first, "runtime.annotations.key");
}

// create reads oci-archive: and docker-archive: in place, and --platform picks the image:
// from an archived image index, or checks the one image a docker-archive holds.
TEST(Create, FromArchivesWithPlatform) {
  scratch s;
  auto amd = build_layout(s.layout, "amd", etc_layers({file("which", "amd64")}), runnable());
  config_overrides arm_cfg = runnable();
  arm_cfg.architecture = "arm64";
  auto arm = build_layout(s.layout, "arm", etc_layers({file("which", "arm64")}), arm_cfg);
  nlohmann::ordered_json index = {{"schemaVersion", 2},
                                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                  {"manifests",
                                   {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                     {"digest", amd.manifest_digest.str()},
                                     {"size", amd.manifest_size},
                                     {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}},
                                    {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                     {"digest", arm.manifest_digest.str()},
                                     {"size", arm.manifest_size},
                                     {"platform", {{"architecture", "arm64"}, {"os", "linux"}}}}}}};
  const auto text = index.dump();
  const auto d = write_blob(amd, text);
  write_bytes(
      s.layout + "/index.json",
      nlohmann::ordered_json{{"schemaVersion", 2},
                             {"manifests",
                              {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                {"digest", d.str()},
                                {"size", text.size()},
                                {"annotations", {{"org.opencontainers.image.ref.name", "t"}}}}}}}
          .dump());
  const std::string oci_archive = s.tmp.sub("image.oci.tar");
  write_oci_archive(amd, oci_archive);
  const std::string docker_archive = s.tmp.sub("image.docker.tar");
  write_docker_archive(amd, docker_archive);

  auto ref = parse_reference("oci-archive:" + oci_archive + ":t");
  ASSERT_TRUE(ref) << ref.error().message();
  create_options opts;
  opts.unpack.platform = *parse_platform("linux/arm64");
  auto rep = create(*ref, s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(read_bytes(s.in_rootfs("which")), "arm64");
  EXPECT_EQ(
      json::parse(rep->config_json).at("annotations").at("org.opencontainers.image.architecture"),
      "arm64");

  ref = parse_reference("docker-archive:" + docker_archive);
  ASSERT_TRUE(ref) << ref.error().message();
  opts.unpack.force = true;
  opts.unpack.platform = *parse_platform("linux/amd64");
  rep = create(*ref, s.bundle, opts);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(read_bytes(s.in_rootfs("which")), "amd64");
  opts.unpack.platform = *parse_platform("linux/arm64");
  rep = create(*ref, s.bundle, opts);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().code(), errc::not_found) << rep.error().message();
}

}  // namespace
}  // namespace ocipipe::testing
