// The archive sources through the real CLI (build/ocipipe) on archives real skopeo wrote:
// datasets/build.sh's debian-slim.oci-archive.tar and debian-slim.docker-archive.tar
// (`skopeo copy oci:… oci-archive:…` / `docker-archive:…`), and docker-archives skopeo
// writes here from layouts this test built and broke. Both dataset archives validate
// (exit 0, PASS, a clean --json stream with a summary), unpack to the same tree as the
// layout they were made from, and a docker-archive of a broken image fails validate with
// exit 1 and a diagnostic record carrying every field.

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kSlim = "debian-slim";
const std::string kOciArchive = "debian-slim.oci-archive.tar";
const std::string kDockerArchive = "debian-slim.docker-archive.tar";

// Success when datasets/build.sh wrote archive `file`; a failure saying how to make it.
::testing::AssertionResult require_archive(const std::string& file) {
  const std::string path = dataset_archive(file);
  if (::access(path.c_str(), R_OK) != 0)
    return ::testing::AssertionFailure() << "dataset archive \"" << path
                                         << "\" is missing; build the datasets first: " << source_dir()
                                         << "/datasets/build.sh";
  return ::testing::AssertionSuccess();
}

#define OCIPIPE_REQUIRE_ARCHIVES()                           \
  do {                                                      \
    OCIPIPE_REQUIRE_DATASET(kSlim);                          \
    ASSERT_TRUE(require_archive(kOciArchive));               \
    ASSERT_TRUE(require_archive(kDockerArchive));            \
  } while (0)

std::string oci_archive_ref() { return "oci-archive:" + dataset_archive(kOciArchive); }
std::string docker_archive_ref() { return "docker-archive:" + dataset_archive(kDockerArchive); }

// The records of a --json stream, each checked for the envelope.
std::vector<nlohmann::json> records_of(const std::string& out) {
  std::vector<nlohmann::json> recs;
  for (const auto& line : lines_of(out)) {
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(rec.is_discarded()) << "not JSON: " << line;
    if (rec.is_discarded()) continue;
    EXPECT_TRUE(rec.is_object() && rec.contains("type") && rec["type"].is_string()) << line;
    EXPECT_TRUE(rec.contains("schema") && rec["schema"] == 1) << line;
    EXPECT_TRUE(rec.contains("data") && rec["data"].is_object()) << line;
    recs.push_back(rec);
  }
  return recs;
}

// ---- the dataset archives ----

TEST(ArchiveInterop, SkopeoOciArchivePasses) {
  OCIPIPE_REQUIRE_ARCHIVES();
  for (const auto& ref : {oci_archive_ref(), oci_archive_ref() + ":" + kSlim}) {
    SCOPED_TRACE(ref);
    const auto r = run_ocipipe({"validate", ref});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
    EXPECT_TRUE(contains(r.out, "PASS: " + ref)) << r.out;
    EXPECT_FALSE(contains(r.out, "FAIL")) << r.out;
  }
}

TEST(ArchiveInterop, SkopeoDockerArchivePasses) {
  OCIPIPE_REQUIRE_ARCHIVES();
  // skopeo tagged it docker.io/library/debian-slim:latest; Docker's short form names it too.
  for (const auto& ref : {docker_archive_ref(), docker_archive_ref() + ":debian-slim:latest",
                          docker_archive_ref() + ":docker.io/library/debian-slim:latest",
                          docker_archive_ref() + ":@0"}) {
    SCOPED_TRACE(ref);
    const auto r = run_ocipipe({"validate", ref});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
    EXPECT_TRUE(contains(r.out, "PASS: " + ref)) << r.out;
    EXPECT_FALSE(contains(r.out, "FAIL")) << r.out;
  }
}

TEST(ArchiveInterop, JsonOnBothArchivesIsCleanWithSummary) {
  OCIPIPE_REQUIRE_ARCHIVES();
  const auto r = run_ocipipe({"--json", "validate", oci_archive_ref(), docker_archive_ref()});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  std::set<std::string> ended;
  int summaries = 0;
  std::uint64_t end_tar = 0;
  for (const auto& rec : records_of(r.out)) {
    const auto& data = rec["data"];
    EXPECT_NE(rec["type"], "diagnostic") << rec.dump();
    if (rec["type"] == "end") {
      ended.insert(data.value("ref", ""));
      EXPECT_EQ(data.value("status", ""), "valid") << rec.dump();
      EXPECT_EQ(data.value("errors", -1), 0) << rec.dump();
      EXPECT_GT(data.value("blobs", 0), 0) << rec.dump();
      EXPECT_GT(data.value("tar_bytes", std::uint64_t{0}), 0u) << rec.dump();
      end_tar += data.value("tar_bytes", std::uint64_t{0});
    } else if (rec["type"] == "summary") {
      ++summaries;
      EXPECT_EQ(data.value("images", 0), 2) << rec.dump();
      EXPECT_EQ(data.value("valid", 0), 2) << rec.dump();
      EXPECT_EQ(data.value("invalid", -1), 0) << rec.dump();
      EXPECT_EQ(data.value("failed", -1), 0) << rec.dump();
      EXPECT_GT(data.value("blobs", 0), 0) << rec.dump();
      EXPECT_GT(data.value("blob_bytes", std::uint64_t{0}), 0u) << rec.dump();
      // Two archives are two files: nothing is shared, so the run digested what the images did.
      EXPECT_GT(data.value("tar_bytes", std::uint64_t{0}), 0u) << rec.dump();
      EXPECT_TRUE(data.contains("seconds")) << rec.dump();
    }
  }
  EXPECT_EQ(ended, (std::set<std::string>{oci_archive_ref(), docker_archive_ref()})) << r.out;
  EXPECT_EQ(summaries, 1) << r.out;
  for (const auto& rec : records_of(r.out))
    if (rec["type"] == "summary") {
      EXPECT_EQ(rec["data"].value("tar_bytes", std::uint64_t{0}), end_tar) << r.out;
    }
}

TEST(ArchiveInterop, ArchivesUnpackToTheLayoutsTree) {
  OCIPIPE_REQUIRE_ARCHIVES();
  temp_dir tmp;
  const auto base = run_ocipipe({"unpack", dataset_ref(kSlim), tmp.sub("layout")});
  ASSERT_EQ(base.exit_code, 0) << base.describe();
  for (const auto& [ref, dir] : std::vector<std::pair<std::string, std::string>>{
           {oci_archive_ref(), tmp.sub("oci-archive")}, {docker_archive_ref(), tmp.sub("docker-archive")}}) {
    SCOPED_TRACE(ref);
    const auto r = run_ocipipe({"unpack", ref, dir});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const auto diffs = compare_trees(tmp.sub("layout"), dir);
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }
}

// ---- docker-archives of broken images, written by skopeo ----

layer_spec plain(std::vector<tar_spec_entry> entries, layer_compression c = layer_compression::gzip) {
  layer_spec l;
  l.entries = std::move(entries);
  l.compression = c;
  return l;
}

std::vector<layer_spec> small_image() {
  return {plain({dir("etc/"), file("etc/hostname", "box"), file("etc/data", std::string(20000, 'd'))}),
          plain({file("app", std::string(9000, 'a'), 0755), symlink("app-link", "app")}),
          plain({file("etc/motd", "welcome")})};
}

struct skopeo_archive {
  std::string path;
  bool skopeo_refused = false;  ///< skopeo would not copy the broken layout; corrupted after
  std::string skopeo_error;
};

// `skopeo copy oci:DIR:TAG docker-archive:FILE:example.com/x:1` of `img` after `breakage`.
// When skopeo refuses the broken layout, the unbroken one is copied and layer `n`'s member
// is rewritten in the archive with the first entry's name changed (libarchive).
skopeo_archive skopeo_docker_archive(const temp_dir& tmp, built_image& img,
                                     const std::function<void(built_image&)>& breakage, std::size_t n) {
  skopeo_archive out;
  out.path = tmp.sub("skopeo.tar");
  // A pristine copy of the layout for the fallback, made before breaking it.
  const auto cp = run_command({"cp", "-a", img.dir, tmp.sub("pristine")});
  if (!cp.ok()) throw std::runtime_error("cp -a: " + cp.describe());
  breakage(img);
  const std::vector<std::string> copy = {"skopeo", "--insecure-policy", "copy", "--quiet", img.ref_text(),
                                         "docker-archive:" + out.path + ":example.com/x:1"};
  const auto r = run_command(copy);
  if (r.ok()) return out;
  out.skopeo_refused = true;
  out.skopeo_error = r.describe();
  ::unlink(out.path.c_str());
  const auto again = run_command({"skopeo", "--insecure-policy", "copy", "--quiet",
                                  "oci:" + tmp.sub("pristine") + ":" + img.tag,
                                  "docker-archive:" + out.path + ":example.com/x:1"});
  if (!again.ok()) throw std::runtime_error("skopeo copy of the unbroken layout: " + again.describe());
  const auto manifest = nlohmann::json::parse(read_archive_member(out.path, "manifest.json"));
  const std::string member = manifest.at(0).at("Layers").at(n).get<std::string>();
  std::string tar = read_archive_member(out.path, member);
  // Another first path, checksum fixed: still a tar, but not the one the diff_id names.
  const std::size_t hdr = tar_entry_headers(tar).at(0);
  tar.at(hdr) = tar[hdr] == 'z' ? 'y' : 'z';
  fix_tar_checksum(tar, hdr);
  rewrite_archive_member(out.path, member, tar);
  return out;
}

void expect_diagnostic_has_every_field(const nlohmann::json& data, const std::string& ref) {
  for (const char* key : {"ref", "rule", "severity", "location", "descriptor_path", "json_path", "digest", "entry",
                          "message"}) {
    ASSERT_TRUE(data.contains(key)) << "no \"" << key << "\" in " << data.dump();
    EXPECT_TRUE(data[key].is_string()) << key << " is not a string in " << data.dump();
  }
  EXPECT_EQ(data["ref"], ref);
  EXPECT_EQ(data["severity"], "error") << data.dump();
  EXPECT_FALSE(data["location"].get<std::string>().empty()) << data.dump();
  EXPECT_FALSE(data["message"].get<std::string>().empty()) << data.dump();
  EXPECT_TRUE(contains(data["descriptor_path"].get<std::string>(), "Layers[")) << data.dump();
  const std::string d = data["digest"].get<std::string>();
  EXPECT_EQ(d.size(), std::string("sha256:").size() + 64) << "a full digest: " << data.dump();
  EXPECT_EQ(d.rfind("sha256:", 0), 0u) << data.dump();
  EXPECT_TRUE(contains(data["location"].get<std::string>(), data["descriptor_path"].get<std::string>()))
      << data.dump();
}

void expect_broken_archive_fails(const skopeo_archive& a, std::size_t n) {
  const std::string ref = "docker-archive:" + a.path;
  const auto r = run_ocipipe({"validate", ref});
  EXPECT_EQ(r.exit_code, 1) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_TRUE(contains(r.out, "[layer.diff_id]") || contains(r.out, "[blob.digest]")) << r.out;
  EXPECT_TRUE(contains(r.out, "Layers[" + std::to_string(n) + "]")) << r.out;
  EXPECT_FALSE(contains(r.out, "PASS: ")) << r.out;

  const auto j = run_ocipipe({"--json", "validate", ref});
  EXPECT_EQ(j.exit_code, 1) << j.describe();
  int diagnostics = 0;
  for (const auto& rec : records_of(j.out)) {
    if (rec["type"] == "diagnostic") {
      ++diagnostics;
      const auto& data = rec["data"];
      const std::string rule = data.value("rule", "");
      EXPECT_TRUE(rule == "layer.diff_id" || rule == "blob.digest") << rec.dump();
      expect_diagnostic_has_every_field(data, ref);
    } else if (rec["type"] == "end") {
      EXPECT_EQ(rec["data"].value("status", ""), "invalid") << rec.dump();
    } else if (rec["type"] == "summary") {
      EXPECT_EQ(rec["data"].value("invalid", 0), 1) << rec.dump();
    }
  }
  EXPECT_EQ(diagnostics, 1) << j.out;
}

TEST(ArchiveInterop, SkopeoDockerArchiveOfWrongDiffIdLayoutFails) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", small_image());
  const auto a = skopeo_docker_archive(tmp, img, [](built_image& i) { set_wrong_diff_id(i, 1); }, 1);
  if (a.skopeo_refused) std::cerr << "skopeo refused the broken layout, corrupted after: " << a.skopeo_error << "\n";
  RecordProperty("skopeo_refused", a.skopeo_refused ? "yes" : "no");
  expect_broken_archive_fails(a, 1);
}

TEST(ArchiveInterop, SkopeoDockerArchiveOfFlippedByteLayoutFails) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", small_image());
  const auto a = skopeo_docker_archive(tmp, img, [](built_image& i) { corrupt_layer_byte(i, 0); }, 0);
  if (a.skopeo_refused) std::cerr << "skopeo refused the broken layout, corrupted after: " << a.skopeo_error << "\n";
  RecordProperty("skopeo_refused", a.skopeo_refused ? "yes" : "no");
  expect_broken_archive_fails(a, 0);
}

// The unbroken layout through skopeo validates: the failures above come from the breakage.
TEST(ArchiveInterop, SkopeoDockerArchiveOfGoodLayoutPasses) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", small_image());
  const std::string archive = tmp.sub("skopeo.tar");
  const auto r = run_command({"skopeo", "--insecure-policy", "copy", "--quiet", img.ref_text(),
                              "docker-archive:" + archive + ":example.com/x:1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  for (const auto& ref : {"docker-archive:" + archive, "docker-archive:" + archive + ":example.com/x:1"}) {
    SCOPED_TRACE(ref);
    const auto v = run_ocipipe({"validate", ref});
    EXPECT_EQ(v.exit_code, 0) << v.describe() << "\nstdout:\n" << v.out;
  }
  const auto u1 = run_ocipipe({"unpack", img.ref_text(), tmp.sub("from-layout")});
  ASSERT_EQ(u1.exit_code, 0) << u1.describe();
  const auto u2 = run_ocipipe({"unpack", "docker-archive:" + archive, tmp.sub("from-archive")});
  ASSERT_EQ(u2.exit_code, 0) << u2.describe();
  const auto diffs = compare_trees(tmp.sub("from-layout"), tmp.sub("from-archive"));
  EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
}

// The real debian-slim docker-archive with its smallest layer member rewritten (one byte of
// file data changed): exit 1, the layer named.
TEST(ArchiveInterop, RealDockerArchiveWithRewrittenLayerFails) {
  OCIPIPE_REQUIRE_ARCHIVES();
  temp_dir tmp;
  const std::string copy = tmp.sub("debian-slim.docker-archive.tar");
  const auto cp = run_command({"cp", dataset_archive(kDockerArchive), copy});
  ASSERT_TRUE(cp.ok()) << cp.describe();
  ASSERT_EQ(::chmod(copy.c_str(), 0644), 0);
  const auto manifest = nlohmann::json::parse(read_archive_member(copy, "manifest.json"));
  const auto& layers = manifest.at(0).at("Layers");
  // The member of the smallest layer that has an entry with data.
  std::size_t pick = layers.size();
  std::string tar;
  for (std::size_t i = layers.size(); i-- > 0;) {
    std::string t = read_archive_member(copy, layers[i].get<std::string>());
    const auto headers = tar_entry_headers(t);
    if (headers.empty()) continue;
    pick = i;
    tar = std::move(t);
    break;
  }
  ASSERT_LT(pick, layers.size()) << manifest.dump();
  // Change a byte of the first header's name field: a different path, checksum fixed, so
  // the tar still parses and only its digest is wrong.
  const std::size_t hdr = tar_entry_headers(tar).at(0);
  tar.at(hdr) = tar[hdr] == 'z' ? 'y' : 'z';
  fix_tar_checksum(tar, hdr);
  rewrite_archive_member(copy, layers[pick].get<std::string>(), tar);
  skopeo_archive a{copy, false, {}};
  expect_broken_archive_fails(a, pick);
}

}  // namespace
}  // namespace ocipipe::testing
