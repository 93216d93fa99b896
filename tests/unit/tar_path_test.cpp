// stages/tar_path: entry path cleaning and whiteout names (image-spec layer.md).
#include <gtest/gtest.h>

#include "stages/tar_path.h"

namespace ocipipe {
namespace {

struct clean_case {
  const char* raw;
  const char* want;  // nullptr: unsafe_path
};

class CleanEntryPath : public ::testing::TestWithParam<clean_case> {};

TEST_P(CleanEntryPath, GivesRelativePathOrRefusesEscape) {
  const auto& c = GetParam();
  auto got = clean_entry_path(c.raw);
  if (c.want) {
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, c.want);
  } else {
    ASSERT_FALSE(got) << "cleaned to " << *got;
    EXPECT_EQ(got.error().code(), errc::unsafe_path);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CleanEntryPath,
    ::testing::Values(clean_case{"etc/passwd", "etc/passwd"}, clean_case{"./etc/passwd", "etc/passwd"},
                      clean_case{"/etc/passwd", "etc/passwd"}, clean_case{"etc//x/./y/", "etc/x/y"},
                      clean_case{"./", ""}, clean_case{".", ""}, clean_case{"a/../b", "b"},
                      clean_case{"a/b/../../c", "c"}, clean_case{"../x", nullptr},
                      clean_case{"a/../../x", nullptr}, clean_case{"/../etc", nullptr},
                      clean_case{"..", nullptr}));

TEST(ClassifyWhiteout, OrdinaryNameIsNone) {
  auto w = classify_whiteout("etc/passwd");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, whiteout_kind::none);
}

TEST(ClassifyWhiteout, WhiteoutNamesItsSibling) {
  auto w = classify_whiteout("usr/share/.wh.doc");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, whiteout_kind::whiteout);
  EXPECT_EQ(w->target, "usr/share/doc");
}

TEST(ClassifyWhiteout, TopLevelWhiteout) {
  auto w = classify_whiteout(".wh.etc");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, whiteout_kind::whiteout);
  EXPECT_EQ(w->target, "etc");
}

TEST(ClassifyWhiteout, OpaqueWhiteoutNamesItsDirectory) {
  auto w = classify_whiteout("etc/apt/.wh..wh..opq");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, whiteout_kind::opaque);
  EXPECT_EQ(w->target, "etc/apt");
}

TEST(ClassifyWhiteout, OpaqueWhiteoutAtRootNamesTheRootfs) {
  auto w = classify_whiteout(".wh..wh..opq");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, whiteout_kind::opaque);
  EXPECT_EQ(w->target, "");
}

// image-spec#1301: ".wh." alone must not act as an opaque whiteout.
TEST(ClassifyWhiteout, EmptyWhiteoutNameIsRefused) {
  auto w = classify_whiteout("etc/.wh.");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::unsafe_path);
}

// A whiteout of "." or ".." would hide the directory or, at the top of a
// layer, the rootfs's parent (found by trying to break ocipipe).
TEST(ClassifyWhiteout, WhiteoutOfDotOrDotDotIsRefused) {
  for (const char* p : {".wh..", ".wh...", "etc/.wh..", "etc/.wh..."}) {
    auto w = classify_whiteout(p);
    ASSERT_FALSE(w) << p;
    EXPECT_EQ(w.error().code(), errc::unsafe_path) << p;
  }
}

// "x/.wh.hidden/payload" created a directory named like a whiteout.
TEST(ClassifyWhiteout, WhiteoutNameUsedAsDirectoryIsRefused) {
  for (const char* p : {".wh.y/child", "x/.wh.hidden/payload", "a/.wh.b/c/d"}) {
    auto w = classify_whiteout(p);
    ASSERT_FALSE(w) << p;
    EXPECT_EQ(w.error().code(), errc::unsafe_path) << p;
  }
}

TEST(ClassifyWhiteout, AufsMetadataIsReservedNotAWhiteout) {
  for (const char* p : {".wh..wh.plnk", ".wh..wh.plnk/1234.567", "a/.wh..wh.aufs", "a/.wh..wh.plnk/x/y"}) {
    auto w = classify_whiteout(p);
    ASSERT_TRUE(w) << p;
    EXPECT_EQ(w->kind, whiteout_kind::reserved) << p;
  }
}

TEST(SplitParent, SplitsAtLastSlash) {
  EXPECT_EQ(split_parent("a/b/c").first, "a/b");
  EXPECT_EQ(split_parent("a/b/c").second, "c");
  EXPECT_EQ(split_parent("c").first, "");
  EXPECT_EQ(split_parent("c").second, "c");
}

}  // namespace
}  // namespace ocipipe
