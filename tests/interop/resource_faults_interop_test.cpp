// `ocipipe pull` from a registry (Debian's docker-registry on 127.0.0.1) into a layout on a
// full file system (issue 10 item 5): exit 2 with "no space left on device" naming the
// blob, and the layout left valid, with no half-written blob under a final name (a partial
// download stays in the ingest directory for the next run to continue). The unit tests
// (tests/unit/resource_faults_test.cpp) cover unpack and copy into a layout the same way.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

TEST(PullFaults, PullIntoAFullFilesystemFailsWithNoSpaceAndLeavesTheLayoutValid) {
  temp_dir tmp("ocipipe-pull-enospc");
  const std::string mnt = tmp.sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct unmount {
    std::string dir;
    ~unmount() {
      if (::umount2(dir.c_str(), 0) != 0) ::umount2(dir.c_str(), MNT_DETACH);
    }
  } unmount_at_end{mnt};

  splitmix64 rng{9};
  std::vector<tar_spec_entry> files;
  for (int i = 0; i < 4; ++i) files.push_back(file("data/f" + std::to_string(i), rng.bytes(3 << 20)));
  const auto img = build_layout(tmp.sub("src"), "t", {layer(files, layer_compression::none)});
  auto reg = test::registry_server::start(test::registry_auth::none);
  ASSERT_TRUE(reg);
  std::string err;
  ASSERT_EQ(test::run_skopeo({"copy", "--dest-tls-verify=false", img.ref_text(), reg->ref("big:v1")}, &err), 0) << err;

  const std::string layout = mnt + "/layout";
  const auto r = run_ocipipe({"pull", "--progress=never", reg->ref("big:v1"), "oci:" + layout + ":big"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "no space left on device")) << r.err;
  // skopeo compresses the layer on its way into the registry, so the blob
  // pulled is not img's own: the message names whichever blob it was.
  EXPECT_TRUE(contains(r.err, "blob sha256:")) << "the blob is not named: " << r.err;
  for (const auto& name : names_in(layout + "/blobs/sha256"))
    EXPECT_EQ(sha256_of(read_bytes(layout + "/blobs/sha256/" + name)).str(), "sha256:" + name)
        << "half-written blob under its final name";
  EXPECT_FALSE(contains(read_bytes(layout + "/index.json"), "big")) << "the tag names an image not all there";
  const auto v = run_ocipipe({"validate", "--all", "oci:" + layout});
  EXPECT_TRUE(v.ok()) << v.describe();
}

}  // namespace
}  // namespace ocipipe::testing
