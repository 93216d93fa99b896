#pragma once
// Readable text of API reports, for assertion messages.

#include <string>

#include "pipeline/api.h"

namespace ocipipe::testing {

/// One line per finding ("error RULE at LOCATION: MESSAGE"), the failure
/// first; "no findings" when there are none.
[[nodiscard]] std::string describe(const image_validation& v);

}  // namespace ocipipe::testing
