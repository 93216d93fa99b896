// io/tree_walk_parallel: with threads > 1 the walk visits exactly what the
// sequential walk visits, in the same order, on the caller's thread; stops
// at the visitor's error; walks trees deeper than PATH_MAX; and a symlink on
// the way down is listed, never followed.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/tree_walk.h"
#include "tests/support/test_env.h"

namespace ocipipe::io {
namespace {

using ocipipe::testing::temp_dir;
using ocipipe::testing::write_bytes;

// Every field a walk reports, as one line per entry.
std::vector<std::string> lines_of(const std::vector<tree_entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    std::string x;
    for (const auto& [k, v] : e.xattrs) x += k + "=" + v + ";";
    out.push_back(e.path + " " + std::to_string(e.mode) + " " + std::to_string(e.size) + " " + std::to_string(e.ino) +
                  " " + std::to_string(e.nlink) + " " + std::to_string(e.mtime_sec) + "." +
                  std::to_string(e.mtime_nsec) + " " + e.link_target + " " + x);
  }
  return out;
}

// A random tree: directories 0..5 deep, wide and narrow, files, symlinks
// (to directories too, which must not be descended), empty directories.
void random_tree(const std::string& root, unsigned seed, int dirs) {
  std::mt19937 rng(seed);
  std::vector<std::string> made{""};
  for (int i = 0; i < dirs; ++i) {
    const std::string& parent = made[rng() % made.size()];
    if (std::count(parent.begin(), parent.end(), '/') >= 5) continue;
    const std::string d = (parent.empty() ? "" : parent + "/") + "d" + std::to_string(i);
    ASSERT_EQ(::mkdir((root + "/" + d).c_str(), 0755), 0) << d;
    made.push_back(d);
    for (unsigned f = rng() % 6; f > 0; --f) write_bytes(root + "/" + d + "/f" + std::to_string(f), std::string(f, 'x'));
    if (rng() % 5 == 0) {
      ASSERT_EQ(::symlink("..", (root + "/" + d + "/up").c_str()), 0);
    }
  }
}

TEST(TreeWalkParallel, VisitsWhatTheSequentialWalkVisitsInTheSameOrder) {
  temp_dir t;
  random_tree(t.path(), 7, 3000);
  auto one = walk_tree(t.path());
  ASSERT_TRUE(one) << one.error().message();
  ASSERT_GT(one->size(), 3000u);
  for (unsigned threads : {2u, 3u, 8u, 64u}) {
    tree_walk_options o;
    o.threads = threads;
    o.xattrs = threads == 3;
    auto many = walk_tree(t.path(), o);
    ASSERT_TRUE(many) << many.error().message();
    tree_walk_options o1;
    o1.xattrs = o.xattrs;
    auto want = o.xattrs ? walk_tree(t.path(), o1) : one;
    ASSERT_TRUE(want);
    EXPECT_EQ(lines_of(*many), lines_of(*want)) << threads << " threads";
  }
}

TEST(TreeWalkParallel, TheVisitorRunsOnTheCallersThreadOnly) {
  temp_dir t;
  random_tree(t.path(), 3, 500);
  const auto me = std::this_thread::get_id();
  std::size_t n = 0;
  tree_walk_options o;
  o.threads = 4;
  auto ok = for_each_tree_entry(t.path(), o, [&](tree_entry&&) -> result<void> {
    EXPECT_EQ(std::this_thread::get_id(), me);
    ++n;
    return {};
  });
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_GT(n, 500u);
}

TEST(TreeWalkParallel, StopsAtTheVisitorsErrorAndReturnsIt) {
  temp_dir t;
  random_tree(t.path(), 5, 2000);
  tree_walk_options o;
  o.threads = 4;
  std::size_t n = 0;
  auto r = for_each_tree_entry(t.path(), o, [&](tree_entry&&) -> result<void> {
    if (++n == 100) return fail(errc::cancelled, "enough");
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::cancelled);
  EXPECT_EQ(n, 100u);
}

TEST(TreeWalkParallel, WalksATreeDeeperThanOnePathMayBeLong) {
  temp_dir t;
  // 120 levels of 60 bytes: 7,320 bytes deep, past PATH_MAX (4,096), so
  // each level is made relative to the one above.
  const std::string comp(60, 'n');
  int at = ::open(t.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(at, 0);
  for (int i = 0; i < 120; ++i) {
    ASSERT_EQ(::mkdirat(at, comp.c_str(), 0755), 0) << i;
    const int next = ::openat(at, comp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(at);
    ASSERT_GE(next, 0) << i;
    at = next;
  }
  ::close(at);
  auto one = walk_tree(t.path());
  ASSERT_TRUE(one) << one.error().message();
  tree_walk_options o;
  o.threads = 2;
  auto two = walk_tree(t.path(), o);
  ASSERT_TRUE(two) << two.error().message();
  EXPECT_EQ(lines_of(*two), lines_of(*one));
}

}  // namespace
}  // namespace ocipipe::io
