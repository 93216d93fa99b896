// Unit tests of tests/support/tree_compare: two copies of one small tree, built in the test,
// compare equal; one change to the second copy is reported as exactly the check it touches.

#include "tests/support/tree_compare.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kXattrName = "user.ocipipe.test";

void check_sys(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

void write_file(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check_sys(fd >= 0, "open " + path);
  check_sys(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()),
            "write " + path);
  ::close(fd);
  check_sys(::chmod(path.c_str(), mode) == 0, "chmod " + path);  // umask-proof, keeps setuid
}

void set_mtime(const std::string& path, time_t sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  check_sys(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + path);
}

void make_dir(const std::string& path, mode_t mode) {
  check_sys(::mkdir(path.c_str(), mode) == 0, "mkdir " + path);
  check_sys(::chmod(path.c_str(), mode) == 0, "chmod " + path);
}

void make_symlink(const std::string& target, const std::string& path) {
  check_sys(::symlink(target.c_str(), path.c_str()) == 0, "symlink " + path);
}

void set_xattr(const std::string& path, const std::string& value) {
  check_sys(::lsetxattr(path.c_str(), kXattrName, value.data(), value.size(), 0) == 0,
            "lsetxattr " + path);
}

bool is_root() { return ::geteuid() == 0; }

// Whether the scratch file system takes user.* xattrs (tmpfs before Linux 6.6 does not).
bool user_xattrs_supported() {
  temp_dir probe("ocipipe-xattr-probe");
  const std::string f = probe.sub("f");
  write_file(f, "", 0644);
  return ::lsetxattr(f.c_str(), "user.ocipipe.probe", "1", 1, 0) == 0;
}

std::string pseudo_random_bytes(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (auto& c : s) {
    seed = seed * 1103515245u + 12345u;
    c = static_cast<char>(seed >> 16);
  }
  return s;
}

// The tree both sides start from. Deterministic: content, modes and the mtimes of files and
// symlinks are set explicitly, so two calls give trees equal under every check. Directory
// mtimes are left as they fall, which the comparison must ignore.
void make_tree(const std::string& root, bool with_xattr) {
  const std::string r = root + "/";
  make_dir(r + "etc", 0755);
  write_file(r + "etc/hostname", "box\n", 0644);
  make_dir(r + "bin", 0755);
  const std::string tool = "#!/bin/sh\necho tool\n";
  write_file(r + "bin/tool", tool, 04755);
  check_sys(::link((r + "bin/tool").c_str(), (r + "bin/tool-link").c_str()) == 0, "link");
  write_file(r + "bin/other", tool, 04755);  // same bytes, own inode
  make_dir(r + "lib", 0755);
  write_file(r + "lib/libx.so.1", pseudo_random_bytes(3 << 20, 7), 0644);  // > one read chunk
  make_symlink("libx.so.1", r + "lib/libx.so");
  make_symlink("/etc/passwd", r + "abs");  // absolute: must be compared, never followed
  make_symlink("missing/target", r + "dangling");
  make_dir(r + "tmp", 01777);
  check_sys(::mkfifo((r + "fifo").c_str(), 0600) == 0, "mkfifo");
  check_sys(::chmod((r + "fifo").c_str(), 0600) == 0, "chmod fifo");
  make_dir(r + "empty", 0700);
  if (is_root()) {
    make_dir(r + "dev", 0755);
    check_sys(::mknod((r + "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod");
    check_sys(::chmod((r + "dev/null").c_str(), 0666) == 0, "chmod dev/null");
  }
  if (with_xattr) set_xattr(r + "etc/hostname", "value");

  set_mtime(r + "etc/hostname", 1700000000, 123456789);
  set_mtime(r + "bin/tool", 1700000001, 1);  // also bin/tool-link: one inode
  set_mtime(r + "bin/other", 1700000001, 1);
  set_mtime(r + "lib/libx.so.1", 1700000002, 999999999);
  set_mtime(r + "lib/libx.so", 1700000003, 5);
  set_mtime(r + "abs", 1700000004, 0);
  set_mtime(r + "dangling", 1700000005, 500000000);
}

enum class needs { nothing, xattrs, root };

struct compare_case {
  const char* name;
  std::function<void(const std::string& b)> mutate;  // applied to tree B
  std::vector<tree_check> expected;                  // empty: no difference at all
  std::string expected_path;                         // one difference must be at this path
  tree_compare_options opts;
  needs requires_ = needs::nothing;
};

tree_compare_options seconds_only() {
  tree_compare_options o;
  o.mtime_seconds_only = true;
  return o;
}

tree_compare_options without_mode() {
  tree_compare_options o;
  o.compare_mode = false;
  return o;
}

tree_compare_options ignoring(std::string path) {
  tree_compare_options o;
  o.ignore_paths = {std::move(path)};
  return o;
}

std::vector<compare_case> cases() {
  return {
      {"IdenticalTrees", [](const std::string&) {}, {}, "", {}},
      {"DirectoryMtimeIsIgnored",
       [](const std::string& b) { set_mtime(b + "/etc", 1, 0); set_mtime(b, 2, 0); }, {}, "", {}},
      {"ModeDiffers", [](const std::string& b) { ::chmod((b + "/etc/hostname").c_str(), 0600); },
       {tree_check::mode}, "etc/hostname", {}},
      {"ModeIgnoredWhenDisabled",
       [](const std::string& b) { ::chmod((b + "/etc/hostname").c_str(), 0600); }, {}, "",
       without_mode()},
      {"SetuidBitDiffers", [](const std::string& b) { ::chmod((b + "/bin/tool").c_str(), 0755); },
       {tree_check::mode}, "bin/tool", {}},
      {"SetgidBitDiffers",
       [](const std::string& b) { ::chmod((b + "/bin/other").c_str(), 06755); },
       {tree_check::mode}, "bin/other", {}},
      {"StickyBitDiffers", [](const std::string& b) { ::chmod((b + "/tmp").c_str(), 0777); },
       {tree_check::mode}, "tmp", {}},
      {"RootModeDiffers", [](const std::string& b) { ::chmod(b.c_str(), 0711); },
       {tree_check::mode}, ".", {}},
      {"ContentDiffersAtSameSize",
       [](const std::string& b) {
         write_file(b + "/etc/hostname", "xyz\n", 0644);
         set_mtime(b + "/etc/hostname", 1700000000, 123456789);
       },
       {tree_check::content}, "etc/hostname", {}},
      {"ContentDiffersInLargeFile",
       [](const std::string& b) {
         std::string bytes = pseudo_random_bytes(3 << 20, 7);
         bytes[(3 << 20) - 1] ^= 1;  // last byte, in the last read chunk
         write_file(b + "/lib/libx.so.1", bytes, 0644);
         set_mtime(b + "/lib/libx.so.1", 1700000002, 999999999);
       },
       {tree_check::content}, "lib/libx.so.1", {}},
      {"SizeDiffers",
       [](const std::string& b) {
         write_file(b + "/etc/hostname", "longer\n", 0644);
         set_mtime(b + "/etc/hostname", 1700000000, 123456789);
       },
       {tree_check::size}, "etc/hostname", {}},
      {"SymlinkTargetDiffers",
       [](const std::string& b) {
         ::unlink((b + "/lib/libx.so").c_str());
         make_symlink("libx.so.2", b + "/lib/libx.so");
         set_mtime(b + "/lib/libx.so", 1700000003, 5);
       },
       {tree_check::symlink_target}, "lib/libx.so", {}},
      {"AbsoluteSymlinkTargetDiffers",
       [](const std::string& b) {
         ::unlink((b + "/abs").c_str());
         make_symlink("/etc/shadow", b + "/abs");
         set_mtime(b + "/abs", 1700000004, 0);
       },
       {tree_check::symlink_target}, "abs", {}},
      {"HardlinkBroken",
       [](const std::string& b) {
         ::unlink((b + "/bin/tool-link").c_str());
         write_file(b + "/bin/tool-link", "#!/bin/sh\necho tool\n", 04755);
         set_mtime(b + "/bin/tool-link", 1700000001, 1);
       },
       {tree_check::hardlink}, "bin/tool", {}},
      {"HardlinkAdded",
       [](const std::string& b) {
         ::unlink((b + "/bin/other").c_str());
         check_sys(::link((b + "/bin/tool").c_str(), (b + "/bin/other").c_str()) == 0, "link");
       },
       {tree_check::hardlink}, "bin/other", {}},
      {"XattrValueDiffers", [](const std::string& b) { set_xattr(b + "/etc/hostname", "other"); },
       {tree_check::xattr}, "etc/hostname", {}, needs::xattrs},
      {"XattrMissing",
       [](const std::string& b) { ::lremovexattr((b + "/etc/hostname").c_str(), kXattrName); },
       {tree_check::xattr}, "etc/hostname", {}, needs::xattrs},
      {"XattrAdded", [](const std::string& b) { set_xattr(b + "/lib/libx.so.1", "v"); },
       {tree_check::xattr}, "lib/libx.so.1", {}, needs::xattrs},
      {"FileMtimeDiffersInNanoseconds",
       [](const std::string& b) { set_mtime(b + "/etc/hostname", 1700000000, 123456790); },
       {tree_check::mtime}, "etc/hostname", {}},
      {"FileMtimeNanosecondsIgnoredAtSecondResolution",
       [](const std::string& b) { set_mtime(b + "/etc/hostname", 1700000000, 0); }, {}, "",
       seconds_only()},
      {"FileMtimeSecondsDifferAtSecondResolution",
       [](const std::string& b) { set_mtime(b + "/etc/hostname", 1700000001, 123456789); },
       {tree_check::mtime}, "etc/hostname", seconds_only()},
      {"SymlinkMtimeDiffers", [](const std::string& b) { set_mtime(b + "/lib/libx.so", 1, 0); },
       {tree_check::mtime}, "lib/libx.so", {}},
      {"TypeDiffers",
       [](const std::string& b) {
         ::unlink((b + "/etc/hostname").c_str());
         make_symlink("box", b + "/etc/hostname");
       },
       {tree_check::type}, "etc/hostname", {}},
      {"DirectoryReplacedByFile",
       [](const std::string& b) {
         ::rmdir((b + "/empty").c_str());
         write_file(b + "/empty", "", 0700);
       },
       {tree_check::type}, "empty", {}},
      {"PathOnlyInA", [](const std::string& b) { ::unlink((b + "/dangling").c_str()); },
       {tree_check::presence}, "dangling", {}},
      {"PathOnlyInB", [](const std::string& b) { write_file(b + "/etc/extra", "", 0644); },
       {tree_check::presence}, "etc/extra", {}},
      {"IgnoredPathIsSkipped",
       [](const std::string& b) { write_file(b + "/etc/hostname", "changed!\n", 0600); }, {}, "",
       ignoring("etc")},
      {"OwnerDiffers",
       [](const std::string& b) {
         check_sys(::lchown((b + "/etc/hostname").c_str(), 1000, 1001) == 0, "lchown");
       },
       {tree_check::uid, tree_check::gid}, "etc/hostname", {}, needs::root},
      {"SymlinkOwnerDiffers",
       [](const std::string& b) {
         check_sys(::lchown((b + "/abs").c_str(), 1000, 1000) == 0, "lchown");
       },
       {tree_check::uid, tree_check::gid}, "abs", {}, needs::root},
      {"DeviceNumberDiffers",
       [](const std::string& b) {
         ::unlink((b + "/dev/null").c_str());
         check_sys(::mknod((b + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0, "mknod");
         ::chmod((b + "/dev/null").c_str(), 0666);
       },
       {tree_check::device}, "dev/null", {}, needs::root},
  };
}

class TreeCompareCase : public ::testing::TestWithParam<compare_case> {};

TEST_P(TreeCompareCase, ReportsExactlyTheChangedProperty) {
  const compare_case& c = GetParam();
  const bool xattrs = user_xattrs_supported();
  if (c.requires_ == needs::xattrs && !xattrs) {
    GTEST_SKIP() << "the file system under $TMPDIR or /tmp does not take user.* xattrs";
  }
  if (c.requires_ == needs::root && !is_root()) {
    GTEST_SKIP() << "changing owners and making device nodes needs root";
  }
  temp_dir tmp;
  const std::string a = tmp.sub("a");
  const std::string b = tmp.sub("b");
  make_dir(a, 0755);
  make_dir(b, 0755);
  make_tree(a, xattrs);
  make_tree(b, xattrs);
  c.mutate(b);

  const auto diffs = compare_trees(a, b, c.opts);
  if (c.expected.empty()) {
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
    return;
  }
  for (const auto& d : diffs) {
    EXPECT_NE(std::find(c.expected.begin(), c.expected.end(), d.check), c.expected.end())
        << "unexpected difference: " << d.to_string();
  }
  for (tree_check want : c.expected) {
    EXPECT_TRUE(std::any_of(diffs.begin(), diffs.end(),
                            [&](const tree_difference& d) {
                              return d.check == want && d.path == c.expected_path;
                            }))
        << "no " << tree_check_name(want) << " difference at \"" << c.expected_path
        << "\"; got:\n"
        << format_differences(diffs);
  }
}

// Names the case in ctest's output instead of dumping its bytes.
void PrintTo(const compare_case& c, std::ostream* os) { *os << c.name; }

INSTANTIATE_TEST_SUITE_P(TreeCompare, TreeCompareCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<compare_case>& case_info) {
                           return std::string(case_info.param.name);
                         });

TEST(TreeCompare, HardlinkDifferenceIsReportedOncePerGroup) {
  temp_dir tmp;
  const std::string a = tmp.sub("a");
  const std::string b = tmp.sub("b");
  for (const auto& root : {a, b}) {
    make_dir(root, 0755);
    write_file(root + "/x", "same", 0644);
    set_mtime(root + "/x", 1, 0);
  }
  // A: x, y, z one inode. B: x alone, y and z another inode with the same bytes.
  check_sys(::link((a + "/x").c_str(), (a + "/y").c_str()) == 0, "link");
  check_sys(::link((a + "/x").c_str(), (a + "/z").c_str()) == 0, "link");
  write_file(b + "/y", "same", 0644);
  set_mtime(b + "/y", 1, 0);
  check_sys(::link((b + "/y").c_str(), (b + "/z").c_str()) == 0, "link");

  const auto diffs = compare_trees(a, b);
  ASSERT_EQ(diffs.size(), 2u) << format_differences(diffs);
  EXPECT_EQ(diffs[0].path, "x");
  EXPECT_EQ(diffs[0].detail, "paths sharing the inode {x, y, z} vs {x}");
  EXPECT_EQ(diffs[1].path, "y");
  EXPECT_EQ(diffs[1].detail, "paths sharing the inode {x, y, z} vs {y, z}");
}

TEST(TreeCompare, DoesNotFollowSymlinkToDirectory) {
  temp_dir tmp;
  const std::string a = tmp.sub("a");
  const std::string b = tmp.sub("b");
  make_dir(a, 0755);
  make_dir(b, 0755);
  make_dir(tmp.sub("real-a"), 0755);
  make_dir(tmp.sub("real-b"), 0755);
  write_file(tmp.sub("real-a/only-here"), "", 0644);  // visible only if the link were followed
  make_symlink(tmp.sub("real-a"), a + "/link");
  make_symlink(tmp.sub("real-a"), b + "/link");
  set_mtime(a + "/link", 1, 0);
  set_mtime(b + "/link", 1, 0);
  EXPECT_TRUE(compare_trees(a, b).empty()) << format_differences(compare_trees(a, b));
}

TEST(TreeCompare, MissingRootIsAnError) {
  temp_dir tmp;
  make_dir(tmp.sub("a"), 0755);
  const auto diffs = compare_trees(tmp.sub("a"), tmp.sub("does-not-exist"));
  ASSERT_FALSE(diffs.empty());
  EXPECT_EQ(diffs[0].check, tree_check::error) << diffs[0].to_string();
}

TEST(TreeCompare, RootThatIsASymlinkIsAnError) {
  temp_dir tmp;
  make_dir(tmp.sub("a"), 0755);
  make_symlink(tmp.sub("a"), tmp.sub("b"));
  const auto diffs = compare_trees(tmp.sub("a"), tmp.sub("b"));
  ASSERT_FALSE(diffs.empty());
  EXPECT_EQ(diffs[0].check, tree_check::error) << diffs[0].to_string();
}

TEST(TreeCompare, FormatDifferencesStopsAtLimit) {
  std::vector<tree_difference> diffs;
  for (int i = 0; i < 5; ++i) diffs.push_back({"p" + std::to_string(i), tree_check::mode, "m"});
  EXPECT_EQ(format_differences(diffs, 2), "p0: mode: m\np1: mode: m\n... and 3 more\n");
  EXPECT_EQ(format_differences({}, 2), "");
}

}  // namespace
}  // namespace ocipipe::testing
