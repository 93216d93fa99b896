// Progress (issue 4 item 9, DESIGN.md §4): bytes done of the image's total
// and the layer at hand, as data from the library and as stderr lines from
// the CLI.

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

built_image three_layers(const temp_dir& tmp) {
  return build_layout(tmp.sub("layout"), "t",
                      {layer_spec{{file("a", std::string(300000, 'a'))}},
                       layer_spec{{file("b", std::string(5000, 'b'))}, layer_compression::zstd},
                       layer_spec{{file("c", "c")}, layer_compression::none}});
}

TEST(UnpackProgress, ReportsBytesOfTheImageTotalAndEachLayerInOrder) {
  temp_dir tmp;
  const auto img = three_layers(tmp);
  std::uint64_t total = 0;
  for (const auto& l : img.layers) total += static_cast<std::uint64_t>(l.size);
  std::vector<progress_update> updates;
  unpack_options o;
  o.progress = [&](const progress_update& u) { updates.push_back(u); };
  auto r = unpack(img.ref(), tmp.sub("rootfs"), o);
  ASSERT_TRUE(r) << r.error().message();
  std::vector<std::string> finished;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    EXPECT_EQ(updates[i].total_bytes, total);
    if (i > 0) {
      EXPECT_GE(updates[i].done_bytes, updates[i - 1].done_bytes);
    }
    if (updates[i].finished_one) finished.push_back(updates[i].current);
  }
  ASSERT_EQ(finished.size(), 3u);
  EXPECT_EQ(finished[0].rfind("layer 0 of 3 (", 0), 0u) << finished[0];
  EXPECT_EQ(finished[2].rfind("layer 2 of 3 (", 0), 0u) << finished[2];
  EXPECT_EQ(updates.back().done_bytes, total);
}

TEST(CliProgress, AlwaysWritesOneLinePerLayerAndBlobOffATerminal) {
  temp_dir tmp;
  const auto img = three_layers(tmp);
  auto u = run_ocipipe({"unpack", "--progress=always", img.ref().str(), tmp.sub("rootfs")});
  ASSERT_TRUE(u.ok()) << u.describe();
  EXPECT_NE(u.err.find("(100%), layer 2 of 3 ("), std::string::npos) << u.err;
  EXPECT_EQ(std::count(u.err.begin(), u.err.end(), '\n'), 3) << u.err;
  auto v = run_ocipipe({"validate", "--progress=always", img.ref().str()});
  ASSERT_TRUE(v.ok()) << v.describe();
  EXPECT_NE(v.err.find("validate: "), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("(100%), blob "), std::string::npos) << v.err;
  auto quiet = run_ocipipe({"unpack", img.ref().str(), tmp.sub("rootfs2")});
  ASSERT_TRUE(quiet.ok()) << quiet.describe();
  EXPECT_EQ(quiet.err, "") << "no progress when stderr is not a terminal";
}

}  // namespace
}  // namespace ocipipe::testing
