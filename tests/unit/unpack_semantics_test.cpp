// What ocipipe::unpack() makes of layers, checked on images built in the test
// (tests/support/image_builder.h): whiteouts, hardlinks, path confinement, tar edge cases,
// metadata and compression. Most tests are a case of shared/cases/buglog.md, named in the
// comment above it; the recipe and the expected result are the buglog's.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

// A scratch area per test. The rootfs sits alone in a parent directory, so anything an
// unpack writes beside it shows up there; `outside` stands for the host (symlink targets,
// sentinel files).
struct scratch {
  temp_dir tmp{"ocipipe-unpack"};
  std::string layout = tmp.sub("layout");
  std::string parent = tmp.sub("parent");
  std::string rootfs = tmp.sub("parent/rootfs");
  std::string outside = tmp.sub("outside");

  scratch() {
    ::mkdir(parent.c_str(), 0755);
    ::mkdir(outside.c_str(), 0755);
  }
  [[nodiscard]] std::string at(const std::string& rel) const { return rootfs + "/" + rel; }
};

result<unpack_report> unpack_image(const built_image& img, const std::string& rootfs,
                                   unpack_options opts = {}) {
  // The state file beside the rootfs (pack --diff's, rootfs_state_test.cpp) would show up
  // in the confinement checks of what appears next to the rootfs.
  opts.record_state = false;
  return unpack(img.ref(), rootfs, opts);
}

bool is_regular(const std::string& path) { return path_exists(path) && S_ISREG(lstat_of(path).st_mode); }
bool is_dir(const std::string& path) { return path_exists(path) && S_ISDIR(lstat_of(path).st_mode); }
bool is_symlink(const std::string& path) { return path_exists(path) && S_ISLNK(lstat_of(path).st_mode); }

std::string link_of(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

bool same_inode(const std::string& a, const std::string& b) {
  const auto sa = lstat_of(a);
  const auto sb = lstat_of(b);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Every path below `root` whose basename starts with ".wh.".
std::vector<std::string> whiteout_names_below(const std::string& root, const std::string& rel = "") {
  std::vector<std::string> out;
  for (const auto& n : names_in(rel.empty() ? root : root + "/" + rel)) {
    const std::string p = rel.empty() ? n : rel + "/" + n;
    if (n.rfind(".wh.", 0) == 0) out.push_back(p);
    if (is_dir(root + "/" + p)) {
      auto below = whiteout_names_below(root, p);
      out.insert(out.end(), below.begin(), below.end());
    }
  }
  return out;
}

void write_host_file(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
}

// ---- class 1: whiteouts ----

// B01: the opaque whiteout is applied before the layer's own content, wherever it stands in
// the stream; entries sorting before it (.git) survive.
TEST(UnpackWhiteout, OpaqueWhiteoutAfterSameLayerEntriesKeepsThem) {
  scratch s;
  auto app_l2 = dir("app/");
  app_l2.mtime = 1600000000;
  const auto img = build_layout(
      s.layout, "t",
      {layer({dir("app/"), file("app/old.txt", "old")}),
       layer({app_l2, dir("app/.git/"), file("app/.git/HEAD", "ref: main"),
              file("app/.wh..wh..opq"), file("app/new.txt", "new")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("app/.git/HEAD")), "ref: main");
  EXPECT_EQ(read_bytes(s.at("app/new.txt")), "new");
  EXPECT_FALSE(path_exists(s.at("app/old.txt")));
  EXPECT_EQ(whiteout_names_below(s.rootfs), std::vector<std::string>{});
  // Directory times come from L2's entry, set after all children were written.
  EXPECT_EQ(lstat_of(s.at("app")).st_mtim.tv_sec, 1600000000);
}

// B02: a plain whiteout after a same-named file of its own layer hides only the lower file.
TEST(UnpackWhiteout, WhiteoutAfterSameNameInLayerKeepsNewFile) {
  scratch s;
  const auto img = build_layout(
      s.layout, "t",
      {layer({file("fileA", "old"), file("fileB", "old"), file("fileC", "old")}),
       layer({file(".wh.fileB"), file("fileA", "new"), file("fileB", "new"), file(".wh.fileA"),
              file(".wh.fileC")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("fileA")), "new");
  EXPECT_EQ(read_bytes(s.at("fileB")), "new");
  EXPECT_FALSE(path_exists(s.at("fileC")));
  EXPECT_EQ(names_in(s.rootfs), (std::vector<std::string>{"fileA", "fileB"}));
}

// B03: a directory deleted in one layer and recreated in a later one holds only the new
// content.
TEST(UnpackWhiteout, DirectoryRecreatedAfterWhiteoutHoldsOnlyNewContent) {
  scratch s;
  const auto img = build_layout(s.layout, "t",
                                {layer({dir("d/"), file("d/f1", "1")}), layer({file(".wh.d")}),
                                 layer({dir("d/"), file("d/f2", "2")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(names_in(s.at("d")), std::vector<std::string>{"f2"});
}

// B05: a whiteout whose parent was whited out just before is a no-op, not an error.
TEST(UnpackWhiteout, WhiteoutBelowRemovedDirectoryIsNoOp) {
  scratch s;
  const auto img = build_layout(s.layout, "t",
                                {layer({dir("test/"), file("test/test", "x")}),
                                 layer({dir("./"), file(".wh.test"), file("test/.wh.test")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{});
}

// B06: a whiteout below a path that is not a directory is a no-op; no parent is created for it.
TEST(UnpackWhiteout, WhiteoutBelowNonDirectoryIsNoOp) {
  scratch s;
  const auto img = build_layout(s.layout, "t",
                                {layer({file("p", "file")}), layer({file("p/sub/.wh.x")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(is_regular(s.at("p")));
  EXPECT_EQ(read_bytes(s.at("p")), "file");
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{"p"});
}

// B08: ".wh." with an empty name is an error (image-spec#1301), never an opaque whiteout.
TEST(UnpackWhiteout, EmptyWhiteoutNameFails) {
  for (const std::string name : {".wh.", "etc/.wh."}) {
    SCOPED_TRACE(name);
    scratch s;
    const auto img = build_layout(
        s.layout, "t",
        {layer({file("keep.txt", "keep"), dir("etc/"), file("etc/config.txt", "old")}),
         layer({file(name), file("etc/config.txt", "new")})});
    auto r = unpack_image(img, s.rootfs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::unsafe_path) << r.error().message();
    EXPECT_NE(r.error().message().find("empty name"), std::string::npos) << r.error().message();
    EXPECT_FALSE(path_exists(s.rootfs));
  }
}

// B10: with several layers decoding at once, every whiteout still hides what the layers
// below wrote: -j1 and -j4 give the same tree, and the deleted files are absent.
TEST(UnpackWhiteout, WhiteoutsKeptWithManyLayersAndParallelJobs) {
  scratch s;
  std::vector<layer_spec> layers;
  layers.push_back(layer({dir("base/"), file("base/keep", "keep"), dir("churn/")}));
  layers.push_back(layer({file("this-will-be-deleted", "gone")}));
  layers.push_back(layer({file(".wh.this-will-be-deleted")}));
  // Each layer writes a file and deletes the one the layer before wrote; every third one
  // also makes churn/ opaque.
  for (int i = 0; i < 12; ++i) {
    std::vector<tar_spec_entry> entries;
    if (i % 3 == 2) entries.push_back(file("churn/.wh..wh..opq"));
    entries.push_back(file("churn/f" + std::to_string(i), std::string(2000, static_cast<char>('a' + i))));
    if (i > 0) entries.push_back(file("churn/.wh.f" + std::to_string(i - 1)));
    layers.push_back(layer(std::move(entries), i % 2 ? layer_compression::zstd : layer_compression::gzip));
  }
  const auto img = build_layout(s.layout, "t", layers);

  unpack_options serial;
  serial.jobs = 1;
  auto r1 = unpack_image(img, s.tmp.sub("parent/serial"), serial);
  ASSERT_TRUE(r1) << r1.error().message();
  unpack_options parallel;
  parallel.jobs = 4;
  auto r4 = unpack_image(img, s.tmp.sub("parent/parallel"), parallel);
  ASSERT_TRUE(r4) << r4.error().message();

  const auto diffs = compare_trees(s.tmp.sub("parent/serial"), s.tmp.sub("parent/parallel"));
  EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  EXPECT_FALSE(path_exists(s.tmp.sub("parent/parallel/this-will-be-deleted")));
  EXPECT_EQ(names_in(s.tmp.sub("parent/parallel/churn")), std::vector<std::string>{"f11"});
  EXPECT_EQ(read_bytes(s.tmp.sub("parent/parallel/base/keep")), "keep");
}

// B11: a whiteout stored as a hardlink entry is a whiteout (known by its name), not a link.
TEST(UnpackWhiteout, WhiteoutStoredAsHardlinkHidesItsTarget) {
  scratch s;
  const auto img = build_layout(
      s.layout, "t",
      {layer({dir("tmp/"), file("tmp/CERN.repo"), file("tmp/RPM-GPG-KEY-kojiv2", "key")}),
       layer({dir("tmp/"), hardlink("tmp/.wh.RPM-GPG-KEY-kojiv2", "tmp/CERN.repo")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(names_in(s.at("tmp")), std::vector<std::string>{"CERN.repo"});
  EXPECT_EQ(lstat_of(s.at("tmp/CERN.repo")).st_nlink, 1u);
  EXPECT_EQ(read_bytes(s.at("tmp/CERN.repo")), "");
}

// B13: an entry for a path that exists (symlink, or a file a hardlink entry replaces) replaces
// it instead of failing with EEXIST.
TEST(UnpackWhiteout, EntryOverExistingPathReplacesIt) {
  scratch s;
  const auto img = build_layout(
      s.layout, "t",
      {layer({dir("lib/systemd/"), file("lib/systemd/systemd", "bin"), dir("bin/"),
              symlink("bin/systemd", "/lib/systemd/systemd"), file("x", "x"), file("y", "y")}),
       layer({symlink("bin/systemd", "/lib/systemd/systemd"), hardlink("x", "y")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(is_symlink(s.at("bin/systemd")));
  EXPECT_EQ(link_of(s.at("bin/systemd")), "/lib/systemd/systemd");
  EXPECT_TRUE(same_inode(s.at("x"), s.at("y")));
  EXPECT_EQ(read_bytes(s.at("x")), "y");
}

// ---- class 2: hardlinks ----

// B14: whiting out one name of a hardlinked file leaves the other name with the content.
TEST(UnpackHardlink, WhiteoutOfOneNameKeepsOtherName) {
  scratch s;
  const auto img = build_layout(s.layout, "t",
                                {layer({file("LINK-A", "data"), hardlink("LINK-Z", "LINK-A")}),
                                 layer({file(".wh.LINK-A")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(path_exists(s.at("LINK-A")));
  EXPECT_TRUE(is_regular(s.at("LINK-Z")));
  EXPECT_EQ(read_bytes(s.at("LINK-Z")), "data");
}

// B15: layers apply in stack order: a hardlink whose target a later layer replaces by a
// symlink keeps the old content.
TEST(UnpackHardlink, TargetReplacedLaterKeepsLinkContent) {
  scratch s;
  const std::string binary = "\x7f" "ELF git binary";
  const auto img = build_layout(
      s.layout, "t",
      {layer({dir("usr/"), dir("usr/bin/"), file("usr/bin/git", binary, 0755), dir("usr/libexec/"),
              dir("usr/libexec/git-core/"), hardlink("usr/libexec/git-core/git", "usr/bin/git")}),
       layer({symlink("usr/bin/git", "/usr/libexec/git-core/git")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(is_regular(s.at("usr/libexec/git-core/git")));
  EXPECT_EQ(read_bytes(s.at("usr/libexec/git-core/git")), binary);
  EXPECT_TRUE(is_symlink(s.at("usr/bin/git")));
  EXPECT_EQ(link_of(s.at("usr/bin/git")), "/usr/libexec/git-core/git");
}

// B16: rewriting one name of a hardlink set unlinks it first; the other names keep the old
// content and stay linked to each other.
TEST(UnpackHardlink, OverwritingOneNameLeavesOtherNamesUnchanged) {
  scratch s;
  const auto img = build_layout(
      s.layout, "t",
      {layer({file("t2", "123")}),
       layer({file("t1", "123"), hardlink("t2", "t1"), hardlink("t3", "t1")}),
       layer({file("t1", "456")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("t1")), "456");
  EXPECT_EQ(read_bytes(s.at("t2")), "123");
  EXPECT_EQ(read_bytes(s.at("t3")), "123");
  EXPECT_TRUE(same_inode(s.at("t2"), s.at("t3")));
  EXPECT_FALSE(same_inode(s.at("t1"), s.at("t2")));
}

// ---- class 3: path traversal ----

// B19: an entry for the rootfs itself that is not a directory is refused; nothing lands in
// the host directory it points to.
TEST(UnpackConfinement, RootfsTurnedIntoSymlinkIsRefused) {
  for (const std::string name : {".", "./", "/", "/."}) {
    SCOPED_TRACE(name);
    scratch s;
    const auto img = build_layout(s.layout, "t",
                                  {layer({symlink(name, s.outside)}),
                                   layer({dir("etc/"), file("etc/evil", "evil")})});
    auto r = unpack_image(img, s.rootfs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::unsafe_path) << r.error().message();
    EXPECT_EQ(names_in(s.outside), std::vector<std::string>{});
    EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
  }
}

// B20: a hardlink to a symlink that points outside links the symlink itself; its header mode
// never reaches the host file.
TEST(UnpackConfinement, HardlinkToOutsideSymlinkNeverChmodsHostFile) {
  scratch s;
  const std::string sentinel = s.outside + "/sentinel";
  write_host_file(sentinel, "host", 0400);
  auto sketchy = hardlink("sketchylink", "evil");
  sketchy.mode = 0777;
  const auto img = build_layout(s.layout, "t", {layer({symlink("evil", sentinel), sketchy})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(is_symlink(s.at("sketchylink")));
  EXPECT_EQ(link_of(s.at("sketchylink")), sentinel);
  EXPECT_EQ(lstat_of(sentinel).st_mode & 07777, 0400u);
  EXPECT_EQ(read_bytes(sentinel), "host");
  EXPECT_EQ(names_in(s.outside), std::vector<std::string>{"sentinel"});
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{"rootfs"});
}

// B21 (a), (b): a file written through a symlink planted by an earlier entry or layer lands
// where the symlink points when the rootfs is taken as "/".
TEST(UnpackConfinement, FileThroughPlantedSymlinkStaysInRootfs) {
  struct variant {
    const char* what;
    bool same_layer;
    bool absolute;
  };
  for (const auto& v : {variant{"absolute, same layer", true, true},
                        variant{"relative, lower layer", false, false}}) {
    SCOPED_TRACE(v.what);
    scratch s;
    // The target names the host directory `outside`, absolutely or by climbing with "..".
    std::string target = s.outside;
    if (!v.absolute) target = "../../../../../../../../.." + s.outside;
    std::vector<layer_spec> layers;
    if (v.same_layer) {
      layers.push_back(layer({symlink("pwn", target), file("pwn/escaped.txt", "x")}));
    } else {
      layers.push_back(layer({symlink("pwn", target)}));
      layers.push_back(layer({file("pwn/escaped.txt", "x")}));
    }
    const auto img = build_layout(s.layout, "t", layers);
    auto r = unpack_image(img, s.rootfs);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(read_bytes(s.rootfs + s.outside + "/escaped.txt"), "x");
    EXPECT_EQ(names_in(s.outside), std::vector<std::string>{});
    EXPECT_EQ(names_in(s.parent), std::vector<std::string>{"rootfs"});
  }
}

// B21 (c): an absolute entry name is re-rooted.
TEST(UnpackConfinement, AbsoluteEntryNameIsReRooted) {
  scratch s;
  const auto img = build_layout(s.layout, "t", {layer({file("/abs/escaped", "x")})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("abs/escaped")), "x");
  EXPECT_FALSE(path_exists("/abs/escaped"));
  EXPECT_EQ(names_in(s.parent), std::vector<std::string>{"rootfs"});
}

// B21 (c), (d): an entry name or hardlink target climbing above the rootfs is refused, and
// nothing beside the rootfs or on the host changes.
TEST(UnpackConfinement, EntryClimbingAboveRootfsIsRefused) {
  struct stat passwd_before{};
  ASSERT_EQ(::lstat("/etc/passwd", &passwd_before), 0);
  for (const auto& entry : {file("../../escaped", "x"), file("a/../../escaped", "x"),
                            hardlink("h", "../../etc/passwd")}) {
    SCOPED_TRACE(entry.name);
    scratch s;
    const auto img = build_layout(s.layout, "t", {layer({entry})});
    auto r = unpack_image(img, s.rootfs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::unsafe_path) << r.error().message();
    EXPECT_EQ(names_in(s.parent), std::vector<std::string>{});
    EXPECT_EQ(names_in(s.tmp.path()), (std::vector<std::string>{"layout", "outside", "parent"}));
  }
  struct stat passwd_after{};
  ASSERT_EQ(::lstat("/etc/passwd", &passwd_after), 0);
  EXPECT_EQ(passwd_after.st_nlink, passwd_before.st_nlink);
  EXPECT_EQ(passwd_after.st_mode, passwd_before.st_mode);
  EXPECT_EQ(passwd_after.st_mtim.tv_sec, passwd_before.st_mtim.tv_sec);
}

// ---- class 4: tar format ----

// B25, B26: the PAX `size` record overrides the ustar size field, so data of one entry is
// never read as headers (a smuggled entry) and the next entry is found. The ustar field is
// set to 0, and to another wrong value.
TEST(UnpackTarFormat, PaxSizeOverridesUstarSize) {
  // A complete header and data block for "smuggled", hidden in file_a's content.
  const std::string smuggled = make_tar({file("smuggled", "evil")}).substr(0, 1024);
  std::string content = smuggled + std::string(1024, '\0');
  for (const std::uint64_t ustar : {std::uint64_t{0}, std::uint64_t{512}}) {
    SCOPED_TRACE(ustar);
    scratch s;
    auto a = file("file_a", content);
    a.pax_size = content.size();
    a.ustar_size = ustar;
    const auto img = build_layout(s.layout, "t", {layer({a, file("file_b", "b")})});
    auto r = unpack_image(img, s.rootfs);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(names_in(s.rootfs), (std::vector<std::string>{"file_a", "file_b"}));
    EXPECT_EQ(read_bytes(s.at("file_a")), content);
    EXPECT_EQ(read_bytes(s.at("file_b")), "b");
  }
}

// B28: a sparse member is restored under its real name, full logical size, zeros in the holes.
TEST(UnpackTarFormat, SparseFileRestoredWithHoles) {
  scratch s;
  const std::int64_t size = 2 << 20;
  const std::int64_t data_at = (1 << 20) + 4096;
  std::string content(static_cast<std::size_t>(size), '\0');
  content.replace(static_cast<std::size_t>(data_at), 4, "DATA");
  auto sparse = file("sparse.bin", content);
  sparse.sparse_data = {{data_at, 4096}};
  const std::string tar = make_tar({sparse});
  if (tar.find("GNU.sparse") == std::string::npos)
    GTEST_SKIP() << "this libarchive's pax writer does not write sparse entries";
  const auto img = build_layout(s.layout, "t", {layer({sparse})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{"sparse.bin"});
  EXPECT_EQ(lstat_of(s.at("sparse.bin")).st_size, size);
  EXPECT_TRUE(read_bytes(s.at("sparse.bin")) == content);
  // Kept sparse: the holes take no blocks (2 MiB of which 4 KiB are data).
  EXPECT_LT(static_cast<std::int64_t>(lstat_of(s.at("sparse.bin")).st_blocks) * 512, size / 4)
      << "the holes were written as zeros";
}

// B29: a PAX header claiming a multi-GB body fails cleanly at the PAX header limit
// (--max-pax-header-bytes) instead of being allocated.
TEST(UnpackTarFormat, HugePaxHeaderFailsCleanly) {
  scratch s;
  auto f = file("f", "x");
  f.pax_header_size = std::uint64_t{4} << 30;
  const auto img = build_layout(s.layout, "t", {layer({f})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
  EXPECT_FALSE(path_exists(s.rootfs));
}

// ---- class 5: metadata ----

bool user_xattrs_supported(const std::string& dir) {
  const std::string probe = dir + "/xattr-probe";
  write_host_file(probe, "", 0644);
  const bool ok = ::lsetxattr(probe.c_str(), "user.ocipipe.probe", "1", 1, 0) == 0;
  ::unlink(probe.c_str());
  return ok;
}

std::string xattr_of(const std::string& path, const std::string& name) {
  char buf[4096];
  const ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<") + std::strerror(errno) + ">" : std::string(buf, static_cast<std::size_t>(n));
}

// B32: xattrs from SCHILY.xattr. records (and libarchive's own LIBARCHIVE.xattr. form) are
// restored byte for byte, file capabilities included.
TEST(UnpackMetadata, XattrsRestoredFromPaxRecords) {
  // VFS_CAP_REVISION_2, cap_net_raw (bit 13) permitted, effective flag set.
  const std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  for (const auto records : {xattr_records::schily, xattr_records::libarchive}) {
    SCOPED_TRACE(records == xattr_records::schily ? "SCHILY.xattr." : "LIBARCHIVE.xattr.");
    scratch s;
    if (!user_xattrs_supported(s.outside)) GTEST_SKIP() << "no user.* xattrs on " << s.outside;
    auto f = file("etc/f", "f");
    f.xattrs = {{"user.test", "hello"}};
    auto ping = file("usr/bin/ping", "ping", 0755);
    ping.xattrs = {{"security.capability", cap}};
    auto l = layer({dir("etc/"), f, dir("usr/"), dir("usr/bin/"), ping});
    l.xattrs = records;
    const auto img = build_layout(s.layout, "t", {l});
    auto r = unpack_image(img, s.rootfs);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(xattr_of(s.at("etc/f"), "user.test"), "hello");
    if (::geteuid() == 0) {
      EXPECT_EQ(xattr_of(s.at("usr/bin/ping"), "security.capability"), cap);
    }
  }
}

// B34: as root, ownership is set before the mode, so setuid, setgid and sticky bits survive.
TEST(UnpackMetadata, SetuidSetgidKeptWithOwnerSet) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  scratch s;
  auto su = file("usr/bin/su", "su", 04755);
  auto wall = file("usr/bin/wall", "wall", 02755);
  wall.gid = 5;
  auto app = file("usr/bin/app", "app", 06755);
  app.uid = 1000;
  app.gid = 1000;
  const auto img = build_layout(
      s.layout, "t", {layer({dir("usr/"), dir("usr/bin/"), su, wall, app, dir("tmp/", 01777)})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(lstat_of(s.at("usr/bin/su")).st_mode & 07777, 04755u);
  const auto w = lstat_of(s.at("usr/bin/wall"));
  EXPECT_EQ(w.st_mode & 07777, 02755u);
  EXPECT_EQ(w.st_gid, 5u);
  const auto a = lstat_of(s.at("usr/bin/app"));
  EXPECT_EQ(a.st_mode & 07777, 06755u);
  EXPECT_EQ(a.st_uid, 1000u);
  EXPECT_EQ(a.st_gid, 1000u);
  EXPECT_EQ(lstat_of(s.at("tmp")).st_mode & 07777, 01777u);
}

// ---- class 6: compression ----

// Enough content that both halves of the tar hold entries.
std::vector<tar_spec_entry> spread_entries() {
  std::vector<tar_spec_entry> out;
  for (int i = 0; i < 8; ++i)
    out.push_back(file("f" + std::to_string(i), std::string(3000, static_cast<char>('a' + i))));
  out.push_back(file("late.txt", "last entry"));
  return out;
}

// B39: every member of a multi-member gzip layer is decoded.
TEST(UnpackCompression, MultiMemberGzipFullyDecoded) {
  scratch s;
  auto l = layer(spread_entries());
  l.gzip = gzip_form::multi_member;
  const auto img = build_layout(s.layout, "t", {l});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("late.txt")), "last entry");
  EXPECT_EQ(read_bytes(s.at("f7")), std::string(3000, 'h'));
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_EQ(r->layers[0].diff_id, img.layers[0].diff_id);
}

// B42 (a media type naming the wrong compression) is unpacked as its bytes are,
// with a warning: tests/unit/unpack_compression_test.cpp.

// B43: a layer decompressing past the configured limit fails cleanly, early.
TEST(UnpackCompression, DecompressionBombFailsAtLimit) {
  scratch s;
  const auto img = build_layout(s.layout, "t", {layer({file("zeros", std::string(8 << 20, '\0'))})});
  ASSERT_LT(img.layers[0].size, 64 << 10);  // a bomb: tiny blob, 8 MiB of tar
  unpack_options opts;
  opts.max_layer_bytes = 1 << 20;
  auto r = unpack_image(img, s.rootfs, opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
  EXPECT_FALSE(path_exists(s.rootfs));
}

// B44: a gzip layer cut inside its deflate data fails even though digest and size match the
// cut bytes.
TEST(UnpackCompression, TruncatedGzipFails) {
  scratch s;
  auto l = layer(spread_entries());
  l.gzip = gzip_form::truncated;
  const auto img = build_layout(s.layout, "t", {l});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  EXPECT_NE(r.error().message().find("truncated"), std::string::npos) << r.error().message();
  // Where: the layer, and the offset in its blob where decoding stopped.
  EXPECT_NE(r.error().message().find("layer 0 ("), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("at compressed byte " + std::to_string(img.layers[0].size)), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(path_exists(s.rootfs));
}

TEST(UnpackCompression, ZstdAndUncompressedLayersUnpack) {
  scratch s;
  const auto img = build_layout(
      s.layout, "t",
      {layer({file("from-zstd", "z")}, layer_compression::zstd),
       layer({file("from-tar", "t")}, layer_compression::none),
       layer({file("from-gzip", "g")}, layer_compression::gzip)});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(s.at("from-zstd")), "z");
  EXPECT_EQ(read_bytes(s.at("from-tar")), "t");
  EXPECT_EQ(read_bytes(s.at("from-gzip")), "g");
}

// ---- targets and failures ----

TEST(UnpackTarget, NonEmptyTargetRefusedWithoutForceAndLeftUntouched) {
  scratch s;
  const auto img = build_layout(s.layout, "t", {layer({file("new", "new")})});
  ::mkdir(s.rootfs.c_str(), 0755);
  write_host_file(s.at("precious"), "keep me", 0600);
  auto r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{"precious"});
  EXPECT_EQ(read_bytes(s.at("precious")), "keep me");
}

TEST(UnpackTarget, ForceReplacesNonEmptyTarget) {
  scratch s;
  const auto img = build_layout(s.layout, "t", {layer({file("new", "new")})});
  ::mkdir(s.rootfs.c_str(), 0755);
  write_host_file(s.at("old"), "old", 0600);
  unpack_options opts;
  opts.force = true;
  auto r = unpack_image(img, s.rootfs, opts);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{"new"});
}

TEST(UnpackTarget, FailedUnpackLeavesNoRootfs) {
  scratch s;
  auto img = build_layout(s.layout, "t",
                          {layer({file("a", "a")}), layer({file("b", std::string(5000, 'b'))})});
  set_wrong_diff_id(img, 1);
  auto r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  // Created by the call: removed again.
  EXPECT_FALSE(path_exists(s.rootfs));
  // Existing and empty before the call: emptied again.
  ::mkdir(s.rootfs.c_str(), 0755);
  r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_dir(s.rootfs));
  EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{});
}

// The error names the layer by index and gives the descriptor's digest and the content's.
TEST(UnpackDigest, MismatchNamesLayerIndexAndBothDigests) {
  for (const auto compression : {layer_compression::none, layer_compression::gzip}) {
    SCOPED_TRACE(layer_media_type(compression));
    scratch s;
    auto img = build_layout(s.layout, "t",
                            {layer({file("a", "a")}, compression),
                             layer({file("b", std::string(20000, 'b'))}, compression)});
    corrupt_layer_byte(img, 1);
    const auto content_digest = sha256_of(read_bytes(img.layer_blob_path(1)));
    auto r = unpack_image(img, s.rootfs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::digest_mismatch) << r.error().message();
    const auto& m = r.error().message();
    EXPECT_NE(m.find("layer 1"), std::string::npos) << m;
    EXPECT_NE(m.find(img.layers[1].digest.str()), std::string::npos) << m;
    EXPECT_NE(m.find(content_digest.str()), std::string::npos) << m;
    EXPECT_FALSE(path_exists(s.rootfs));
  }
}

TEST(UnpackDigest, DiffIdMismatchNamesLayerIndexAndBothDigests) {
  scratch s;
  auto img = build_layout(s.layout, "t", {layer({file("a", "a")}), layer({file("b", "b")})});
  const auto wrong = sha256_of("wrong").str();
  set_wrong_diff_id(img, 1, wrong);
  auto r = unpack_image(img, s.rootfs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::digest_mismatch) << r.error().message();
  const auto& m = r.error().message();
  EXPECT_NE(m.find("layer 1"), std::string::npos) << m;
  EXPECT_NE(m.find(wrong), std::string::npos) << m;
  EXPECT_NE(m.find(img.layers[1].diff_id.str()), std::string::npos) << m;
}

// FIFOs and, as root, device nodes are created with their numbers (B36, privileged case).
TEST(UnpackMetadata, FifoAndDeviceNodesCreated) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for mknod";
  scratch s;
  const auto img = build_layout(s.layout, "t",
                                {layer({dir("run/"), fifo("run/app.fifo"), dir("dev/"),
                                        char_device("dev/console", 5, 1), block_device("dev/loop0", 7, 0)})});
  auto r = unpack_image(img, s.rootfs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(S_ISFIFO(lstat_of(s.at("run/app.fifo")).st_mode));
  const auto console = lstat_of(s.at("dev/console"));
  EXPECT_TRUE(S_ISCHR(console.st_mode));
  EXPECT_EQ(major(console.st_rdev), 5u);
  EXPECT_EQ(minor(console.st_rdev), 1u);
  EXPECT_EQ(console.st_mode & 07777, 0600u);
  const auto loop = lstat_of(s.at("dev/loop0"));
  EXPECT_TRUE(S_ISBLK(loop.st_mode));
  EXPECT_EQ(major(loop.st_rdev), 7u);
}

}  // namespace
}  // namespace ocipipe::testing
