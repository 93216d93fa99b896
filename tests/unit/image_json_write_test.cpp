// stages/image_json_write: canonical serialization of descriptors, manifests
// and indexes, checked byte for byte and by round trip through the parsers of
// stages/image_json.h.

#include <string>

#include <gtest/gtest.h>

#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

constexpr const char* hex_a = "c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
constexpr const char* hex_b = "9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827";

descriptor desc(std::string_view mt, const char* hex, std::int64_t size) {
  descriptor d;
  d.media_type = std::string(mt);
  d.digest = *digest::parse(std::string("sha256:") + hex);
  d.size = size;
  return d;
}

descriptor full_descriptor() {
  descriptor d = desc(media_type::image_manifest, hex_a, 1234);
  d.urls = {"https://example.com/blob"};
  d.annotations = {{"org.opencontainers.image.ref.name", "v1"}, {"a.first", "x"}};
  d.data = "e30=";
  d.artifact_type = "application/vnd.example+type";
  d.platform = platform{"arm64", "linux", "10.0", {"sse4"}, "v8"};
  return d;
}

void expect_same(const descriptor& a, const descriptor& b) {
  EXPECT_EQ(a.media_type, b.media_type);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.urls, b.urls);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.artifact_type, b.artifact_type);
  ASSERT_EQ(a.platform.has_value(), b.platform.has_value());
  if (a.platform) {
    EXPECT_EQ(a.platform->architecture, b.platform->architecture);
    EXPECT_EQ(a.platform->os, b.platform->os);
    EXPECT_EQ(a.platform->os_version, b.platform->os_version);
    EXPECT_EQ(a.platform->os_features, b.platform->os_features);
    EXPECT_EQ(a.platform->variant, b.platform->variant);
  }
}

TEST(ImageJsonWrite, MinimalDescriptorHasOnlyRequiredKeysInSpecOrder) {
  EXPECT_EQ(descriptor_json(desc(media_type::layer_tar_gzip, hex_b, 7)),
            std::string(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:)") +
                hex_b + R"(","size":7})");
}

TEST(ImageJsonWrite, FullDescriptorKeyOrderFollowsImageSpecGoTypes) {
  EXPECT_EQ(descriptor_json(full_descriptor()),
            std::string(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)") + hex_a +
                R"(","size":1234,"urls":["https://example.com/blob"],)"
                R"("annotations":{"a.first":"x","org.opencontainers.image.ref.name":"v1"},"data":"e30=",)"
                R"("platform":{"architecture":"arm64","os":"linux","os.version":"10.0","os.features":["sse4"],)"
                R"("variant":"v8"},"artifactType":"application/vnd.example+type"})");
}

TEST(ImageJsonWrite, DescriptorRoundTripsThroughParser) {
  const auto d = full_descriptor();
  auto back = parse_descriptor(descriptor_json(d));
  ASSERT_TRUE(back) << back.error().message();
  expect_same(d, *back);
}

TEST(ImageJsonWrite, ManifestDefaultsToOciMediaTypeAndKeepsEmptyLayers) {
  manifest m;
  m.config = desc(media_type::empty_json, hex_a, 2);
  EXPECT_EQ(manifest_json(m),
            std::string(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                        R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:)") +
                hex_a + R"(","size":2},"layers":[]})");
}

TEST(ImageJsonWrite, ManifestRoundTripsWithSubjectAndAnnotations) {
  manifest m;
  m.artifact_type = "application/vnd.example.sbom";
  m.config = desc(media_type::image_config, hex_a, 100);
  m.layers = {desc(media_type::layer_tar_gzip, hex_b, 5), desc(media_type::layer_tar_zstd, hex_a, 6)};
  m.subject = desc(media_type::image_manifest, hex_b, 400);
  m.annotations = {{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"}};
  const auto text = manifest_json(m);
  // Key order: schemaVersion, mediaType, artifactType, config, layers, subject, annotations.
  const auto pos = [&](const char* key) { return text.find(std::string("\"") + key + "\":"); };
  EXPECT_LT(pos("schemaVersion"), pos("mediaType"));
  EXPECT_LT(pos("mediaType"), pos("artifactType"));
  EXPECT_LT(pos("artifactType"), pos("config"));
  EXPECT_LT(pos("config"), pos("layers"));
  EXPECT_LT(pos("layers"), pos("subject"));
  EXPECT_LT(pos("subject"), pos("annotations"));
  auto back = parse_manifest(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->media_type, media_type::image_manifest);
  EXPECT_EQ(back->artifact_type, m.artifact_type);
  expect_same(back->config, m.config);
  ASSERT_EQ(back->layers.size(), 2u);
  expect_same(back->layers[1], m.layers[1]);
  ASSERT_TRUE(back->subject);
  expect_same(*back->subject, *m.subject);
  EXPECT_EQ(back->annotations, m.annotations);
  EXPECT_EQ(manifest_json(*back), text) << "writing what was read gives the same bytes";
}

TEST(ImageJsonWrite, DockerManifestMediaTypeIsKept) {
  manifest m;
  m.media_type = std::string(media_type::docker_manifest);
  m.config = desc(media_type::docker_config, hex_a, 1);
  auto back = parse_manifest(manifest_json(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->media_type, media_type::docker_manifest);
}

TEST(ImageJsonWrite, IndexJsonWithoutMediaTypeMatchesEmptyLayoutIndex) {
  EXPECT_EQ(image_index_json(image_index{}), R"({"schemaVersion":2,"manifests":[]})");
}

TEST(ImageJsonWrite, IndexRoundTripsWithTagsAndPlatforms) {
  image_index i;
  i.media_type = std::string(media_type::image_index);
  auto a = desc(media_type::image_manifest, hex_a, 10);
  a.annotations["org.opencontainers.image.ref.name"] = "latest";
  a.platform = platform{"amd64", "linux", "", {}, ""};
  i.manifests = {a, desc(media_type::image_index, hex_b, 20)};
  i.annotations = {{"k", "v"}};
  const auto text = image_index_json(i);
  EXPECT_TRUE(text.starts_with(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"))
      << text;
  auto back = parse_image_index(text);
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->manifests.size(), 2u);
  expect_same(back->manifests[0], a);
  EXPECT_EQ(back->manifests[0].ref_name(), "latest");
  EXPECT_EQ(back->annotations, i.annotations);
  EXPECT_EQ(image_index_json(*back), text);
}

TEST(ImageJsonWrite, StringsAreEscapedNotTruncated) {
  auto d = desc(media_type::layer_tar, hex_a, 0);
  d.annotations["quote\"and\\slash"] = "line\nbreak\ttab \xc3\xa9";
  auto back = parse_descriptor(descriptor_json(d));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->annotations, d.annotations);
}

TEST(ImageJsonWrite, InvalidUtf8IsReplacedInsteadOfThrowing) {
  auto d = desc(media_type::layer_tar, hex_a, 0);
  d.annotations["k"] = "bad \xff byte";
  std::string text;
  EXPECT_NO_THROW(text = descriptor_json(d));
  EXPECT_TRUE(parse_descriptor(text));
}

}  // namespace
}  // namespace ocipipe
