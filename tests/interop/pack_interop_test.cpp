// Images written by `ocipipe pack` (issue 6) read by the other tools: umoci unpack gives
// back the packed tree (gzip and plain tar layers), oci-image-tool validates the layout,
// skopeo copies the image into a docker-archive, and a bundle that `ocipipe create` makes
// from a packed image runs under runc, alone and stacked on debian-slim with --base.
// Needs root (umoci restores owners and devices only as root; runc) and the datasets.

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

using strings = std::vector<std::string>;

::testing::AssertionResult ran_ok(const strings& argv, const run_options& opts = {}) {
  const auto r = run_command(argv, opts);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << format_command(argv) << ": " << r.describe();
}

::testing::AssertionResult pack_ok(const strings& args) {
  strings argv = {"pack"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_ocipipe(argv);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "ocipipe " << format_command(argv) << ": " << r.describe();
}

void require_root() {
  if (::geteuid() != 0) GTEST_FAIL() << "this test needs root (umoci restores owners and devices only as root; runc)";
}

// Everything a layer can carry, with names and sizes that need PAX.
void build_tree(const std::string& root) {
  auto dir = [](const std::string& p, mode_t m) {
    ASSERT_EQ(::mkdir(p.c_str(), m), 0) << p;
    ASSERT_EQ(::chmod(p.c_str(), m), 0) << p;
  };
  dir(root, 0755);
  dir(root + "/etc", 0755);
  write_bytes(root + "/etc/hostname", "packed\n");
  ASSERT_EQ(::lsetxattr((root + "/etc/hostname").c_str(), "user.origin", "ocipipe", 7, 0), 0);
  write_bytes(root + "/etc/secret", "s");
  ASSERT_EQ(::chmod((root + "/etc/secret").c_str(), 0600), 0);
  ASSERT_EQ(::lchown((root + "/etc/secret").c_str(), 1000, 1000), 0);
  dir(root + "/bin", 0755);
  write_bytes(root + "/bin/prog", std::string(300000, 'p'));
  ASSERT_EQ(::chmod((root + "/bin/prog").c_str(), 04755), 0);
  ASSERT_EQ(::link((root + "/bin/prog").c_str(), (root + "/bin/prog2").c_str()), 0);
  ASSERT_EQ(::symlink("prog", (root + "/bin/p").c_str()), 0);
  ASSERT_EQ(::symlink(std::string(120, 'x').c_str(), (root + "/bin/longtarget").c_str()), 0);
  dir(root + "/tmp", 01777);
  dir(root + "/dev", 0755);
  ASSERT_EQ(::mknod((root + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mkfifo((root + "/dev/fifo").c_str(), 0644), 0);
  std::string deep = root;
  for (int i = 0; i < 3; ++i) {
    deep += "/" + std::string(90, static_cast<char>('a' + i));
    dir(deep, 0750);
  }
  write_bytes(deep + "/" + std::string(120, 'z'), "deep\n");
  write_bytes(root + "/empty", "");
}

std::string umoci_unpacked(const temp_dir& tmp, const std::string& layout, const std::string& tag) {
  const std::string bundle = tmp.sub("umoci-" + tag);
  EXPECT_TRUE(ran_ok({"umoci", "unpack", "--image", layout + ":" + tag, bundle}));
  return bundle + "/rootfs";
}

TEST(PackInterop, UmociUnpacksPackedLayersToThePackedTree) {
  require_root();
  if (HasFatalFailure()) return;
  temp_dir tmp;
  build_tree(tmp.sub("tree"));
  if (HasFatalFailure()) return;
  for (const char* c : {"gzip", "none"}) {
    SCOPED_TRACE(c);
    ASSERT_TRUE(pack_ok({"--compression", c, tmp.sub("tree"), "oci:" + tmp.sub("layout") + ":" + c}));
    const std::string rootfs = umoci_unpacked(tmp, tmp.sub("layout"), c);
    tree_compare_options o;
    o.mtime_seconds_only = true;  // layers carry whole seconds
    const auto diffs = compare_trees(tmp.sub("tree"), rootfs, o);
    EXPECT_TRUE(diffs.empty()) << "tree (A) vs umoci unpack (B)\n" << format_differences(diffs);
  }
}

TEST(PackInterop, OciImageToolValidatesPackedLayouts) {
  temp_dir tmp;
  build_tree(tmp.sub("tree"));
  if (HasFatalFailure()) return;
  for (const char* c : {"gzip", "none"}) {
    SCOPED_TRACE(c);
    ASSERT_TRUE(pack_ok({"--compression", c, "--cmd", "[\"/bin/p\"]", tmp.sub("tree"),
                         "oci:" + tmp.sub("layout") + ":" + c}));
    // oci-image-tool 1.0.0-rc1 has no "imageLayout" type; "image" with a ref checks the
    // layout, the manifest, the config and the layers (datasets/README.md).
    EXPECT_TRUE(ran_ok({"oci-image-tool", "validate", "--type", "image", "--ref", std::string("name=") + c,
                        tmp.sub("layout")}));
  }
}

TEST(PackInterop, SkopeoCopiesPackedImagesToADockerArchive) {
  temp_dir tmp;
  build_tree(tmp.sub("tree"));
  if (HasFatalFailure()) return;
  for (const char* c : {"gzip", "none"}) {
    SCOPED_TRACE(c);
    ASSERT_TRUE(pack_ok({"--compression", c, tmp.sub("tree"), "oci:" + tmp.sub("layout") + ":" + c}));
    const std::string archive = tmp.sub(std::string(c) + ".docker.tar");
    ASSERT_TRUE(ran_ok({"skopeo", "--insecure-policy", "copy", "--quiet", "oci:" + tmp.sub("layout") + ":" + c,
                        "docker-archive:" + archive + ":example.com/packed:" + c}));
    // And ocipipe reads it back to the same tree.
    const auto u = run_ocipipe({"unpack", "docker-archive:" + archive, tmp.sub(std::string("from-archive-") + c)});
    ASSERT_TRUE(u.ok()) << u.describe();
    tree_compare_options o;
    o.mtime_seconds_only = true;
    o.compare_owner = ::geteuid() == 0;
    const auto diffs = compare_trees(tmp.sub("tree"), tmp.sub(std::string("from-archive-") + c), o);
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }
}

TEST(PackInterop, GnuGzipAndIgzipReadTheOneMemberLayer) {
  temp_dir tmp;
  build_tree(tmp.sub("tree"));
  if (HasFatalFailure()) return;
  // Several MiB of mixed content, so the layer spans many parallel chunks.
  std::string mixed;
  for (long long i = 0; i < 400000; ++i) mixed += std::to_string(i * 7919 % 100003) + (i % 3 ? " " : "\n");
  write_bytes(tmp.sub("tree/mixed"), mixed);
  const auto r = run_ocipipe({"pack", "--json", tmp.sub("tree"), "oci:" + tmp.sub("layout") + ":g"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rec = nlohmann::json::parse(lines_of(r.out).at(0))["data"];
  const std::string blob = tmp.sub("layout/blobs/sha256/") + rec["layer_digest"].get<std::string>().substr(7);
  const std::string diff_hex = rec["diff_id"].get<std::string>().substr(7);
  for (const strings& decoder : {strings{"gzip", "-dc"}, strings{"igzip", "-dc"}}) {
    SCOPED_TRACE(decoder[0]);
    const auto out = run_command({"sh", "-c", decoder[0] + " " + decoder[1] + " '" + blob + "' | sha256sum"});
    ASSERT_TRUE(out.ok()) << out.describe();
    EXPECT_EQ(out.out.substr(0, 64), diff_hex) << "the decoded stream is the tar whose sha256 is the diff_id";
  }
}

// ---- runc ----

std::string container_id() {
  static std::atomic<int> n{0};
  return "ocipipe-pack-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

command_result create_and_run(const temp_dir& tmp, const std::string& ref) {
  const std::string bundle = tmp.sub("bundle");
  const auto created = run_ocipipe({"create", ref, bundle});
  EXPECT_TRUE(created.ok()) << created.describe();
  const std::string state = tmp.sub("runc-state");
  const std::string id = container_id();
  run_options o;
  o.timeout = std::chrono::seconds(120);
  auto r = run_command({"runc", "--root", state, "run", "--bundle", bundle, id}, o);
  (void)run_command({"runc", "--root", state, "delete", "-f", id});
  return r;
}

TEST(PackInterop, PackedDebianSlimRootfsRunsUnderRunc) {
  require_root();
  if (HasFatalFailure()) return;
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  temp_dir tmp;
  const auto u = run_ocipipe({"unpack", dataset_ref("debian-slim"), tmp.sub("rootfs")});
  ASSERT_TRUE(u.ok()) << u.describe();
  ASSERT_TRUE(pack_ok({"--cmd", "[\"/bin/sh\",\"-c\",\"echo packed by ocipipe; id -u\"]", tmp.sub("rootfs"),
                       "oci:" + tmp.sub("layout") + ":slim"}));
  const auto r = create_and_run(tmp, "oci:" + tmp.sub("layout") + ":slim");
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "packed by ocipipe\n0\n") << r.err;
}

TEST(PackInterop, LayerPackedOnDebianSlimRunsUnderRunc) {
  require_root();
  if (HasFatalFailure()) return;
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  temp_dir tmp;
  ASSERT_EQ(::mkdir(tmp.sub("top").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(tmp.sub("top/srv").c_str(), 0755), 0);
  write_bytes(tmp.sub("top/srv/hello.sh"), "#!/bin/sh\necho \"hello from the new layer in $(pwd) as $GREETING\"\n");
  ASSERT_EQ(::chmod(tmp.sub("top/srv/hello.sh").c_str(), 0755), 0);
  // debian-slim's entrypoint is python3: clear it, run the script of the new layer.
  ASSERT_TRUE(pack_ok({"--base", dataset_ref("debian-slim"), "--entrypoint", "", "--cmd", "/srv/hello.sh",
                       "--workdir", "/srv", "--env", "GREETING=packed", tmp.sub("top"),
                       "oci:" + tmp.sub("layout") + ":stacked"}));
  const auto r = create_and_run(tmp, "oci:" + tmp.sub("layout") + ":stacked");
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from the new layer in /srv as packed\n") << r.err;
}

}  // namespace
}  // namespace ocipipe::testing
