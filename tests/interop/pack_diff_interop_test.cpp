// pack --diff on the real debian-slim image (issue 6 "Round trip"): create (and unpack) a
// copy of the dataset, change the rootfs (add, modify, chmod, chown, delete a file and a
// directory, replace a directory as a whole, a file turned directory, a symlink retargeted,
// a hardlink added, an xattr set), `ocipipe pack --diff`, then unpack the result with ocipipe and with
// `umoci unpack`: both equal the changed tree, entry by entry. Needs root (umoci restores
// owners only as root) and the datasets.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

::testing::AssertionResult ran_ok(const std::vector<std::string>& argv) {
  command_result r = run_command(argv);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << format_command(argv) << ": " << r.describe();
}

// A private copy of debian-slim: pack --diff writes into it.
std::string copy_dataset(const temp_dir& tmp, const std::string& name) {
  const std::string layout = tmp.sub("layout");
  EXPECT_TRUE(ran_ok({"cp", "-a", dataset_layout(name), layout}));
  return layout;
}

void sh(const std::string& rootfs, const std::string& script) {
  EXPECT_TRUE(ran_ok({"sh", "-euc", "cd \"$1\"; " + script, "sh", rootfs}));
}

// The same kinds of change a user makes in a bundle, on paths debian-slim has.
void change_rootfs(const std::string& rootfs) {
  sh(rootfs,
     "echo added > etc/ocipipe-added;"
     "mkdir -p srv/app/data && printf 'x%.0s' $(seq 1 3000) > srv/app/data/blob && chown -R 1000:1000 srv/app;"
     "echo '# changed' >> etc/bash.bashrc;"
     "chmod 0600 etc/issue.net;"
     "chown 1:1 etc/host.conf;"
     "rm etc/motd;"
     "rm -rf usr/share/pam-configs;"
     "rm -rf etc/apt && mkdir etc/apt && echo 'deb http://example/ bookworm main' > etc/apt/sources.list;"
     "rm etc/debian_version && mkdir etc/debian_version && echo 12 > etc/debian_version/version;"
     "rm -rf usr/share/menu && echo 'not a directory now' > usr/share/menu;"
     "ln -sfn /usr/lib/os-release-elsewhere etc/os-release;"
     "ln etc/passwd etc/passwd.hardlink;"
     "setfattr -n user.ocipipe -v marked etc/issue");
}

void expect_equal_trees(const std::string& a, const std::string& b, const std::string& what) {
  tree_compare_options o;
  // pack's layers keep whole seconds of mtimes (ustar; PAX only where ustar cannot hold a
  // field), so the files changed here come back with their nanoseconds cut.
  o.mtime_seconds_only = true;
  const auto diffs = compare_trees(a, b, o);
  EXPECT_TRUE(diffs.empty()) << what << ": " << diffs.size() << " differences (A = \"" << a << "\", B = \"" << b
                             << "\"):\n"
                             << format_differences(diffs, 50);
}

void round_trip(const std::string& how) {
  if (::geteuid() != 0) GTEST_FAIL() << "this test needs root: umoci restores owners only as root";
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  temp_dir tmp("ocipipe-pack-diff-interop");
  const std::string layout = copy_dataset(tmp, "debian-slim");
  const std::string ref = "oci:" + layout + ":debian-slim";
  std::string target, rootfs;
  if (how == "create") {
    target = tmp.sub("bundle");
    rootfs = target + "/rootfs";
    ASSERT_TRUE(ran_ok({ocipipe_binary(), "create", ref, target}));
  } else {
    target = rootfs = tmp.sub("root");
    ASSERT_TRUE(ran_ok({ocipipe_binary(), "unpack", ref, rootfs}));
  }
  change_rootfs(rootfs);
  const auto r = run_command({ocipipe_binary(), "pack", "--json", "--diff", target, "oci:" + layout + ":changed"});
  ASSERT_TRUE(r.ok()) << r.describe();
  // The new layer holds only what changed: a few dozen entries, not the image.
  std::uint64_t entries = 0, removed = 0, tar_bytes = 0;
  for (const auto& line : lines_of(r.out)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("type", "") != "pack") continue;
    entries = j["data"].value("entries", std::uint64_t{0});
    removed = j["data"].value("removed", std::uint64_t{0});
    tar_bytes = j["data"].value("tar_bytes", std::uint64_t{0});
  }
  EXPECT_GT(entries, 10u) << r.out;
  EXPECT_LT(entries, 40u) << r.out;
  EXPECT_EQ(removed, 4u) << r.out;  // motd, pam-configs; opaque: etc/apt, etc/debian_version
  EXPECT_LT(tar_bytes, std::uint64_t{64} << 10) << r.out;

  const std::string again = tmp.sub("ocipipe-again");
  ASSERT_TRUE(ran_ok({ocipipe_binary(), "unpack", "oci:" + layout + ":changed", again}));
  expect_equal_trees(rootfs, again, "changed tree (A) vs ocipipe unpack of the diff image (B)");

  const std::string umoci = tmp.sub("umoci-bundle");
  ASSERT_TRUE(ran_ok({"umoci", "unpack", "--image", layout + ":changed", umoci}));
  expect_equal_trees(rootfs, umoci + "/rootfs", "changed tree (A) vs umoci unpack of the diff image (B)");

  // oci-image-tool 1.0.0-rc1 has no "imageLayout" type; "image" with a ref checks the layout,
  // the manifest, the config and the layers.
  EXPECT_TRUE(ran_ok({"oci-image-tool", "validate", "--type", "image", "--ref", "name=changed", layout}));
}

TEST(PackDiffInterop, CreatedBundleRoundTripsThroughOcipipeAndUmoci) { round_trip("create"); }

TEST(PackDiffInterop, UnpackedRootfsRoundTripsThroughOcipipeAndUmoci) { round_trip("unpack"); }

}  // namespace
}  // namespace ocipipe::testing
