// The layout verbs (tag, rm, gc) against the tools that read image layouts: after each
// change to a copy of the debian-slim dataset layout, oci-image-tool validates the image,
// skopeo inspects it, umoci lists the tags, and umoci's own gc finds nothing more to
// delete after ocipipe's. The cached dataset itself is never touched.

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using strings = std::vector<std::string>;
constexpr const char* kSlim = "debian-slim";

::testing::AssertionResult ran_ok(const strings& argv) {
  const auto r = run_command(argv);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << format_command(argv) << ": " << r.describe();
}

::testing::AssertionResult ocipipe_ok(const strings& args) {
  const auto r = run_ocipipe(args);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "ocipipe " << format_command(args) << ": " << r.describe();
}

// A private copy of the dataset layout (a real copy, not hardlinks: nothing done to the
// copy can reach the cache).
std::string copy_dataset(const temp_dir& tmp) {
  const std::string dest = tmp.sub("layout");
  EXPECT_TRUE(ran_ok({"cp", "-r", dataset_layout(kSlim), dest}));
  return dest;
}

std::set<std::string> umoci_tags(const std::string& layout) {
  const auto r = run_command({"umoci", "ls", "--layout", layout});
  EXPECT_TRUE(r.ok()) << r.describe();
  const auto lines = lines_of(r.out);
  return {lines.begin(), lines.end()};
}

::testing::AssertionResult image_valid(const std::string& layout, const std::string& tag) {
  // oci-image-tool 1.0.0-rc1 has no "imageLayout" type; "image" with a ref checks the
  // layout, the manifest, the config and the layers.
  return ran_ok({"oci-image-tool", "validate", "--type", "image", "--ref", "name=" + tag, layout});
}

std::string skopeo_digest(const std::string& ref) {
  const auto r = run_command({"skopeo", "inspect", ref});
  EXPECT_TRUE(r.ok()) << r.describe();
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_object() && j.contains("Digest") ? j["Digest"].get<std::string>() : std::string();
}

std::set<std::string> blob_names(const std::string& layout) {
  const auto names = names_in(layout + "/blobs/sha256");
  return {names.begin(), names.end()};
}

TEST(LayoutVerbsInterop, TaggedLayoutIsReadByUmociSkopeoAndOciImageTool) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  const auto layout = copy_dataset(tmp);
  ASSERT_TRUE(ocipipe_ok({"tag", "oci:" + layout + ":" + kSlim, "stable"}));
  EXPECT_EQ(umoci_tags(layout), (std::set<std::string>{kSlim, "stable"}));
  EXPECT_TRUE(image_valid(layout, "stable"));
  EXPECT_TRUE(image_valid(layout, kSlim));
  const auto d = skopeo_digest("oci:" + layout + ":stable");
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d, skopeo_digest("oci:" + layout + ":" + kSlim));
  // What ocipipe ls says agrees with skopeo.
  const auto ls = run_ocipipe({"ls", "--json", layout});
  ASSERT_TRUE(ls.ok()) << ls.describe();
  for (const auto& line : lines_of(ls.out)) EXPECT_EQ(nlohmann::json::parse(line)["data"]["digest"], d);
  // umoci also reads the layout after ocipipe moved a tag back and forth.
  ASSERT_TRUE(ocipipe_ok({"tag", "oci:" + layout + ":stable", kSlim}));
  const auto u = run_command({"umoci", "unpack", "--image", layout + ":stable", tmp.sub("bundle")});
  EXPECT_TRUE(u.ok()) << u.describe();
}

TEST(LayoutVerbsInterop, RemovedTagIsGoneForUmociAndSkopeo) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  const auto layout = copy_dataset(tmp);
  ASSERT_TRUE(ocipipe_ok({"tag", "oci:" + layout + ":" + kSlim, "keep"}));
  ASSERT_TRUE(ocipipe_ok({"rm", "--blobs", "oci:" + layout + ":" + kSlim}));
  EXPECT_EQ(umoci_tags(layout), std::set<std::string>{"keep"});
  EXPECT_FALSE(run_command({"skopeo", "inspect", "oci:" + layout + ":" + kSlim}).ok());
  EXPECT_FALSE(skopeo_digest("oci:" + layout + ":keep").empty());
  // The other tag shares every blob: rm --blobs deleted none.
  EXPECT_EQ(blob_names(layout), blob_names(dataset_layout(kSlim)));
  EXPECT_TRUE(image_valid(layout, "keep"));
  // Removing the last tag with --blobs empties blobs/.
  ASSERT_TRUE(ocipipe_ok({"rm", "--blobs", "oci:" + layout + ":keep"}));
  EXPECT_TRUE(umoci_tags(layout).empty());
  EXPECT_TRUE(blob_names(layout).empty());
}

TEST(LayoutVerbsInterop, GcRemovesWhatUmociGcWouldAndNothingMore) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  const auto layout = copy_dataset(tmp);
  const auto before = blob_names(layout);
  // Garbage: a blob nobody references, named by its digest.
  const std::string garbage = "not referenced by anything\n";
  write_bytes(tmp.sub("garbage"), garbage);
  const auto sum = run_command({"sha256sum", tmp.sub("garbage")});
  ASSERT_TRUE(sum.ok()) << sum.describe();
  const std::string hex = sum.out.substr(0, 64);
  write_bytes(layout + "/blobs/sha256/" + hex, garbage);

  const auto dry = run_ocipipe({"gc", "--dry-run", layout});
  ASSERT_TRUE(dry.ok()) << dry.describe();
  EXPECT_TRUE(contains(dry.out, hex)) << dry.out;
  EXPECT_TRUE(path_exists(layout + "/blobs/sha256/" + hex));

  ASSERT_TRUE(ocipipe_ok({"gc", layout}));
  EXPECT_EQ(blob_names(layout), before);
  // umoci's gc agrees: nothing left to delete.
  ASSERT_TRUE(ran_ok({"umoci", "gc", "--layout", layout}));
  EXPECT_EQ(blob_names(layout), before);
  EXPECT_TRUE(image_valid(layout, kSlim));
  EXPECT_FALSE(skopeo_digest("oci:" + layout + ":" + kSlim).empty());
  // And skopeo can still copy every blob out of it.
  EXPECT_TRUE(ran_ok({"skopeo", "--insecure-policy", "copy", "--quiet", "oci:" + layout + ":" + kSlim,
                      "docker-archive:" + tmp.sub("out.tar") + ":example.com/slim:gc"}));
}

TEST(LayoutVerbsInterop, InspectAgreesWithSkopeoOnEveryTransport) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  const auto want = run_command({"skopeo", "inspect", "--raw", dataset_ref(kSlim)});
  ASSERT_TRUE(want.ok()) << want.describe();
  const auto manifest = nlohmann::json::parse(want.out);
  for (const auto& ref : {dataset_ref(kSlim), "oci-archive:" + dataset_archive("debian-slim.oci-archive.tar")}) {
    SCOPED_TRACE(ref);
    const auto r = run_ocipipe({"inspect", "--json", ref});
    ASSERT_TRUE(r.ok()) << r.describe();
    const auto rec = nlohmann::json::parse(lines_of(r.out).at(0));
    EXPECT_EQ(rec["data"]["manifest"], manifest);
  }
  // docker-archive: the layers are the same content, so the diff_ids agree.
  const auto d = run_ocipipe({"inspect", "--json", "docker-archive:" + dataset_archive("debian-slim.docker-archive.tar")});
  ASSERT_TRUE(d.ok()) << d.describe();
  const auto o = run_ocipipe({"inspect", "--json", dataset_ref(kSlim)});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(nlohmann::json::parse(lines_of(d.out).at(0))["data"]["config"]["rootfs"],
            nlohmann::json::parse(lines_of(o.out).at(0))["data"]["config"]["rootfs"]);
}

}  // namespace
}  // namespace ocipipe::testing
