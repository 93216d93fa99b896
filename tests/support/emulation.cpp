#include "tests/support/emulation.h"

#include <cstdlib>

namespace ocipipe::testing {

std::string test_emulator() {
  const char* e = std::getenv("OCIPIPE_TEST_EMULATOR");
  return e == nullptr ? std::string() : std::string(e);
}

std::chrono::seconds scaled_timeout(std::chrono::seconds native) {
  return test_emulator().empty() ? native : native * 10;
}

}  // namespace ocipipe::testing
