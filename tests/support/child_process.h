#pragma once
// A child process the test watches while it runs: started in its own process group with
// stdout and stderr going to files (no pipe to drain), signalled while it works (SIGINT
// tests), and reaped with wait4(2), whose rusage gives the child's own peak RSS, unmixed
// with the test's memory (the hostile-input tests' memory bound).
//
// Not part of ocipipe. Failures to start throw std::runtime_error, which GoogleTest reports
// as a failure of the test that asked.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

struct finished_child {
  command_result run;     ///< exit code or signal, timed_out, stdout and stderr
  long peak_rss_kb = -1;  ///< peak resident set, KiB (see run_ocipipe_measured)
  double wall_s = 0;      ///< start to reaping
};

class child_process {
 public:
  /// Starts argv[0] (a path, or looked up in PATH) with `argv`; stdin is /dev/null.
  explicit child_process(const std::vector<std::string>& argv);
  /// Kills (SIGKILL to the group) and reaps a child not waited for.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Sends `sig` to the child alone (not its group), as a shell's `kill -INT PID` does.
  void signal(int sig) const;
  /// True while the child has not exited (it is not reaped here).
  [[nodiscard]] bool running() const;
  /// Waits until it ends; after `timeout` the group is killed and timed_out is set.
  finished_child wait(std::chrono::milliseconds timeout = std::chrono::minutes(5));

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  temp_dir out_dir_{"ocipipe-child"};
  std::chrono::steady_clock::time_point start_;
};

/// Runs ocipipe with `args` and returns how it ended, its output and its peak RSS (from
/// GNU time's %M when /usr/bin/time exists: wait4 here would count this process's own
/// resident set, which a spawned child inherits in ru_maxrss).
[[nodiscard]] finished_child run_ocipipe_measured(const std::vector<std::string>& args,
                                                  std::chrono::milliseconds timeout = std::chrono::minutes(5));

}  // namespace ocipipe::testing
