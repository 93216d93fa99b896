// --platform picks from an image index as containerd's matcher does (issue 4
// item 7): arm64 means v8, an arm/v7 host runs v6 and v5 images (the newest
// it can), and no match lists the platforms there are.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

// Builds one arm image per variant in one layout, an image index listing them
// with their platforms, and index.json tagging that index "t".
std::vector<built_image> arm_index(const std::string& dir, const std::vector<std::string>& variants) {
  std::vector<built_image> images;
  config_overrides cfg;
  cfg.architecture = "arm";
  for (const auto& v : variants) {
    images.push_back(build_layout(dir, v, {layer_spec{{file("which", v)}}}, cfg));
    edit_config(images.back(), [&](nlohmann::ordered_json& c) { c["variant"] = v; });
  }
  nlohmann::ordered_json index = {{"schemaVersion", 2},
                                  {"mediaType", media_type::image_index},
                                  {"manifests", nlohmann::ordered_json::array()}};
  for (std::size_t i = 0; i < images.size(); ++i)
    index["manifests"].push_back({{"mediaType", media_type::image_manifest},
                                  {"digest", images[i].manifest_digest.str()},
                                  {"size", images[i].manifest_size},
                                  {"platform", {{"architecture", "arm"}, {"os", "linux"}, {"variant", variants[i]}}}});
  const auto text = index.dump();
  const auto d = write_blob(images.front(), text);
  nlohmann::ordered_json top = {{"schemaVersion", 2},
                                {"manifests", {{{"mediaType", media_type::image_index},
                                                {"digest", d.str()},
                                                {"size", text.size()},
                                                {"annotations", {{"org.opencontainers.image.ref.name", "t"}}}}}}};
  write_bytes(dir + "/index.json", top.dump());
  return images;
}

result<resolved_image> pick(const std::string& dir, const std::string& platform) {
  auto ref = parse_reference("oci:" + dir + ":t");
  EXPECT_TRUE(ref);
  auto p = parse_platform(platform);
  EXPECT_TRUE(p);
  return resolve_image(*ref, *p);
}

// B50: an index whose entries are indexes. index.json -> index -> index ->
// the per-variant manifests; --platform still finds its image, and unpack
// gives its tree.
TEST(PlatformSelect, NestedIndexesAreDescended) {
  temp_dir tmp;
  const std::string dir = tmp.sub("nested");
  const auto images = arm_index(dir, {"v6", "v7"});
  auto top = nlohmann::ordered_json::parse(read_bytes(dir + "/index.json"));
  auto inner = top["manifests"][0];
  inner.erase("annotations");
  const nlohmann::ordered_json wrapper = {
      {"schemaVersion", 2}, {"mediaType", media_type::image_index}, {"manifests", {inner}}};
  const auto text = wrapper.dump();
  const auto d = write_blob(images.front(), text);
  top["manifests"][0]["digest"] = d.str();
  top["manifests"][0]["size"] = text.size();
  write_bytes(dir + "/index.json", top.dump());

  auto picked = pick(dir, "linux/arm/v7");
  ASSERT_TRUE(picked) << picked.error().message();
  EXPECT_EQ(picked->manifest_descriptor.digest, images[1].manifest_digest);
  unpack_options o;
  o.platform = *parse_platform("linux/arm/v6");
  auto r = unpack(*parse_reference("oci:" + dir + ":t"), tmp.sub("rootfs"), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(tmp.sub("rootfs/which")), "v6");
}

TEST(PlatformSelect, ArmV7TakesTheNewestVariantItRuns) {
  temp_dir tmp;
  const auto images = arm_index(tmp.sub("all"), {"v5", "v6", "v7"});
  auto exact = pick(tmp.sub("all"), "linux/arm/v7");
  ASSERT_TRUE(exact) << exact.error().message();
  EXPECT_EQ(exact->manifest_descriptor.digest, images[2].manifest_digest);

  temp_dir tmp2;
  const auto older = arm_index(tmp2.sub("old"), {"v5", "v6"});
  auto v6 = pick(tmp2.sub("old"), "linux/arm/v7");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->manifest_descriptor.digest, older[1].manifest_digest);
  auto v5 = pick(tmp2.sub("old"), "linux/arm/v5");
  ASSERT_TRUE(v5) << v5.error().message();
  EXPECT_EQ(v5->manifest_descriptor.digest, older[0].manifest_digest);
}

TEST(PlatformSelect, NoImageANewerVariantOrOtherArchitectureListsWhatThereIs) {
  temp_dir tmp;
  arm_index(tmp.sub("l"), {"v6", "v7"});
  for (const std::string want : {"linux/arm/v5", "linux/arm64", "linux/amd64"}) {
    SCOPED_TRACE(want);
    auto r = pick(tmp.sub("l"), want);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::not_found) << r.error().message();
    EXPECT_NE(r.error().message().find("linux/arm/v6"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("linux/arm/v7"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace ocipipe::testing
