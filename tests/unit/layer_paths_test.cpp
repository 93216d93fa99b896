// stages/layer_paths: what the current layer wrote, so whiteouts hide lower
// layers only (umoci#232, moby#17766).
#include <gtest/gtest.h>

#include "stages/layer_paths.h"

namespace ocipipe {
namespace {

TEST(LayerPaths, RecordsWrittenPathsAndTheirAncestors) {
  layer_paths p;
  p.add("usr/share/doc/x");
  EXPECT_TRUE(p.wrote("usr/share/doc/x"));
  EXPECT_FALSE(p.wrote("usr/share/doc"));
  EXPECT_TRUE(p.wrote_at_or_below("usr/share/doc"));
  EXPECT_TRUE(p.wrote_at_or_below("usr"));
  EXPECT_FALSE(p.wrote_at_or_below("usr/share/man"));
  EXPECT_FALSE(p.wrote_at_or_below("us"));
}

TEST(LayerPaths, SiblingsShareAncestors) {
  layer_paths p;
  p.add("a/b/c");
  p.add("a/b/d");
  p.add("a/e");
  EXPECT_TRUE(p.wrote_at_or_below("a/b"));
  EXPECT_TRUE(p.wrote_at_or_below("a"));
  EXPECT_TRUE(p.wrote("a/e"));
}

TEST(LayerPaths, ClearForgetsTheLayer) {
  layer_paths p;
  p.add("a/b");
  p.clear();
  EXPECT_FALSE(p.wrote("a/b"));
  EXPECT_FALSE(p.wrote_at_or_below("a"));
}

}  // namespace
}  // namespace ocipipe
