#include "tests/support/command_check.h"

namespace ocipipe::testing {

::testing::AssertionResult ran(const command_result& r, const std::vector<std::string>& argv) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << format_command(argv) << ": " << r.describe();
}

}  // namespace ocipipe::testing
