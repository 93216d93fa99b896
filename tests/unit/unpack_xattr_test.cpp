// Xattrs in unpack (issue 4 item 3): one the filesystem refuses (too big for
// its xattr space) is a warning, not a failure; a directory written again
// takes the new entry's xattrs, not the union with the old ones.

#include <sys/xattr.h>

#include <algorithm>
#include <string>
#include <vector>

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

// "name=value;" for each user.* xattr of `path`, in name order.
std::string user_xattrs_of(const std::string& path) {
  std::string out;
  for (const auto& [name, value] : xattrs_of(path))
    if (name.rfind("user.", 0) == 0) out += name + "=" + value + ";";
  return out;
}

// layer.md "Changeset over existing files": the entry's attributes replace
// the directory's (found by the synthetic-image comparison with umoci).
TEST(UnpackXattrs, DirectoryWrittenAgainTakesOnlyTheNewEntrysXattrs) {
  temp_dir tmp;
  auto d1 = dir("d/");
  d1.xattrs = {{"user.a", "1"}, {"user.keep", "old"}};
  auto d2 = dir("d/");
  d2.xattrs = {{"user.b", "2"}, {"user.keep", "new"}};
  auto root = dir("./");
  root.xattrs = {{"user.root", "r"}};
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer_spec{{root, d1, dir("e/")}}, layer_spec{{d2}}, layer_spec{{dir("./"), dir("e/")}}});
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(user_xattrs_of(tmp.sub("rootfs/d")), "user.b=2;user.keep=new;");
  EXPECT_EQ(user_xattrs_of(tmp.sub("rootfs/e")), "");
  EXPECT_EQ(user_xattrs_of(tmp.sub("rootfs")), "") << "the last entry for the rootfs had no xattrs";
}

}  // namespace
}  // namespace ocipipe::testing
