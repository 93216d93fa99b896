// stages/schema_rules: the image-spec rules, every finding reported with its
// rule id, severity and JSON path.

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stages/oci/media_type.h"
#include "stages/schema_rules.h"

namespace ocipipe {
namespace {

const std::string k_manifest(media_type::image_manifest);
const std::string k_index(media_type::image_index);
const std::string k_config(media_type::image_config);
const std::string k_descriptor(media_type::descriptor);
const std::string k_layout(media_type::oci_layout_header);

const std::string k_sha256_a = "sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
const std::string k_sha256_b = "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827";
const std::string k_sha512 =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
    "ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
// The empty descriptor of manifest.md: "{}" is "e30=" and hashes to this.
const std::string k_empty_digest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

std::string desc(const std::string& media_type, const std::string& digest, const std::string& size,
                 const std::string& extra = "") {
  return R"({"mediaType": ")" + media_type + R"(", "digest": ")" + digest + R"(", "size": )" +
         size + extra + "}";
}

std::string layer(const std::string& digest = k_sha256_b, const std::string& size = "148",
                  const std::string& media_type = std::string(media_type::layer_tar_gzip)) {
  return desc(media_type, digest, size);
}

std::string manifest_doc(const std::vector<std::string>& layers, const std::string& extra = "",
                     const std::string& config = desc(std::string(media_type::image_config),
                                                      k_sha256_a, "1470")) {
  std::string s = R"({"schemaVersion": 2, "mediaType": ")" + k_manifest + R"(", "config": )" +
                  config + R"(, "layers": [)";
  for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + layers[i];
  return s + "]" + extra + "}";
}

std::string index_doc(const std::vector<std::string>& entries, const std::string& extra = "") {
  std::string s = R"({"schemaVersion": 2, "mediaType": ")" + k_index + R"(", "manifests": [)";
  for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? ", " : "") + entries[i];
  return s + "]" + extra + "}";
}

std::string config_doc(const std::string& top_extra, const std::string& config_members = "") {
  return R"({"architecture": "amd64", "os": "linux")" + top_extra + R"(, "config": {)" +
         config_members + R"(}, "rootfs": {"type": "layers", "diff_ids": [")" + k_sha256_a +
         R"("]}})";
}

struct want {
  std::string rule;
  severity level;
  std::string path;
};

// One row: a document, the rules it is checked under, its verdict, and the
// findings reported, no more and no fewer.
struct row {
  const char* name;
  std::string media_type;
  std::string json;
  bool valid;
  std::vector<want> findings;
};

void PrintTo(const row& r, std::ostream* os) { *os << r.name; }

std::string describe(const std::vector<diagnostic>& findings) {
  std::ostringstream os;
  for (const auto& d : findings)
    os << "  " << severity_name(d.level) << " " << d.rule << " at \"" << d.json_path
       << "\": " << d.message << "\n";
  return os.str();
}

class SchemaRulesTable : public ::testing::TestWithParam<row> {};

TEST_P(SchemaRulesTable, ReportsExpectedFindings) {
  const row& r = GetParam();
  const auto got = check_document(r.media_type, r.json);
  EXPECT_EQ(!has_errors(got), r.valid) << describe(got);
  for (const want& w : r.findings) {
    bool found = false;
    for (const auto& d : got)
      found = found || (d.rule == w.rule && d.level == w.level && d.json_path == w.path);
    EXPECT_TRUE(found) << "missing " << severity_name(w.level) << " " << w.rule << " at \""
                       << w.path << "\"; got:\n"
                       << describe(got);
  }
  EXPECT_EQ(got.size(), r.findings.size()) << describe(got);
  for (const auto& d : got) EXPECT_FALSE(d.message.empty()) << d.rule;
}

constexpr severity E = severity::error;
constexpr severity W = severity::warning;

INSTANTIATE_TEST_SUITE_P(
    Descriptor, SchemaRulesTable,
    ::testing::Values(
        row{"Plain", k_descriptor, desc(k_manifest, k_sha256_a, "7682"), true, {}},
        row{"NegativeSize", k_descriptor, desc(k_manifest, k_sha256_a, "-1"), false,
            {{"descriptor.size.value", E, "size"}}},
        row{"SizeAsString", k_descriptor, desc(k_manifest, k_sha256_a, "\"7682\""), false,
            {{"descriptor.size.type", E, "size"}}},
        row{"SizeWithFraction", k_descriptor, desc(k_manifest, k_sha256_a, "7682.0"), false,
            {{"descriptor.size.type", E, "size"}}},
        row{"SizeBeyondInt64", k_descriptor, desc(k_manifest, k_sha256_a, "9223372036854775808"),
            false, {{"descriptor.size.value", E, "size"}}},
        row{"MissingFields", k_descriptor, "{}", false,
            {{"descriptor.mediaType.required", E, "mediaType"},
             {"descriptor.size.required", E, "size"},
             {"descriptor.digest.required", E, "digest"}}},
        row{"UppercaseSha256Hex", k_descriptor,
            desc(k_manifest, "sha256:5B0BCABD1ED22E9FB1310CF6C2DEC7CDEF19F0AD69EFA1F392E94A4333501270",
                 "7682"),
            false, {{"digest.encoding", E, "digest"}}},
        row{"UppercaseAlgorithm", k_descriptor, desc(k_manifest, "SHA256" + k_sha256_a.substr(6), "1"),
            false, {{"digest.format", E, "digest"}}},
        row{"Sha256TooShort", k_descriptor, desc(k_manifest, k_sha256_a.substr(0, 70), "1"), false,
            {{"digest.encoding", E, "digest"}}},
        row{"Sha512Accepted", k_descriptor, desc(k_manifest, k_sha512, "1"), true, {}},
        row{"Sha512WithSha256Length", k_descriptor, desc(k_manifest, "sha512:" + k_sha256_a.substr(7), "1"),
            false, {{"digest.encoding", E, "digest"}}},
        row{"Sha384CheckedLikeGoDigest", k_descriptor,
            desc(k_manifest, "sha384:" + k_sha256_a.substr(7), "1"), false,
            {{"digest.encoding", E, "digest"}}},
        row{"UnregisteredAlgorithmWarns", k_descriptor,
            desc(k_config, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "1"),
            true, {{"digest.algorithm", W, "digest"}}},
        row{"RepeatedSeparators", k_descriptor, desc(k_config, "sha256+foo+-b:abc", "1"), false,
            {{"digest.format", E, "digest"}}},
        row{"DigestNotString", k_descriptor,
            R"({"mediaType": "a/b", "size": 1, "digest": 5})", false,
            {{"descriptor.digest.type", E, "digest"}}},
        row{"MediaTypeLongestParts", k_descriptor,
            desc(std::string(127, 'a') + "/" + std::string(127, 'b'), k_sha256_a, "1"), true, {}},
        row{"MediaTypeTypeTooLong", k_descriptor,
            desc(std::string(128, 'a') + "/b", k_sha256_a, "1"), false,
            {{"descriptor.mediaType.format", E, "mediaType"}}},
        row{"MediaTypeNoSubtype", k_descriptor, desc("application", k_sha256_a, "1"), false,
            {{"descriptor.mediaType.format", E, "mediaType"}}},
        row{"MediaTypeNull", k_descriptor,
            R"({"mediaType": null, "size": 1, "digest": ")" + k_sha256_a + "\"}", false,
            {{"descriptor.mediaType.type", E, "mediaType"}}},
        row{"ArtifactTypeBad", k_descriptor, desc(k_manifest, k_sha256_a, "1", R"(, "artifactType": "foo/.bar")"),
            false, {{"descriptor.artifactType.format", E, "artifactType"}}},
        row{"UrlAbsolute", k_descriptor,
            desc(k_manifest, k_sha256_a, "1", R"(, "urls": ["https://example.com/foo?x=%20#f"])"), true, {}},
        row{"UrlNotUri", k_descriptor, desc(k_manifest, k_sha256_a, "1", R"(, "urls": ["ok:x", "value", "http://a b"])"),
            false, {{"descriptor.urls.format", E, "urls[1]"}, {"descriptor.urls.format", E, "urls[2]"}}},
        row{"UrlsNotStrings", k_descriptor, desc(k_manifest, k_sha256_a, "1", R"(, "urls": [1])"),
            false, {{"descriptor.urls.type", E, "urls[0]"}}},
        row{"DataMatches", k_descriptor,
            desc(std::string(media_type::empty_json), k_empty_digest, "2", R"(, "data": "e30=")"), true, {}},
        row{"DataBadBase64", k_descriptor,
            desc("text/plain", k_sha256_a, "34", R"(, "data": "aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg")"),
            false, {{"descriptor.data.base64", E, "data"}}},
        row{"DataBadCharacter", k_descriptor,
            desc("text/plain", k_sha256_a, "3", R"(, "data": "e3!=")"), false,
            {{"descriptor.data.base64", E, "data"}}},
        row{"DataSizeMismatch", k_descriptor,
            desc(std::string(media_type::empty_json), k_empty_digest, "3", R"(, "data": "e30=")"),
            false, {{"descriptor.data.size", E, "data"}}},
        row{"DataDigestMismatch", k_descriptor,
            desc(std::string(media_type::empty_json), k_sha256_a, "2", R"(, "data": "e30=")"),
            false, {{"descriptor.data.digest", E, "data"}}},
        row{"AnnotationValueNotString", k_descriptor,
            desc(k_manifest, k_sha256_a, "1", R"(, "annotations": {"key1": "v", "org.example.n": 1})"),
            false, {{"annotations.value.type", E, "annotations[\"org.example.n\"]"}}},
        row{"DuplicateKey", k_descriptor, desc(k_manifest, k_sha256_a, "1", R"(, "size": 2)"), false,
            {{"json.duplicate_key", E, "size"}}},
        row{"NotJson", k_descriptor, "invalid JSON", false, {{"json.syntax", E, ""}}},
        row{"EmptyInput", k_descriptor, "", false, {{"json.syntax", E, ""}}},
        row{"RootNotObject", k_descriptor, "[]", false, {{"descriptor.type", E, ""}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Manifest, SchemaRulesTable,
    ::testing::Values(
        row{"Valid", k_manifest, manifest_doc({layer(), layer(k_sha512)}), true, {}},
        row{"UnknownLayerMediaTypeWarnsOnly", k_manifest,
            manifest_doc({layer(), layer(k_sha256_b, "3", "application/vnd.example.data.v1.tar+gzip")}),
            true, {{"manifest.layers.mediaType.unknown", W, "layers[1].mediaType"}}},
        row{"UnknownConfigMediaTypeWarnsOnly", k_manifest,
            manifest_doc({layer()}, "", desc("application/octet-stream", k_sha256_a, "3")), true,
            {{"manifest.config.mediaType.unknown", W, "config.mediaType"}}},
        row{"EmptyConfigWithoutArtifactTypeWarns", k_manifest,
            manifest_doc({layer()}, "", desc(std::string(media_type::empty_json), k_empty_digest, "2")),
            true, {{"manifest.artifactType.required", W, "artifactType"}}},
        row{"ZstdAndNondistributableLayersKnown", k_manifest,
            manifest_doc({layer(k_sha256_b, "1", std::string(media_type::layer_tar_zstd)),
                      layer(k_sha256_b, "1", std::string(media_type::layer_nondistributable_tar))}),
            true, {}},
        row{"PathOfThirdLayerDigest", k_manifest,
            manifest_doc({layer(), layer(), layer("sha256:abc")}), false,
            {{"digest.encoding", E, "layers[2].digest"}}},
        row{"SeveralProblemsAllReported", k_manifest,
            R"({"schemaVersion": 3, "config": )" + desc(k_config, k_sha256_a, "-5") +
                R"(, "layers": [)" + layer("sha256:" + std::string(64, 'A')) + ", " +
                layer(k_sha256_b, "\"1\"") + R"(], "annotations": {"a": true}})",
            false,
            {{"manifest.schemaVersion", E, "schemaVersion"},
             {"descriptor.size.value", E, "config.size"},
             {"digest.encoding", E, "layers[0].digest"},
             {"descriptor.size.type", E, "layers[1].size"},
             {"annotations.value.type", E, "annotations.a"}}},
        row{"CarryingManifests", k_manifest, manifest_doc({layer()}, R"(, "manifests": [])"), false,
            {{"manifest.manifests.forbidden", E, "manifests"}}},
        row{"IndexMediaType", k_manifest,
            R"({"schemaVersion": 2, "mediaType": ")" + k_index + R"(", "config": )" +
                desc(k_config, k_sha256_a, "1") + R"(, "layers": [)" + layer() + "]}",
            false, {{"manifest.mediaType", E, "mediaType"}}},
        row{"NoMediaTypeIsFine", k_manifest,
            R"({"schemaVersion": 2, "config": )" + desc(k_config, k_sha256_a, "1") +
                R"(, "layers": [)" + layer() + "]}",
            true, {}},
        row{"SchemaVersionAsFloat", k_manifest,
            R"({"schemaVersion": 2.0, "config": )" + desc(k_config, k_sha256_a, "1") +
                R"(, "layers": [)" + layer() + "]}",
            false, {{"manifest.schemaVersion", E, "schemaVersion"}}},
        row{"EmptyLayers", k_manifest, manifest_doc({}), false, {{"manifest.layers.empty", E, "layers"}}},
        row{"MissingConfigAndLayers", k_manifest, R"({"schemaVersion": 2})", false,
            {{"manifest.config.required", E, "config"}, {"manifest.layers.required", E, "layers"}}},
        row{"SubjectNotDescriptor", k_manifest, manifest_doc({layer()}, R"(, "subject": ".nope")"), false,
            {{"descriptor.type", E, "subject"}}},
        row{"SubjectDescriptorChecked", k_manifest,
            manifest_doc({layer()}, R"(, "subject": )" + desc(k_manifest, k_sha256_a, "-1")), false,
            {{"descriptor.size.value", E, "subject.size"}}},
        row{"ArtifactTypeBad", k_manifest, manifest_doc({layer()}, R"(, "artifactType": "invalid")"),
            false, {{"manifest.artifactType.format", E, "artifactType"}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Index, SchemaRulesTable,
    ::testing::Values(
        row{"Valid", k_index,
            index_doc({desc(k_manifest, k_sha256_a, "7",
                        R"(, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"})"),
                   desc(k_index, k_sha256_b, "7")},
                  R"(, "annotations": {"com.example.key1": "value1"})"),
            true, {}},
        row{"UnknownEntryMediaTypeWarnsOnly", k_index, index_doc({desc("application/xml", k_sha256_a, "7")}),
            true, {{"index.manifests.mediaType.unknown", W, "manifests[0].mediaType"}}},
        row{"PlatformMissingOs", k_index,
            index_doc({desc(k_manifest, k_sha256_a, "7", R"(, "platform": {"architecture": "amd64"})")}),
            false, {{"platform.os.required", E, "manifests[0].platform.os"}}},
        row{"UnusualPlatformWarns", k_index,
            index_doc({desc(k_manifest, k_sha256_a, "7",
                        R"(, "platform": {"architecture": "s390x", "os": "windows"})")}),
            true, {{"platform.combination", W, "manifests[0].platform"}}},
        row{"EntryMissingDigest", k_index,
            index_doc({R"({"mediaType": ")" + k_manifest + R"(", "size": 7})"}), false,
            {{"descriptor.digest.required", E, "manifests[0].digest"}}},
        row{"CarryingLayersAndConfig", k_index,
            index_doc({}, R"(, "config": {}, "layers": [])"), false,
            {{"index.config.forbidden", E, "config"}, {"index.layers.forbidden", E, "layers"}}},
        row{"ManifestMediaType", k_index,
            R"({"schemaVersion": 2, "mediaType": ")" + k_manifest + R"(", "manifests": []})", false,
            {{"index.mediaType", E, "mediaType"}}},
        row{"MissingManifests", k_index, R"({"schemaVersion": 2})", false,
            {{"index.manifests.required", E, "manifests"}}},
        row{"SubjectNotDescriptor", k_index, index_doc({}, R"(, "subject": "nope")"), false,
            {{"descriptor.type", E, "subject"}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Config, SchemaRulesTable,
    ::testing::Values(
        row{"Valid", k_config,
            config_doc(R"(, "created": "2015-10-31T22:22:56.015925234Z", "variant": "")",
                   R"("User": "1:1", "Env": ["PATH=/bin", "EMPTY="], "Entrypoint": null,)"
                   R"( "Cmd": ["sh"], "Volumes": null, "Labels": {"a": "b"},)"
                   R"( "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGTERM", "ArgsEscaped": true)"),
            true, {}},
        row{"EnvWithoutEquals", k_config, config_doc("", R"("Env": ["A=1", "foo", "=x"])"), false,
            {{"config.env.form", E, "config.Env[1]"}, {"config.env.form", E, "config.Env[2]"}}},
        row{"EnvNewlineInValue", k_config, config_doc("", R"("Env": ["A=1\n2"])"), false,
            {{"config.env.form", E, "config.Env[0]"}}},
        row{"EnvNumber", k_config, config_doc("", R"("Env": [7353])"), false,
            {{"config.env.type", E, "config.Env[0]"}}},
        row{"OsNumber", k_config,
            R"({"architecture": "amd64", "os": 123, "rootfs": {"type": "layers", "diff_ids": []}})",
            false, {{"config.os.type", E, "os"}}},
        row{"MissingRequired", k_config, "{}", false,
            {{"config.architecture.required", E, "architecture"},
             {"config.os.required", E, "os"},
             {"config.rootfs.required", E, "rootfs"}}},
        row{"CreatedNotRfc3339", k_config, config_doc(R"(, "created": "2015-02-30T00:00:00Z")"), false,
            {{"config.created.format", E, "created"}}},
        row{"VolumesArray", k_config, config_doc("", R"("Volumes": ["/a"])"), false,
            {{"config.volumes.type", E, "config.Volumes"}}},
        row{"HistoryNotArray", k_config, config_doc(R"(, "history": "x")"), false,
            {{"config.history.type", E, "history"}}},
        row{"HistoryEntryChecked", k_config,
            config_doc(R"(, "history": [{"created": "yesterday", "empty_layer": "yes"}])"), false,
            {{"config.history.created.format", E, "history[0].created"},
             {"config.history.emptyLayer.type", E, "history[0].empty_layer"}}},
        row{"RootfsTypeNotLayers", k_config,
            R"({"architecture": "amd64", "os": "linux", "rootfs": {"type": "flat", "diff_ids": []}})",
            false, {{"config.rootfs.type.value", E, "rootfs.type"}}},
        row{"DiffIdMalformed", k_config,
            R"({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256"]}})",
            false, {{"digest.format", E, "rootfs.diff_ids[0]"}}},
        row{"UnusualPlatformWarns", k_config, config_doc(R"(, "variant": "v9")"), true,
            {{"platform.combination", W, ""}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Layout, SchemaRulesTable,
    ::testing::Values(
        row{"Valid", k_layout, R"({"imageLayoutVersion": "1.0.0"})", true, {}},
        row{"WrongVersion", k_layout, R"({"imageLayoutVersion": "1.1.0"})", false,
            {{"layout.imageLayoutVersion.value", E, "imageLayoutVersion"}}},
        row{"BareNumber", k_layout, R"({"imageLayoutVersion": 1.0.0})", false,
            {{"json.syntax", E, ""}}},
        row{"Missing", k_layout, "{}", false,
            {{"layout.imageLayoutVersion.required", E, "imageLayoutVersion"}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

TEST(SchemaRules, UnsupportedMediaTypeIsOneError) {
  const auto got = check_document("application/vnd.example+json", "{}");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rule, "document.mediaType");
  EXPECT_EQ(got[0].level, severity::error);
}

TEST(SchemaRules, HasErrorsIgnoresWarnings) {
  EXPECT_FALSE(has_errors({}));
  EXPECT_FALSE(has_errors({{"digest.algorithm", severity::warning, "digest", "m"}}));
  EXPECT_TRUE(has_errors({{"digest.algorithm", severity::warning, "digest", "m"},
                          {"digest.format", severity::error, "digest", "m"}}));
}

}  // namespace
}  // namespace ocipipe
