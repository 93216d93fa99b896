// Fuzzes the image-spec document parsers (stages/image_json) and the spec rule
// checker (stages/schema_rules) on one input read as every kind of document,
// plus the docker-archive manifest.json parser and the children walk gc uses.
// Findings beyond crashes (abort):
// - a document the writer (stages/image_json_write) produced from a parsed value
//   does not parse back, or writes differently the second time: pack and copy
//   write what unpack must read, byte-stable (its digest names it);
// - a diagnostic whose rule id is missing from rule_catalog(), which promises
//   every id (validate --json consumers look them up);
// - not-JSON input that check_document does not report as exactly one json.syntax.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stages/docker_manifest.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/layout_index.h"
#include "stages/oci/media_type.h"
#include "stages/rule_catalog.h"
#include "stages/schema_rules.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ocipipe;

namespace {

void check_rules_known(const std::vector<diagnostic>& findings) {
  for (const auto& d : findings)
    FUZZ_CHECK(find_rule(d.rule) != nullptr, "rule %s not in rule_catalog()", d.rule.c_str());
}

// write(parse(write(v))) == write(v), and the written text parses.
template <class Parse, class Write>
void check_round_trip(std::string_view json, Parse parse, Write write) {
  auto v = parse(json);
  if (!v) return;
  const std::string once = write(*v);
  auto again = parse(once);
  FUZZ_CHECK(again.has_value(), "written document does not parse: %s\n%s", again.error().message().c_str(),
             once.c_str());
  const std::string twice = write(*again);
  FUZZ_CHECK(once == twice, "writer not stable:\n%s\n%s", once.c_str(), twice.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);

  check_round_trip(json, parse_manifest, manifest_json);
  check_round_trip(json, parse_image_index, image_index_json);
  check_round_trip(json, parse_descriptor, descriptor_json);
  (void)parse_image_config(json);

  static constexpr std::string_view kinds[] = {
      media_type::image_manifest, media_type::image_index, media_type::image_config,
      media_type::descriptor, "application/vnd.oci.layout.header.v1+json"};
  for (auto kind : kinds) {
    const auto findings = check_document(kind, json);
    check_rules_known(findings);
    const bool syntax = !findings.empty() && findings.front().rule == "json.syntax";
    if (syntax) FUZZ_CHECK(findings.size() == 1, "json.syntax with %zu findings", findings.size());
  }

  const auto docker = parse_docker_manifest(json);
  check_rules_known(docker.problems);

  // gc's reachability walk reads any blob a descriptor calls a document.
  descriptor d;
  d.media_type = std::string(media_type::image_manifest);
  (void)document_children(d, json);
  (void)document_subject(d, json);
  d.media_type = std::string(media_type::image_index);
  (void)document_children(d, json);
  (void)document_subject(d, json);
  return 0;
}
