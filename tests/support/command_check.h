#pragma once
// Running a set-up command a test depends on (cp, cmake, skopeo) and stopping the test
// when it fails, with the command line and its output in the failure.
//
// Not part of ocipipe.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

/// Success when `r` (the result of running `argv`) exited 0; otherwise a failure
/// naming the command, shell-quoted, and how it ended with its output.
[[nodiscard]] ::testing::AssertionResult ran(const command_result& r, const std::vector<std::string>& argv);

}  // namespace ocipipe::testing

/// Runs the command (a braced list of strings) with run_command and fails the
/// test, returning from it, unless it exits 0.
#define RUN_OK(...)                                                                  \
  do {                                                                               \
    const std::vector<std::string> run_ok_argv_ = __VA_ARGS__;                       \
    ASSERT_TRUE(::ocipipe::testing::ran(::ocipipe::testing::run_command(run_ok_argv_), run_ok_argv_)); \
  } while (0)
