// Bundles made by `ocipipe create` run under runc (issue 5): the image's own entrypoint and
// cmd, --args, every form of Config.User, Env and HOME, a WorkingDir missing from the rootfs,
// Entrypoint with and without Cmd, --env/--cwd/--user, --rootless, and oci-archive: and
// docker-archive: references with --platform. The process prints its `id`, `pwd` and `env`,
// which the tests compare with what image-spec conversion.md asks for. Each config.json also
// passes runtime-spec's JSON schema (tests/support/runtime_schema.h), and what ocipipe writes
// for --rootless is compared with `runc spec --rootless` itself.
//
// Images: debian-slim from datasets/ (its layers hardlinked, or copied across filesystems,
// into a layout of the test), plus one small layer of our own /etc/passwd and /etc/group,
// under a config edited per test. Each bundle takes one create (~2 s) and one runc run.
// Needs root (runc) and the datasets. Each test gets its own runc state directory (--root)
// and container id, so parallel tests never collide, and deletes its container whatever
// happens.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ostream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/runtime_schema.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::ordered_json;
using strings = std::vector<std::string>;

constexpr const char* kSlim = "debian-slim";

// runc takes ids of [A-Za-z0-9_+.-] only; a parameterised test's name has a "/".
std::string unique_container_id() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info->name();
  for (auto& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-')
      ch = '-';
  return "ocipipe-test-" + name + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

// A runc container of one test: `runc --root STATE run --bundle BUNDLE ID`, deleted with
// `runc delete -f` on destruction even when the test failed half-way.
class runc_container {
 public:
  runc_container(std::string state_root, std::string bundle)
      : state_root_(std::move(state_root)),
        bundle_(std::move(bundle)),
        id_(unique_container_id()) {}
  ~runc_container() { (void)run_command({"runc", "--root", state_root_, "delete", "-f", id_}); }
  runc_container(const runc_container&) = delete;
  runc_container& operator=(const runc_container&) = delete;

  /// Runs the container in the foreground, no terminal, stdin from /dev/null.
  command_result run() {
    run_options opts;
    opts.timeout = std::chrono::seconds(120);
    return run_command({"runc", "--root", state_root_, "run", "--bundle", bundle_, id_}, opts);
  }

 private:
  std::string state_root_;
  std::string bundle_;
  std::string id_;
};

// `ocipipe create [extra...] REF BUNDLE`, the schema check of its config.json, then runc;
// returns runc's result. `tmp` holds the bundle and runc's state.
void create_and_run(const temp_dir& tmp, const std::string& ref, const strings& extra,
                    command_result& out) {
  const std::string bundle = tmp.sub("bundle");
  strings args = {"create"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(ref);
  args.push_back(bundle);
  command_result created = run_ocipipe(args);
  ASSERT_TRUE(created.ok()) << "ocipipe " << format_command(args) << ": " << created.describe();
  EXPECT_TRUE(bundle_matches_runtime_schema(bundle));

  runc_container c(tmp.sub("runc-state"), bundle);  // destroyed (deleted) before tmp
  out = c.run();
}

void require_root() {
  if (::geteuid() != 0) GTEST_FAIL() << "this test needs root to run runc";
}

// ---- debian-slim as it is ----

void create_and_run_slim(const strings& extra, command_result& out) {
  require_root();
  if (::testing::Test::HasFatalFailure()) return;
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  create_and_run(tmp, dataset_ref(kSlim), extra, out);
}

TEST(RuncRun, ArgsOverrideRunsEcho) {
  command_result r;
  create_and_run_slim({"--args", "/bin/echo,ok"}, r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "ok\n") << "stderr: " << r.err;
}

// debian-slim: entrypoint /usr/bin/python3, cmd ["-c", "print('hello from debian-slim')"]
// (datasets/build.sh, build_debian-slim).
TEST(RuncRun, ImageEntrypointAndCmdRun) {
  command_result r;
  create_and_run_slim({}, r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from debian-slim\n") << "stderr: " << r.err;
}

// create reads the dataset's oci-archive and docker-archive in place, --platform picking
// the image (issue 5 item 4), and the bundle runs the image's own command.
TEST(RuncRun, ArchivesWithPlatformRun) {
  require_root();
  if (HasFatalFailure()) return;
  OCIPIPE_REQUIRE_DATASET(kSlim);
  for (const std::string& ref :
       {"oci-archive:" + dataset_archive("debian-slim.oci-archive.tar"),
        "docker-archive:" + dataset_archive("debian-slim.docker-archive.tar")}) {
    SCOPED_TRACE(ref);
    ASSERT_TRUE(path_exists(ref.substr(ref.find(':') + 1)))
        << "dataset archive missing; build the datasets first: " << source_dir()
        << "/datasets/build.sh";
    temp_dir tmp;
    command_result r;
    create_and_run(tmp, ref, {"--platform", "linux/amd64"}, r);
    if (HasFatalFailure()) return;
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, "hello from debian-slim\n") << "stderr: " << r.err;
  }
}

// ---- debian-slim under edited configs ----

// The users and groups of the extra layer (replacing Debian's files whole).
const std::string passwd_text =
    "root:x:0:0:root:/root:/bin/bash\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const std::string group_text =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "staff:x:50:app\n"
    "app:x:1000:\n"
    "nogroup:x:65534:\n";

// What the process prints, one item per line: id, pwd, the owner of the cwd, then env.
const std::string probe = "id; pwd; stat -c %u:%g .; env";

std::string read_blob(const std::string& layout, const std::string& digest) {
  return read_bytes(layout + "/blobs/sha256/" + digest.substr(digest.find(':') + 1));
}

std::string store_blob(const std::string& layout, const std::string& bytes) {
  const auto d = sha256_of(bytes);
  write_bytes(layout + "/blobs/sha256/" + d.str().substr(7), bytes);
  return d.str();
}

// Hardlinks (or, across filesystems, copies) every blob of the dataset layout into `layout`.
void share_blobs(const std::string& from, const std::string& layout) {
  ASSERT_EQ(::mkdir(layout.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((layout + "/blobs").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((layout + "/blobs/sha256").c_str(), 0755), 0);
  for (const auto& name : names_in(from + "/blobs/sha256")) {
    const std::string src = from + "/blobs/sha256/" + name, dst = layout + "/blobs/sha256/" + name;
    if (::link(src.c_str(), dst.c_str()) != 0) write_bytes(dst, read_bytes(src));
  }
  write_bytes(layout + "/oci-layout", read_bytes(from + "/oci-layout"));
}

// "oci:LAYOUT:t": debian-slim plus the passwd/group layer, its config changed by `edit`.
std::string edited_slim(const temp_dir& tmp, const std::function<void(json&)>& edit) {
  const std::string from = dataset_layout(kSlim), layout = tmp.sub("layout");
  share_blobs(from, layout);
  const auto index = json::parse(read_bytes(from + "/index.json"));
  auto manifest = json::parse(read_blob(from, index["manifests"][0]["digest"]));
  auto config = json::parse(read_blob(from, manifest["config"]["digest"]));

  const std::string tar =
      make_tar({file("etc/passwd", passwd_text), file("etc/group", group_text)});
  const std::string gz = gzip_bytes(tar);
  manifest["layers"].push_back({{"mediaType", layer_media_type(layer_compression::gzip)},
                                {"digest", store_blob(layout, gz)},
                                {"size", gz.size()}});
  config["rootfs"]["diff_ids"].push_back(sha256_of(tar).str());
  config["history"].push_back({{"created_by", "ocipipe runc_test: /etc/passwd, /etc/group"}});
  edit(config);
  const std::string config_bytes = config.dump();
  manifest["config"]["digest"] = store_blob(layout, config_bytes);
  manifest["config"]["size"] = config_bytes.size();
  const std::string manifest_bytes = manifest.dump();
  json out_index = {{"schemaVersion", 2},
                    {"manifests",
                     {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                       {"digest", store_blob(layout, manifest_bytes)},
                       {"size", manifest_bytes.size()},
                       {"annotations", {{"org.opencontainers.image.ref.name", "t"}}}}}}};
  write_bytes(layout + "/index.json", out_index.dump());
  return "oci:" + layout + ":t";
}

// What the probe printed.
struct probe_output {
  std::string id, pwd, cwd_owner;
  /// As `env` printed it, sorted (sh passes its variables on in its own order), less what
  /// the shell itself adds (PWD, SHLVL, _). Their order in config.json: runtime_config_test.cpp.
  strings env;
};

// `env` sorted, for comparison with probe_output::env.
strings sorted(strings env) {
  std::sort(env.begin(), env.end());
  return env;
}

// Creates a bundle of debian-slim with its config edited, runs it, parses the probe output.
void run_edited(const std::function<void(json&)>& edit, const strings& create_flags,
                probe_output& out) {
  require_root();
  if (::testing::Test::HasFatalFailure()) return;
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  const std::string ref = edited_slim(tmp, edit);
  if (::testing::Test::HasFatalFailure()) return;
  command_result r;
  create_and_run(tmp, ref, create_flags, r);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  out.id = lines[0];
  out.pwd = lines[1];
  out.cwd_owner = lines[2];
  for (std::size_t i = 3; i < lines.size(); ++i) {
    const auto name = lines[i].substr(0, lines[i].find('='));
    if (name != "PWD" && name != "SHLVL" && name != "_") out.env.push_back(lines[i]);
  }
  std::sort(out.env.begin(), out.env.end());
}

// The probe as Entrypoint + Cmd (sh -c, then the script), User set, WorkingDir "/".
std::function<void(json&)> with_user(const std::string& user,
                                     std::function<void(json&)> more = {}) {
  return [user, more](json& c) {
    if (user.empty()) {
      c["config"].erase("User");
    } else {
      c["config"]["User"] = user;
    }
    c["config"]["Entrypoint"] = {"/bin/sh", "-c"};
    c["config"]["Cmd"] = {probe};
    c["config"]["WorkingDir"] = "/";
    if (more) more(c);
  };
}

const std::string slim_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct user_form {
  std::string label;  ///< the test's name
  std::string user;
  std::string id;    ///< `id` output
  std::string home;  ///< HOME in env
};

// For GoogleTest's messages: the User, not the struct's bytes.
void PrintTo(const user_form& f, std::ostream* os) { *os << "User \"" << f.user << "\""; }

class RuncRunUser : public ::testing::TestWithParam<user_form> {};

// config.md "User", every form, run by runc: the process's ids and groups are those
// conversion.md resolves (supplementary groups only without an explicit group), and HOME is
// the user's home from /etc/passwd ("/" for a uid it does not list).
TEST_P(RuncRunUser, RunsAsResolved) {
  const auto& f = GetParam();
  probe_output p;
  run_edited(with_user(f.user), {}, p);
  if (HasFatalFailure()) return;
  EXPECT_EQ(p.id, f.id);
  EXPECT_EQ(p.pwd, "/");
  EXPECT_EQ(p.env, sorted({slim_path, "LANG=C.UTF-8", "HOME=" + f.home}));
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, RuncRunUser,
    ::testing::Values(
        user_form{"Unset", "", "uid=0(root) gid=0(root) groups=0(root),10(wheel)", "/root"},
        user_form{"Uid", "1000", "uid=1000(app) gid=1000(app) groups=1000(app),10(wheel),50(staff)",
                  "/home/app"},
        user_form{"UidGid", "1000:50", "uid=1000(app) gid=50(staff) groups=50(staff)", "/home/app"},
        user_form{"Name", "app", "uid=1000(app) gid=1000(app) groups=1000(app),10(wheel),50(staff)",
                  "/home/app"},
        user_form{"NameGroup", "app:staff", "uid=1000(app) gid=50(staff) groups=50(staff)",
                  "/home/app"},
        user_form{"UidGroup", "1000:wheel", "uid=1000(app) gid=10(wheel) groups=10(wheel)",
                  "/home/app"},
        user_form{"NameGid", "app:50", "uid=1000(app) gid=50(staff) groups=50(staff)", "/home/app"},
        user_form{"UnlistedUid", "4242:4242", "uid=4242 gid=4242 groups=4242", "/"}),
    [](const ::testing::TestParamInfo<user_form>& info) { return info.param.label; });

// Env: the image's own HOME wins over /etc/passwd's, and an image without PATH gets runc's.
TEST(RuncRunEnv, ImageHomeWinsAndPathDefaults) {
  probe_output p;
  run_edited(with_user("app",
                       [](json& c) {
                         c["config"]["Env"] = {"HOME=/custom", "LANG=C"};
                       }),
             {}, p);
  if (HasFatalFailure()) return;
  EXPECT_EQ(p.env, sorted({"HOME=/custom", "LANG=C", slim_path}));
}

// B59: a WorkingDir no layer creates is created in the rootfs, owned by the process user, and
// the process starts in it.
TEST(RuncRunWorkingDir, MissingWorkingDirIsCreatedForTheUser) {
  probe_output p;
  run_edited(with_user("app", [](json& c) { c["config"]["WorkingDir"] = "/srv/app/run"; }), {}, p);
  if (HasFatalFailure()) return;
  EXPECT_EQ(p.pwd, "/srv/app/run");
  EXPECT_EQ(p.cwd_owner, "1000:1000");
  EXPECT_EQ(p.id, "uid=1000(app) gid=1000(app) groups=1000(app),10(wheel),50(staff)");
}

// B58: Entrypoint alone (Cmd null, where the base image had one), and Cmd alone.
TEST(RuncRunArgs, EntrypointWithoutCmdAndCmdWithoutEntrypoint) {
  probe_output with_entrypoint;
  run_edited(with_user("app",
                       [](json& c) {
                         c["config"]["Entrypoint"] = {"/bin/sh", "-c", probe};
                         c["config"]["Cmd"] = nullptr;
                       }),
             {}, with_entrypoint);
  if (HasFatalFailure()) return;
  EXPECT_EQ(with_entrypoint.id, "uid=1000(app) gid=1000(app) groups=1000(app),10(wheel),50(staff)");

  probe_output with_cmd;
  run_edited(with_user("app",
                       [](json& c) {
                         c["config"].erase("Entrypoint");
                         c["config"]["Cmd"] = {"/bin/sh", "-c", probe};
                       }),
             {}, with_cmd);
  if (HasFatalFailure()) return;
  EXPECT_EQ(with_cmd.id, with_entrypoint.id);
  EXPECT_EQ(with_cmd.env, with_entrypoint.env);
}

// --user, --env and --cwd change the image config before conversion: the user they name
// runs, its HOME yields to --env's, and the new cwd exists, owned by that user.
TEST(RuncRunOverrides, UserEnvCwdOptions) {
  probe_output p;
  run_edited(with_user("root"),
             {"--user", "app:staff", "--env", "HOME=/override", "--env", "LANG=C", "--env",
              "EXTRA=a=b", "--cwd", "/srv/made"},
             p);
  if (HasFatalFailure()) return;
  EXPECT_EQ(p.id, "uid=1000(app) gid=50(staff) groups=50(staff)");
  EXPECT_EQ(p.pwd, "/srv/made");
  EXPECT_EQ(p.cwd_owner, "1000:50");
  EXPECT_EQ(p.env, sorted({slim_path, "LANG=C", "HOME=/override", "EXTRA=a=b"}));
}

// --rootless: runc runs the bundle in a user namespace mapping the caller (root here) to 0.
TEST(RuncRunRootless, RootlessBundleRuns) {
  probe_output p;
  run_edited(with_user("", [](json& c) { c["config"]["WorkingDir"] = "/srv/rootless"; }),
             {"--rootless"}, p);
  if (HasFatalFailure()) return;
  EXPECT_EQ(p.id, "uid=0(root) gid=0(root) groups=0(root)");
  EXPECT_EQ(p.pwd, "/srv/rootless");
  EXPECT_EQ(p.env, sorted({slim_path, "LANG=C.UTF-8", "HOME=/root"}));
}

// ---- runc spec's defaults ----

// What ocipipe takes from runc spec (and runc spec --rootless) is what runc writes: every
// field but those conversion.md fills from the image (process.args, env, cwd, user,
// terminal; annotations) is equal to runc's own output, key order included. The image is a
// small one built here: only its config matters.
TEST(RuncSpec, DefaultsEqualRuncSpecAndRuncSpecRootless) {
  for (const bool rootless : {false, true}) {
    SCOPED_TRACE(rootless ? "--rootless" : "plain");
    temp_dir tmp;
    run_options in_dir;
    in_dir.cwd = tmp.path();
    auto spec = run_command(
        rootless ? strings{"runc", "spec", "--rootless"} : strings{"runc", "spec"}, in_dir);
    ASSERT_TRUE(spec.ok()) << spec.describe();
    auto want = json::parse(read_bytes(tmp.sub("config.json")));
    config_overrides cfg;
    cfg.cmd = strings{"/bin/true"};
    const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("x", "y")}}}, cfg);
    strings flags = {"create"};
    if (rootless) flags.push_back("--rootless");
    flags.push_back(img.ref_text());
    flags.push_back(tmp.sub("bundle"));
    auto created = run_ocipipe(flags);
    ASSERT_TRUE(created.ok()) << created.describe();
    auto got = json::parse(read_bytes(tmp.sub("bundle/config.json")));
    for (auto* c : {&want, &got}) {
      for (const char* field : {"args", "env", "cwd", "user", "terminal"})
        (*c)["process"].erase(field);
      c->erase("annotations");
    }
    EXPECT_EQ(got.dump(2), want.dump(2));
  }
}

}  // namespace
}  // namespace ocipipe::testing
