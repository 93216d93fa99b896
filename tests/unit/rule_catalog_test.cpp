// stages/rule_catalog: one entry per rule id, matching the README's
// "Validation rules" table; for every document rule a failing and a passing
// document; every id the conformance corpus provokes is catalogued.

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/oci/media_type.h"
#include "stages/rule_catalog.h"
#include "stages/schema_rules.h"
#include "tests/support/report_text.h"

namespace ocipipe {
namespace {

using testing::describe;

// The ids pipeline/validate_graph.cpp emits for what one document does not
// show (blobs, layer streams, tar entries, counts across documents,
// docker-archive files). Their tests live with the pipeline; every other
// catalog id must have a pair in the document-rule table below.
const std::set<std::string> graph_rule_ids = {
    "blob.digest",
    "blob.missing",
    "blob.read",
    "blob.size",
    "blob.symlink",
    "config.rootfs.diff_ids.count",
    "descriptor.mediaType.match",
    "descriptor.mediaType.unknown",
    "digest.algorithm.unregistered",
    "docker.config.digest",
    "docker.layer.missing",
    "docker.layers.count",
    "docker.manifest",
    "docker.repoTags",
    "index.depth",
    "index.ref.name.unique",
    "layer.compression",
    "layer.diff_id",
    "layer.limits",
    "layer.stream",
    "layer.tar",
    "layer.tar.checksum",
    "layer.tar.duplicate",
    "layer.tar.entry",
    "layer.tar.eoa",
    "layer.tar.hardlink",
    "layer.tar.pax_size",
    "layer.tar.path",
    "layer.tar.sparse",
    "layer.tar.trailing_data",
    "layout.index",
    "layout.oci-layout",
    "platform.match",
};

// check_document reports this one as an error (the schema's minItems, and the
// reference validator's verdict); validate keeps it a warning unless --strict,
// which is what the catalog records.
constexpr std::string_view strict_only_error = "manifest.layers.empty";

TEST(RuleCatalog, SortedUniqueAndComplete) {
  const auto rules = rule_catalog();
  ASSERT_FALSE(rules.empty());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const rule_info& r = rules[i];
    EXPECT_FALSE(r.id.empty());
    EXPECT_FALSE(r.spec.empty()) << r.id;
    EXPECT_FALSE(r.summary.empty()) << r.id;
    // `file.md "Section"` or the Docker spec for docker-archive rules.
    EXPECT_TRUE(r.spec.find(".md \"") != std::string_view::npos ||
                r.spec.starts_with("docker image spec"))
        << r.id << ": " << r.spec;
    EXPECT_EQ(r.spec.back(), '"') << r.id;
    EXPECT_TRUE(std::islower(static_cast<unsigned char>(r.summary.front())) ||
                r.summary.front() == '"')
        << r.id << ": summaries are lowercase";
    if (i > 0) {
      EXPECT_LT(rules[i - 1].id, r.id) << "catalog not sorted or id repeated";
    }
  }
}

TEST(RuleCatalog, FindRule) {
  for (const rule_info& r : rule_catalog()) {
    const rule_info* found = find_rule(r.id);
    ASSERT_NE(found, nullptr) << r.id;
    EXPECT_EQ(found, &r);
  }
  EXPECT_EQ(find_rule(""), nullptr);
  EXPECT_EQ(find_rule("descriptor"), nullptr);
  EXPECT_EQ(find_rule("descriptor.size.valuex"), nullptr);
  EXPECT_EQ(find_rule("zzz"), nullptr);
  ASSERT_NE(find_rule("digest.algorithm"), nullptr);
  EXPECT_EQ(find_rule("digest.algorithm")->level, severity::warning);
  EXPECT_EQ(find_rule("manifest.layers.empty")->level, severity::warning);
  EXPECT_EQ(find_rule("blob.digest")->level, severity::error);
}

TEST(RuleCatalog, GraphRulesAreCatalogued) {
  for (const auto& id : graph_rule_ids) EXPECT_NE(find_rule(id), nullptr) << id;
}

// One row of the README's "Validation rules" table.
struct readme_row {
  std::string id, level, spec;
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The rows of the table under `## Validation rules`, up to the next `## `.
std::vector<readme_row> readme_rules(std::string& error) {
  std::ifstream in(OCIPIPE_SOURCE_DIR "/README.md");
  if (!in) {
    error = "cannot open README.md";
    return {};
  }
  std::vector<readme_row> rows;
  std::string line;
  bool in_section = false, seen = false;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) {
      in_section = trim(line) == "## Validation rules";
      seen = seen || in_section;
      continue;
    }
    if (!in_section || !line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    for (std::string cell; std::getline(ss, cell, '|');) cells.push_back(trim(cell));
    if (cells.size() < 4 || cells[0].size() < 3 || cells[0].front() != '`' ||
        cells[0].back() != '`') {
      error = "malformed table row: " + line;
      return {};
    }
    rows.push_back({cells[0].substr(1, cells[0].size() - 2), cells[1], cells[2]});
  }
  if (!seen) error = "README.md has no \"## Validation rules\" section";
  return rows;
}

TEST(RuleCatalogReadme, TableListsEveryRuleAndNothingElse) {
  std::string error;
  const auto rows = readme_rules(error);
  ASSERT_EQ(error, "");
  std::set<std::string> listed;
  for (const auto& row : rows) {
    EXPECT_TRUE(listed.insert(row.id).second) << "README lists " << row.id << " twice";
    const rule_info* r = find_rule(row.id);
    if (!r) {
      ADD_FAILURE() << "README lists " << row.id << ", which the catalog does not have";
      continue;
    }
    EXPECT_EQ(row.level, severity_name(r->level)) << row.id;
    EXPECT_EQ(row.spec, r->spec) << row.id;
  }
  for (const rule_info& r : rule_catalog())
    EXPECT_EQ(listed.count(std::string(r.id)), 1u) << "README does not list " << r.id;
  // Sorted like the catalog.
  for (std::size_t i = 0; i < rows.size() && i < rule_catalog().size(); ++i)
    EXPECT_EQ(rows[i].id, rule_catalog()[i].id) << "README row " << i;
}

// --- document rules: a failing and a passing document each ---------------

const std::string manifest_mt(media_type::image_manifest);
const std::string index_mt(media_type::image_index);
const std::string config_mt(media_type::image_config);
const std::string descriptor_mt(media_type::descriptor);
const std::string layout_mt(media_type::oci_layout_header);
const std::string empty_mt(media_type::empty_json);
const std::string layer_mt(media_type::layer_tar_gzip);

const std::string sha_a = "sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
const std::string sha_b = "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827";
const std::string sha_empty =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

std::string desc(const std::string& mt, const std::string& digest, const std::string& size,
                 const std::string& extra = "") {
  return R"({"mediaType": ")" + mt + R"(", "digest": ")" + digest + R"(", "size": )" + size +
         extra + "}";
}
// A valid descriptor document plus `extra` members.
std::string d(const std::string& extra = "") { return desc(manifest_mt, sha_a, "7682", extra); }
std::string with_platform(const std::string& platform) { return d(R"(, "platform": )" + platform); }

// A valid manifest; `head` replaces schemaVersion and mediaType.
std::string m(const std::string& extra = "",
              const std::string& config = desc(config_mt, sha_a, "1470"),
              const std::string& layers = "[" + desc(layer_mt, sha_b, "148") + "]",
              const std::string& head = R"("schemaVersion": 2, "mediaType": ")" + manifest_mt +
                                        R"(")") {
  return "{" + head + R"(, "config": )" + config + R"(, "layers": )" + layers + extra + "}";
}

std::string i(const std::string& extra = "",
              const std::string& manifests = "[" + desc(manifest_mt, sha_a, "7") + "]",
              const std::string& head = R"("schemaVersion": 2, "mediaType": ")" + index_mt +
                                        R"(")") {
  return "{" + head + R"(, "manifests": )" + manifests + extra + "}";
}

// A valid image config: `top` members after os, the `config` object's
// members, and the rootfs object.
std::string c(const std::string& top = "", const std::string& members = "",
              const std::string& rootfs = R"({"type": "layers", "diff_ids": [")" + sha_a +
                                          R"("]})") {
  return R"({"architecture": "amd64", "os": "linux")" + top + R"(, "config": {)" + members +
         R"(}, "rootfs": )" + rootfs + "}";
}
// A config with `platform` (architecture and os members, or none) in place
// of the default ones.
std::string c_platform(const std::string& platform) {
  return "{" + platform + R"(, "rootfs": {"type": "layers", "diff_ids": [")" + sha_a + R"("]}})";
}
std::string c_history(const std::string& entries) { return c(R"(, "history": )" + entries); }

struct rule_case {
  std::string id;
  std::string media_type;
  std::string failing;
  std::string passing;
  std::string passing_media_type = "";  ///< "" = media_type
};

void PrintTo(const rule_case& r, std::ostream* os) { *os << r.id; }

std::vector<rule_case> document_rule_cases() {
  const std::string D = descriptor_mt, M = manifest_mt, I = index_mt, C = config_mt,
                    L = layout_mt;
  const std::string layout_ok = R"({"imageLayoutVersion": "1.0.0"})";
  return {
      // json, document
      {"json.syntax", D, "{", d()},
      {"json.duplicate_key", D, d(R"(, "size": 1)"), d()},
      {"document.mediaType", "application/vnd.example+json", "{}", d(), D},
      // descriptor
      {"descriptor.type", D, "[]", d()},
      {"descriptor.mediaType.required", D, R"({"digest": ")" + sha_a + R"(", "size": 1})", d()},
      {"descriptor.mediaType.type", D,
       R"({"mediaType": 5, "digest": ")" + sha_a + R"(", "size": 1})", d()},
      {"descriptor.mediaType.format", D, desc("application", sha_a, "1"), d()},
      {"descriptor.size.required", D, R"({"mediaType": "a/b", "digest": ")" + sha_a + R"("})", d()},
      {"descriptor.size.type", D, desc(manifest_mt, sha_a, "\"7682\""), d()},
      {"descriptor.size.value", D, desc(manifest_mt, sha_a, "-1"), d()},
      {"descriptor.digest.required", D, R"({"mediaType": "a/b", "size": 1})", d()},
      {"descriptor.digest.type", D, R"({"mediaType": "a/b", "size": 1, "digest": 5})", d()},
      {"descriptor.urls.type", D, d(R"(, "urls": "https://example.com")"),
       d(R"(, "urls": ["https://example.com"])")},
      {"descriptor.urls.format", D, d(R"(, "urls": ["value"])"),
       d(R"(, "urls": ["https://example.com/foo"])")},
      {"descriptor.data.type", D, desc(empty_mt, sha_empty, "2", R"(, "data": 5)"),
       desc(empty_mt, sha_empty, "2", R"(, "data": "e30=")")},
      {"descriptor.data.base64", D, desc("text/plain", sha_empty, "2", R"(, "data": "e3!=")"),
       desc("text/plain", sha_empty, "2", R"(, "data": "e30=")")},
      {"descriptor.data.size", D, desc("application/json", sha_empty, "3", R"(, "data": "e30=")"),
       desc("application/json", sha_empty, "2", R"(, "data": "e30=")")},
      {"descriptor.data.digest", D, desc("application/json", sha_a, "2", R"(, "data": "e30=")"),
       desc("application/json", sha_empty, "2", R"(, "data": "e30=")")},
      {"descriptor.artifactType.type", D, d(R"(, "artifactType": 5)"),
       d(R"(, "artifactType": "application/vnd.example+type")")},
      {"descriptor.artifactType.format", D, d(R"(, "artifactType": "foo/.bar")"),
       d(R"(, "artifactType": "foo/bar")")},
      {"descriptor.empty.value", D, desc(empty_mt, sha_a, "2"),
       desc(empty_mt, sha_empty, "2", R"(, "data": "e30=")")},
      // digest
      {"digest.format", D, desc(manifest_mt, "sha256", "1"), d()},
      {"digest.encoding", D,
       desc(manifest_mt, "sha256:5B0BCABD1ED22E9FB1310CF6C2DEC7CDEF19F0AD69EFA1F392E94A4333501270",
            "1"),
       d()},
      {"digest.algorithm", D,
       desc(config_mt, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "1"),
       d()},
      // annotations
      {"annotations.type", D, d(R"(, "annotations": [])"), d(R"(, "annotations": {})")},
      {"annotations.value.type", D, d(R"(, "annotations": {"a": 1})"),
       d(R"(, "annotations": {"a": "1"})")},
      // platform
      {"platform.type", D, with_platform(R"("linux")"),
       with_platform(R"({"architecture": "amd64", "os": "linux"})")},
      {"platform.architecture.required", D, with_platform(R"({"os": "linux"})"),
       with_platform(R"({"architecture": "amd64", "os": "linux"})")},
      {"platform.architecture.type", D, with_platform(R"({"architecture": 1, "os": "linux"})"),
       with_platform(R"({"architecture": "amd64", "os": "linux"})")},
      {"platform.os.required", D, with_platform(R"({"architecture": "amd64"})"),
       with_platform(R"({"architecture": "amd64", "os": "linux"})")},
      {"platform.os.type", D, with_platform(R"({"architecture": "amd64", "os": 1})"),
       with_platform(R"({"architecture": "amd64", "os": "linux"})")},
      {"platform.osVersion.type", D,
       with_platform(R"({"architecture": "amd64", "os": "windows", "os.version": 10})"),
       with_platform(
           R"({"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1"})")},
      {"platform.osFeatures.type", D,
       with_platform(R"({"architecture": "amd64", "os": "windows", "os.features": "win32k"})"),
       with_platform(R"({"architecture": "amd64", "os": "windows", "os.features": ["win32k"]})")},
      {"platform.variant.type", D,
       with_platform(R"({"architecture": "arm64", "os": "linux", "variant": 8})"),
       with_platform(R"({"architecture": "arm64", "os": "linux", "variant": "v8"})")},
      {"platform.combination", D, with_platform(R"({"architecture": "s390x", "os": "windows"})"),
       with_platform(R"({"architecture": "s390x", "os": "linux"})")},
      // manifest
      {"manifest.type", M, "[]", m()},
      {"manifest.schemaVersion", M, m("", desc(config_mt, sha_a, "1470"),
                                      "[" + desc(layer_mt, sha_b, "148") + "]",
                                      R"("schemaVersion": 3)"),
       m()},
      {"manifest.mediaType", M, m("", desc(config_mt, sha_a, "1470"),
                                  "[" + desc(layer_mt, sha_b, "148") + "]",
                                  R"("schemaVersion": 2, "mediaType": ")" + index_mt + R"(")"),
       m()},
      {"manifest.mediaType.type", M, m("", desc(config_mt, sha_a, "1470"),
                                       "[" + desc(layer_mt, sha_b, "148") + "]",
                                       R"("schemaVersion": 2, "mediaType": 5)"),
       m()},
      {"manifest.mediaType.format", M, m("", desc(config_mt, sha_a, "1470"),
                                         "[" + desc(layer_mt, sha_b, "148") + "]",
                                         R"("schemaVersion": 2, "mediaType": "invalid")"),
       m()},
      {"manifest.artifactType.type", M, m(R"(, "artifactType": 5)"),
       m(R"(, "artifactType": "application/vnd.example+type")")},
      {"manifest.artifactType.format", M, m(R"(, "artifactType": "invalid")"),
       m(R"(, "artifactType": "application/vnd.example+type")")},
      {"manifest.artifactType.required", M, m("", desc(empty_mt, sha_empty, "2")),
       m(R"(, "artifactType": "application/vnd.example+type")", desc(empty_mt, sha_empty, "2"))},
      {"manifest.config.required", M,
       R"({"schemaVersion": 2, "layers": [)" + desc(layer_mt, sha_b, "148") + "]}", m()},
      {"manifest.layers.required", M,
       R"({"schemaVersion": 2, "config": )" + desc(config_mt, sha_a, "1470") + "}", m()},
      {"manifest.layers.type", M, m("", desc(config_mt, sha_a, "1470"), "{}"), m()},
      {"manifest.layers.empty", M, m("", desc(config_mt, sha_a, "1470"), "[]"), m()},
      {"manifest.manifests.forbidden", M, m(R"(, "manifests": [])"), m()},
      {"manifest.config.mediaType.unknown", M, m("", desc("application/octet-stream", sha_a, "3")),
       m()},
      {"manifest.layers.mediaType.unknown", M,
       m("", desc(config_mt, sha_a, "1470"),
         "[" + desc("application/vnd.example.data.v1.tar+gzip", sha_b, "3") + "]"),
       m()},
      // index
      {"index.type", I, "[]", i()},
      {"index.schemaVersion", I,
       i("", "[" + desc(manifest_mt, sha_a, "7") + "]", R"("schemaVersion": 1)"), i()},
      {"index.mediaType", I,
       i("", "[" + desc(manifest_mt, sha_a, "7") + "]",
         R"("schemaVersion": 2, "mediaType": ")" + manifest_mt + R"(")"),
       i()},
      {"index.mediaType.type", I,
       i("", "[" + desc(manifest_mt, sha_a, "7") + "]", R"("schemaVersion": 2, "mediaType": 5)"),
       i()},
      {"index.mediaType.format", I,
       i("", "[" + desc(manifest_mt, sha_a, "7") + "]",
         R"("schemaVersion": 2, "mediaType": "invalid")"),
       i()},
      {"index.artifactType.type", I, i(R"(, "artifactType": 5)"),
       i(R"(, "artifactType": "application/vnd.example+type")")},
      {"index.artifactType.format", I, i(R"(, "artifactType": "invalid")"),
       i(R"(, "artifactType": "application/vnd.example+type")")},
      {"index.manifests.required", I, R"({"schemaVersion": 2})", i()},
      {"index.manifests.type", I, i("", "{}"), i()},
      {"index.config.forbidden", I, i(R"(, "config": {})"), i()},
      {"index.layers.forbidden", I, i(R"(, "layers": [])"), i()},
      {"index.manifests.mediaType.unknown", I,
       i("", "[" + desc("application/xml", sha_a, "7") + "]"), i()},
      // config
      {"config.type", C, "[]", c()},
      {"config.created.type", C, c(R"(, "created": 5)"),
       c(R"(, "created": "2015-10-31T22:22:56.015925234Z")")},
      {"config.created.format", C, c(R"(, "created": "yesterday")"),
       c(R"(, "created": "2015-10-31T22:22:56Z")")},
      {"config.author.type", C, c(R"(, "author": 5)"), c(R"(, "author": "alice")")},
      {"config.architecture.required", C, c_platform(R"("os": "linux")"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.architecture.type", C, c_platform(R"("architecture": 64, "os": "linux")"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.architecture.value", C, c_platform(R"("architecture": "", "os": "linux")"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.os.required", C, c_platform(R"("architecture": "amd64")"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.os.type", C, c_platform(R"("architecture": "amd64", "os": 123)"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.os.value", C, c_platform(R"("architecture": "amd64", "os": "")"),
       c_platform(R"("architecture": "amd64", "os": "linux")")},
      {"config.osVersion.type", C, c(R"(, "os.version": 10)"), c(R"(, "os.version": "6.1")")},
      {"config.osFeatures.type", C, c(R"(, "os.features": "x")"), c(R"(, "os.features": ["x"])")},
      {"config.variant.type", C, c(R"(, "variant": 1)"), c(R"(, "variant": "v2")")},
      {"config.config.type", C,
       R"({"architecture": "amd64", "os": "linux", "config": [],)"
       R"( "rootfs": {"type": "layers", "diff_ids": []}})",
       R"({"architecture": "amd64", "os": "linux", "config": {},)"
       R"( "rootfs": {"type": "layers", "diff_ids": []}})"},
      {"config.user.type", C, c("", R"("User": 1234)"), c("", R"("User": "1:1")")},
      {"config.exposedPorts.type", C, c("", R"("ExposedPorts": {"80/tcp": "yes"})"),
       c("", R"("ExposedPorts": {"80/tcp": {}})")},
      {"config.exposedPorts.format", C, c("", R"("ExposedPorts": {"http/tcp": {}})"),
       c("", R"("ExposedPorts": {"80/tcp": {}, "53/udp": {}, "9/sctp": {}, "65535": {}})")},
      {"config.env.type", C, c("", R"("Env": [7353])"), c("", R"("Env": ["A=1"])")},
      {"config.env.form", C, c("", R"("Env": ["foo"])"), c("", R"("Env": ["foo="])")},
      {"config.entrypoint.type", C, c("", R"("Entrypoint": "sh")"),
       c("", R"("Entrypoint": ["sh"])")},
      {"config.cmd.type", C, c("", R"("Cmd": "sh")"), c("", R"("Cmd": null)")},
      {"config.volumes.type", C, c("", R"("Volumes": ["/data"])"),
       c("", R"("Volumes": {"/data": {}})")},
      {"config.volumes.format", C, c("", R"("Volumes": {"data": {}})"),
       c("", R"("Volumes": {"/data": {}})")},
      {"config.workingDir.type", C, c("", R"("WorkingDir": 1)"),
       c("", R"("WorkingDir": "/home/alice")")},
      {"config.labels.type", C, c("", R"("Labels": {"a": 1})"), c("", R"("Labels": {"a": "1"})")},
      {"config.stopSignal.type", C, c("", R"("StopSignal": 9)"),
       c("", R"("StopSignal": "SIGKILL")")},
      {"config.argsEscaped.type", C, c("", R"("ArgsEscaped": "yes")"),
       c("", R"("ArgsEscaped": false)")},
      {"config.rootfs.required", C, R"({"architecture": "amd64", "os": "linux"})", c()},
      {"config.rootfs.type", C, c("", "", "[]"), c()},
      {"config.rootfs.type.required", C, c("", "", R"({"diff_ids": []})"),
       c("", "", R"({"type": "layers", "diff_ids": []})")},
      {"config.rootfs.type.type", C, c("", "", R"({"type": 1, "diff_ids": []})"),
       c("", "", R"({"type": "layers", "diff_ids": []})")},
      {"config.rootfs.type.value", C, c("", "", R"({"type": "flat", "diff_ids": []})"),
       c("", "", R"({"type": "layers", "diff_ids": []})")},
      {"config.rootfs.diff_ids.required", C, c("", "", R"({"type": "layers"})"),
       c("", "", R"({"type": "layers", "diff_ids": []})")},
      {"config.rootfs.diff_ids.type", C, c("", "", R"({"type": "layers", "diff_ids": "x"})"),
       c("", "", R"({"type": "layers", "diff_ids": []})")},
      {"config.history.type", C, c_history(R"("x")"), c_history(R"([{}])")},
      {"config.history.created.type", C, c_history(R"([{"created": 5}])"),
       c_history(R"([{"created": "2015-10-31T22:22:54.690851953Z"}])")},
      {"config.history.created.format", C, c_history(R"([{"created": "yesterday"}])"),
       c_history(R"([{"created": "2015-10-31T22:22:54+01:00"}])")},
      {"config.history.author.type", C, c_history(R"([{"author": 5}])"),
       c_history(R"([{"author": "alice"}])")},
      {"config.history.createdBy.type", C, c_history(R"([{"created_by": 5}])"),
       c_history(R"([{"created_by": "/bin/sh"}])")},
      {"config.history.comment.type", C, c_history(R"([{"comment": 5}])"),
       c_history(R"([{"comment": "base"}])")},
      {"config.history.emptyLayer.type", C, c_history(R"([{"empty_layer": "no"}])"),
       c_history(R"([{"empty_layer": false}])")},
      {"config.history.layers.count", C,
       c_history(R"([{"created_by": "ADD"}, {"created_by": "CMD"}])"),
       c_history(R"([{"created_by": "ADD"}, {"created_by": "CMD", "empty_layer": true}])")},
      // oci-layout
      {"layout.type", L, "[]", layout_ok},
      {"layout.imageLayoutVersion.required", L, "{}", layout_ok},
      {"layout.imageLayoutVersion.type", L, R"({"imageLayoutVersion": 1})", layout_ok},
      {"layout.imageLayoutVersion.value", L, R"({"imageLayoutVersion": "1.1.0"})", layout_ok},
  };
}

// "config.history.layers.count" -> "ConfigHistoryLayersCount".
std::string pascal(const std::string& id) {
  std::string name;
  bool upper = true;
  for (unsigned char ch : id) {
    if (!std::isalnum(ch)) {
      upper = true;
      continue;
    }
    name.push_back(upper ? static_cast<char>(std::toupper(ch)) : static_cast<char>(ch));
    upper = false;
  }
  return name;
}

class RuleCatalogDocumentRule : public ::testing::TestWithParam<rule_case> {};

TEST_P(RuleCatalogDocumentRule, FailingYieldsItPassingDoesNot) {
  const rule_case& r = GetParam();
  const rule_info* info = find_rule(r.id);
  ASSERT_NE(info, nullptr) << r.id << " is not in the catalog";

  const auto failing = check_document(r.media_type, r.failing);
  bool found = false;
  for (const auto& f : failing) {
    if (f.rule != r.id) continue;
    found = true;
    EXPECT_FALSE(f.message.empty());
    // The one id whose catalog severity is validate's default, not check_document's.
    const severity want = r.id == strict_only_error ? severity::error : info->level;
    EXPECT_EQ(severity_name(f.level), severity_name(want))
        << r.id << ": check_document and the catalog disagree on severity";
  }
  EXPECT_TRUE(found) << "failing document does not yield " << r.id << ":\n"
                     << r.failing << "\nfindings:\n"
                     << describe(failing);

  const auto passing =
      check_document(r.passing_media_type.empty() ? r.media_type : r.passing_media_type, r.passing);
  for (const auto& f : passing)
    EXPECT_NE(f.rule, r.id) << "passing document yields " << r.id << ":\n" << r.passing;
  EXPECT_FALSE(has_errors(passing)) << "passing document is invalid:\n"
                                    << r.passing << "\nfindings:\n"
                                    << describe(passing);
}

INSTANTIATE_TEST_SUITE_P(Catalog, RuleCatalogDocumentRule,
                         ::testing::ValuesIn(document_rule_cases()),
                         [](const ::testing::TestParamInfo<rule_case>& info) {
                           return pascal(info.param.id);
                         });

TEST(RuleCatalogDocumentRules, TableCoversEveryDocumentRule) {
  std::set<std::string> covered;
  for (const auto& r : document_rule_cases()) {
    EXPECT_TRUE(covered.insert(r.id).second) << r.id << " has two rows";
    EXPECT_EQ(graph_rule_ids.count(r.id), 0u) << r.id << " is listed as a graph rule";
  }
  for (const rule_info& r : rule_catalog()) {
    const std::string id(r.id);
    EXPECT_TRUE(covered.count(id) != 0 || graph_rule_ids.count(id) != 0)
        << id << " has no failing/passing pair and is not a graph rule";
  }
}

// --- the conformance corpus -------------------------------------------------

std::string corpus_dir() {
  const char* env = std::getenv("OCIPIPE_SHARED_DIR");
  return std::string(env && *env ? env : OCIPIPE_SOURCE_DIR "/../shared") +
         "/conformance/image-spec";
}

TEST(RuleCatalogConformance, EveryEmittedIdIsCatalogued) {
  const std::string dir = corpus_dir();
  std::ifstream cases(dir + "/cases.jsonl");
  ASSERT_TRUE(cases) << "cannot open \"" << dir << "/cases.jsonl\"";
  int checked = 0;
  std::set<std::string> seen;
  for (std::string line; std::getline(cases, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object() && j.value("mediaType", "") != "" && j.value("path", "") != "")
        << "not a case: " << line;
    std::ifstream in(dir + "/" + j.value("path", ""), std::ios::binary);
    ASSERT_TRUE(in) << "cannot open " << j.value("path", "");
    std::ostringstream doc;
    doc << in.rdbuf();
    for (const auto& f : check_document(j.value("mediaType", ""), doc.str())) {
      EXPECT_NE(find_rule(f.rule), nullptr)
          << j.value("id", "") << " yields " << f.rule << ", which the catalog lacks";
      seen.insert(f.rule);
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
  EXPECT_FALSE(seen.empty());
}

}  // namespace
}  // namespace ocipipe

namespace ocipipe {
namespace {

// The other direction: every rule id the validate pipeline writes in its
// source is catalogued, so a new rule cannot ship without its README row.
TEST(RuleCatalogSources, EveryRuleIdWrittenByValidateIsCatalogued) {
  static const char* const sources[] = {
      "pipeline/validate_graph.cpp", "pipeline/validate_blob.cpp", "pipeline/docker_archive.cpp",
      "stages/docker_manifest.cpp",  "stages/tar_header_check.cpp", "stages/tar_header_check.h"};
  static const char* const scopes[] = {"blob.",   "layer.", "docker.", "index.", "descriptor.",
                                       "digest.", "platform.", "config.", "layout.", "manifest."};
  std::size_t seen = 0;
  for (const char* rel : sources) {
    std::ifstream in(std::string(OCIPIPE_SOURCE_DIR) + "/" + rel);
    ASSERT_TRUE(in) << rel;
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    for (std::size_t q = text.find('"'); q != std::string::npos; q = text.find('"', q + 1)) {
      const auto end = text.find('"', q + 1);
      if (end == std::string::npos) break;
      const std::string lit = text.substr(q + 1, end - q - 1);
      q = end;
      const bool rule_like =
          std::any_of(std::begin(scopes), std::end(scopes), [&](const char* s) { return lit.starts_with(s); }) &&
          std::all_of(lit.begin(), lit.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; });
      // File names ("index.json", "manifest.json") are places, not rules.
      if (!rule_like || lit.back() == '.' || lit.ends_with(".json")) continue;
      ++seen;
      EXPECT_NE(find_rule(lit), nullptr) << rel << " writes rule id " << lit << ", which the catalog lacks";
    }
  }
  EXPECT_GT(seen, 20u) << "the scan found too few rule ids; did the sources move?";
}

}  // namespace
}  // namespace ocipipe
