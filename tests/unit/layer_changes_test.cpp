// stages/layer_changes: which later-layer changes make a lower regular file
// dead (write avoidance, issue 9 item 5), and which make it needed.

#include "stages/layer_changes.h"

#include <vector>

#include <gtest/gtest.h>

namespace ocipipe {
namespace {

using effect = layer_changes::effect;

TEST(LayerChanges, WhiteoutOfTheFileOrAnAncestorRemovesIt) {
  layer_changes l;
  l.add_whiteout("usr/share/doc");
  l.add_whiteout("etc/motd");
  EXPECT_EQ(l.on_lower_file("usr/share/doc/bash/README"), effect::removes);
  EXPECT_EQ(l.on_lower_file("etc/motd"), effect::removes);
  EXPECT_EQ(l.on_lower_file("etc/motd.d/x"), effect::none);
  EXPECT_EQ(l.on_lower_file("usr/share/docs"), effect::none);
}

TEST(LayerChanges, OpaqueAncestorRemovesTheWholeSubtreeRootIncluded) {
  layer_changes l;
  l.add_opaque("var/cache");
  EXPECT_EQ(l.on_lower_file("var/cache/apt/pkgcache.bin"), effect::removes);
  EXPECT_EQ(l.on_lower_file("var/cache"), effect::none);  // the directory itself stays
  layer_changes root;
  root.add_opaque("");
  EXPECT_EQ(root.on_lower_file("anything/at/all"), effect::removes);
}

TEST(LayerChanges, EntryAtThePathOrNonDirectoryAtAnAncestorRemovesIt) {
  layer_changes l;
  l.add_entry("bin/sh", entry_type::symlink, "");
  l.add_entry("opt", entry_type::regular, "");
  l.add_entry("srv", entry_type::directory, "");
  l.add_entry("etc/app.conf", entry_type::directory, "");
  EXPECT_EQ(l.on_lower_file("bin/sh"), effect::removes);
  EXPECT_EQ(l.on_lower_file("opt/tool/bin"), effect::removes);
  EXPECT_EQ(l.on_lower_file("srv/data"), effect::none);  // directories merge
  EXPECT_EQ(l.on_lower_file("etc/app.conf"), effect::removes);
}

TEST(LayerChanges, HardlinkToTheFileOrEntriesBelowItNeedIt) {
  layer_changes l;
  l.add_whiteout("usr/bin/perl5.36");
  l.add_entry("usr/bin/perl", entry_type::hardlink, "usr/bin/perl5.36");
  EXPECT_EQ(l.on_lower_file("usr/bin/perl5.36"), effect::needs);
  layer_changes below;
  below.add_entry("data/x/y", entry_type::regular, "");
  EXPECT_EQ(below.on_lower_file("data/x"), effect::needs);
  layer_changes link_below;
  link_below.add_entry("z", entry_type::hardlink, "a/b/c");
  EXPECT_EQ(link_below.on_lower_file("a/b"), effect::needs);
}

TEST(LayerChanges, DeadOnlyWhenARemoverComesBeforeAnyLayerThatNeedsIt) {
  layer_changes quiet, remover, needer;
  quiet.add_entry("etc/hosts", entry_type::regular, "");
  remover.add_whiteout("usr/share/man");
  needer.add_entry("keep", entry_type::hardlink, "usr/share/man/man1/ls.1.gz");
  const std::string f = "usr/share/man/man1/ls.1.gz";
  using layers = std::vector<layer_changes>;
  EXPECT_TRUE(dead_in_later_layers(layers{quiet, remover}, f));
  EXPECT_FALSE(dead_in_later_layers(layers{quiet, needer, remover}, f));
  EXPECT_TRUE(dead_in_later_layers(layers{remover, needer}, f));
  EXPECT_FALSE(dead_in_later_layers(layers{quiet}, f));
  EXPECT_FALSE(dead_in_later_layers({}, f));
}

}  // namespace
}  // namespace ocipipe
