// Unit tests of io/tree_walk: the walk's order is tree_path_less order, symlinks are
// listed and never followed (on the way down or in stat_in_tree), lstat fields, link
// targets and xattrs are what the filesystem holds, and errors name the path.

#include "io/tree_walk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/unique_fd.h"
#include "tests/support/test_env.h"

namespace ocipipe::io {
namespace {

using ocipipe::testing::temp_dir;
using ocipipe::testing::write_bytes;

std::vector<std::string> paths_of(const std::vector<tree_entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.path);
  return out;
}

const tree_entry* find(const std::vector<tree_entry>& entries, const std::string& path) {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

TEST(TreePathLess, DirectoryComesRightBeforeItsChildren) {
  EXPECT_TRUE(tree_path_less("a", "a/b"));
  EXPECT_TRUE(tree_path_less("a/b", "a.b"));
  EXPECT_TRUE(tree_path_less("a/z", "a-b"));  // '-' (0x2d) sorts after the end of "a"
  EXPECT_TRUE(tree_path_less("a", "a.b"));
  EXPECT_FALSE(tree_path_less("a.b", "a/b"));
  EXPECT_FALSE(tree_path_less("a", "a"));
  EXPECT_TRUE(tree_path_less("a/b/c", "a/bc"));
  EXPECT_TRUE(tree_path_less("A", "a"));                // bytewise, not by locale
  EXPECT_TRUE(tree_path_less("z", "\xc3\xa9"));         // bytes compare unsigned
}

TEST(TreeWalk, ListsEveryPathBelowTheRootInTreePathOrder) {
  temp_dir t;
  for (const char* d : {"a", "a/b", "a-c", "a.b", "b"}) ASSERT_EQ(::mkdir(t.sub(d).c_str(), 0755), 0) << d;
  for (const char* f : {"a/b/x", "a/z", "a-c/y", "a.b/w", "b/.hidden", "c"}) write_bytes(t.sub(f), "x");
  auto walked = walk_tree(t.path());
  ASSERT_TRUE(walked) << walked.error().message();
  const std::vector<std::string> want = {"a",   "a/b", "a/b/x", "a/z",      "a-c", "a-c/y",
                                         "a.b", "a.b/w", "b",   "b/.hidden", "c"};
  EXPECT_EQ(paths_of(*walked), want);
  EXPECT_TRUE(std::is_sorted(walked->begin(), walked->end(),
                             [](const tree_entry& x, const tree_entry& y) { return tree_path_less(x.path, y.path); }));
}

TEST(TreeWalk, EntryFieldsAreLstatsOfThePath) {
  temp_dir t;
  write_bytes(t.sub("f"), "hello");
  ASSERT_EQ(::chown(t.sub("f").c_str(), 123, 456), 0);
  ASSERT_EQ(::chmod(t.sub("f").c_str(), 04750), 0);  // after chown, which clears setuid
  struct timespec ts[2] = {{1600000000, 5}, {1600000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, t.sub("f").c_str(), ts, 0), 0);
  ASSERT_EQ(::link(t.sub("f").c_str(), t.sub("g").c_str()), 0);
  ASSERT_EQ(::mkfifo(t.sub("p").c_str(), 0600), 0);
  auto walked = walk_tree(t.path());
  ASSERT_TRUE(walked) << walked.error().message();
  const auto* f = find(*walked, "f");
  const auto* g = find(*walked, "g");
  const auto* p = find(*walked, "p");
  ASSERT_TRUE(f && g && p);
  const struct stat st = ocipipe::testing::lstat_of(t.sub("f"));
  EXPECT_EQ(f->mode, 0100000u | 04750u);
  EXPECT_EQ(f->uid, 123u);
  EXPECT_EQ(f->gid, 456u);
  EXPECT_EQ(f->size, 5u);
  EXPECT_EQ(f->mtime_sec, 1600000000);
  EXPECT_EQ(f->mtime_nsec, 123456789);
  EXPECT_EQ(f->ctime_sec, st.st_ctim.tv_sec);
  EXPECT_EQ(f->ctime_nsec, st.st_ctim.tv_nsec);
  EXPECT_EQ(f->ino, st.st_ino);
  EXPECT_EQ(f->nlink, 2u);
  EXPECT_EQ(g->ino, f->ino);  // hardlinks share the inode
  EXPECT_TRUE(S_ISFIFO(p->mode));
}

TEST(TreeWalk, SymlinksAreListedWithTheirTargetAndNeverFollowed) {
  temp_dir outside, t;
  write_bytes(outside.sub("secret"), "s");
  ASSERT_EQ(::mkdir(t.sub("d").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), t.sub("abs").c_str()), 0);
  ASSERT_EQ(::symlink("d", t.sub("rel").c_str()), 0);
  ASSERT_EQ(::symlink("missing/nowhere", t.sub("dangling").c_str()), 0);
  auto walked = walk_tree(t.path());
  ASSERT_TRUE(walked) << walked.error().message();
  EXPECT_EQ(paths_of(*walked), (std::vector<std::string>{"abs", "d", "dangling", "rel"}));
  const auto* abs = find(*walked, "abs");
  ASSERT_TRUE(abs);
  EXPECT_TRUE(S_ISLNK(abs->mode));
  EXPECT_EQ(abs->link_target, outside.path());
  EXPECT_EQ(abs->size, outside.path().size());
  EXPECT_EQ(find(*walked, "rel")->link_target, "d");
  EXPECT_EQ(find(*walked, "dangling")->link_target, "missing/nowhere");
}

TEST(TreeWalk, LongSymlinkTargetIsReadWhole) {
  temp_dir t;
  const std::string target(3000, 'x');
  ASSERT_EQ(::symlink(target.c_str(), t.sub("l").c_str()), 0);
  auto walked = walk_tree(t.path());
  ASSERT_TRUE(walked) << walked.error().message();
  ASSERT_EQ(walked->size(), 1u);
  EXPECT_EQ((*walked)[0].link_target, target);
}

TEST(TreeWalk, XattrsAreReadOnlyWhenAsked) {
  temp_dir t;
  write_bytes(t.sub("f"), "x");
  ASSERT_EQ(::mkdir(t.sub("d").c_str(), 0755), 0);
  const std::string big(1000, 'v');
  ASSERT_EQ(::lsetxattr(t.sub("f").c_str(), "user.a", "1", 1, 0), 0);
  ASSERT_EQ(::lsetxattr(t.sub("f").c_str(), "user.big", big.data(), big.size(), 0), 0);
  ASSERT_EQ(::lsetxattr(t.sub("d").c_str(), "user.empty", "", 0, 0), 0);
  auto plain = walk_tree(t.path());
  ASSERT_TRUE(plain) << plain.error().message();
  for (const auto& e : *plain) EXPECT_TRUE(e.xattrs.empty()) << e.path;
  auto with = walk_tree(t.path(), {.xattrs = true});
  ASSERT_TRUE(with) << with.error().message();
  const auto* f = find(*with, "f");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->xattrs.at("user.a"), "1");
  EXPECT_EQ(f->xattrs.at("user.big"), big);
  const auto* d = find(*with, "d");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->xattrs.count("user.empty"), 1u);
  EXPECT_EQ(d->xattrs.at("user.empty"), "");
}

TEST(TreeWalk, RootThatIsMissingOrNotADirectoryFails) {
  temp_dir t;
  auto missing = walk_tree(t.sub("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::not_found);
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos);
  write_bytes(t.sub("file"), "x");
  auto file = walk_tree(t.sub("file"));
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), errc::invalid_argument);
}

TEST(TreeWalk, EmptyRootGivesNoEntries) {
  temp_dir t;
  auto walked = walk_tree(t.path());
  ASSERT_TRUE(walked) << walked.error().message();
  EXPECT_TRUE(walked->empty());
}

TEST(StatInTree, StatsOnePathWithoutFollowingSymlinks) {
  temp_dir outside, t;
  ASSERT_EQ(::mkdir(t.sub("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(t.sub("d/e").c_str(), 0700), 0);
  write_bytes(t.sub("d/e/f"), "abc");
  ASSERT_EQ(::lsetxattr(t.sub("d/e/f").c_str(), "user.k", "v", 1, 0), 0);
  write_bytes(outside.sub("f"), "outside");
  ASSERT_EQ(::symlink(outside.path().c_str(), t.sub("d/out").c_str()), 0);
  unique_fd root(::open(t.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root);

  auto f = stat_in_tree(root.get(), "d/e/f", true);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->path, "d/e/f");
  EXPECT_EQ(f->size, 3u);
  EXPECT_EQ(f->xattrs.at("user.k"), "v");

  auto link = stat_in_tree(root.get(), "d/out", false);
  ASSERT_TRUE(link) << link.error().message();
  EXPECT_TRUE(S_ISLNK(link->mode));
  EXPECT_EQ(link->link_target, outside.path());

  auto through = stat_in_tree(root.get(), "d/out/f", false);
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().code(), errc::not_found);

  auto missing = stat_in_tree(root.get(), "d/nope", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::not_found);

  auto dotdot = stat_in_tree(root.get(), "d/../../x", false);
  ASSERT_FALSE(dotdot);
  EXPECT_EQ(dotdot.error().code(), errc::unsafe_path);
}

}  // namespace
}  // namespace ocipipe::io
