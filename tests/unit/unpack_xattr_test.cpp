// An xattr the filesystem refuses (too big for its xattr space) is a warning,
// not a failure (issue 4 item 3): the files are right without it.

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

TEST(UnpackXattrs, XattrTheFilesystemRefusesIsAWarning) {
  temp_dir tmp;
  auto big = file("p", "content");
  big.xattrs.push_back({"user.big", std::string(70000, 'x')});  // over every filesystem's 64 KiB
  const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{big, file("q", "q")}}});
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(tmp.sub("rootfs/p")), "content");
  EXPECT_TRUE(path_exists(tmp.sub("rootfs/q")));
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_EQ(r->warnings[0].first, "rootfs.unsupported");
  EXPECT_NE(r->warnings[0].second.find("user.big"), std::string::npos) << r->warnings[0].second;
}

}  // namespace
}  // namespace ocipipe::testing
