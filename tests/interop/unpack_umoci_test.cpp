// ocipipe unpack against umoci unpack on the real images of datasets/build.sh: the two rootfs
// trees must be equal entry by entry (type, mode with setuid/setgid/sticky, owner, size,
// sha256 of content, symlink target, hardlink groups, xattrs, mtimes of files and symlinks to
// the nanosecond, device numbers). Directory mtimes are not compared. Needs root (umoci
// restores owners only as root) and the datasets.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kShownDifferences = 50;

// Runs argv; success when it exits 0, else a failure naming the command and its stderr.
::testing::AssertionResult ran_ok(const std::vector<std::string>& argv) {
  command_result r = run_command(argv);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << format_command(argv) << ": " << r.describe();
}

// umoci 0.4.7 writes BUNDLE/rootfs (plus config.json, umoci.json and an mtree manifest).
::testing::AssertionResult umoci_unpack(const std::string& name, const std::string& bundle) {
  return ran_ok({"umoci", "unpack", "--image", dataset_layout(name) + ":" + name, bundle});
}

::testing::AssertionResult ocipipe_unpack(const std::string& ref, const std::string& rootfs) {
  return ran_ok({ocipipe_binary(), "unpack", ref, rootfs});
}

void expect_equal_trees(const std::string& a, const std::string& b, const std::string& what) {
  const auto diffs = compare_trees(a, b);
  EXPECT_TRUE(diffs.empty()) << what << ": " << diffs.size() << " differences (A = \"" << a
                             << "\", B = \"" << b << "\"):\n"
                             << format_differences(diffs, kShownDifferences);
}

void expect_same_as_umoci(const std::string& name) {
  if (::geteuid() != 0) GTEST_FAIL() << "this test needs root: umoci restores owners only as root";
  OCIPIPE_REQUIRE_DATASET(name);
  temp_dir tmp;
  const std::string bundle = tmp.sub("umoci-bundle");
  const std::string rootfs = tmp.sub("ocipipe-rootfs");
  ASSERT_TRUE(umoci_unpack(name, bundle));
  ASSERT_TRUE(ocipipe_unpack(dataset_ref(name), rootfs));
  expect_equal_trees(bundle + "/rootfs", rootfs, "umoci (A) vs ocipipe (B), " + name);
}

TEST(UnpackMatchesUmoci, Debian) { expect_same_as_umoci("debian"); }

TEST(UnpackMatchesUmoci, DebianSlim) { expect_same_as_umoci("debian-slim"); }

TEST(UnpackMatchesUmoci, DebianPy) { expect_same_as_umoci("debian-py"); }

// umoci 0.4.7 cannot read zstd layers; debian-slim-zstd holds the same layer tars as
// debian-slim (datasets/ocilayout.py zstd recompresses them), so ocipipe must give the same
// tree from either.
TEST(UnpackZstd, DebianSlimZstdMatchesGzip) {
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  OCIPIPE_REQUIRE_DATASET("debian-slim-zstd");
  temp_dir tmp;
  const std::string gzip_rootfs = tmp.sub("gzip");
  const std::string zstd_rootfs = tmp.sub("zstd");
  ASSERT_TRUE(ocipipe_unpack(dataset_ref("debian-slim"), gzip_rootfs));
  ASSERT_TRUE(ocipipe_unpack(dataset_ref("debian-slim-zstd"), zstd_rootfs));
  expect_equal_trees(gzip_rootfs, zstd_rootfs, "debian-slim (A) vs debian-slim-zstd (B)");
}

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::set<std::string> dir_names(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename());
  return names;
}

// What datasets/build.sh puts in debian-slim's upper layers (its build_debian-slim checks the
// lower layers really had these paths): layer A deletes usr/share/doc, usr/share/man and the
// contents of var/lib/apt/lists and adds a hardlink pair; layer B is an opaque whiteout of
// etc/apt/apt.conf.d (which has lower content) plus one new file. Whiteouts hide lower
// layers only and are never extracted themselves (image-spec layer.md#whiteouts).
TEST(UnpackWhiteouts, DebianSlimHonoursWhiteoutsAndOpaqueWhiteout) {
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  temp_dir tmp;
  const std::string r = tmp.sub("rootfs");
  ASSERT_TRUE(ocipipe_unpack(dataset_ref("debian-slim"), r));

  EXPECT_FALSE(exists_no_follow(r + "/usr/share/doc")) << "whited-out /usr/share/doc is present";
  EXPECT_FALSE(exists_no_follow(r + "/usr/share/man")) << "whited-out /usr/share/man is present";
  EXPECT_TRUE(exists_no_follow(r + "/usr/share")) << "/usr/share itself must stay";
  EXPECT_TRUE(exists_no_follow(r + "/var/lib/apt/lists"));
  EXPECT_EQ(dir_names(r + "/var/lib/apt/lists"), std::set<std::string>{});
  EXPECT_EQ(dir_names(r + "/etc/apt/apt.conf.d"), std::set<std::string>{"99ocipipe"})
      << "the opaque whiteout must hide every lower entry of etc/apt/apt.conf.d";
  EXPECT_TRUE(exists_no_follow(r + "/etc/apt/apt.conf.d")) << "an opaque directory stays";

  // No whiteout marker may reach the rootfs, anywhere.
  std::vector<std::string> markers;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(r, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename().string().rfind(".wh.", 0) == 0) markers.push_back(it->path());
  }
  EXPECT_EQ(ec, std::error_code{}) << "walking " << r;
  EXPECT_TRUE(markers.empty()) << "whiteout files extracted, first: " << markers.front();

  struct stat a {}, b {};
  ASSERT_EQ(::lstat((r + "/opt/hl/a").c_str(), &a), 0);
  ASSERT_EQ(::lstat((r + "/opt/hl/b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "/opt/hl/a and /opt/hl/b must stay one inode";
}

}  // namespace
}  // namespace ocipipe::testing
