// Every kind of config.json `create` writes validates against runtime-spec's JSON schema
// (config-schema.json from Debian's golang-github-opencontainers-specs-dev, checked with
// python3-jsonschema; tests/support/runtime_schema.h): one bundle per feature of the
// conversion (each User form, Env/HOME, --env/--cwd/--user, --tty/--args, a missing
// WorkingDir, Volumes, annotations, --rootless, an oci-archive with --platform), made by
// ocipipe::create() from images built in the test, all checked in one python run. runc_test.cpp
// checks the bundles it runs the same way.

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/runtime_schema.h"
#include "tests/support/test_env.h"
#include "tests/support/user_files.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::ordered_json;
using strings = std::vector<std::string>;


struct schema_case {
  std::string name;
  std::string user;                               ///< Config.User
  std::function<void(config_overrides&)> config;  ///< more of the image config
  std::function<void(json&)> edit;                ///< fields config_overrides lacks
  std::function<void(create_options&)> options;   ///< create's options
};

std::vector<schema_case> cases() {
  auto none = [](auto&) {};
  std::vector<schema_case> out;
  for (const std::string user :
       {"", "1000", "1000:1000", "app", "app:staff", "1000:staff", "app:10", "4242"})
    out.push_back({"User \"" + user + "\"", user, none, none, none});
  out.push_back({"Env with HOME and PATH", "app",
                 [](config_overrides& c) {
                   c.env = {"HOME=/custom", "PATH=/bin", "LANG=C"};
                 },
                 none, none});
  out.push_back({"--env --cwd --user", "", none, none, [](create_options& o) {
                   o.env = {"HOME=/x", "NEW=1"};
                   o.cwd = "/srv/work";
                   o.user = "app:staff";
                 }});
  out.push_back({"--tty --args", "", none, none, [](create_options& o) {
                   o.terminal = true;
                   o.args = strings{"/bin/echo", "a,b", ""};
                 }});
  out.push_back({"WorkingDir missing", "app",
                 [](config_overrides& c) { c.working_dir = "/opt/app/run"; }, none, none});
  out.push_back({"Entrypoint, Cmd null", "", none,
                 [](json& c) {
                   c["config"]["Entrypoint"] = {"/bin/sh", "-c", "id"};
                   c["config"]["Cmd"] = nullptr;
                 },
                 none});
  out.push_back({"Volumes", "",
                 [](config_overrides& c) {
                   c.volumes = {"/data", "/var/lib/db/", "//a/./b"};
                 },
                 none, none});
  out.push_back(
      {"annotations", "", none,
       [](json& c) {
         c["variant"] = "v1";
         c["os.version"] = "1.2";
         c["os.features"] = {"f1"};
         c["author"] = "someone";
         c["config"]["StopSignal"] = "SIGQUIT";
         c["config"]["ExposedPorts"] = {{"80/tcp", json::object()}, {"53/udp", json::object()}};
         c["config"]["Labels"] = {{"org.opencontainers.image.os", "label"}, {"", "dropped"}};
       },
       none});
  out.push_back({"--rootless", "",
                 [](config_overrides& c) {
                   c.working_dir = "/srv/run";
                   c.volumes = {"/data"};
                 },
                 none, [](create_options& o) { o.unpack.rootless = true; }});
  out.push_back({"--rootless --user 0", "app", none, none, [](create_options& o) {
                   o.unpack.rootless = true;
                   o.user = "0";
                 }});
  return out;
}

// The bundle of one case, from an image of its own; "" after a failure of the test.
std::string create_case(const temp_dir& tmp, std::size_t index, const schema_case& c) {
  const std::string where = tmp.sub("case" + std::to_string(index));
  config_overrides cfg;
  cfg.cmd = strings{"/bin/sh"};
  cfg.user = c.user;
  c.config(cfg);
  layer_spec layer{{dir("etc/"), file("etc/passwd", passwd_text), file("etc/group", group_text)}};
  auto img = build_layout(where + "/layout", "t", {layer}, cfg);
  edit_config(img, c.edit);
  create_options opts;
  c.options(opts);
  auto rep = create(img.ref(), where + "/bundle", opts);
  EXPECT_TRUE(rep) << c.name << ": " << rep.error().message();
  return rep ? rep->config_json : "";
}

// The cases' config.json files, and runc spec's own, validate.
TEST(RuntimeSchema, EveryCreateCaseValidates) {
  temp_dir tmp("ocipipe-schema");
  std::vector<runtime_config_doc> docs;
  const auto all = cases();
  for (std::size_t i = 0; i < all.size(); ++i)
    docs.push_back({all[i].name, create_case(tmp, i, all[i])});
  if (HasFailure()) return;

  // From an oci-archive, picked by --platform out of an image index.
  {
    const std::string dir = tmp.sub("archive");
    config_overrides cfg;
    cfg.cmd = strings{"/bin/sh"};
    auto img = build_layout(dir + "/layout", "t", {layer_spec{{file("x", "y")}}}, cfg);
    nest_in_index(img);
    write_oci_archive(img, dir + "/image.tar");
    auto ref = parse_reference("oci-archive:" + dir + "/image.tar:t");
    ASSERT_TRUE(ref) << ref.error().message();
    create_options opts;
    opts.unpack.platform = *parse_platform("linux/amd64");
    auto rep = create(*ref, dir + "/bundle", opts);
    ASSERT_TRUE(rep) << rep.error().message();
    docs.push_back({"oci-archive --platform linux/amd64", rep->config_json});
  }
  EXPECT_TRUE(match_runtime_schema(docs));
}

// `runc spec` and `runc spec --rootless` write what the schema accepts, and the check itself
// catches a broken document (so a pass above means something).
TEST(RuntimeSchema, RuncSpecPassesAndBrokenConfigFails) {
  temp_dir tmp("ocipipe-schema");
  std::vector<runtime_config_doc> docs;
  for (const bool rootless : {false, true}) {
    const std::string dir = tmp.sub(rootless ? "rootless" : "plain");
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    run_options in_dir;
    in_dir.cwd = dir;
    auto r = run_command(rootless ? strings{"runc", "spec", "--rootless"} : strings{"runc", "spec"},
                         in_dir);
    ASSERT_TRUE(r.ok()) << r.describe();
    docs.push_back({dir, read_bytes(dir + "/config.json")});
  }
  EXPECT_TRUE(match_runtime_schema(docs));

  auto broken = json::parse(docs[0].json);
  broken["process"]["user"]["uid"] = -1;
  broken["process"].erase("cwd");
  const auto result = match_runtime_schema({{"broken", broken.dump()}});
  ASSERT_FALSE(result);
  EXPECT_TRUE(contains(result.message(), "broken: /process/user/uid")) << result.message();
  EXPECT_TRUE(contains(result.message(), "'cwd' is a required property")) << result.message();
}

}  // namespace
}  // namespace ocipipe::testing
