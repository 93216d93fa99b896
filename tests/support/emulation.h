#pragma once
// Whether the tests run under an emulator (scripts/test-cross.sh runs another
// architecture's build under qemu-user), for the few tests that depend on it:
// qemu-user installs no seccomp filter for its guest, and runs about ten times
// slower than the host, so timeouts meant for native speed are scaled.
//
// Not part of ocipipe.

#include <chrono>
#include <string>

namespace ocipipe::testing {

/// The emulator named by OCIPIPE_TEST_EMULATOR ("qemu-user" from
/// scripts/test-cross.sh); "" when the tests run natively.
[[nodiscard]] std::string test_emulator();

/// `native`, a timeout meant for native speed; ten times that under an emulator.
[[nodiscard]] std::chrono::seconds scaled_timeout(std::chrono::seconds native);

}  // namespace ocipipe::testing
