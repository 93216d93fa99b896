// The state file unpack and create record beside the rootfs (io/rootfs_state.h): its
// encoding round-trips and refuses damage, it is named and placed as the lead decided
// (<rootfs basename>.ocipipe-state in the parent), written atomically, removed or replaced
// when the rootfs is written again, and recorded by unpack() and create() with one record
// per path, content digests only for racy files.

#include "io/rootfs_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/tree_walk.h"
#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using io::rootfs_state;

path_record rec(std::string path, std::uint32_t mode, std::uint64_t ino) {
  path_record r;
  r.path = std::move(path);
  r.mode = mode;
  r.uid = 1000;
  r.gid = 100;
  r.size = 4096;
  r.mtime_sec = 1700000000;
  r.mtime_nsec = 5;
  r.ctime_sec = 1800000000;
  r.ctime_nsec = 999999999;
  r.btime_sec = -1;  // before 1970: signed fields must survive
  r.btime_nsec = 7;
  r.ino = ino;
  return r;
}

rootfs_state sample() {
  rootfs_state s;
  s.reference = "oci:/images/debian:bookworm";
  s.layout_path = "/images/debian";
  s.manifest.media_type = "application/vnd.oci.image.manifest.v1+json";
  s.manifest.digest = digest::parse("sha256:" + std::string(64, '1')).value();
  s.manifest.size = 1234;
  s.config_digest = digest::parse("sha256:" + std::string(64, '2')).value();
  s.recorded_sec = 1800000001;
  s.recorded_nsec = 42;
  s.racy_window_nsec = 0;
  s.records = {rec("etc", 040755, 2), rec("etc/hostname", 0100644, 3), rec("etc/ssl", 040755, 4),
               rec("etc/ssl/certs", 0120777, 5), rec("etc.d", 040700, 6)};
  s.records[1].content = digest::parse("sha256:" + std::string(64, 'a')).value();
  s.records[3].link_target = "/usr/share/ca-certificates";
  s.records[3].size = s.records[3].link_target.size();
  return s;
}

void expect_same(const rootfs_state& a, const rootfs_state& b) {
  EXPECT_EQ(a.reference, b.reference);
  EXPECT_EQ(a.layout_path, b.layout_path);
  EXPECT_EQ(a.manifest.media_type, b.manifest.media_type);
  EXPECT_EQ(a.manifest.digest, b.manifest.digest);
  EXPECT_EQ(a.manifest.size, b.manifest.size);
  EXPECT_EQ(a.config_digest, b.config_digest);
  EXPECT_EQ(a.recorded_sec, b.recorded_sec);
  EXPECT_EQ(a.recorded_nsec, b.recorded_nsec);
  EXPECT_EQ(a.racy_window_nsec, b.racy_window_nsec);
  EXPECT_EQ(a.records, b.records);
}

TEST(RootfsStateFormat, RoundTripsEveryField) {
  const auto s = sample();
  const std::string bytes = io::encode_rootfs_state(s);
  EXPECT_EQ(bytes.substr(0, 8), "OCIPSTAT");
  EXPECT_EQ(bytes.substr(8, 4), std::string("\x02\x00\x00\x00", 4));
  auto back = io::decode_rootfs_state(bytes);
  ASSERT_TRUE(back) << back.error().message();
  expect_same(*back, s);
}

TEST(RootfsStateFormat, PathsShareTheirPrefixSoRecordsStaySmall) {
  rootfs_state s = sample();
  s.records.clear();
  for (int i = 0; i < 1000; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "usr/share/doc/package-%04d", i);
    s.records.push_back(rec(name, 0100644, 100 + i));
  }
  // "usr", "usr/share", "usr/share/doc" are left out: the format checks order, not parents.
  const std::string bytes = io::encode_rootfs_state(s);
  EXPECT_LT(bytes.size(), 1000u * 40) << "about 30 bytes a record";
  auto back = io::decode_rootfs_state(bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->records, s.records);
}

TEST(RootfsStateFormat, DamageAndTruncationAreRefused) {
  const std::string bytes = io::encode_rootfs_state(sample());
  for (std::size_t at : {std::size_t{20}, bytes.size() / 2, bytes.size() - 9}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x40);
    auto r = io::decode_rootfs_state(bad);
    ASSERT_FALSE(r) << "byte " << at;
    EXPECT_EQ(r.error().code(), errc::malformed);
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{8}, std::size_t{30}, bytes.size() - 1}) {
    auto r = io::decode_rootfs_state(bytes.substr(0, n));
    ASSERT_FALSE(r) << n << " bytes";
    EXPECT_EQ(r.error().code(), errc::malformed);
  }
}

TEST(RootfsStateFormat, AnotherFormatVersionIsUnsupported) {
  std::string bytes = io::encode_rootfs_state(sample());
  bytes[8] = 3;
  auto r = io::decode_rootfs_state(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported);
  EXPECT_NE(r.error().message().find("format 3"), std::string::npos) << r.error().message();
}

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string with_checksum(std::string body) {
  const std::uint64_t sum = fnv1a(body);
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
  return body;
}

// Version 1 (the count before the records, no tags) is what earlier ocipipe releases
// wrote beside every rootfs; pack --diff of such a rootfs must still work.
TEST(RootfsStateFormat, Version1FilesAreStillRead) {
  rootfs_state s = sample();
  s.records = {s.records[3]};  // a symlink: link target and every varint field
  s.records[0].content = digest::parse("sha256:" + std::string(64, 'c')).value();
  rootfs_state none = s;
  none.records.clear();
  const std::string v2_none = io::encode_rootfs_state(none), v2_one = io::encode_rootfs_state(s);
  // v2: header, then "\x01" record ... "\x00" count; v1: header, count, record.
  const std::string header = v2_none.substr(0, v2_none.size() - 8 - 2);
  const std::string record = v2_one.substr(header.size() + 1, v2_one.size() - 8 - 2 - header.size() - 1);
  std::string v1 = header + "\x01" + record;
  v1[8] = 1;
  auto back = io::decode_rootfs_state(with_checksum(v1));
  ASSERT_TRUE(back) << back.error().message();
  expect_same(*back, s);
}

TEST(RootfsStateFormat, ACountThatDisagreesWithTheRecordsIsRefused) {
  std::string bytes = io::encode_rootfs_state(sample());
  std::string body = bytes.substr(0, bytes.size() - 8);
  ASSERT_EQ(body.back(), '\x05');
  body.back() = '\x04';
  auto r = io::decode_rootfs_state(with_checksum(body));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find("ends after 5 records but says 4"), std::string::npos) << r.error().message();
}

// The writer streams: what it writes equals encode_rootfs_state of the same records, and
// it refuses a record out of order or with an unclean path rather than write a file
// decode would refuse.
TEST(RootfsStateWriter, StreamsTheSameBytesAndRefusesRecordsOutOfOrder) {
  temp_dir t;
  ASSERT_EQ(::mkdir(t.sub("root").c_str(), 0755), 0);
  auto w = io::rootfs_state_writer::begin(t.sub("root"));
  ASSERT_TRUE(w) << w.error().message();
  rootfs_state s = sample();
  ASSERT_TRUE(w->start(s));
  EXPECT_FALSE(w->start(s)) << "a second header";
  for (const auto& r : s.records) ASSERT_TRUE(w->add(r)) << r.path;
  for (const auto& bad : {s.records[0], s.records[4], rec("etc//x", 0100644, 9), rec("zz/../a", 0100644, 9)}) {
    auto r = w->add(bad);
    ASSERT_FALSE(r) << bad.path;
    EXPECT_EQ(r.error().code(), errc::internal);
  }
  ASSERT_TRUE(w->add(rec("zz", 0100644, 10)));
  ASSERT_TRUE(w->commit());
  EXPECT_FALSE(w->commit());
  s.records.push_back(rec("zz", 0100644, 10));
  s.recorded_sec = w->recorded_sec();
  s.recorded_nsec = w->recorded_nsec();
  s.racy_window_nsec = w->racy_window_nsec();
  EXPECT_EQ(read_bytes(t.sub("root.ocipipe-state")), io::encode_rootfs_state(s));
}

// More records than the writer's 1 MiB buffer holds: flushed in pieces, read back whole.
TEST(RootfsStateWriter, RecordsPastTheBufferAreWrittenInPieces) {
  temp_dir t;
  ASSERT_EQ(::mkdir(t.sub("root").c_str(), 0755), 0);
  auto w = io::rootfs_state_writer::begin(t.sub("root"));
  ASSERT_TRUE(w);
  rootfs_state s = sample();
  s.records.clear();
  for (int i = 0; i < 40000; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "d%03d/file-%06d", i / 1000, i);
    s.records.push_back(rec(name, 0100644, 100 + i));
  }
  ASSERT_TRUE(w->start(s));
  for (const auto& r : s.records) ASSERT_TRUE(w->add(r));
  ASSERT_TRUE(w->commit());
  ASSERT_GT(read_bytes(t.sub("root.ocipipe-state")).size(), std::size_t{1} << 20);
  auto back = io::read_rootfs_state(t.sub("root"));
  ASSERT_TRUE(back && *back) << (back ? "none" : back.error().message());
  EXPECT_EQ((*back)->records, s.records);
}

TEST(RootfsStateFormat, PathsOutsideTheRootfsOrOutOfOrderAreRefused) {
  const std::vector<std::string> bads = {"../etc", "etc/../../x", "/etc", "etc//x", "./etc", "etc/",
                                         std::string("a\0b", 3)};
  for (const auto& bad : bads) {
    rootfs_state s = sample();
    s.records = {rec(bad, 0100644, 1)};
    auto r = io::decode_rootfs_state(io::encode_rootfs_state(s));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::malformed);
  }
  rootfs_state s = sample();
  std::swap(s.records[0], s.records[1]);
  auto r = io::decode_rootfs_state(io::encode_rootfs_state(s));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("out of order"), std::string::npos) << r.error().message();
}

TEST(RootfsStatePath, IsTheRootfsBasenameWithASuffixInItsParent) {
  temp_dir t;
  ASSERT_EQ(::mkdir(t.sub("x").c_str(), 0755), 0);
  EXPECT_EQ(io::rootfs_state_path(t.sub("x/root")).value(), t.sub("x/root.ocipipe-state"));
  EXPECT_EQ(io::rootfs_state_path(t.sub("x/root/")).value(), t.sub("x/root.ocipipe-state"));
  EXPECT_EQ(io::rootfs_state_path(t.sub("x/./root//")).value(), t.sub("x/root.ocipipe-state"));
  ASSERT_EQ(::mkdir(t.sub("x/root").c_str(), 0755), 0);
  EXPECT_EQ(io::rootfs_state_path(t.sub("x/root/.")).value(), t.sub("x/root.ocipipe-state"));
  EXPECT_EQ(io::rootfs_state_path(t.sub("x/root/sub/..")).value_or("<error>"), "<error>")
      << "x/root/sub does not exist";
  EXPECT_FALSE(io::rootfs_state_path("/"));
  EXPECT_FALSE(io::rootfs_state_path(t.sub("missing/root")));
}

TEST(RootfsStateWriter, CommitsAtomicallyAndLeavesNoTemporary) {
  temp_dir t;
  const std::string rootfs = t.sub("root");
  ASSERT_EQ(::mkdir(rootfs.c_str(), 0755), 0);
  {
    auto w = io::rootfs_state_writer::begin(rootfs);
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_EQ(w->path(), t.sub("root.ocipipe-state"));
    EXPECT_FALSE(path_exists(t.sub("root.ocipipe-state"))) << "no final name before commit";
    EXPECT_EQ(w->racy_window_nsec(), 0) << "same filesystem, nanosecond timestamps";
    ASSERT_TRUE(w->start(sample()));
    for (const auto& r : sample().records) ASSERT_TRUE(w->add(r));
    auto ok = w->commit();
    ASSERT_TRUE(ok) << ok.error().message();
    auto read = io::read_rootfs_state(rootfs);
    ASSERT_TRUE(read && *read) << (read ? "no state" : read.error().message());
    EXPECT_EQ((*read)->records, sample().records);
    EXPECT_EQ((*read)->recorded_sec, w->recorded_sec()) << "the recording time is the writer's";
  }
  EXPECT_EQ(names_in(t.path()), (std::vector<std::string>{"root", "root.ocipipe-state"}));
  {
    auto w = io::rootfs_state_writer::begin(rootfs);
    ASSERT_TRUE(w);
    EXPECT_EQ(names_in(t.path()).size(), 3u) << "the temporary beside the old state";
  }  // dropped uncommitted: the old state stays, the temporary goes
  EXPECT_EQ(names_in(t.path()), (std::vector<std::string>{"root", "root.ocipipe-state"}));
  ASSERT_TRUE(io::remove_rootfs_state(rootfs));
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"root"});
  ASSERT_TRUE(io::remove_rootfs_state(rootfs)) << "removing a missing state is fine";
  auto none = io::read_rootfs_state(rootfs);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(RootfsStateRacy, CtimeAtOrAfterTheRecordingIsRacy) {
  EXPECT_TRUE(io::racy(100, 5, 100, 5, 0));
  EXPECT_TRUE(io::racy(100, 6, 100, 5, 0));
  EXPECT_FALSE(io::racy(100, 4, 100, 5, 0));
  EXPECT_FALSE(io::racy(99, 999999999, 100, 0, 0));
  EXPECT_TRUE(io::racy(99, 0, 100, 0, 2000000000)) << "within a coarse clock's window";
  EXPECT_FALSE(io::racy(97, 999999999, 100, 0, 2000000000));
}

// ---- recorded by unpack() and create() ----

std::vector<layer_spec> small_image() {
  return {layer({dir("etc/"), file("etc/hostname", "box\n"), symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
                 dir("usr/"), dir("usr/bin/"), file("usr/bin/tool", std::string(5000, 'x'), 0755)})};
}

TEST(UnpackState, RecordsOneRecordPerPathAndTheImage) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const std::string rootfs = t.sub("out/root");
  auto rep = unpack(img.ref(), rootfs, {});
  ASSERT_TRUE(rep) << rep.error().message();
  for (const auto& w : rep->warnings) ADD_FAILURE() << w.first << ": " << w.second;
  auto state = io::read_rootfs_state(rootfs);
  ASSERT_TRUE(state && *state) << (state ? "no state file" : state.error().message());
  const auto& s = **state;
  EXPECT_EQ(s.reference, img.ref().str());
  EXPECT_EQ(s.layout_path, t.sub("layout"));
  EXPECT_EQ(s.manifest.digest, img.manifest_digest);
  EXPECT_EQ(s.manifest.size, img.manifest_size);
  EXPECT_EQ(s.config_digest, img.config_digest);
  auto walked = io::walk_tree(rootfs);
  ASSERT_TRUE(walked);
  ASSERT_EQ(s.records.size(), walked->size());
  for (std::size_t i = 0; i < walked->size(); ++i) {
    const auto& r = s.records[i];
    const auto& e = (*walked)[i];
    EXPECT_EQ(r.path, e.path);
    EXPECT_EQ(r.mode, e.mode) << r.path;
    EXPECT_EQ(r.size, e.size) << r.path;
    EXPECT_EQ(r.ino, e.ino) << r.path;
    EXPECT_EQ(r.ctime_sec, e.ctime_sec) << r.path;
    EXPECT_EQ(r.ctime_nsec, e.ctime_nsec) << r.path;
    EXPECT_EQ(r.mtime_sec, e.mtime_sec) << r.path;
    EXPECT_EQ(r.link_target, e.link_target) << r.path;
    // Only a file changed in the recording's own clock tick carries a digest.
    if (r.content) {
      EXPECT_TRUE(io::racy(r.ctime_sec, r.ctime_nsec, s.recorded_sec, s.recorded_nsec, s.racy_window_nsec)) << r.path;
    }
  }
  EXPECT_EQ(names_in(t.sub("out")), (std::vector<std::string>{"root", "root.ocipipe-state"}));
}

TEST(UnpackState, NoStateWhenAskedNotTo) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  unpack_options opts;
  opts.record_state = false;
  ASSERT_TRUE(unpack(img.ref(), t.sub("root"), opts));
  EXPECT_FALSE(path_exists(t.sub("root.ocipipe-state")));
}

TEST(UnpackState, ForceReplacesTheStateAndAFailedUnpackLeavesNone) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const auto other = build_layout(t.sub("layout2"), "v2", {layer({file("only", "1")})});
  const std::string rootfs = t.sub("root");
  ASSERT_TRUE(unpack(img.ref(), rootfs, {}));
  unpack_options force;
  force.force = true;
  ASSERT_TRUE(unpack(other.ref(), rootfs, force));
  auto state = io::read_rootfs_state(rootfs);
  ASSERT_TRUE(state && *state);
  EXPECT_EQ((*state)->manifest.digest, other.manifest_digest);
  ASSERT_EQ((*state)->records.size(), 1u);
  EXPECT_EQ((*state)->records[0].path, "only");

  // Over the same rootfs, an image whose layer is corrupt: no rootfs, no state.
  auto broken = build_layout(t.sub("layout3"), "v3", small_image());
  corrupt_layer_byte(broken, 0);
  ASSERT_FALSE(unpack(broken.ref(), rootfs, force));
  EXPECT_FALSE(path_exists(t.sub("root.ocipipe-state")));
  EXPECT_EQ(names_in(t.path()), (std::vector<std::string>{"layout", "layout2", "layout3", "root"}));
}

// unpack --force empties the rootfs before it writes the new image. The old state goes
// first: a run that fails or is killed while emptying must not leave it beside a
// half-emptied rootfs, where pack --diff took every missing path for a deletion (found
// by a fresh-eyes run with chattr +i; here an unprivileged user meets a directory it
// cannot empty).
TEST(UnpackState, ForceRemovesTheOldStateBeforeItEmptiesTheRootfs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  temp_dir t;
  ASSERT_EQ(::chmod(t.path().c_str(), 0755), 0);
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const auto other = build_layout(t.sub("layout2"), "v2", {layer({file("only", "1")})});
  const std::string box = t.sub("box"), rootfs = box + "/root";
  ASSERT_EQ(::mkdir(box.c_str(), 0755), 0);
  ASSERT_EQ(::chown(box.c_str(), 65534, 65534), 0);
  const std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                              ocipipe_binary(), "unpack", "--progress=never"};
  auto first = as_nobody;
  first.insert(first.end(), {img.ref_text(), rootfs});
  const auto r1 = run_command(first);
  ASSERT_EQ(r1.exit_code, 0) << r1.describe();
  ASSERT_TRUE(path_exists(rootfs + ".ocipipe-state"));
  // A directory of root's in the rootfs: nobody cannot empty it (nor chmod it to).
  ASSERT_EQ(::mkdir((rootfs + "/locked").c_str(), 0755), 0);
  write_bytes(rootfs + "/locked/file", "x");
  auto again = as_nobody;
  again.insert(again.end(), {"--force", other.ref_text(), rootfs});
  const auto r2 = run_command(again);
  EXPECT_EQ(r2.exit_code, 2) << r2.describe();
  EXPECT_FALSE(path_exists(rootfs + ".ocipipe-state")) << "a state beside a rootfs it no longer describes";
}

// A writer killed before it committed leaves ".root.ocipipe-state.tmp-XXXXXX"; the next
// unpack of that rootfs removes it with the old state (nothing else would).
TEST(UnpackState, TemporariesOfAKilledRecordingAreRemovedByTheNextUnpack) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const std::string rootfs = t.sub("root");
  ASSERT_TRUE(unpack(img.ref(), rootfs, {}));
  write_bytes(t.sub(".root.ocipipe-state.tmp-AbC123"), "half a state");
  write_bytes(t.sub(".other.ocipipe-state.tmp-AbC123"), "another rootfs's");
  unpack_options force;
  force.force = true;
  ASSERT_TRUE(unpack(img.ref(), rootfs, force));
  EXPECT_EQ(names_in(t.path()),
            (std::vector<std::string>{".other.ocipipe-state.tmp-AbC123", "layout", "root", "root.ocipipe-state"}));
}

TEST(UnpackState, UnwritableParentIsAWarningNotAFailure) {
  // As an unprivileged user (setpriv), unpacking into an empty rootfs it owns whose parent
  // it cannot write: the rootfs is complete, the state is left out with a warning.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  temp_dir t;
  ASSERT_EQ(::chmod(t.path().c_str(), 0755), 0);
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const std::string rootfs = t.sub("root");
  ASSERT_EQ(::mkdir(rootfs.c_str(), 0755), 0);
  ASSERT_EQ(::chown(rootfs.c_str(), 65534, 65534), 0);
  const auto r = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ocipipe_binary(),
                              "unpack", "--json", img.ref_text(), rootfs});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out + r.err, "state.unwritable")) << r.describe();
  EXPECT_TRUE(path_exists(rootfs + "/usr/bin/tool"));
  EXPECT_FALSE(path_exists(t.sub("root.ocipipe-state")));
}

TEST(CreateState, RecordsBesideTheRootfsAfterConfigAndWorkingDir) {
  temp_dir t;
  config_overrides cfg;
  cfg.cmd = std::vector<std::string>{"/usr/bin/tool"};
  cfg.working_dir = "/srv/app";  // missing from the image: create makes it
  const auto img = build_layout(t.sub("layout"), "v1", small_image(), cfg);
  const std::string bundle = t.sub("bundle");
  auto rep = create(img.ref(), bundle, {});
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(names_in(bundle), (std::vector<std::string>{"config.json", "rootfs", "rootfs.ocipipe-state"}));
  auto state = io::read_rootfs_state(bundle + "/rootfs");
  ASSERT_TRUE(state && *state);
  std::vector<std::string> paths;
  for (const auto& r : (*state)->records) paths.push_back(r.path);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "srv/app"), paths.end())
      << "the WorkingDir create made is part of the recorded rootfs";
  create_options no_state;
  no_state.unpack.record_state = false;
  no_state.unpack.force = true;
  ASSERT_TRUE(create(img.ref(), bundle, no_state));
  EXPECT_EQ(names_in(bundle), (std::vector<std::string>{"config.json", "rootfs"}));
}

TEST(UnpackState, CliNoStateFlag) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "v1", small_image());
  const auto r = run_ocipipe({"unpack", "--no-state", img.ref_text(), t.sub("root")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(path_exists(t.sub("root.ocipipe-state")));
  const auto c = run_ocipipe({"create", "--no-state", "--args", "/usr/bin/tool", img.ref_text(), t.sub("bundle")});
  ASSERT_TRUE(c.ok()) << c.describe();
  EXPECT_FALSE(path_exists(t.sub("bundle/rootfs.ocipipe-state")));
  const auto d = run_ocipipe({"create", "--args", "/usr/bin/tool", img.ref_text(), t.sub("bundle2")});
  ASSERT_TRUE(d.ok()) << d.describe();
  EXPECT_TRUE(path_exists(t.sub("bundle2/rootfs.ocipipe-state")));
}

}  // namespace
}  // namespace ocipipe::testing
