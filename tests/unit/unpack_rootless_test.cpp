// Rootless unpack (issue 4 item 4; buglog B36, B37): no chown, no device
// nodes, the image's owners kept in the user.rootlesscontainers xattr the way
// umoci does; automatic when not root; an owner the user namespace cannot map
// is reported, not fatal.

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "stages/oci/rootless_owner.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr std::uint32_t nobody = 65534;

tar_spec_entry owned(tar_spec_entry e, std::int64_t uid, std::int64_t gid) {
  e.uid = uid;
  e.gid = gid;
  return e;
}

// The xattr's bytes, or "<absent>".
std::string rootless_xattr(const std::string& path) {
  const auto all = xattrs_of(path);
  const auto it = all.find(rootless_owner::xattr_name);
  return it == all.end() ? "<absent>" : it->second;
}

bool has_warning(const unpack_report& r, const std::string& rule, const std::string& text) {
  for (const auto& [id, message] : r.warnings)
    if (id == rule && message.find(text) != std::string::npos) return true;
  return false;
}

TEST(RootlessOwner, EncodesAsUmociWithNoopForZero) {
  EXPECT_EQ(rootless_owner::encode(0, 0), "");
  // Resource{uid: 1000, gid: 50}: field 1 varint 1000, field 2 varint 50.
  EXPECT_EQ(rootless_owner::encode(1000, 50), std::string("\x08\xe8\x07\x10\x32", 5));
  // A zero id is written as 4294967295 ("noop").
  EXPECT_EQ(rootless_owner::encode(0, 100), std::string("\x08\xff\xff\xff\xff\x0f\x10\x64", 8));
  for (auto [uid, gid] : {std::pair{1000u, 50u}, std::pair{0u, 100u}, std::pair{172761424u, 0u},
                          std::pair{4294967294u, 1u}}) {
    const auto back = rootless_owner::decode(rootless_owner::encode(uid, gid));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->uid, uid);
    EXPECT_EQ(back->gid, gid);
  }
  EXPECT_FALSE(rootless_owner::decode(std::string("\x18\x01", 2)));  // unknown field 3
  EXPECT_FALSE(rootless_owner::decode(std::string("\x08\xff", 2)));  // varint cut short
}

TEST(UnpackRootless, OwnersKeptInXattrAndNeverChowned) {
  temp_dir tmp;
  const auto img = build_layout(
      tmp.sub("layout"), "t",
      {layer_spec{{owned(dir("srv/", 0750), 1000, 1000), owned(file("srv/app", "app", 04755), 1000, 50),
                   file("etc-root", "root"), owned(file("group-only", "g"), 0, 100),
                   owned(symlink("srv/link", "app"), 7, 7), owned(fifo("srv/pipe"), 1000, 1000),
                   char_device("dev-console", 5, 1)}}});
  unpack_options o;
  o.rootless = true;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->rootless);
  const auto at = [&](const std::string& p) { return tmp.sub("rootfs/" + p); };
  for (const char* p : {"srv", "srv/app", "etc-root", "group-only", "srv/link", "srv/pipe"}) {
    SCOPED_TRACE(p);
    const auto st = lstat_of(at(p));
    ASSERT_NE(st.st_mode, 0u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    EXPECT_EQ(st.st_gid, ::getegid());
  }
  EXPECT_EQ(rootless_xattr(at("srv")), rootless_owner::encode(1000, 1000));
  EXPECT_EQ(rootless_xattr(at("srv/app")), rootless_owner::encode(1000, 50));
  EXPECT_EQ(rootless_xattr(at("group-only")), rootless_owner::encode(0, 100));
  EXPECT_EQ(rootless_xattr(at("etc-root")), "<absent>");
  EXPECT_EQ(lstat_of(at("srv/app")).st_mode & 07777, 04755u);
  EXPECT_EQ(lstat_of(at("srv")).st_mode & 07777, 0750u);
  EXPECT_TRUE(S_ISFIFO(lstat_of(at("srv/pipe")).st_mode));
  // No device nodes rootless, even as root: one warning for the image.
  EXPECT_FALSE(path_exists(at("dev-console")));
  EXPECT_TRUE(has_warning(*r, "rootfs.unsupported", "dev-console"));
}

// A later layer's owner of 0:0 must not keep a lower layer's record.
TEST(UnpackRootless, RootOwnerInUpperLayerDropsLowerRecord) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer_spec{{owned(dir("d/"), 1000, 1000)}}, layer_spec{{dir("d/")}}});
  unpack_options o;
  o.rootless = true;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(rootless_xattr(tmp.sub("rootfs/d")), "<absent>");
}

// The real thing: the binary as an unprivileged user (nobody), without
// --rootless. Lower layers leave directories 0555 and 0000 and a file 0000;
// upper layers still add, replace and white out inside them, and --force
// empties the result again.
TEST(UnpackRootless, UnprivilegedUserUnpacksIntoReadOnlyLowerDirectories) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  temp_dir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const auto img = build_layout(
      tmp.sub("layout"), "t",
      {layer_spec{{dir("ro/", 0555), file("ro/old", "old"), file("ro/keep", "keep"), dir("locked/", 0),
                   file("locked/f", "f"), file("secret", "s", 0), owned(file("owned", "o"), 1000, 1000)}},
       layer_spec{{file("ro/new", "new"), file("ro/.wh.old"), file("locked/g", "g"), file("secret", "S", 0400),
                   char_device("dev-null", 1, 3)}}});
  ASSERT_EQ(::chown(tmp.path().c_str(), nobody, nobody), 0);
  const std::vector<std::string> as_nobody{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  auto run_as_nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = as_nobody;
    argv.push_back(ocipipe_binary());
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  const std::string rootfs = tmp.sub("rootfs");
  auto r = run_as_nobody({"unpack", "--json", img.ref().str(), rootfs});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("\"rootless\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dev-null"), std::string::npos) << "device node skipped with a warning: " << r.out;
  EXPECT_EQ(read_bytes(rootfs + "/ro/new"), "new");
  EXPECT_EQ(read_bytes(rootfs + "/ro/keep"), "keep");
  EXPECT_FALSE(path_exists(rootfs + "/ro/old"));
  EXPECT_EQ(read_bytes(rootfs + "/locked/g"), "g");
  EXPECT_EQ(read_bytes(rootfs + "/secret"), "S");
  EXPECT_EQ(lstat_of(rootfs + "/ro").st_mode & 07777, 0555u);
  EXPECT_EQ(lstat_of(rootfs + "/locked").st_mode & 07777, 0u);
  EXPECT_EQ(lstat_of(rootfs + "/secret").st_mode & 07777, 0400u);
  EXPECT_EQ(lstat_of(rootfs + "/ro/new").st_uid, nobody);
  EXPECT_EQ(rootless_xattr(rootfs + "/owned"), rootless_owner::encode(1000, 1000));
  EXPECT_FALSE(path_exists(rootfs + "/dev-null"));

  auto again = run_as_nobody({"unpack", "--force", img.ref().str(), rootfs});
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(read_bytes(rootfs + "/locked/g"), "g");
}

// B37: as root in a user namespace where only uid 0 is mapped, an entry owned
// by 172761424 cannot be chowned (EINVAL). The unpack finishes and says so,
// naming the path and the id; the owner is kept in the xattr.
TEST(UnpackRootless, OwnerOutsideTheUserNamespaceIsReportedNotFatal) {
  if (!run_command({"unshare", "--user", "--map-root-user", "true"}).ok())
    GTEST_SKIP() << "user namespaces are not available here";
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer_spec{{dir("opt/"), owned(dir("opt/app/"), 172761424, 0),
                                             owned(file("opt/app/bin", "b", 0755), 172761424, 172761424)}}});
  const std::string rootfs = tmp.sub("rootfs");
  auto r = run_command({"unshare", "--user", "--map-root-user", ocipipe_binary(), "unpack", img.ref().str(), rootfs});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.err.find("rootfs.owner"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"opt/app\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("172761424"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 entries"), std::string::npos) << r.err;
  EXPECT_EQ(rootless_xattr(rootfs + "/opt/app"), rootless_owner::encode(172761424, 0));
  EXPECT_EQ(rootless_xattr(rootfs + "/opt/app/bin"), rootless_owner::encode(172761424, 172761424));
  EXPECT_EQ(read_bytes(rootfs + "/opt/app/bin"), "b");
}

}  // namespace
}  // namespace ocipipe::testing
