#pragma once
// Scratch space on disk and runs of the CLI measured by GNU time, for the
// slow tests' memory and time figures (a library call in the test process
// would mix the test's own memory into the peak RSS).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

/// A temp_dir on disk: /var/tmp unless TMPDIR is set (the user's choice wins),
/// with at least `need_bytes` free, so a full disk shows up as a clear failure,
/// not as an unpack error. Throws std::runtime_error otherwise.
[[nodiscard]] temp_dir disk_temp_dir(const std::string& prefix, std::uint64_t need_bytes);

struct measured_run {
  command_result run;
  long peak_rss_kb = -1;  ///< GNU time's %M; -1 when it said nothing
  double wall_s = -1;     ///< GNU time's %e, seconds
  double cpu_s = -1;      ///< user + system CPU seconds (%U + %S): less at the mercy of load
};

/// Runs ocipipe with `args` under /usr/bin/time (package `time`), killed after
/// `timeout`. Time's line comes last on stderr, after ocipipe's own.
[[nodiscard]] measured_run run_measured(const std::vector<std::string>& args,
                                        std::chrono::minutes timeout = std::chrono::minutes(10));

}  // namespace ocipipe::testing
