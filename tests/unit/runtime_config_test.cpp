// stages/runtime_config.h and stages/runc_spec.h: an image config to config.json per
// image-spec conversion.md, the rest as `runc spec` (or `runc spec --rootless`) writes it.
// No filesystem: the image config and the resolved user are values. Buglog class 8 cases are
// named in the comments; create_test.cpp runs the same rules end to end.

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/runtime_config.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::ordered_json;
using args = std::vector<std::string>;

image_config with_command(std::optional<args> entrypoint, std::optional<args> cmd) {
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

image_config runnable() { return with_command(std::nullopt, args{"/bin/sh"}); }

resolved_user app_user() {
  resolved_user u;
  u.user = process_user{1000, 1000, {10, 50}};
  u.home = "/home/app";
  return u;
}

json config_of(const image_config& cfg, const runtime_config_options& opts = {},
               const resolved_user& user = {}) {
  auto rc = make_runtime_config(cfg, user, opts);
  EXPECT_TRUE(rc) << rc.error().message();
  if (rc) {
    EXPECT_TRUE(rc->warnings.empty());
  }
  return rc ? json::parse(rc->json) : json();
}

errc failure_of(const image_config& cfg, const runtime_config_options& opts = {},
                const resolved_user& user = {}) {
  auto text = make_runtime_config(cfg, user, opts);
  EXPECT_FALSE(text);
  return text ? errc::internal : text.error().code();
}

args env_of(const json& rc) { return rc["process"]["env"].get<args>(); }

std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> out;
  for (const auto& [k, v] : object.items()) out.push_back(k);
  return out;
}

// ---- process.args (conversion.md "Verbatim Fields" note 2) ----

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
    const auto rc = config_of(with_command(c.entrypoint, c.cmd));
    EXPECT_EQ(rc["process"]["args"].get<args>(), c.want);
  }
}

// B58: with nothing to run the bundle cannot be made.
TEST(RuntimeConfig, NothingToRunIsAnError) {
  for (const auto& [entrypoint, cmd] :
       std::vector<std::pair<std::optional<args>, std::optional<args>>>{
           {std::nullopt, std::nullopt}, {args{}, args{}}, {args{}, std::nullopt}}) {
    EXPECT_EQ(failure_of(with_command(entrypoint, cmd)), errc::invalid_argument);
  }
}

TEST(RuntimeConfig, ArgsOptionReplacesEntrypointAndCmd) {
  runtime_config_options opts;
  opts.args = args{"/bin/echo", "hi"};
  EXPECT_EQ(config_of(with_command(args{"a"}, args{"b"}), opts)["process"]["args"].get<args>(),
            (args{"/bin/echo", "hi"}));
  // --args also makes an image with nothing to run runnable.
  EXPECT_EQ(
      config_of(with_command(std::nullopt, std::nullopt), opts)["process"]["args"].get<args>(),
      (args{"/bin/echo", "hi"}));
}

// DESIGN.md §4: bundles are run by scripts, so no terminal unless asked.
TEST(RuntimeConfig, TerminalFalseUnlessAsked) {
  EXPECT_EQ(config_of(runnable())["process"]["terminal"], false);
  runtime_config_options opts;
  opts.terminal = true;
  EXPECT_EQ(config_of(runnable(), opts)["process"]["terminal"], true);
}

// ---- process.env (conversion.md "Verbatim Fields" note 1) ----

// Env as the image has it, then runc's default PATH only when Env has none.
TEST(RuntimeConfig, PathDefaultOnlyWhenEnvHasNone) {
  auto cfg = runnable();
  cfg.config.env = {"LANG=C.UTF-8"};
  EXPECT_EQ(env_of(config_of(cfg)), (args{"LANG=C.UTF-8", default_path_env, "HOME=/"}));
  cfg.config.env = {"PATH=/opt/bin", "LANG=C.UTF-8"};
  EXPECT_EQ(env_of(config_of(cfg)), (args{"PATH=/opt/bin", "LANG=C.UTF-8", "HOME=/"}));
  // PATHX is another variable.
  cfg.config.env = {"PATHX=1"};
  EXPECT_EQ(env_of(config_of(cfg)), (args{"PATHX=1", default_path_env, "HOME=/"}));
}

// HOME is the user's home from /etc/passwd only when Env has none: an image's HOME wins
// (umoci overwrote it with /etc/passwd's).
TEST(RuntimeConfig, ImageHomeWinsOverPasswdHome) {
  auto cfg = runnable();
  cfg.config.env = {"PATH=/bin"};
  EXPECT_EQ(env_of(config_of(cfg, {}, app_user())), (args{"PATH=/bin", "HOME=/home/app"}));
  cfg.config.env = {"HOME=/custom", "PATH=/bin"};
  EXPECT_EQ(env_of(config_of(cfg, {}, app_user())), (args{"HOME=/custom", "PATH=/bin"}));
  // Even an empty HOME is the image's choice.
  cfg.config.env = {"HOME=", "PATH=/bin"};
  EXPECT_EQ(env_of(config_of(cfg, {}, app_user())), (args{"HOME=", "PATH=/bin"}));
}

// A terminal gets TERM=xterm, as runc spec writes it, unless Env has a TERM.
TEST(RuntimeConfig, TermOnlyWithTerminal) {
  auto cfg = runnable();
  cfg.config.env = {"PATH=/bin", "HOME=/"};
  runtime_config_options opts;
  EXPECT_EQ(env_of(config_of(cfg, opts)), (args{"PATH=/bin", "HOME=/"}));
  opts.terminal = true;
  EXPECT_EQ(env_of(config_of(cfg, opts)), (args{"PATH=/bin", "HOME=/", "TERM=xterm"}));
  cfg.config.env.push_back("TERM=dumb");
  EXPECT_EQ(env_of(config_of(cfg, opts)), (args{"PATH=/bin", "HOME=/", "TERM=dumb"}));
}

// runtime-spec process.env: NAME=value; runc refuses other entries when it starts.
TEST(RuntimeConfig, EnvEntryNotNameValueIsAnError) {
  for (const std::string entry : {"NOVALUE", "=value", ""}) {
    SCOPED_TRACE(entry);
    auto cfg = runnable();
    cfg.config.env = {"PATH=/bin", entry};
    EXPECT_EQ(failure_of(cfg), errc::invalid_argument);
  }
}

// ---- process.cwd ----

// B59: runtime-spec wants an absolute cwd; no WorkingDir means "/".
TEST(RuntimeConfig, RelativeWorkingDirIsAnError) {
  auto cfg = runnable();
  cfg.config.working_dir = "app";
  EXPECT_EQ(failure_of(cfg), errc::invalid_argument);
  cfg.config.working_dir = "";
  EXPECT_EQ(config_of(cfg)["process"]["cwd"], "/");
  cfg.config.working_dir = "/opt/app/run";
  EXPECT_EQ(config_of(cfg)["process"]["cwd"], "/opt/app/run");
}

// ---- process.user (conversion.md "Config.User") ----

TEST(RuntimeConfig, UserAndAdditionalGids) {
  const auto user = config_of(runnable(), {}, app_user())["process"]["user"];
  EXPECT_EQ(user, (json{{"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 50}}}));
  // No supplementary groups: no additionalGids at all, as runc spec writes the user.
  EXPECT_EQ(config_of(runnable())["process"]["user"], (json{{"uid", 0}, {"gid", 0}}));
}

// ---- annotations (conversion.md "Annotation Fields", "Config.ExposedPorts") ----

TEST(RuntimeConfig, AnnotationsFromImageFields) {
  auto cfg = runnable();
  cfg.variant = "v8";
  cfg.architecture = "arm64";
  cfg.os_version = "10.0.17763.1";
  cfg.author = "someone";
  cfg.created = "2024-01-02T03:04:05Z";
  cfg.config.stop_signal = "SIGQUIT";
  cfg.config.exposed_ports = {"443/tcp", "53/udp", "80/tcp"};
  cfg.config.labels = {{"com.example.team", "infra"}};
  cfg.os_features = {"win32k", "other"};
  runtime_config_options opts;
  EXPECT_EQ(config_of(cfg, opts)["annotations"],
            (json{{"com.example.team", "infra"},
                  {"org.opencontainers.image.os", "linux"},
                  {"org.opencontainers.image.architecture", "arm64"},
                  {"org.opencontainers.image.variant", "v8"},
                  {"org.opencontainers.image.os.version", "10.0.17763.1"},
                  {"org.opencontainers.image.os.features", "win32k,other"},
                  {"org.opencontainers.image.author", "someone"},
                  {"org.opencontainers.image.created", "2024-01-02T03:04:05Z"},
                  {"org.opencontainers.image.stopSignal", "SIGQUIT"},
                  {"org.opencontainers.image.exposedPorts", "443/tcp,53/udp,80/tcp"}}));
}

// conversion.md "Annotation Fields" note 1: a label of the same key takes precedence over the
// image field (the implicit values used to overwrite the labels).
TEST(RuntimeConfig, LabelsTakePrecedenceOverImageFields) {
  auto cfg = runnable();
  cfg.config.stop_signal = "SIGQUIT";
  cfg.config.exposed_ports = {"80/tcp"};
  cfg.author = "field";
  cfg.config.labels = {{"org.opencontainers.image.os", "label-os"},
                       {"org.opencontainers.image.stopSignal", "SIGTERM"},
                       {"org.opencontainers.image.exposedPorts", "8080/tcp"},
                       {"org.opencontainers.image.author", ""}};
  const auto ann = config_of(cfg)["annotations"];
  EXPECT_EQ(ann["org.opencontainers.image.os"], "label-os");
  EXPECT_EQ(ann["org.opencontainers.image.stopSignal"], "SIGTERM");
  EXPECT_EQ(ann["org.opencontainers.image.exposedPorts"], "8080/tcp");
  EXPECT_EQ(ann["org.opencontainers.image.author"], "");  // an empty label is still the label
  EXPECT_EQ(ann["org.opencontainers.image.architecture"], "amd64");
}

// runtime-spec: annotation keys must not be empty. Such a label is left out, and said so
// (conversion.md), instead of a config.json that breaks the runtime-spec.
TEST(RuntimeConfig, LabelWithEmptyKeyIsLeftOutWithWarning) {
  auto cfg = runnable();
  cfg.config.labels = {{"", "x"}, {"k", "v"}};
  auto rc = make_runtime_config(cfg, {}, {});
  ASSERT_TRUE(rc) << rc.error().message();
  const auto ann = json::parse(rc->json)["annotations"];
  EXPECT_FALSE(ann.contains(""));
  EXPECT_EQ(ann["k"], "v");
  ASSERT_EQ(rc->warnings.size(), 1u);
  EXPECT_EQ(rc->warnings[0].first, "runtime.annotations.key");
}

// Nothing to say, no annotations object (runc spec writes none).
TEST(RuntimeConfig, NoAnnotationsWhenImageSaysNothing) {
  image_config cfg;
  cfg.config.cmd = {"/bin/sh"};
  EXPECT_FALSE(config_of(cfg).contains("annotations"));
}

// ---- mounts (conversion.md "Optional Fields" note 2) ----

// Each volume is a tmpfs mount at its path, after runc spec's mounts, parents first.
TEST(RuntimeConfig, VolumesBecomeTmpfsMounts) {
  auto cfg = runnable();
  cfg.config.volumes = {"/var/lib/db/", "/data", "//srv//./cache", "/data/"};
  const auto mounts = config_of(cfg)["mounts"];
  const auto defaults = config_of(runnable())["mounts"];
  ASSERT_EQ(mounts.size(), defaults.size() + 3);
  std::vector<std::string> dests;
  for (std::size_t i = defaults.size(); i < mounts.size(); ++i) {
    EXPECT_EQ(mounts[i]["type"], "tmpfs");
    EXPECT_EQ(mounts[i]["options"], (json{"rw", "nosuid", "nodev", "noexec", "relatime"}));
    dests.push_back(mounts[i]["destination"]);
  }
  EXPECT_EQ(dests, (std::vector<std::string>{"/data", "/srv/cache", "/var/lib/db"}));
}

// B60: a volume path with "..", relative, or the root itself is refused: containerd joined
// such a path to the rootfs and seeded the volume with host files.
TEST(RuntimeConfig, VolumePathWithDotDotIsRejected) {
  for (const std::string v :
       {"/../../../../../../etc", "/data/../etc", "/data/..", "data", "", "/", "//./"}) {
    SCOPED_TRACE(v);
    auto cfg = runnable();
    cfg.config.volumes = {"/ok", v};
    EXPECT_EQ(failure_of(cfg), errc::invalid_argument);
  }
}

// ---- runc spec's defaults, and --rootless (stages/runc_spec.h) ----

TEST(RuntimeConfig, DefaultsAreRuncSpecs) {
  auto cfg = runnable();
  cfg.config.labels = {{"k", "v"}};
  const auto rc = config_of(cfg);
  EXPECT_EQ(keys_of(rc), (std::vector<std::string>{"ociVersion", "process", "root", "hostname",
                                                   "mounts", "annotations", "linux"}));
  EXPECT_EQ(rc["ociVersion"], "1.0.2-dev");
  EXPECT_EQ(rc["root"], (json{{"path", "rootfs"}, {"readonly", true}}));
  EXPECT_EQ(keys_of(rc["linux"]),
            (std::vector<std::string>{"resources", "namespaces", "maskedPaths", "readonlyPaths"}));
  EXPECT_EQ(rc["linux"]["namespaces"], (json{{{"type", "pid"}},
                                             {{"type", "network"}},
                                             {{"type", "ipc"}},
                                             {{"type", "uts"}},
                                             {{"type", "mount"}}}));
}

// --rootless: what `runc spec --rootless` changes, and nothing else (runc_test.cpp compares
// with runc's own output).
TEST(RuntimeConfig, RootlessIsRuncSpecRootless) {
  runtime_config_options opts;
  opts.rootless = rootless_ids{1234, 5678};
  const auto rc = config_of(runnable(), opts);
  const auto plain = config_of(runnable());
  EXPECT_EQ(keys_of(rc["linux"]),
            (std::vector<std::string>{"uidMappings", "gidMappings", "namespaces", "maskedPaths",
                                      "readonlyPaths"}));
  EXPECT_EQ(rc["linux"]["uidMappings"],
            (json{{{"containerID", 0}, {"hostID", 1234}, {"size", 1}}}));
  EXPECT_EQ(rc["linux"]["gidMappings"],
            (json{{{"containerID", 0}, {"hostID", 5678}, {"size", 1}}}));
  EXPECT_EQ(rc["linux"]["namespaces"], (json{{{"type", "pid"}},
                                             {{"type", "ipc"}},
                                             {{"type", "uts"}},
                                             {{"type", "mount"}},
                                             {{"type", "user"}}}));
  ASSERT_EQ(rc["mounts"].size(), plain["mounts"].size());
  for (std::size_t i = 0; i < rc["mounts"].size(); ++i) {
    const auto& m = rc["mounts"][i];
    SCOPED_TRACE(m["destination"].get<std::string>());
    if (m["destination"] == "/sys") {
      EXPECT_EQ(m, (json{{"destination", "/sys"},
                         {"type", "none"},
                         {"source", "/sys"},
                         {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}}));
    } else if (m["destination"] == "/dev/pts") {
      EXPECT_EQ(m["options"],
                (json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}));
    } else {
      EXPECT_EQ(m, plain["mounts"][i]);
    }
  }
  EXPECT_EQ(rc["process"], plain["process"]);
}

// Rootless: only 0:0 is mapped, and an unprivileged runc cannot setgroups, so supplementary
// groups go and any other user is an error instead of a bundle that fails at start.
TEST(RuntimeConfig, RootlessNeedsUserZero) {
  runtime_config_options opts;
  opts.rootless = rootless_ids{1000, 1000};
  resolved_user root;
  root.user.additional_gids = {10};
  EXPECT_EQ(config_of(runnable(), opts, root)["process"]["user"], (json{{"uid", 0}, {"gid", 0}}));
  EXPECT_EQ(failure_of(runnable(), opts, app_user()), errc::invalid_argument);
  resolved_user group_only;
  group_only.user.gid = 10;
  EXPECT_EQ(failure_of(runnable(), opts, group_only), errc::invalid_argument);
}

// JSON strings are UTF-8: an argument that is not is refused, not altered.
TEST(RuntimeConfig, NonUtf8IsAnError) {
  EXPECT_EQ(failure_of(with_command(std::nullopt, args{"/bin/echo", "\xff\xfe"})),
            errc::invalid_argument);
}

}  // namespace
}  // namespace ocipipe::testing
