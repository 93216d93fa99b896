// stages/image_json: the lenient structural parsers unpack acts on.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

constexpr const char* sha256_a =
    "sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
constexpr const char* sha256_b =
    "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827";
constexpr const char* sha512_digest =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
    "ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

std::string descriptor_json(const std::string& media_type, const std::string& digest,
                            const std::string& size, const std::string& extra = "") {
  return R"({"mediaType": ")" + media_type + R"(", "digest": ")" + digest + R"(", "size": )" +
         size + extra + "}";
}

// A manifest with the given layer descriptors (already JSON) and extra top-level members.
std::string manifest_json(const std::vector<std::string>& layers, const std::string& extra = "",
                          const std::string& config = "") {
  std::string s =
      R"({"schemaVersion": 2, "config": )" +
      (config.empty() ? descriptor_json(std::string(media_type::image_config), sha256_a, "1470")
                      : config) +
      R"(, "layers": [)";
  for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + layers[i];
  return s + "]" + extra + "}";
}

std::string gzip_layer(const std::string& digest = sha256_b, const std::string& size = "675598") {
  return descriptor_json(std::string(media_type::layer_tar_gzip), digest, size);
}

std::string config_json(const std::string& config_members,
                        const std::string& rootfs = R"({"type": "layers", "diff_ids": [")" +
                                                    std::string(sha256_a) + R"("]})") {
  return R"({"architecture": "amd64", "os": "linux", "config": {)" + config_members +
         R"(}, "rootfs": )" + rootfs + "}";
}

enum class kind { manifest, index, config, descriptor };

// One row: a document, what kind it is parsed as, and the start of the error
// message expected ("" when it must parse).
struct row {
  const char* name;
  kind parse_as;
  std::string json;
  std::string error_prefix;
};

void PrintTo(const row& r, std::ostream* os) { *os << r.name; }

std::string parse_error(kind k, const std::string& json) {
  auto message = [](const auto& r) { return r ? std::string() : r.error().message(); };
  auto code_ok = [](const auto& r) { return r || r.error().code() == errc::malformed; };
  switch (k) {
    case kind::manifest: {
      auto r = parse_manifest(json);
      EXPECT_TRUE(code_ok(r));
      return message(r);
    }
    case kind::index: {
      auto r = parse_image_index(json);
      EXPECT_TRUE(code_ok(r));
      return message(r);
    }
    case kind::config: {
      auto r = parse_image_config(json);
      EXPECT_TRUE(code_ok(r));
      return message(r);
    }
    case kind::descriptor: {
      auto r = parse_descriptor(json);
      EXPECT_TRUE(code_ok(r));
      return message(r);
    }
  }
  return "unreachable";
}

class ImageJsonTable : public ::testing::TestWithParam<row> {};

TEST_P(ImageJsonTable, ParsesOrNamesThePath) {
  const row& r = GetParam();
  const std::string err = parse_error(r.parse_as, r.json);
  if (r.error_prefix.empty())
    EXPECT_EQ(err, "") << r.json;
  else
    EXPECT_EQ(err.substr(0, r.error_prefix.size()), r.error_prefix) << "got: " << err;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ImageJsonTable,
    ::testing::Values(
        row{"MinimalManifest", kind::manifest, manifest_json({gzip_layer()}), ""},
        row{"NegativeLayerSize", kind::manifest,
            manifest_json({gzip_layer(), gzip_layer(), gzip_layer(sha256_b, "-1")}),
            "layers[2].size: size -1 is negative"},
        row{"StringSize", kind::manifest, manifest_json({gzip_layer(sha256_b, "\"12\"")}),
            "layers[0].size: expected an integer"},
        row{"FractionalSize", kind::manifest, manifest_json({gzip_layer(sha256_b, "12.0")}),
            "layers[0].size: expected an integer"},
        row{"SizeBeyondInt64", kind::manifest,
            manifest_json({gzip_layer(sha256_b, "18446744073709551615")}),
            "layers[0].size: size out of range"},
        row{"UppercaseSha256Hex", kind::manifest,
            manifest_json({gzip_layer(
                "sha256:9D3DD9504C685A304985025DF4ED0283E47AC9FFA9BD0326FDDF4D59513F0827")}),
            "layers[0].digest: digest "},
        row{"PathTraversalDigest", kind::manifest,
            manifest_json({gzip_layer("sha256:../../../../tmp/x")}), "layers[0].digest: digest "},
        row{"Sha512Digest", kind::manifest, manifest_json({gzip_layer(sha512_digest)}), ""},
        row{"Sha512ShortHex", kind::manifest,
            manifest_json({gzip_layer(std::string("sha512:") + (sha256_a + 7))}),
            "layers[0].digest: digest "},
        row{"UnregisteredAlgorithmKept", kind::manifest,
            manifest_json({gzip_layer("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564")}),
            ""},
        row{"MissingDigest", kind::descriptor, R"({"mediaType": "a/b", "size": 1})",
            "digest: required field missing"},
        row{"NullDigestIsMissing", kind::descriptor,
            R"({"mediaType": "a/b", "size": 1, "digest": null})", "digest: required field missing"},
        row{"MissingMediaType", kind::descriptor,
            std::string(R"({"size": 1, "digest": ")") + sha256_a + "\"}",
            "mediaType: required field missing"},
        row{"UnknownLayerMediaTypeParses", kind::manifest,
            manifest_json({descriptor_json("application/vnd.example.thing", sha256_b, "3")}), ""},
        row{"EmptyLayersParse", kind::manifest, manifest_json({}), ""},
        row{"MissingLayers", kind::manifest,
            R"({"schemaVersion": 2, "config": )" +
                descriptor_json(std::string(media_type::image_config), sha256_a, "2") + "}",
            "layers: required field missing"},
        row{"SchemaVersionOne", kind::manifest,
            R"({"schemaVersion": 1, "name": "x", "fsLayers": []})",
            "schemaVersion: must be the integer 2"},
        row{"ManifestCarryingManifests", kind::manifest,
            manifest_json({gzip_layer()}, R"(, "manifests": [])"),
            "manifests: an image manifest must not carry image index fields"},
        row{"ManifestWithIndexMediaType", kind::manifest,
            manifest_json({gzip_layer()},
                          R"(, "mediaType": "application/vnd.oci.image.index.v1+json")"),
            "mediaType: \"application/vnd.oci.image.index.v1+json\" is not an image manifest"},
        row{"DockerManifestMediaType", kind::manifest,
            manifest_json({gzip_layer()}, std::string(R"(, "mediaType": ")") +
                                              std::string(media_type::docker_manifest) + "\""),
            ""},
        row{"IndexCarryingLayers", kind::index,
            R"({"schemaVersion": 2, "manifests": [], "layers": []})",
            "layers: an image index must not carry image manifest fields"},
        row{"IndexMissingManifests", kind::index, R"({"schemaVersion": 2})",
            "manifests: required field missing"},
        row{"IndexEntryBadDigest", kind::index,
            R"({"schemaVersion": 2, "manifests": [)" +
                descriptor_json(std::string(media_type::image_manifest), sha256_a, "7") + ", " +
                descriptor_json(std::string(media_type::image_manifest), "sha256", "7") + "]}",
            "manifests[1].digest: digest "},
        row{"IndexPlatformArchitectureNumber", kind::index,
            R"({"schemaVersion": 2, "manifests": [)" +
                descriptor_json(std::string(media_type::image_manifest), sha256_a, "7",
                                R"(, "platform": {"architecture": 1, "os": "linux"})") +
                "]}",
            "manifests[0].platform.architecture: expected a string"},
        row{"AnnotationValueNotString", kind::manifest,
            manifest_json({gzip_layer()}, R"(, "annotations": {"org.example.n": 1})"),
            "annotations[\"org.example.n\"]: expected a string"},
        row{"DuplicateKey", kind::descriptor,
            descriptor_json("a/b", sha256_a, "1", R"(, "size": 2)"), "size: duplicate key"},
        row{"NotJson", kind::manifest, "invalid JSON", "json: "},
        row{"TrailingGarbage", kind::descriptor, descriptor_json("a/b", sha256_a, "1") + " x",
            "json: "},
        row{"RootNotObject", kind::index, "[1, 2]", "expected a JSON object"},
        row{"ConfigMinimal", kind::config, config_json(""), ""},
        row{"ConfigEnvNumber", kind::config, config_json(R"("Env": ["A=1", 7])"),
            "config.Env[1]: expected a string"},
        row{"ConfigMissingRootfs", kind::config, R"({"architecture": "amd64", "os": "linux"})",
            "rootfs: required field missing"},
        row{"ConfigRootfsTypeNotLayers", kind::config,
            config_json("", R"({"type": "flat", "diff_ids": []})"),
            "rootfs.type: \"flat\" is not \"layers\""},
        row{"ConfigBadDiffId", kind::config,
            config_json("", R"({"type": "layers", "diff_ids": ["sha256:abc"]})"),
            "rootfs.diff_ids[0]: digest "},
        row{"ConfigVolumesNotObjects", kind::config, config_json(R"("Volumes": {"/data": 1})"),
            "config.Volumes[\"/data\"]: expected an object"}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

TEST(ImageJson, ManifestFieldsAreRead) {
  const auto m = parse_manifest(manifest_json(
      {gzip_layer(), descriptor_json(std::string(media_type::layer_tar_zstd), sha512_digest, "9",
                                     R"(, "urls": ["https://example.com/l"])")},
      R"(, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "a/b",)"
      R"( "annotations": {"k": "v"}, "subject": )" +
          descriptor_json(std::string(media_type::image_manifest), sha256_a, "5")));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->media_type, media_type::image_manifest);
  EXPECT_EQ(m->config.media_type, media_type::image_config);
  EXPECT_EQ(m->config.digest.str(), sha256_a);
  EXPECT_EQ(m->config.size, 1470);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].digest.algorithm(), digest_algorithm::sha512);
  EXPECT_EQ(m->layers[1].size, 9);
  EXPECT_EQ(m->layers[1].urls, std::vector<std::string>{"https://example.com/l"});
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->size, 5);
  EXPECT_EQ(m->artifact_type, "a/b");
  EXPECT_EQ(m->annotations.at("k"), "v");
}

TEST(ImageJson, IndexEntriesKeepPlatformAndUnknownTypes) {
  const auto idx = parse_image_index(
      R"({"schemaVersion": 2, "manifests": [)" +
      descriptor_json(std::string(media_type::image_manifest), sha256_a, "7",
                      R"(, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8",)"
                      R"( "os.features": ["x"]}, "annotations": )"
                      R"({"org.opencontainers.image.ref.name": "v1"})") +
      ", " + descriptor_json("application/xml", sha256_b, "3") + "]}");
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->manifests.size(), 2u);
  const descriptor& d = idx->manifests[0];
  ASSERT_TRUE(d.platform.has_value());
  EXPECT_EQ(d.platform->architecture, "arm64");
  EXPECT_EQ(d.platform->variant, "v8");
  EXPECT_EQ(d.platform->os_features, std::vector<std::string>{"x"});
  EXPECT_EQ(d.ref_name(), "v1");
  EXPECT_EQ(idx->manifests[1].media_type, "application/xml");
}

TEST(ImageJson, ConfigNullMeansAbsentButEmptyArrayIsPresent) {
  const auto c = parse_image_config(config_json(
      R"("User": "1:1", "Env": ["PATH=/bin"], "Entrypoint": null, "Cmd": [], "Labels": null,)"
      R"( "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "WorkingDir": "/w")"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->config.user, "1:1");
  EXPECT_EQ(c->config.env, std::vector<std::string>{"PATH=/bin"});
  EXPECT_FALSE(c->config.has_entrypoint);
  EXPECT_TRUE(c->config.has_cmd);
  EXPECT_TRUE(c->config.cmd.empty());
  EXPECT_EQ(c->config.exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->config.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(c->config.working_dir, "/w");
  EXPECT_EQ(c->rootfs_type, "layers");
  ASSERT_EQ(c->diff_ids.size(), 1u);
  EXPECT_EQ(c->diff_ids[0].str(), sha256_a);
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->os, "linux");
}

TEST(ImageJson, DescriptorKeepsDataText) {
  const auto d = parse_descriptor(
      descriptor_json(std::string(media_type::empty_json),
                      "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                      "2", R"(, "data": "e30=", "artifactType": "application/vnd.example")"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->data, std::optional<std::string>("e30="));
  EXPECT_EQ(d->artifact_type, "application/vnd.example");
  EXPECT_EQ(d->size, 2);
}

TEST(ImageJson, JsonPathsQuoteKeysThatAreNotIdentifiers) {
  EXPECT_EQ(json_member_path("", "layers"), "layers");
  EXPECT_EQ(json_member_path(json_index_path("layers", 2), "digest"), "layers[2].digest");
  EXPECT_EQ(json_member_path("config", "Env"), "config.Env");
  EXPECT_EQ(json_member_path("annotations", "org.example.k"), "annotations[\"org.example.k\"]");
  EXPECT_EQ(json_member_path("", "os.version"), "[\"os.version\"]");
  EXPECT_EQ(json_member_path("m", ""), "m[\"\"]");
}

}  // namespace
}  // namespace ocipipe
