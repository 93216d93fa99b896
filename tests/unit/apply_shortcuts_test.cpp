// The apply stage skips fchown, fchmod and ftruncate when a file comes out of
// creation right already (issue 9 item 6). These check that every case where
// creation does NOT give the entry's metadata still gets the call: a setgid
// parent directory's group, modes the umask masks, sparse files ending in a
// hole, read-only files with content. (Setuid/setgid bits that chown clears:
// unpack_semantics_test.cpp.)

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

tar_spec_entry owned(tar_spec_entry e, std::int64_t uid, std::int64_t gid) {
  e.uid = uid;
  e.gid = gid;
  return e;
}

class ApplyShortcuts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "owners are set only as root";
  }
  struct stat unpacked(const std::vector<layer_spec>& layers, const std::string& path) {
    const auto img = build_layout(tmp.sub("layout"), "t", layers);
    auto r = unpack(img.ref(), tmp.sub("rootfs"), unpack_options{});
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return lstat_of(tmp.sub("rootfs/" + path));
  }
  temp_dir tmp;
};

TEST_F(ApplyShortcuts, FileInSetgidDirectoryKeepsItsOwnGroup) {
  // A setgid directory hands its group to new files: root:root must be chowned back.
  const auto st = unpacked({layer({owned(dir("var/mail/", 02775), 0, 8), file("var/mail/root", "m", 0660),
                                   symlink("var/mail/link", "root")})},
                           "var/mail/root");
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(lstat_of(tmp.sub("rootfs/var/mail/link")).st_gid, 0u);
  EXPECT_EQ(lstat_of(tmp.sub("rootfs/var/mail")).st_gid, 8u);
}

TEST_F(ApplyShortcuts, ModesTheUmaskMasksAreRestored) {
  const mode_t old = ::umask(022);
  const auto st = unpacked({layer({file("shared", "s", 0666), file("group-w", "g", 0775)})}, "shared");
  ::umask(old);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  EXPECT_EQ(lstat_of(tmp.sub("rootfs/group-w")).st_mode & 07777, 0775u);
}

TEST_F(ApplyShortcuts, SparseFileEndingInAHoleHasItsFullSize) {
  auto sparse = file("data/sparse", std::string(1 << 20, '\0'));
  for (int i = 0; i < 4096; ++i) sparse.content[static_cast<std::size_t>(i)] = 'a';
  sparse.sparse_data = {{0, 4096}};
  const auto st = unpacked({layer({sparse, file("data/after", "x")})}, "data/sparse");
  EXPECT_EQ(st.st_size, 1 << 20);
}

TEST_F(ApplyShortcuts, ReadOnlyFileGetsItsContentAndMode) {
  const auto st = unpacked({layer({file("etc/ro", "content", 0444), file("etc/none", "n", 0)})}, "etc/ro");
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_size, 7);
  EXPECT_EQ(lstat_of(tmp.sub("rootfs/etc/none")).st_mode & 07777, 0u);
}

TEST_F(ApplyShortcuts, ReplacedFileTakesTheUpperLayersOwnerAndMode) {
  const auto st = unpacked({layer({owned(file("srv/app", "v1", 0600), 1000, 1000)}), layer({file("srv/app", "v2", 0644)})},
                           "srv/app");
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

}  // namespace
}  // namespace ocipipe::testing
