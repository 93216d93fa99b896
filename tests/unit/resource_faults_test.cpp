// Resource faults through the CLI (issue 10 item 5): a full file system under `unpack` and
// under `copy` into a layout, and SIGINT in the middle of a run. Each ends with a clear
// error and its exit code (DESIGN.md §4: 2 for an I/O failure, 128+N for signal N), and
// leaves no partial rootfs under the target's name and a layout that validates, with no
// half-written blob under a final name.
//
// The full file system is a tmpfs of 8 MiB mounted for the test (we run as root), else a
// loop-mounted ext4 image of the same size; where neither can be mounted the tests say so
// and skip. Mounts are undone in TearDown, whatever the test did.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/image_builder.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

// An image of `files` regular files of `bytes` pseudo-random bytes each (incompressible,
// so what a file system gets is what the image says), plain tar.
built_image image_of_files(const std::string& dir, int files, std::size_t bytes, std::uint64_t seed) {
  splitmix64 rng{seed};
  std::vector<tar_spec_entry> entries;
  for (int i = 0; i < files; ++i) entries.push_back(file("data/f" + std::to_string(i), rng.bytes(bytes)));
  return build_layout(dir, "t", {layer(std::move(entries), layer_compression::none)});
}

// Every file below `dir`, relative path -> size and mtime, to show a layout was not touched.
std::map<std::string, std::pair<off_t, long>> snapshot(const std::string& dir, const std::string& rel = "") {
  std::map<std::string, std::pair<off_t, long>> out;
  for (const auto& name : names_in(dir + (rel.empty() ? "" : "/" + rel))) {
    const std::string r = rel.empty() ? name : rel + "/" + name;
    const struct stat st = lstat_of(dir + "/" + r);
    if (S_ISDIR(st.st_mode)) {
      auto sub = snapshot(dir, r);
      out.insert(sub.begin(), sub.end());
    } else {
      out[r] = {st.st_size, static_cast<long>(st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec)};
    }
  }
  return out;
}

// Every blob file of `layout` holds bytes that hash to its name: nothing half-written sits
// under a final name. Also: no file in blobs/sha256 but blobs.
::testing::AssertionResult blobs_are_whole(const std::string& layout) {
  const std::string dir = layout + "/blobs/sha256";
  for (const auto& name : names_in(dir)) {
    const std::string got = sha256_of(read_bytes(dir + "/" + name)).str();
    if (got != "sha256:" + name)
      return ::testing::AssertionFailure() << "blobs/sha256/" << name << " holds other bytes (" << got << ")";
  }
  return ::testing::AssertionSuccess();
}

std::string json_error_code(const std::string& json_lines) {
  for (const auto& line : lines_of(json_lines)) {
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_discarded() && rec.value("type", "") == "end" && rec["data"].contains("error"))
      return rec["data"]["error"].value("code", "");
  }
  return "";
}

class FullFilesystem : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = tmp_.sub("mnt");
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m") == 0) {
      mounted_ = true;
      return;
    }
    const int tmpfs_errno = errno;
    // Fallback: an ext4 image on a loop device (mount(8) sets it up and frees it again).
    const std::string image = tmp_.sub("fs.img");
    const auto mk = run_command({"sh", "-c", "truncate -s 8M " + format_command({image}) + " && mkfs.ext4 -q -F " +
                                                 format_command({image})});
    if (mk.ok()) {
      const auto m = run_command({"mount", "-o", "loop", image, mnt_});
      mounted_ = m.ok();
      if (mounted_) return;
      GTEST_SKIP() << "cannot mount a small file system here: tmpfs: " << std::strerror(tmpfs_errno)
                   << "; loop ext4: " << m.describe();
    }
    GTEST_SKIP() << "cannot mount a small file system here: tmpfs: " << std::strerror(tmpfs_errno)
                 << "; mkfs.ext4: " << mk.describe();
  }
  void TearDown() override {
    if (mounted_ && ::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  temp_dir tmp_{"ocipipe-enospc"};
  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(FullFilesystem, UnpackFailsWithNoSpaceNamingTheFileAndLeavesNoRootfs) {
  const auto img = image_of_files(tmp_.sub("layout"), 4, 3 << 20, 1);  // 12 MiB into 8 MiB
  const auto before = snapshot(img.dir);
  const std::string target = mnt_ + "/rootfs";
  for (const char* jobs : {"-j1", "-j2"}) {
    SCOPED_TRACE(jobs);
    const auto r = run_ocipipe({"unpack", jobs, "--progress=never", "--json", img.ref_text(), target});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "no space left on device")) << r.err;
    EXPECT_TRUE(contains(r.err, "write \"data/f")) << "the file is not named: " << r.err;
    EXPECT_EQ(json_error_code(r.out), "resource_exhausted") << r.out;
    EXPECT_FALSE(path_exists(target)) << "partial rootfs left behind";
    EXPECT_EQ(names_in(mnt_), std::vector<std::string>{}) << "something left on the file system";
  }
  EXPECT_EQ(snapshot(img.dir), before) << "the source layout changed";
}

TEST_F(FullFilesystem, CopyIntoALayoutFailsWithNoSpaceAndLeavesTheLayoutValid) {
  const auto small = image_of_files(tmp_.sub("small"), 1, 64 << 10, 2);
  const auto big = image_of_files(tmp_.sub("big"), 4, 3 << 20, 3);
  const std::string layout = mnt_ + "/layout";
  const auto first = run_ocipipe({"copy", small.ref_text(), "oci:" + layout + ":small"});
  ASSERT_TRUE(first.ok()) << first.describe();
  const std::string index_before = read_bytes(layout + "/index.json");

  const auto r = run_ocipipe({"copy", "--progress=never", big.ref_text(), "oci:" + layout + ":big"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "no space left on device")) << r.err;
  EXPECT_TRUE(contains(r.err, "blob sha256:")) << "the blob is not named: " << r.err;
  EXPECT_EQ(read_bytes(layout + "/index.json"), index_before) << "index.json changed by a failed copy";
  EXPECT_TRUE(blobs_are_whole(layout));
  const auto v = run_ocipipe({"validate", "--all", "oci:" + layout});
  EXPECT_TRUE(v.ok()) << v.describe();
  // The image copied before is still whole and unpacks (into the test's own directory).
  const auto u = run_ocipipe({"unpack", "oci:" + layout + ":small", tmp_.sub("rootfs")});
  EXPECT_TRUE(u.ok()) << u.describe();
}

// ---- SIGINT ----

// Sends SIGINT to `child` as soon as `started()` says the run is under way, then waits.
finished_child interrupt_when(child_process& child, const std::function<bool()>& started) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (child.running() && !started() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  const bool was_running = child.running();
  child.signal(SIGINT);
  auto f = child.wait(std::chrono::minutes(2));
  if (!was_running) ADD_FAILURE() << "the run ended before SIGINT could be sent: make the image bigger";
  return f;
}

TEST(Sigint, StopsUnpackWith130AndLeavesNoRootfsAndTheLayoutUntouched) {
  temp_dir tmp("ocipipe-sigint");
  // Three layers of 12 000 small files: seconds of file creation, SIGINT lands in the middle.
  std::vector<layer_spec> layers;
  for (int l = 0; l < 3; ++l) {
    std::vector<tar_spec_entry> entries;
    for (int i = 0; i < 12000; ++i)
      entries.push_back(file("l" + std::to_string(l) + "/f" + std::to_string(i), std::string(700, 'a' + l)));
    layers.push_back(layer(std::move(entries)));
  }
  const auto img = build_layout(tmp.sub("layout"), "t", layers);
  const auto before = snapshot(img.dir);
  for (const char* jobs : {"-j1", "-j2"}) {
    SCOPED_TRACE(jobs);
    const std::string target = tmp.sub(std::string("rootfs") + jobs);
    child_process child({ocipipe_binary(), "unpack", jobs, "--progress=never", img.ref_text(), target});
    const auto f = interrupt_when(child, [&] { return path_exists(target + "/l0/f100"); });
    EXPECT_EQ(f.run.exit_code, 130) << f.run.describe();
    EXPECT_TRUE(contains(f.run.err, "cancelled")) << f.run.err;
    EXPECT_FALSE(path_exists(target)) << "partial rootfs left under the target's name";
    EXPECT_FALSE(path_exists(target + ".ocipipe-state"));
  }
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"layout"})) << "something left beside the layout";
  EXPECT_EQ(snapshot(img.dir), before) << "the layout changed";
}

TEST(Sigint, StopsCopyWith130AndLeavesTheLayoutValid) {
  temp_dir tmp("ocipipe-sigint-copy");
  std::vector<layer_spec> layers;
  splitmix64 rng{5};
  for (int l = 0; l < 24; ++l) layers.push_back(layer({file("f" + std::to_string(l), rng.bytes(4 << 20))}, layer_compression::none));
  const auto img = build_layout(tmp.sub("src"), "t", layers);
  const std::string layout = tmp.sub("dst");
  child_process child({ocipipe_binary(), "copy", "-j1", "--progress=never", img.ref_text(), "oci:" + layout + ":t"});
  const auto f = interrupt_when(child, [&] { return names_in(layout + "/blobs/sha256").size() >= 2; });
  EXPECT_EQ(f.run.exit_code, 130) << f.run.describe();
  EXPECT_TRUE(blobs_are_whole(layout));
  const auto v = run_ocipipe({"validate", "--all", "oci:" + layout});
  EXPECT_TRUE(v.ok()) << v.describe();
  // What was copied is not named by a tag: the image is not there half-done.
  EXPECT_FALSE(contains(read_bytes(layout + "/index.json"), "\"t\"")) << read_bytes(layout + "/index.json");
}

}  // namespace
}  // namespace ocipipe::testing
