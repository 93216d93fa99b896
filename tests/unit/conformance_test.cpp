// The image-spec conformance corpus (shared/conformance/image-spec, see its
// README.md): every case's document checked with the rules of the case's
// `mediaType` must get the reference validator's verdict, valid meaning no
// error-severity finding. One test per case, named after the case id.

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "stages/image_json.h"
#include "stages/schema_rules.h"
#include "tests/support/report_text.h"

namespace ocipipe {
namespace {

using testing::describe;

const std::string& corpus_dir() {
  // Read in place from the shared folder beside the clone; OCIPIPE_SHARED_DIR
  // (environment) points elsewhere for a clone that has none beside it.
  static const std::string dir = [] {
    const char* env = std::getenv("OCIPIPE_SHARED_DIR");
    return std::string(env && *env ? env : OCIPIPE_SOURCE_DIR "/../shared") +
           "/conformance/image-spec";
  }();
  return dir;
}

struct conformance_case {
  std::string id;
  std::string kind;  ///< manifest, index, config, descriptor or layout
  std::string media_type;
  bool expect_valid = false;
  std::string path;  ///< relative to corpus_dir()
  std::string note;
  /// Why the case list could not be read; such a case fails rather than the
  /// whole suite silently having no tests.
  std::string load_error;
};

void PrintTo(const conformance_case& c, std::ostream* os) { *os << c.id; }

std::vector<conformance_case> load_cases() {
  const std::string file = corpus_dir() + "/cases.jsonl";
  std::ifstream in(file);
  if (!in) return {{.id = "CasesFileMissing", .load_error = "cannot open \"" + file + "\""}};
  std::vector<conformance_case> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const auto text = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    conformance_case c;
    if (j.is_object()) {
      c.id = text("id");
      c.kind = text("kind");
      c.media_type = text("mediaType");
      c.expect_valid = text("expect") == "valid";
      c.path = text("path");
      c.note = text("note");
    }
    if (c.id.empty() || c.media_type.empty() || c.path.empty() ||
        (text("expect") != "valid" && text("expect") != "invalid")) {
      c.id = "CasesLine" + std::to_string(n);
      c.load_error = file + " line " + std::to_string(n) + ": not a case object";
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return {{.id = "CasesFileEmpty", .load_error = "no cases in \"" + file + "\""}};
  return out;
}

// "deb_image-index_md-001" -> "DebImageIndexMd001": GoogleTest names must be
// alphanumeric, and ours are PascalCase without underscores.
std::string case_name(const ::testing::TestParamInfo<conformance_case>& info) {
  std::string name;
  bool upper = true;
  for (unsigned char c : info.param.id) {
    if (!std::isalnum(c)) {
      upper = true;
      continue;
    }
    name.push_back(upper ? static_cast<char>(std::toupper(c)) : static_cast<char>(c));
    upper = false;
  }
  return name.empty() ? "Case" + std::to_string(info.index) : name;
}

// The bytes of a case's document, or a failure naming the file.
::testing::AssertionResult read_document(const conformance_case& c, std::string& out) {
  std::ifstream in(corpus_dir() + "/" + c.path, std::ios::binary);
  if (!in)
    return ::testing::AssertionFailure()
           << "cannot open case document \"" << corpus_dir() << "/" << c.path << "\"";
  std::ostringstream doc;
  doc << in.rdbuf();
  out = doc.str();
  return ::testing::AssertionSuccess();
}

class ImageSpecConformance : public ::testing::TestWithParam<conformance_case> {};

TEST_P(ImageSpecConformance, MatchesReferenceVerdict) {
  const conformance_case& c = GetParam();
  ASSERT_TRUE(c.load_error.empty()) << c.load_error;
  std::string doc;
  ASSERT_TRUE(read_document(c, doc));

  const auto findings = check_document(c.media_type, doc);
  EXPECT_EQ(!has_errors(findings), c.expect_valid)
      << c.id << " (" << c.note << ") expected " << (c.expect_valid ? "valid" : "invalid")
      << " under " << c.media_type << "; findings:\n"
      << describe(findings);
}

INSTANTIATE_TEST_SUITE_P(ImageSpec, ImageSpecConformance, ::testing::ValuesIn(load_cases()),
                         case_name);

// What the full rules accept, the structural parsers unpack uses must accept
// too; otherwise a valid image could not be unpacked.
TEST(ImageSpecConformanceCorpus, StructuralParsersAcceptValidDocuments) {
  int checked = 0;
  for (const conformance_case& c : load_cases()) {
    ASSERT_TRUE(c.load_error.empty()) << c.load_error;
    if (!c.expect_valid || c.kind == "layout") continue;
    std::string doc;
    ASSERT_TRUE(read_document(c, doc));
    const auto message = [](const auto& r) { return r ? std::string() : r.error().message(); };
    std::string err = "no structural parser for kind \"" + c.kind + "\"";
    if (c.kind == "manifest") err = message(parse_manifest(doc));
    if (c.kind == "index") err = message(parse_image_index(doc));
    if (c.kind == "config") err = message(parse_image_config(doc));
    if (c.kind == "descriptor") err = message(parse_descriptor(doc));
    EXPECT_EQ(err, "") << c.id;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace ocipipe
