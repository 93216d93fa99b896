// stages/config_edits.h: create's --env, --cwd and --user, applied to the image config before
// conversion (conversion.md: externally provided inputs modify the image config).

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stages/config_edits.h"

namespace ocipipe::testing {
namespace {

using strings = std::vector<std::string>;

image_config with_env(strings env) {
  image_config c;
  c.config.env = std::move(env);
  c.config.user = "app";
  c.config.working_dir = "/srv";
  return c;
}

// --env KEY=VALUE replaces the image's entry of KEY in its place (repeats of KEY go), else it
// is appended, in the order given.
TEST(RuntimeConfigEdits, EnvReplacesSameNameElseAppends) {
  config_edits edits;
  edits.env = {"A=9", "C=4", "PATHX=x", "B=b=c"};
  auto out = apply_config_edits(with_env({"PATH=/x", "A=1", "B=2", "A=3"}), edits);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->config.env, (strings{"PATH=/x", "A=9", "B=b=c", "C=4", "PATHX=x"}));
}

// A later --env of the same KEY wins.
TEST(RuntimeConfigEdits, LaterEnvEditWins) {
  config_edits edits;
  edits.env = {"HOME=/a", "HOME=/b"};
  auto out = apply_config_edits(with_env({}), edits);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->config.env, (strings{"HOME=/b"}));
}

TEST(RuntimeConfigEdits, EnvEditNotNameValueIsAnError) {
  for (const std::string entry : {"NOVALUE", "=v", ""}) {
    SCOPED_TRACE(entry);
    config_edits edits;
    edits.env = {entry};
    auto out = apply_config_edits(with_env({}), edits);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code(), errc::invalid_argument) << out.error().message();
  }
}

TEST(RuntimeConfigEdits, CwdAndUserReplaceOnlyWhenGiven) {
  auto same = apply_config_edits(with_env({"A=1"}), {});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->config.user, "app");
  EXPECT_EQ(same->config.working_dir, "/srv");
  EXPECT_EQ(same->config.env, strings{"A=1"});

  config_edits edits;
  edits.user = "1000:staff";
  edits.working_dir = "/tmp/work";
  auto out = apply_config_edits(with_env({}), edits);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->config.user, "1000:staff");
  EXPECT_EQ(out->config.working_dir, "/tmp/work");
  // An empty --user is the default user, root, as an image without User.
  edits.user = "";
  EXPECT_EQ(apply_config_edits(with_env({}), edits)->config.user, "");
}

}  // namespace
}  // namespace ocipipe::testing
