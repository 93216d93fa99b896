// `ocipipe copy` against real skopeo on the debian-slim dataset (copied to a temporary
// directory first): oci -> oci-archive -> docker-archive -> oci through the CLI, each step
// passing `ocipipe validate`; skopeo inspects and copies both archives ocipipe wrote; the
// docker-archive ocipipe writes has the same manifest.json, repositories and legacy layer
// files as the one skopeo wrote from the same layout; ocipipe copies what skopeo wrote (the
// dataset archives); and
// every rootfs unpacked from a result equals the original's.

#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/command_check.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kSlim = "debian-slim";

// One scratch directory with debian-slim's layout copied in, and the rootfs it unpacks to.
class CopyInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    OCIPIPE_REQUIRE_DATASET(kSlim);
    RUN_OK({"cp", "-a", dataset_layout(kSlim), tmp_.sub("layout")});
    source_ = "oci:" + tmp_.sub("layout") + ":" + kSlim;
    RUN_OK({ocipipe_binary(), "unpack", source_, tmp_.sub("rootfs-original")});
  }

  // Unpacks `ref` with ocipipe and compares it with the original rootfs.
  void expect_same_rootfs(const std::string& ref, const std::string& name) {
    SCOPED_TRACE(ref);
    const auto r = run_ocipipe({"unpack", ref, tmp_.sub(name)});
    ASSERT_TRUE(r.ok()) << r.describe();
    const auto diffs = compare_trees(tmp_.sub("rootfs-original"), tmp_.sub(name));
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }

  void expect_valid(const std::string& ref) {
    const auto r = run_ocipipe({"validate", ref});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
    EXPECT_TRUE(contains(r.out, "PASS: " + ref)) << r.out;
  }

  temp_dir tmp_;
  std::string source_;
};

TEST_F(CopyInterop, ChainThroughBothArchivesValidatesAndUnpacksToTheOriginal) {
  const std::string oa = "oci-archive:" + tmp_.sub("slim.oci.tar") + ":" + kSlim;
  const std::string da = "docker-archive:" + tmp_.sub("slim.docker.tar") + ":debian-slim:latest";
  const std::string back = "oci:" + tmp_.sub("back") + ":back";
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {source_, oa}, {oa, da}, {da, back}}) {
    const auto r = run_ocipipe({"copy", "--json", from, to});
    ASSERT_TRUE(r.ok()) << r.describe();
    const auto rec = nlohmann::json::parse(lines_of(r.out).at(0));
    EXPECT_EQ(rec["type"], "copy");
    EXPECT_EQ(rec["data"]["status"], "ok");
    expect_valid(to);
  }
  // oci -> oci-archive keeps the manifest; the docker-archive's layers come back uncompressed.
  const auto original = read_bytes(tmp_.sub("layout/index.json"));
  const auto in_archive = read_archive_member(tmp_.sub("slim.oci.tar"), "index.json");
  EXPECT_EQ(nlohmann::json::parse(in_archive)["manifests"][0]["digest"],
            nlohmann::json::parse(original)["manifests"][0]["digest"]);
  expect_same_rootfs(oa, "rootfs-oa");
  expect_same_rootfs(da, "rootfs-da");
  expect_same_rootfs(back, "rootfs-back");
}

TEST_F(CopyInterop, SkopeoReadsBothArchivesOcipipeWrites) {
  const std::string oa = "oci-archive:" + tmp_.sub("slim.oci.tar") + ":" + kSlim;
  const std::string da = "docker-archive:" + tmp_.sub("slim.docker.tar") + ":debian-slim:latest";
  ASSERT_TRUE(run_ocipipe({"copy", source_, oa}).ok());
  ASSERT_TRUE(run_ocipipe({"copy", source_, da}).ok());
  for (const auto& ref : {oa, da}) {
    SCOPED_TRACE(ref);
    const auto inspect = run_command({"skopeo", "inspect", ref});
    ASSERT_TRUE(inspect.ok()) << inspect.describe();
    const auto info = nlohmann::json::parse(inspect.out);
    EXPECT_EQ(info["Os"], "linux");
    EXPECT_EQ(info["Layers"].size(), 4u);
  }
  RUN_OK({"skopeo", "copy", "-q", oa, "oci:" + tmp_.sub("skopeo-from-oa") + ":a"});
  RUN_OK({"skopeo", "copy", "-q", da, "oci:" + tmp_.sub("skopeo-from-da") + ":d"});
  expect_valid("oci:" + tmp_.sub("skopeo-from-oa") + ":a");
  expect_valid("oci:" + tmp_.sub("skopeo-from-da") + ":d");
  expect_same_rootfs("oci:" + tmp_.sub("skopeo-from-oa") + ":a", "rootfs-skopeo-oa");
  expect_same_rootfs("oci:" + tmp_.sub("skopeo-from-da") + ":d", "rootfs-skopeo-da");
}

TEST_F(CopyInterop, DockerArchiveMetadataEqualsSkopeos) {
  RUN_OK({"skopeo", "copy", "-q", source_, "docker-archive:" + tmp_.sub("skopeo.tar") + ":debian-slim:latest"});
  ASSERT_TRUE(run_ocipipe({"copy", source_, "docker-archive:" + tmp_.sub("ours.tar") + ":debian-slim:latest"}).ok());
  for (const auto& member : {"manifest.json", "repositories"})
    EXPECT_EQ(read_archive_member(tmp_.sub("ours.tar"), member), read_archive_member(tmp_.sub("skopeo.tar"), member))
        << member;
  // Every legacy layer directory skopeo writes is there with the same VERSION and json.
  const auto repos = nlohmann::json::parse(read_archive_member(tmp_.sub("skopeo.tar"), "repositories"));
  std::string id = repos["docker.io/library/debian-slim"]["latest"];
  for (int depth = 0; !id.empty() && depth < 16; ++depth) {
    for (const auto& f : {"/VERSION", "/json"})
      EXPECT_EQ(read_archive_member(tmp_.sub("ours.tar"), id + f), read_archive_member(tmp_.sub("skopeo.tar"), id + f))
          << id << f;
    const auto legacy = nlohmann::json::parse(read_archive_member(tmp_.sub("skopeo.tar"), id + "/json"));
    id = legacy.contains("parent") ? legacy["parent"].get<std::string>() : "";
  }
  // The layers are the same uncompressed tars.
  const auto manifest = nlohmann::json::parse(read_archive_member(tmp_.sub("skopeo.tar"), "manifest.json"));
  for (const auto& layer : manifest[0]["Layers"]) {
    const std::string member = layer;
    EXPECT_EQ(sha256_of(read_archive_member(tmp_.sub("ours.tar"), member)),
              sha256_of(read_archive_member(tmp_.sub("skopeo.tar"), member)))
        << member;
  }
}

// datasets/build.sh wrote these archives with `skopeo copy` from the same layout.
TEST_F(CopyInterop, OcipipeCopiesWhatSkopeoWrote) {
  const auto skopeo_oa = dataset_archive("debian-slim.oci-archive.tar");
  const auto skopeo_da = dataset_archive("debian-slim.docker-archive.tar");
  for (const auto& f : {skopeo_oa, skopeo_da})
    ASSERT_EQ(::access(f.c_str(), R_OK), 0) << f << " is missing; build the datasets: datasets/build.sh";
  const std::string from_oa = "oci:" + tmp_.sub("from-oa") + ":oa";
  const std::string from_da = "oci:" + tmp_.sub("from-da") + ":da";
  const std::string da_to_oa = "oci-archive:" + tmp_.sub("da-to-oa.tar");
  ASSERT_TRUE(run_ocipipe({"copy", "oci-archive:" + skopeo_oa + ":" + kSlim, from_oa}).ok());
  ASSERT_TRUE(run_ocipipe({"copy", "docker-archive:" + skopeo_da, from_da}).ok());
  ASSERT_TRUE(run_ocipipe({"copy", "docker-archive:" + skopeo_da + ":debian-slim:latest", da_to_oa}).ok());
  const std::vector<std::string> results = {from_oa, from_da, da_to_oa};
  for (std::size_t i = 0; i < results.size(); ++i) {
    expect_valid(results[i]);
    expect_same_rootfs(results[i], "rootfs-" + std::to_string(i));
  }
  // oci-archive from skopeo -> oci keeps skopeo's manifest bytes.
  EXPECT_EQ(nlohmann::json::parse(read_bytes(tmp_.sub("from-oa/index.json")))["manifests"][0]["digest"],
            nlohmann::json::parse(read_bytes(tmp_.sub("layout/index.json")))["manifests"][0]["digest"]);
}

}  // namespace
}  // namespace ocipipe::testing
