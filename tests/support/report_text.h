#pragma once
// Readable text of API reports, for assertion messages.

#include <string>
#include <vector>

#include "pipeline/api.h"
#include "stages/schema_rules.h"

namespace ocipipe::testing {

/// One line per finding ("error RULE at LOCATION: MESSAGE"), the failure
/// first; "no findings" when there are none.
[[nodiscard]] std::string describe(const image_validation& v);

/// One indented line per diagnostic ("  error RULE at "JSON_PATH": MESSAGE");
/// "  (no findings)" when there are none.
[[nodiscard]] std::string describe(const std::vector<diagnostic>& findings);

}  // namespace ocipipe::testing
