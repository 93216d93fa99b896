// The validate issue's acceptance checks, run through the real CLI (build/ocipipe) on the
// real Debian images of datasets/build.sh: every dataset validates (exit 0, `PASS: REF`),
// and copies of debian-slim broken in one known way each (a flipped byte in a layer blob, a
// wrong diff_id in the image config, a wrong layer descriptor size) fail validate with exit
// 1 and a FAIL line naming the layer and the rule, and fail unpack with exit 2, naming the
// layer and both digests, without leaving the target directory behind.
//
// The broken copies are made here, not by datasets/build.sh: the cache holds only valid
// images, and each test sees exactly the one fault it made (the rewritten documents are
// stored as new blobs with correct digests and sizes, and the tag annotation is kept).

#include <sys/stat.h>

#include <cstdint>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/oci/digest.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kSlim = "debian-slim";

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A private copy of the debian-slim layout that a test may break. Blobs in the cache may be
// read-only (0444 or 0644 depending on how they were written), so the copy is made writable
// before anything is rewritten. The cache itself is never touched: -L copies what a symlink
// points to instead of the link, so no file of the copy is a way into the cache.
class slim_copy {
 public:
  explicit slim_copy(const temp_dir& tmp) : dir_(tmp.sub("layout")) {
    const auto cp = run_command({"cp", "-a", "-L", dataset_layout(kSlim), dir_});
    if (!cp.ok()) throw std::runtime_error("cp -a: " + cp.describe());
    const auto chmod = run_command({"chmod", "-R", "u+w", dir_});
    if (!chmod.ok()) throw std::runtime_error("chmod -R u+w: " + chmod.describe());
  }

  [[nodiscard]] std::string ref() const { return "oci:" + dir_ + ":" + kSlim; }

  [[nodiscard]] std::string blob_path(const std::string& digest_text) const {
    const auto d = digest::parse(digest_text);
    if (!d) throw std::runtime_error("bad digest " + digest_text);
    return dir_ + "/" + d->blob_path();
  }

  [[nodiscard]] ordered_json index() const { return ordered_json::parse(read_bytes(dir_ + "/index.json")); }
  [[nodiscard]] ordered_json manifest() const {
    return ordered_json::parse(read_bytes(blob_path(index()["manifests"][0]["digest"])));
  }
  [[nodiscard]] ordered_json config() const {
    return ordered_json::parse(read_bytes(blob_path(manifest()["config"]["digest"])));
  }
  [[nodiscard]] std::string layer_digest(std::size_t n) const {
    return manifest()["layers"].at(n)["digest"].get<std::string>();
  }

  // Stores `m` as a new blob and points index.json's (only) entry at it, keeping the
  // entry's other fields (mediaType, the ref.name annotation that makes the tag).
  void store_manifest(const ordered_json& m) {
    ordered_json idx = index();
    const auto [d, size] = store_blob(m.dump());
    idx["manifests"][0]["digest"] = d;
    idx["manifests"][0]["size"] = size;
    write_bytes(dir_ + "/index.json", idx.dump());
  }

  // Stores `c` as a new blob, then the manifest naming it, then index.json.
  void store_config(const ordered_json& c) {
    ordered_json m = manifest();
    const auto [d, size] = store_blob(c.dump());
    m["config"]["digest"] = d;
    m["config"]["size"] = size;
    store_manifest(m);
  }

 private:
  std::pair<std::string, std::int64_t> store_blob(const std::string& bytes) {
    const digest d = sha256_of(bytes);
    write_bytes(blob_path(d.str()), bytes);
    return {d.str(), static_cast<std::int64_t>(bytes.size())};
  }

  std::string dir_;
};

// The layer each test breaks. Layer 1 is the 17 MB middle layer (a flipped byte deep inside
// real deflate data); layer 2 is a small upper layer, so a wrong size or diff_id there is
// not hidden behind the big base layer.
constexpr std::size_t kFlipLayer = 1;
constexpr std::size_t kMetaLayer = 2;

std::string location_of(std::size_t layer) {
  return "manifests[0].layers[" + std::to_string(layer) + "]";
}

// The FAIL lines of validate's human output that carry a finding: everything but the
// closing "FAIL: REF: N problem(s)" line.
std::vector<std::string> finding_lines(const std::string& out, const std::string& ref) {
  std::vector<std::string> found;
  for (const auto& line : lines_of(out)) {
    if (line.rfind("FAIL: " + ref + ": ", 0) != 0) continue;
    if (std::regex_search(line, std::regex(R"(: \d+ problem\(s\)$)"))) continue;
    found.push_back(line);
  }
  return found;
}

// validate exits 1, prints no PASS, and has a FAIL line for layer `n` naming the blob (its
// location and at least its abbreviated digest) and `[rule]`; every finding is about
// layer `n`, since nothing else in the copy was touched.
command_result expect_validate_fails(const slim_copy& img, std::size_t n,
                                     const std::string& layer_digest, const std::string& rule) {
  const auto r = run_ocipipe({"validate", img.ref()});
  EXPECT_EQ(r.exit_code, 1) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_FALSE(contains(r.out, "PASS: ")) << r.out;
  const auto findings = finding_lines(r.out, img.ref());
  EXPECT_FALSE(findings.empty()) << "no FAIL finding line in:\n" << r.out << r.err;
  const std::string short_digest = layer_digest.substr(0, std::string("sha256:").size() + 12);
  bool named = false;
  for (const auto& line : findings) {
    EXPECT_TRUE(contains(line, location_of(n))) << "a finding about another place: " << line;
    if (contains(line, location_of(n)) && contains(line, short_digest) &&
        contains(line, "[" + rule + "]"))
      named = true;
  }
  EXPECT_TRUE(named) << "no FAIL line names " << location_of(n) << " (" << short_digest
                     << ") and [" << rule << "]:\n" << r.out;
  EXPECT_TRUE(contains(r.out, "FAIL: " + img.ref() + ": " + std::to_string(findings.size()) +
                                  " problem(s)"))
      << r.out;
  return r;
}

// unpack exits 2 (an operational failure, DESIGN.md §4), names layer `n` and every string of
// `names` (the digests) on stderr, prints nothing on stdout, and leaves no target behind:
// it created the directory, so on failure it removes it again.
void expect_unpack_fails(const slim_copy& img, const temp_dir& tmp, std::size_t n,
                         const std::vector<std::string>& names) {
  const std::string rootfs = tmp.sub("rootfs");
  const auto r = run_ocipipe({"unpack", img.ref(), rootfs});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(r.err.rfind("ocipipe: ", 0) == 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("\\blayer " + std::to_string(n) + "\\b")))
      << "the error does not name layer " << n << ": " << r.err;
  for (const auto& name : names) EXPECT_TRUE(contains(r.err, name)) << "missing " << name << ": " << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(exists_no_follow(rootfs)) << "unpack left \"" << rootfs << "\" behind";
}

// ---- corruptions ----

// Flips every bit of the middle byte of layer `n`'s blob. Returns the digest of the bytes
// now stored, which an error must quote beside the descriptor's digest.
std::string flip_middle_byte(const slim_copy& img, std::size_t n) {
  const std::string path = img.blob_path(img.layer_digest(n));
  std::string bytes = read_bytes(path);
  auto& b = bytes.at(bytes.size() / 2);
  b = static_cast<char>(~static_cast<unsigned char>(b));
  write_bytes(path, bytes);
  return sha256_of(bytes).str();
}

// A well-formed digest that no layer has.
std::string wrong_diff_id() { return sha256_of("not the diff_id of any layer").str(); }

// Replaces rootfs.diff_ids[n] with wrong_diff_id(). Returns the correct one.
std::string set_wrong_diff_id(slim_copy& img, std::size_t n) {
  ordered_json c = img.config();
  const std::string right = c["rootfs"]["diff_ids"].at(n).get<std::string>();
  c["rootfs"]["diff_ids"].at(n) = wrong_diff_id();
  img.store_config(c);
  return right;
}

// Adds `delta` to layer `n`'s descriptor size.
void shift_layer_size(slim_copy& img, std::size_t n, std::int64_t delta) {
  ordered_json m = img.manifest();
  m["layers"].at(n)["size"] = m["layers"].at(n)["size"].get<std::int64_t>() + delta;
  img.store_manifest(m);
}

// ---- the datasets are valid ----

void expect_valid(const std::string& name) {
  OCIPIPE_REQUIRE_DATASET(name);
  const auto r = run_ocipipe({"validate", dataset_ref(name)});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_TRUE(contains(r.out, "PASS: " + dataset_ref(name))) << r.out;
  EXPECT_FALSE(contains(r.out, "FAIL")) << r.out;
}

TEST(ValidateDatasets, DebianSlimPasses) { expect_valid("debian-slim"); }
TEST(ValidateDatasets, DebianPasses) { expect_valid("debian"); }
TEST(ValidateDatasets, DebianPyPasses) { expect_valid("debian-py"); }
TEST(ValidateDatasets, DebianSlimZstdPasses) { expect_valid("debian-slim-zstd"); }

// The copy helper itself: an untouched copy, and one whose manifest and config were
// rewritten without change of meaning, still validate. Otherwise a failure below could come
// from the rewriting, not from the fault under test.
TEST(ValidateCorruptCopies, RewrittenButUnchangedCopyPasses) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  img.store_config(img.config());
  EXPECT_EQ(img.index()["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], kSlim);
  const auto r = run_ocipipe({"validate", img.ref()});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_TRUE(contains(r.out, "PASS: " + img.ref())) << r.out;
}

// ---- validate of broken copies: exit 1, a FAIL line with the blob and the rule ----

TEST(ValidateCorruptCopies, FlippedLayerByteFailsBlobDigest) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  const std::string layer = img.layer_digest(kFlipLayer);
  const std::string actual = flip_middle_byte(img, kFlipLayer);
  const auto r = expect_validate_fails(img, kFlipLayer, layer, "blob.digest");
  // The blob.digest finding quotes both digests, so an operator can tell which is which.
  bool both = false;
  for (const auto& line : finding_lines(r.out, img.ref()))
    if (contains(line, "[blob.digest]") && contains(line, layer) && contains(line, actual)) both = true;
  EXPECT_TRUE(both) << "no blob.digest line quotes " << layer << " and " << actual << ":\n" << r.out;
}

TEST(ValidateCorruptCopies, WrongDiffIdFailsLayerDiffId) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  set_wrong_diff_id(img, kMetaLayer);
  expect_validate_fails(img, kMetaLayer, img.layer_digest(kMetaLayer), "layer.diff_id");
}

TEST(ValidateCorruptCopies, LayerSizeTooLargeFailsBlobSize) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  shift_layer_size(img, kMetaLayer, +1);
  expect_validate_fails(img, kMetaLayer, img.layer_digest(kMetaLayer), "blob.size");
}

// A descriptor size smaller than the blob is the other half of the rule: reads are bounded
// by the descriptor size (DESIGN.md §6), so the excess must be noticed, not cut off.
TEST(ValidateCorruptCopies, LayerSizeTooSmallFailsBlobSize) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  shift_layer_size(img, kMetaLayer, -1);
  expect_validate_fails(img, kMetaLayer, img.layer_digest(kMetaLayer), "blob.size");
}

// --json: JSON Lines in the documented envelope, the finding as a `diagnostic` record with
// its rule, severity and location, and an `end` record saying the image is invalid.
TEST(ValidateCorruptCopies, JsonOutputCarriesDiffIdDiagnostic) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  const std::string right = set_wrong_diff_id(img, kMetaLayer);
  const auto r = run_ocipipe({"validate", "--json", img.ref()});
  EXPECT_EQ(r.exit_code, 1) << r.describe();

  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty()) << r.err;
  int diagnostics = 0;
  bool saw_end = false;
  for (const auto& line : lines) {
    nlohmann::json rec;
    try {
      rec = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << line;
      continue;
    }
    ASSERT_TRUE(rec.is_object()) << line;
    ASSERT_TRUE(rec.contains("type") && rec["type"].is_string()) << line;
    ASSERT_TRUE(rec.contains("schema") && rec["schema"] == 1) << line;
    ASSERT_TRUE(rec.contains("data") && rec["data"].is_object()) << line;
    const auto& data = rec["data"];
    if (rec["type"] == "diagnostic") {
      ++diagnostics;
      EXPECT_EQ(data.value("rule", ""), "layer.diff_id") << line;
      EXPECT_EQ(data.value("severity", ""), "error") << line;
      EXPECT_EQ(data.value("ref", ""), img.ref()) << line;
      EXPECT_TRUE(contains(data.value("location", ""), location_of(kMetaLayer))) << line;
      const std::string message = data.value("message", "");
      EXPECT_TRUE(contains(message, wrong_diff_id()) && contains(message, right))
          << "the message should quote the config's diff_id and the measured one: " << line;
    } else if (rec["type"] == "end") {
      saw_end = true;
      EXPECT_EQ(data.value("status", ""), "invalid") << line;
    }
  }
  EXPECT_EQ(diagnostics, 1) << r.out;
  EXPECT_TRUE(saw_end) << r.out;
}

// ---- unpack of broken copies: exit 2, layer index and digests named, no target left ----

TEST(UnpackCorruptCopies, FlippedLayerByteExitsTwoNamingBothDigests) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  const std::string layer = img.layer_digest(kFlipLayer);
  const std::string actual = flip_middle_byte(img, kFlipLayer);
  expect_unpack_fails(img, tmp, kFlipLayer, {layer, actual});
}

TEST(UnpackCorruptCopies, WrongDiffIdExitsTwoNamingBothDigests) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  const std::string right = set_wrong_diff_id(img, kMetaLayer);
  expect_unpack_fails(img, tmp, kMetaLayer, {wrong_diff_id(), right});
}

TEST(UnpackCorruptCopies, WrongLayerSizeExitsTwoNamingLayer) {
  OCIPIPE_REQUIRE_DATASET(kSlim);
  temp_dir tmp;
  slim_copy img(tmp);
  shift_layer_size(img, kMetaLayer, +1);
  expect_unpack_fails(img, tmp, kMetaLayer, {img.layer_digest(kMetaLayer)});
}

}  // namespace
}  // namespace ocipipe::testing
