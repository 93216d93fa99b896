// Write avoidance (issue 9 item 5): unpack -j4 skips regular files that a
// scanned later layer removes. Whatever it skips, the rootfs must be exactly
// the one -j1 (which writes everything) makes: these images put each rule's
// edge cases behind a big lower layer, so the scan is done when they apply.

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "pipeline/layer_prescan.h"
#include "pipeline/resolve.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

// Enough entries ahead of the interesting ones that the upper layers are
// scanned long before they are applied.
std::vector<tar_spec_entry> with_filler(std::vector<tar_spec_entry> tail) {
  std::vector<tar_spec_entry> all{dir("a-filler/")};
  for (int i = 0; i < 1500; ++i) all.push_back(file("a-filler/f" + std::to_string(i), std::string(200, 'x')));
  all.insert(all.end(), tail.begin(), tail.end());
  return all;
}

void expect_same_as_serial(const std::vector<layer_spec>& layers) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", layers);
  unpack_options serial, parallel;
  serial.jobs = 1;
  parallel.jobs = pipeline::prescan_min_jobs;
  auto a = unpack(img.ref(), tmp.sub("serial"), serial);
  ASSERT_TRUE(a) << a.error().message();
  auto b = unpack(img.ref(), tmp.sub("parallel"), parallel);
  ASSERT_TRUE(b) << b.error().message();
  for (const auto& d : compare_trees(tmp.sub("serial"), tmp.sub("parallel"))) ADD_FAILURE() << d.to_string();
}

TEST(WriteAvoidance, FilesWhitedOutAboveAreAbsentAndTheRestIntact) {
  expect_same_as_serial({layer(with_filler({dir("usr/"), dir("usr/share/"), dir("usr/share/doc/"),
                                            file("usr/share/doc/README", "doc"), file("usr/share/keep", "k"),
                                            file("etc-motd", "hi")})),
                         layer({file("usr/share/doc/.wh.README"), file(".wh.etc-motd")})});
}

TEST(WriteAvoidance, HardlinkInTheSameLayerToARemovedFileKeepsItsBytes) {
  expect_same_as_serial({layer(with_filler({dir("usr/"), dir("usr/bin/"), file("usr/bin/perl5.36", "perl", 0755),
                                            hardlink("usr/bin/perl", "usr/bin/perl5.36"),
                                            hardlink("usr/bin/perl-again", "usr/bin/perl5.36")})),
                         layer({file("usr/bin/.wh.perl5.36")})});
}

TEST(WriteAvoidance, HardlinkInAMiddleLayerToAFileRemovedLaterKeepsIt) {
  expect_same_as_serial({layer(with_filler({dir("lib/"), file("lib/libx.so.1", "elf")})),
                         layer({hardlink("lib/libx.so", "lib/libx.so.1")}),
                         layer({file("lib/.wh.libx.so.1")})});
}

TEST(WriteAvoidance, WhiteoutOfASymlinkDoesNotRemoveWhatWasWrittenThroughIt) {
  expect_same_as_serial({layer(with_filler({dir("real/"), symlink("l", "real"), file("l/f", "through the link")})),
                         layer({file(".wh.l")})});
}

TEST(WriteAvoidance, OpaqueDirectoryAndReplacementByDirectoryOrSymlink) {
  expect_same_as_serial({layer(with_filler({dir("var/"), dir("var/cache/"), file("var/cache/a", "a"),
                                            dir("var/cache/sub/"), file("var/cache/sub/b", "b"), file("x", "file"),
                                            file("y", "file"), dir("z/"), file("z/in", "in")})),
                         layer({dir("var/cache/"), file("var/cache/.wh..wh..opq"), file("var/cache/new", "n"),
                                dir("x/"), file("x/child", "c"), symlink("y", "x"), file("z", "now a file")})});
}

TEST(WriteAvoidance, ImplicitParentsOfARemovedFileStay) {
  expect_same_as_serial({layer(with_filler({file("deep/er/still/f", "implicit parents")})),
                         layer({file("deep/er/still/.wh.f")})});
}

TEST(WriteAvoidance, MiddleLayerWritingBelowOrOverTheFileWins) {
  expect_same_as_serial({layer(with_filler({file("p", "lower"), file("q", "lower q")})),
                         layer({file("q", "middle q")}), layer({file(".wh.p"), file(".wh.q")})});
}

// The scan itself, waited for: deterministic answers for layer 0's files.
TEST(WriteAvoidance, PrescanPublishesUpperLayersInOrderAndAnswersDead) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer(with_filler({file("gone", "g"), file("kept", "k"), file("linked", "l")})),
                                 layer({hardlink("alias", "linked")}), layer({file(".wh.gone"), file(".wh.linked")})});
  auto opened = pipeline::open_image(img.ref(), {});
  ASSERT_TRUE(opened) << opened.error().message();
  pipeline::decode_limits limits;
  pipeline::layer_prescan scan(opened->store, opened->image, limits);
  for (int i = 0; i < 500 && scan.scanned() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(scan.scanned(), 2u);
  EXPECT_TRUE(scan.dead(0, "gone"));
  EXPECT_FALSE(scan.dead(0, "kept"));
  EXPECT_FALSE(scan.dead(0, "linked"));  // layer 1 links to it first
  EXPECT_FALSE(scan.dead(2, "gone"));    // nothing above the top layer
}

TEST(WriteAvoidance, PrescanSkipsImagesWhoseUpperLayersAreTheirBulk) {
  temp_dir tmp;
  std::vector<tar_spec_entry> big;
  for (int i = 0; i < 50; ++i) big.push_back(file("big" + std::to_string(i), std::string(4096, static_cast<char>('a' + i % 26))));
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("small", "s")}), layer(big), layer({file(".wh.small")})});
  auto opened = pipeline::open_image(img.ref(), {});
  ASSERT_TRUE(opened) << opened.error().message();
  pipeline::decode_limits limits;
  pipeline::layer_prescan scan(opened->store, opened->image, limits);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(scan.scanned(), 0u);
  EXPECT_FALSE(scan.dead(0, "small"));
}

}  // namespace
}  // namespace ocipipe::testing
