#pragma once
// The catalog of every rule `ocipipe validate` reports: its stable id, its
// severity and the image-spec section it comes from. One entry per id, sorted
// by id (byte order), so the catalog is the one list that the README's
// "Validation rules" table, `--json` consumers and the tests agree on.
//
// Two kinds of rule share it: document rules, emitted by check_document
// (stages/schema_rules.h) for one JSON document, and graph rules, emitted by
// the validate graph (pipeline/validate_graph.cpp) for what only the whole
// image shows: blobs, layer streams, tar entries, counts across documents,
// docker-archive files.
//
// Severity is the verdict `validate` gives by default: an error makes the
// image invalid (exit 1), a warning does not (exit 0). `--strict` turns
// manifest.layers.empty, a warning here, into an error.
//
// `spec` names the source as `file.md "Section"`, file and section heading (or
// property name) of image-spec v1.1.1; docker-archive rules cite the Docker
// image specification v1.2, which `docker save` follows.
//
// All data is constant and static; every function is pure, noexcept and
// thread-safe.

#include <span>
#include <string_view>

namespace ocipipe {

/// How bad a finding is. Only errors make a document or an image invalid.
enum class severity { error, warning };

/// "error" or "warning", as printed in `--json` diagnostics and the README.
[[nodiscard]] constexpr std::string_view severity_name(severity s) noexcept {
  return s == severity::error ? "error" : "warning";
}

/// One rule of the catalog. The views point at static storage and stay valid
/// for the life of the program.
struct rule_info {
  std::string_view id;       ///< stable, `<scope>.<field>.<check>`, e.g. `descriptor.size.value`
  severity level;            ///< default verdict (see the header comment for `--strict`)
  std::string_view spec;     ///< `manifest.md "layers"`: image-spec v1.1.1 file and section
  std::string_view summary;  ///< lowercase, one line: what the rule checks
};

/// Every rule, one entry per id, sorted by id in byte order. The span points
/// at static storage; never empty.
[[nodiscard]] std::span<const rule_info> rule_catalog() noexcept;

/// The entry for `id`, or nullptr when the catalog has none. Binary search,
/// O(log n); the pointer stays valid for the life of the program.
[[nodiscard]] const rule_info* find_rule(std::string_view id) noexcept;

}  // namespace ocipipe
