// stages/schema_rules: the image-spec rules, every finding reported with its
// rule id, severity and JSON path.

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stages/oci/media_type.h"
#include "stages/schema_rules.h"
#include "tests/support/report_text.h"

namespace ocipipe {
namespace {

using testing::describe;

const std::string manifest_mt(media_type::image_manifest);
const std::string index_mt(media_type::image_index);
const std::string config_mt(media_type::image_config);
const std::string descriptor_mt(media_type::descriptor);
const std::string layout_mt(media_type::oci_layout_header);

const std::string sha256_a =
    "sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
const std::string sha256_b =
    "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827";
const std::string sha512_digest =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
    "ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
// The empty descriptor of manifest.md: "{}" is "e30=" and hashes to this.
const std::string empty_digest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

std::string desc(const std::string& media_type, const std::string& digest, const std::string& size,
                 const std::string& extra = "") {
  return R"({"mediaType": ")" + media_type + R"(", "digest": ")" + digest + R"(", "size": )" +
         size + extra + "}";
}

std::string layer(const std::string& digest = sha256_b, const std::string& size = "148",
                  const std::string& media_type = std::string(media_type::layer_tar_gzip)) {
  return desc(media_type, digest, size);
}

std::string manifest_doc(const std::vector<std::string>& layers, const std::string& extra = "",
                         const std::string& config = desc(std::string(media_type::image_config),
                                                          sha256_a, "1470")) {
  std::string s = R"({"schemaVersion": 2, "mediaType": ")" + manifest_mt + R"(", "config": )" +
                  config + R"(, "layers": [)";
  for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + layers[i];
  return s + "]" + extra + "}";
}

std::string index_doc(const std::vector<std::string>& entries, const std::string& extra = "") {
  std::string s = R"({"schemaVersion": 2, "mediaType": ")" + index_mt + R"(", "manifests": [)";
  for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? ", " : "") + entries[i];
  return s + "]" + extra + "}";
}

std::string config_doc(const std::string& top_extra, const std::string& config_members = "") {
  return R"({"architecture": "amd64", "os": "linux")" + top_extra + R"(, "config": {)" +
         config_members + R"(}, "rootfs": {"type": "layers", "diff_ids": [")" + sha256_a +
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

constexpr severity err = severity::error;
constexpr severity warn = severity::warning;

INSTANTIATE_TEST_SUITE_P(
    Descriptor, SchemaRulesTable,
    ::testing::Values(
        row{"Plain", descriptor_mt, desc(manifest_mt, sha256_a, "7682"), true, {}},
        row{"NegativeSize",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "-1"),
            false,
            {{"descriptor.size.value", err, "size"}}},
        row{"SizeAsString",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "\"7682\""),
            false,
            {{"descriptor.size.type", err, "size"}}},
        row{"SizeWithFraction",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "7682.0"),
            false,
            {{"descriptor.size.type", err, "size"}}},
        row{"SizeBeyondInt64",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "9223372036854775808"),
            false,
            {{"descriptor.size.value", err, "size"}}},
        row{"MissingFields",
            descriptor_mt,
            "{}",
            false,
            {{"descriptor.mediaType.required", err, "mediaType"},
             {"descriptor.size.required", err, "size"},
             {"descriptor.digest.required", err, "digest"}}},
        row{"UppercaseSha256Hex",
            descriptor_mt,
            desc(manifest_mt,
                 "sha256:5B0BCABD1ED22E9FB1310CF6C2DEC7CDEF19F0AD69EFA1F392E94A4333501270", "7682"),
            false,
            {{"digest.encoding", err, "digest"}}},
        row{"UppercaseAlgorithm",
            descriptor_mt,
            desc(manifest_mt, "SHA256" + sha256_a.substr(6), "1"),
            false,
            {{"digest.format", err, "digest"}}},
        row{"Sha256TooShort",
            descriptor_mt,
            desc(manifest_mt, sha256_a.substr(0, 70), "1"),
            false,
            {{"digest.encoding", err, "digest"}}},
        row{"Sha512Accepted", descriptor_mt, desc(manifest_mt, sha512_digest, "1"), true, {}},
        row{"Sha512WithSha256Length",
            descriptor_mt,
            desc(manifest_mt, "sha512:" + sha256_a.substr(7), "1"),
            false,
            {{"digest.encoding", err, "digest"}}},
        row{"Sha384CheckedLikeGoDigest",
            descriptor_mt,
            desc(manifest_mt, "sha384:" + sha256_a.substr(7), "1"),
            false,
            {{"digest.encoding", err, "digest"}}},
        row{"UnregisteredAlgorithmWarns",
            descriptor_mt,
            desc(config_mt, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "1"),
            true,
            {{"digest.algorithm", warn, "digest"}}},
        row{"RepeatedSeparators",
            descriptor_mt,
            desc(config_mt, "sha256+foo+-b:abc", "1"),
            false,
            {{"digest.format", err, "digest"}}},
        row{"DigestNotString",
            descriptor_mt,
            R"({"mediaType": "a/b", "size": 1, "digest": 5})",
            false,
            {{"descriptor.digest.type", err, "digest"}}},
        row{"MediaTypeLongestParts",
            descriptor_mt,
            desc(std::string(127, 'a') + "/" + std::string(127, 'b'), sha256_a, "1"),
            true,
            {}},
        row{"MediaTypeTypeTooLong",
            descriptor_mt,
            desc(std::string(128, 'a') + "/b", sha256_a, "1"),
            false,
            {{"descriptor.mediaType.format", err, "mediaType"}}},
        row{"MediaTypeNoSubtype",
            descriptor_mt,
            desc("application", sha256_a, "1"),
            false,
            {{"descriptor.mediaType.format", err, "mediaType"}}},
        row{"MediaTypeNull",
            descriptor_mt,
            R"({"mediaType": null, "size": 1, "digest": ")" + sha256_a + "\"}",
            false,
            {{"descriptor.mediaType.type", err, "mediaType"}}},
        row{"ArtifactTypeBad",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1", R"(, "artifactType": "foo/.bar")"),
            false,
            {{"descriptor.artifactType.format", err, "artifactType"}}},
        row{"UrlAbsolute",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1", R"(, "urls": ["https://example.com/foo?x=%20#f"])"),
            true,
            {}},
        row{"UrlNotUri",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1", R"(, "urls": ["ok:x", "value", "http://a b"])"),
            false,
            {{"descriptor.urls.format", err, "urls[1]"},
             {"descriptor.urls.format", err, "urls[2]"}}},
        row{"UrlsNotStrings",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1", R"(, "urls": [1])"),
            false,
            {{"descriptor.urls.type", err, "urls[0]"}}},
        row{"DataMatches",
            descriptor_mt,
            desc(std::string(media_type::empty_json), empty_digest, "2", R"(, "data": "e30=")"),
            true,
            {}},
        row{"DataBadBase64",
            descriptor_mt,
            desc("text/plain", sha256_a, "34",
                 R"(, "data": "aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg")"),
            false,
            {{"descriptor.data.base64", err, "data"}}},
        row{"DataBadCharacter",
            descriptor_mt,
            desc("text/plain", sha256_a, "3", R"(, "data": "e3!=")"),
            false,
            {{"descriptor.data.base64", err, "data"}}},
        row{"DataSizeMismatch",
            descriptor_mt,
            desc("application/json", empty_digest, "3", R"(, "data": "e30=")"),
            false,
            {{"descriptor.data.size", err, "data"}}},
        row{"DataDigestMismatch",
            descriptor_mt,
            desc("application/json", sha256_a, "2", R"(, "data": "e30=")"),
            false,
            {{"descriptor.data.digest", err, "data"}}},
        row{"EmptyDescriptorWithoutData",
            descriptor_mt,
            desc(std::string(media_type::empty_json), empty_digest, "2"),
            true,
            {}},
        row{"EmptyDescriptorSha512",
            descriptor_mt,
            desc(std::string(media_type::empty_json),
                 "sha512:27c74670adb75075fad058d5ceaf7b20c4e7786c83bae8a32f626f9782af34c9"
                 "a33c2046ef60fd2a7878d378e29fec851806bbd9a67878f3a9f1cda4830763fd",
                 "2"),
            true,
            {}},
        row{"EmptyDescriptorWrongSizeAndDigest",
            descriptor_mt,
            desc(std::string(media_type::empty_json), sha256_a, "3"),
            false,
            {{"descriptor.empty.value", err, "size"}, {"descriptor.empty.value", err, "digest"}}},
        row{"EmptyDescriptorOtherData",
            descriptor_mt,
            desc(std::string(media_type::empty_json), sha256_b, "2", R"(, "data": "W10=")"),
            false,
            {{"descriptor.data.digest", err, "data"},
             {"descriptor.empty.value", err, "digest"},
             {"descriptor.empty.value", err, "data"}}},
        row{"EmptyDescriptorUnregisteredAlgorithmNotHashed",
            descriptor_mt,
            desc(std::string(media_type::empty_json),
                 "sha256+b64u:RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o", "2"),
            true,
            {{"digest.algorithm", warn, "digest"}}},
        row{"AnnotationValueNotString",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1",
                 R"(, "annotations": {"key1": "v", "org.example.n": 1})"),
            false,
            {{"annotations.value.type", err, "annotations[\"org.example.n\"]"}}},
        row{"DuplicateKey",
            descriptor_mt,
            desc(manifest_mt, sha256_a, "1", R"(, "size": 2)"),
            false,
            {{"json.duplicate_key", err, "size"}}},
        row{"NotJson", descriptor_mt, "invalid JSON", false, {{"json.syntax", err, ""}}},
        row{"EmptyInput", descriptor_mt, "", false, {{"json.syntax", err, ""}}},
        row{"RootNotObject", descriptor_mt, "[]", false, {{"descriptor.type", err, ""}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Manifest, SchemaRulesTable,
    ::testing::Values(
        row{"Valid", manifest_mt, manifest_doc({layer(), layer(sha512_digest)}), true, {}},
        row{"UnknownLayerMediaTypeWarnsOnly",
            manifest_mt,
            manifest_doc({layer(),
                          layer(sha256_b, "3", "application/vnd.example.data.v1.tar+gzip")}),
            true,
            {{"manifest.layers.mediaType.unknown", warn, "layers[1].mediaType"}}},
        row{"UnknownConfigMediaTypeWarnsOnly",
            manifest_mt,
            manifest_doc({layer()}, "", desc("application/octet-stream", sha256_a, "3")),
            true,
            {{"manifest.config.mediaType.unknown", warn, "config.mediaType"}}},
        row{"EmptyConfigWithoutArtifactTypeWarns",
            manifest_mt,
            manifest_doc({layer()}, "",
                         desc(std::string(media_type::empty_json), empty_digest, "2")),
            true,
            {{"manifest.artifactType.required", warn, "artifactType"}}},
        row{"ZstdAndNondistributableLayersKnown",
            manifest_mt,
            manifest_doc({layer(sha256_b, "1", std::string(media_type::layer_tar_zstd)),
                          layer(sha256_b, "1",
                                std::string(media_type::layer_nondistributable_tar))}),
            true,
            {}},
        row{"PathOfThirdLayerDigest",
            manifest_mt,
            manifest_doc({layer(), layer(), layer("sha256:abc")}),
            false,
            {{"digest.encoding", err, "layers[2].digest"}}},
        row{"SeveralProblemsAllReported",
            manifest_mt,
            R"({"schemaVersion": 3, "config": )" + desc(config_mt, sha256_a, "-5") +
                R"(, "layers": [)" + layer("sha256:" + std::string(64, 'A')) + ", " +
                layer(sha256_b, "\"1\"") + R"(], "annotations": {"a": true}})",
            false,
            {{"manifest.schemaVersion", err, "schemaVersion"},
             {"descriptor.size.value", err, "config.size"},
             {"digest.encoding", err, "layers[0].digest"},
             {"descriptor.size.type", err, "layers[1].size"},
             {"annotations.value.type", err, "annotations.a"}}},
        row{"CarryingManifests",
            manifest_mt,
            manifest_doc({layer()}, R"(, "manifests": [])"),
            false,
            {{"manifest.manifests.forbidden", err, "manifests"}}},
        row{"IndexMediaType",
            manifest_mt,
            R"({"schemaVersion": 2, "mediaType": ")" + index_mt + R"(", "config": )" +
                desc(config_mt, sha256_a, "1") + R"(, "layers": [)" + layer() + "]}",
            false,
            {{"manifest.mediaType", err, "mediaType"}}},
        row{"NoMediaTypeIsFine",
            manifest_mt,
            R"({"schemaVersion": 2, "config": )" + desc(config_mt, sha256_a, "1") +
                R"(, "layers": [)" + layer() + "]}",
            true,
            {}},
        row{"SchemaVersionAsFloat",
            manifest_mt,
            R"({"schemaVersion": 2.0, "config": )" + desc(config_mt, sha256_a, "1") +
                R"(, "layers": [)" + layer() + "]}",
            false,
            {{"manifest.schemaVersion", err, "schemaVersion"}}},
        row{"EmptyLayers",
            manifest_mt,
            manifest_doc({}),
            false,
            {{"manifest.layers.empty", err, "layers"}}},
        row{"MissingConfigAndLayers",
            manifest_mt,
            R"({"schemaVersion": 2})",
            false,
            {{"manifest.config.required", err, "config"},
             {"manifest.layers.required", err, "layers"}}},
        row{"SubjectNotDescriptor",
            manifest_mt,
            manifest_doc({layer()}, R"(, "subject": ".nope")"),
            false,
            {{"descriptor.type", err, "subject"}}},
        row{"EmptyLayerDescriptorChecked",
            manifest_mt,
            manifest_doc({desc(std::string(media_type::empty_json), empty_digest, "0")},
                         R"(, "artifactType": "application/vnd.example+type")"),
            false,
            {{"descriptor.empty.value", err, "layers[0].size"}}},
        row{"EmptySubjectChecked",
            manifest_mt,
            manifest_doc({layer()}, R"(, "subject": )" +
                                        desc(std::string(media_type::empty_json), sha256_a, "2")),
            false,
            {{"descriptor.empty.value", err, "subject.digest"}}},
        row{"SubjectDescriptorChecked",
            manifest_mt,
            manifest_doc({layer()}, R"(, "subject": )" + desc(manifest_mt, sha256_a, "-1")),
            false,
            {{"descriptor.size.value", err, "subject.size"}}},
        row{"ArtifactTypeBad",
            manifest_mt,
            manifest_doc({layer()}, R"(, "artifactType": "invalid")"),
            false,
            {{"manifest.artifactType.format", err, "artifactType"}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Index, SchemaRulesTable,
    ::testing::Values(
        row{"Valid",
            index_mt,
            index_doc(
                {desc(manifest_mt, sha256_a, "7",
                      R"(, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"})"),
                 desc(index_mt, sha256_b, "7")},
                R"(, "annotations": {"com.example.key1": "value1"})"),
            true,
            {}},
        row{"UnknownEntryMediaTypeWarnsOnly",
            index_mt,
            index_doc({desc("application/xml", sha256_a, "7")}),
            true,
            {{"index.manifests.mediaType.unknown", warn, "manifests[0].mediaType"}}},
        row{"PlatformMissingOs",
            index_mt,
            index_doc({desc(manifest_mt, sha256_a, "7",
                            R"(, "platform": {"architecture": "amd64"})")}),
            false,
            {{"platform.os.required", err, "manifests[0].platform.os"}}},
        row{"UnusualPlatformWarns",
            index_mt,
            index_doc({desc(manifest_mt, sha256_a, "7",
                            R"(, "platform": {"architecture": "s390x", "os": "windows"})")}),
            true,
            {{"platform.combination", warn, "manifests[0].platform"}}},
        row{"EntryMissingDigest",
            index_mt,
            index_doc({R"({"mediaType": ")" + manifest_mt + R"(", "size": 7})"}),
            false,
            {{"descriptor.digest.required", err, "manifests[0].digest"}}},
        row{"CarryingLayersAndConfig",
            index_mt,
            index_doc({}, R"(, "config": {}, "layers": [])"),
            false,
            {{"index.config.forbidden", err, "config"}, {"index.layers.forbidden", err, "layers"}}},
        row{"ManifestMediaType",
            index_mt,
            R"({"schemaVersion": 2, "mediaType": ")" + manifest_mt + R"(", "manifests": []})",
            false,
            {{"index.mediaType", err, "mediaType"}}},
        row{"MissingManifests",
            index_mt,
            R"({"schemaVersion": 2})",
            false,
            {{"index.manifests.required", err, "manifests"}}},
        row{"SubjectNotDescriptor",
            index_mt,
            index_doc({}, R"(, "subject": "nope")"),
            false,
            {{"descriptor.type", err, "subject"}}},
        row{"SubjectDescriptorChecked",
            index_mt,
            index_doc({}, R"(, "subject": )" + desc(manifest_mt, "sha256:abc", "7")),
            false,
            {{"digest.encoding", err, "subject.digest"}}},
        row{"ValidSubject",
            index_mt,
            index_doc({}, R"(, "subject": )" + desc(manifest_mt, sha256_a, "7")),
            true,
            {}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Config, SchemaRulesTable,
    ::testing::Values(
        row{"Valid",
            config_mt,
            config_doc(
                R"(, "created": "2015-10-31T22:22:56.015925234Z", "variant": "")",
                R"("User": "1:1", "Env": ["PATH=/bin", "EMPTY="], "Entrypoint": null,)"
                R"( "Cmd": ["sh"], "Volumes": null, "Labels": {"a": "b"},)"
                R"( "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGTERM", "ArgsEscaped": true)"),
            true,
            {}},
        row{"EnvWithoutEquals",
            config_mt,
            config_doc("", R"("Env": ["A=1", "foo", "=x"])"),
            false,
            {{"config.env.form", err, "config.Env[1]"}, {"config.env.form", err, "config.Env[2]"}}},
        row{"EnvNewlineInValue",
            config_mt,
            config_doc("", R"("Env": ["A=1\n2"])"),
            false,
            {{"config.env.form", err, "config.Env[0]"}}},
        row{"EnvNumber",
            config_mt,
            config_doc("", R"("Env": [7353])"),
            false,
            {{"config.env.type", err, "config.Env[0]"}}},
        row{"OsNumber",
            config_mt,
            R"({"architecture": "amd64", "os": 123, "rootfs": {"type": "layers", "diff_ids": []}})",
            false,
            {{"config.os.type", err, "os"}}},
        row{"MissingRequired",
            config_mt,
            "{}",
            false,
            {{"config.architecture.required", err, "architecture"},
             {"config.os.required", err, "os"},
             {"config.rootfs.required", err, "rootfs"}}},
        row{"CreatedNotRfc3339",
            config_mt,
            config_doc(R"(, "created": "2015-02-30T00:00:00Z")"),
            false,
            {{"config.created.format", err, "created"}}},
        row{"VolumesArray",
            config_mt,
            config_doc("", R"("Volumes": ["/a"])"),
            false,
            {{"config.volumes.type", err, "config.Volumes"}}},
        row{"HistoryNotArray",
            config_mt,
            config_doc(R"(, "history": "x")"),
            false,
            {{"config.history.type", err, "history"}}},
        row{"HistoryEntryChecked",
            config_mt,
            config_doc(R"(, "history": [{"created": "yesterday", "empty_layer": "yes"}])"),
            false,
            {{"config.history.created.format", err, "history[0].created"},
             {"config.history.emptyLayer.type", err, "history[0].empty_layer"}}},
        row{"RootfsTypeNotLayers",
            config_mt,
            R"({"architecture": "amd64", "os": "linux",)"
            R"( "rootfs": {"type": "flat", "diff_ids": []}})",
            false,
            {{"config.rootfs.type.value", err, "rootfs.type"}}},
        row{"DiffIdMalformed",
            config_mt,
            R"({"architecture": "amd64", "os": "linux",)"
            R"( "rootfs": {"type": "layers", "diff_ids": ["sha256"]}})",
            false,
            {{"digest.format", err, "rootfs.diff_ids[0]"}}},
        row{"UnusualPlatformWarns",
            config_mt,
            config_doc(R"(, "variant": "v9")"),
            true,
            {{"platform.combination", warn, ""}}},
        row{"EmptyOsAndArchitecture",
            config_mt,
            R"({"architecture": "", "os": "",)"
            R"( "rootfs": {"type": "layers", "diff_ids": []}})",
            false,
            {{"config.architecture.value", err, "architecture"}, {"config.os.value", err, "os"}}},
        row{"ExposedPortsForms",
            config_mt,
            config_doc("", R"("ExposedPorts": {"80/tcp": {}, "53/udp": {}, "9/sctp": {},)"
                           R"( "8080": {}, "1": {}, "65535/tcp": {}})"),
            true,
            {}},
        row{"ExposedPortsBadKeys",
            config_mt,
            config_doc("", R"("ExposedPorts": {"0/tcp": {}, "65536": {}, "80/TCP": {},)"
                           R"( "80-90/tcp": {}, "/tcp": {}, "http": {}, "80/tcp ": {},)"
                           R"( "80/udp": []})"),
            false,
            {{"config.exposedPorts.format", err, "config.ExposedPorts[\"0/tcp\"]"},
             {"config.exposedPorts.format", err, "config.ExposedPorts[\"65536\"]"},
             {"config.exposedPorts.format", err, "config.ExposedPorts[\"80/TCP\"]"},
             {"config.exposedPorts.format", err, "config.ExposedPorts[\"80-90/tcp\"]"},
             {"config.exposedPorts.format", err, "config.ExposedPorts[\"/tcp\"]"},
             {"config.exposedPorts.format", err, "config.ExposedPorts.http"},
             {"config.exposedPorts.format", err, "config.ExposedPorts[\"80/tcp \"]"},
             {"config.exposedPorts.type", err, "config.ExposedPorts[\"80/udp\"]"}}},
        row{"VolumesRelative",
            config_mt,
            config_doc("", R"("Volumes": {"/data": {}, "data": {}, "C:\\data": {}})"),
            false,
            {{"config.volumes.format", err, "config.Volumes.data"},
             {"config.volumes.format", err, "config.Volumes[\"C:\\\\data\"]"}}},
        row{"WindowsVolumes",
            config_mt,
            R"({"architecture": "amd64", "os": "windows", "config": {"Volumes":)"
            R"( {"C:\\data": {}, "d:/logs": {}, "/x": {}}},)"
            R"( "rootfs": {"type": "layers", "diff_ids": []}})",
            true,
            {}},
        row{"HistoryMatchesDiffIds",
            config_mt,
            config_doc(R"(, "history": [{"created_by": "ADD"}, {"created_by": "CMD",)"
                       R"( "empty_layer": true}])"),
            true,
            {}},
        row{"HistoryMoreLayersThanDiffIds",
            config_mt,
            config_doc(R"(, "history": [{"created_by": "ADD"}, {"created_by": "RUN"},)"
                       R"( {"created_by": "CMD", "empty_layer": false}])"),
            true,
            {{"config.history.layers.count", warn, "history"}}},
        row{"HistoryAllEmptyLayers",
            config_mt,
            config_doc(R"(, "history": [{"empty_layer": true}])"),
            true,
            {{"config.history.layers.count", warn, "history"}}},
        row{"HistoryEntryNotObjectSkipsCount",
            config_mt,
            config_doc(R"(, "history": [1, 2])"),
            false,
            {{"config.history.type", err, "history[0]"},
             {"config.history.type", err, "history[1]"}}}),
    [](const ::testing::TestParamInfo<row>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Layout, SchemaRulesTable,
    ::testing::Values(row{"Valid", layout_mt, R"({"imageLayoutVersion": "1.0.0"})", true, {}},
                      row{"WrongVersion",
                          layout_mt,
                          R"({"imageLayoutVersion": "1.1.0"})",
                          false,
                          {{"layout.imageLayoutVersion.value", err, "imageLayoutVersion"}}},
                      row{"BareNumber",
                          layout_mt,
                          R"({"imageLayoutVersion": 1.0.0})",
                          false,
                          {{"json.syntax", err, ""}}},
                      row{"Missing",
                          layout_mt,
                          "{}",
                          false,
                          {{"layout.imageLayoutVersion.required", err, "imageLayoutVersion"}}}),
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
