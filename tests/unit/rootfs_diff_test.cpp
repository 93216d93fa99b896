// Unit tests of stages/rootfs_diff on made-up path records: one test per kind of
// change pack --diff must turn into layer entries (add, modify, chmod, chown, delete a
// file or a directory, replace a directory as a whole, type changes, symlink retarget,
// hardlink added, racy records, nothing changed), and the order of the result.

#include "stages/rootfs_diff.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ocipipe {
namespace {

constexpr std::uint32_t reg = 0100000, dir = 0040000, lnk = 0120000;

// Each record gets its own inode number and times, as a real walk would.
path_record rec(std::string path, std::uint32_t type, std::uint64_t ino, std::uint32_t perm = 0644) {
  path_record r;
  r.path = std::move(path);
  r.mode = type | perm;
  r.ino = ino;
  r.size = type == reg ? 10 : 0;
  r.mtime_sec = 1700000000;
  r.ctime_sec = 1700000100;
  r.ctime_nsec = static_cast<std::int64_t>(ino);
  r.btime_sec = 1700000100;
  r.btime_nsec = static_cast<std::int64_t>(ino);
  return r;
}

// A small base tree: etc/, etc/passwd, etc/ssl/, etc/ssl/a, etc/ssl/b, usr/, usr/bin/,
// usr/bin/env -> ../../bin/env, usr/bin/tool.
std::vector<path_record> base() {
  std::vector<path_record> t = {
      rec("etc", dir, 1, 0755),      rec("etc/passwd", reg, 2), rec("etc/ssl", dir, 3, 0755),
      rec("etc/ssl/a", reg, 4),      rec("etc/ssl/b", reg, 5),  rec("usr", dir, 6, 0755),
      rec("usr/bin", dir, 7, 0755),  rec("usr/bin/env", lnk, 8, 0777), rec("usr/bin/tool", reg, 9, 0755),
  };
  t[7].link_target = "../../bin/env";
  t[7].size = t[7].link_target.size();
  return t;
}

path_record* at(std::vector<path_record>& t, const std::string& path) {
  for (auto& r : t)
    if (r.path == path) return &r;
  ADD_FAILURE() << "no " << path;
  return nullptr;
}

void remove_path(std::vector<path_record>& t, const std::string& path) {
  std::erase_if(t, [&](const path_record& r) { return r.path == path || r.path.rfind(path + "/", 0) == 0; });
}

void insert(std::vector<path_record>& t, path_record r) {
  auto pos = std::lower_bound(t.begin(), t.end(), r,
                              [](const path_record& a, const path_record& b) { return rootfs_path_less(a.path, b.path); });
  t.insert(pos, std::move(r));
}

// "+path" for add, "-path" for whiteout, "*path" for opaque whiteout, "?path" for an add
// that needs a content check.
std::vector<std::string> show(const std::vector<rootfs_change>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    switch (c.what) {
      case rootfs_change::kind::add: out.push_back((c.check_content ? "?" : "+") + c.path); break;
      case rootfs_change::kind::whiteout: out.push_back("-" + c.path); break;
      case rootfs_change::kind::opaque_whiteout: out.push_back("*" + c.path); break;
    }
  }
  return out;
}

std::vector<std::string> diff(const std::vector<path_record>& was, const std::vector<path_record>& is) {
  auto r = rootfs_diff(was, is);
  EXPECT_TRUE(r) << r.error().message();
  return r ? show(*r) : std::vector<std::string>{"<error>"};
}

// A change to an entry in place: content written (size, mtime, ctime move), or
// metadata only (ctime moves); the parent directory is untouched.
void touch_ctime(path_record& r) { r.ctime_sec += 1000; }

TEST(RootfsDiff, NothingChangedGivesNoChanges) {
  EXPECT_TRUE(diff(base(), base()).empty());
  EXPECT_TRUE(diff({}, {}).empty());
}

TEST(RootfsDiff, AddedFileComesWithItsChangedParentDirectory) {
  auto now = base();
  touch_ctime(*at(now, "etc"));
  at(now, "etc")->mtime_sec += 1000;
  insert(now, rec("etc/hostname", reg, 20));
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc", "+etc/hostname"}));
}

TEST(RootfsDiff, ModifiedFileInPlaceIsAddedAlone) {
  auto now = base();
  auto* p = at(now, "etc/passwd");
  p->size = 11;
  p->mtime_sec += 5000;
  touch_ctime(*p);
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/passwd"}));
}

TEST(RootfsDiff, ContentChangeWithSizeAndMtimeRestoredIsCaughtByCtime) {
  auto now = base();
  touch_ctime(*at(now, "etc/ssl/a"));  // same size, `touch -r` back to the old mtime
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/ssl/a"}));
}

TEST(RootfsDiff, ChmodAndChownAreChanges) {
  auto chmod = base();
  at(chmod, "usr/bin/tool")->mode = reg | 04755;
  touch_ctime(*at(chmod, "usr/bin/tool"));
  EXPECT_EQ(diff(base(), chmod), (std::vector<std::string>{"+usr/bin/tool"}));
  auto chown = base();
  at(chown, "etc/ssl/b")->uid = 1000;
  at(chown, "etc/ssl/b")->gid = 1000;
  touch_ctime(*at(chown, "etc/ssl/b"));
  EXPECT_EQ(diff(base(), chown), (std::vector<std::string>{"+etc/ssl/b"}));
  // Even a change of mode alone with the ctime (somehow) unchanged counts.
  auto sneaky = base();
  at(sneaky, "etc/passwd")->mode = reg | 0600;
  EXPECT_EQ(diff(base(), sneaky), (std::vector<std::string>{"+etc/passwd"}));
}

TEST(RootfsDiff, DeletedFileGivesAWhiteout) {
  auto now = base();
  remove_path(now, "etc/ssl/a");
  touch_ctime(*at(now, "etc/ssl"));
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/ssl", "-etc/ssl/a"}));
}

TEST(RootfsDiff, DeletedDirectoryGivesOneWhiteoutNotOnePerChild) {
  auto now = base();
  remove_path(now, "etc/ssl");
  touch_ctime(*at(now, "etc"));
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc", "-etc/ssl"}));
  auto all = base();
  remove_path(all, "etc");
  remove_path(all, "usr");
  EXPECT_EQ(diff(base(), all), (std::vector<std::string>{"-etc", "-usr"}));
}

TEST(RootfsDiff, DirectoryReplacedAsAWholeGivesAnOpaqueWhiteoutAndAllItsChildren) {
  auto now = base();
  remove_path(now, "etc/ssl");
  touch_ctime(*at(now, "etc"));
  insert(now, rec("etc/ssl", dir, 30, 0755));
  insert(now, rec("etc/ssl/b", reg, 31));  // same name as before, new file
  insert(now, rec("etc/ssl/c", reg, 32));
  EXPECT_EQ(diff(base(), now),
            (std::vector<std::string>{"+etc", "+etc/ssl", "*etc/ssl", "+etc/ssl/b", "+etc/ssl/c"}));
}

TEST(RootfsDiff, DirectoryRecreatedWithTheSameInodeNumberIsToldByItsBirthTime) {
  auto now = base();
  auto* ssl = at(now, "etc/ssl");
  ssl->btime_nsec += 1;  // the filesystem reused inode 3
  touch_ctime(*ssl);
  remove_path(now, "etc/ssl/a");
  remove_path(now, "etc/ssl/b");
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/ssl", "*etc/ssl"}));
  // Without birth times on either side only the inode number can tell.
  auto was = base(), same = base();
  for (auto* t : {&was, &same})
    for (auto& r : *t) r.btime_sec = r.btime_nsec = 0;
  remove_path(same, "etc/ssl/a");
  touch_ctime(*at(same, "etc/ssl"));
  EXPECT_EQ(diff(was, same), (std::vector<std::string>{"+etc/ssl", "-etc/ssl/a"}));
}

TEST(RootfsDiff, FileThatBecameADirectoryGetsAnOpaqueWhiteout) {
  auto now = base();
  remove_path(now, "etc/passwd");
  insert(now, rec("etc/passwd", dir, 40, 0755));
  insert(now, rec("etc/passwd/x", reg, 41));
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/passwd", "*etc/passwd", "+etc/passwd/x"}));
}

TEST(RootfsDiff, DirectoryThatBecameAFileIsAddedWithoutWhiteoutsForItsChildren) {
  auto now = base();
  remove_path(now, "etc/ssl");
  insert(now, rec("etc/ssl", reg, 50));
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc/ssl"}));
}

TEST(RootfsDiff, SymlinkRetargetedIsAChangeEvenWithTheSameLength) {
  auto now = base();
  auto* env = at(now, "usr/bin/env");
  env->link_target = "../../bin/enw";  // same length; a real retarget is a new inode too
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+usr/bin/env"}));
  auto replaced = base();
  remove_path(replaced, "usr/bin/env");
  auto l = rec("usr/bin/env", lnk, 60, 0777);
  l.link_target = "/bin/busybox";
  insert(replaced, l);
  EXPECT_EQ(diff(base(), replaced), (std::vector<std::string>{"+usr/bin/env"}));
}

TEST(RootfsDiff, FileTurnedSymlinkIsAdded) {
  auto now = base();
  remove_path(now, "usr/bin/tool");
  auto l = rec("usr/bin/tool", lnk, 61, 0777);
  l.link_target = "env";
  insert(now, l);
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+usr/bin/tool"}));
}

TEST(RootfsDiff, HardlinkAddedAddsBothNames) {
  // ln etc/passwd etc/passwd2: the link count of the shared inode moves its ctime,
  // so the old name is a change too, and the layer can carry the pair as a hardlink.
  auto now = base();
  touch_ctime(*at(now, "etc"));
  auto* p = at(now, "etc/passwd");
  touch_ctime(*p);
  auto second = *p;
  second.path = "etc/passwd2";
  insert(now, second);
  EXPECT_EQ(diff(base(), now), (std::vector<std::string>{"+etc", "+etc/passwd", "+etc/passwd2"}));
}

TEST(RootfsDiff, RacyRecordWithMatchingMetadataAsksForAContentCheck) {
  auto was = base();
  at(was, "etc/ssl/a")->content = digest::parse("sha256:" + std::string(64, 'a')).value();
  EXPECT_EQ(diff(was, was), (std::vector<std::string>{"?etc/ssl/a"}));
  auto now = was;
  at(now, "etc/ssl/a")->size = 3;  // a visible change needs no content check
  auto r = rootfs_diff(was, now);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE((*r)[0].check_content);
}

TEST(RootfsDiff, AddReferencesTheCurrentAndRecordedEntries) {
  auto now = base();
  touch_ctime(*at(now, "usr/bin/tool"));
  insert(now, rec("usr/bin/new", reg, 70));
  auto r = rootfs_diff(base(), now);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(show(*r), (std::vector<std::string>{"+usr/bin/new", "+usr/bin/tool"}));
  EXPECT_EQ(now[(*r)[0].current].path, "usr/bin/new");
  EXPECT_EQ((*r)[0].recorded, rootfs_change::npos);
  EXPECT_EQ(now[(*r)[1].current].path, "usr/bin/tool");
  EXPECT_EQ(base()[(*r)[1].recorded].path, "usr/bin/tool");
}

TEST(RootfsDiff, ChangesComeInTreeOrderWithNamesThatSortAroundTheSlash) {
  // "a-c" and "a.b" sort after everything below "a": the whiteout of a/x comes
  // before the add of a.b, in tree order, and the unchanged a-c is left out.
  std::vector<path_record> was = {rec("a", dir, 1, 0755), rec("a/x", reg, 2), rec("a-c", reg, 3)};
  auto now = was;
  remove_path(now, "a/x");
  touch_ctime(*at(now, "a"));
  insert(now, rec("a.b", reg, 4));
  EXPECT_EQ(diff(was, now), (std::vector<std::string>{"+a", "-a/x", "+a.b"}));
}

TEST(RootfsDiff, UnsortedOrEmptyPathsAreRefused) {
  std::vector<path_record> bad = {rec("b", reg, 1), rec("a", reg, 2)};
  auto r = rootfs_diff(bad, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  std::vector<path_record> dup = {rec("a", reg, 1), rec("a", reg, 2)};
  EXPECT_FALSE(rootfs_diff({}, dup));
  std::vector<path_record> empty = {rec("", reg, 1)};
  EXPECT_FALSE(rootfs_diff(empty, {}));
}

}  // namespace
}  // namespace ocipipe
