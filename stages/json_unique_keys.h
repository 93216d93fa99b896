#pragma once
// JSON parsed as containers/image parses its security-relevant documents
// (policy.json, signature payloads): one RFC 8259 value, and an object that
// repeats a key is refused rather than resolved to its first or last value,
// so two readers can never see different documents. Pure.

#include <string_view>

#include <nlohmann/json.hpp>

#include "stages/oci/error.h"

namespace ocipipe {

/// Parses `text` (UTF-8, nothing but whitespace after the value). Thread-safe.
/// Errors: `malformed` ("not JSON: …" with the line and column, or
/// "duplicate key \"k\"" for a key repeated in any one object).
[[nodiscard]] result<nlohmann::json> parse_json_unique_keys(std::string_view text);

}  // namespace ocipipe
