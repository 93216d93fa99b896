#pragma once
// The threads a flow graph runs on, from -j/--jobs.

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <thread>

namespace ocipipe::pipeline {

/// -j as given, or the host's core count for 0 (or less); never below 1.
[[nodiscard]] inline int jobs_or_cores(int jobs) {
  return jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// A task arena of `jobs` threads (0: all cores), never fewer than
/// `min_threads` and never more than `most_tasks`, the most tasks the caller
/// will ever have running at once (decoders plus apply, blobs to check):
/// oneTBB raises the process-wide worker limit to the arena's size, and idle
/// workers spin looking for tasks, so slots no task can use cost cores
/// (debian-slim, 2 cores: -j4096 took 3 to 16 s and 28 CPU-s, -j2 0.5 s).
/// -j above the core count is otherwise honoured, not warned about.
/// Not copyable; one per graph run.
class graph_arena {
 public:
  graph_arena(int jobs, int min_threads, std::size_t most_tasks = SIZE_MAX)
      : threads_(std::max(min_threads, capped(jobs_or_cores(jobs), most_tasks))),
        limit_(oneapi::tbb::global_control::max_allowed_parallelism,
               static_cast<std::size_t>(std::max(threads_, hardware()))),
        arena_(threads_) {}

  [[nodiscard]] int threads() const noexcept { return threads_; }

  template <typename F>
  void execute(F&& f) {
    arena_.execute(std::forward<F>(f));
  }

 private:
  static int hardware() { return jobs_or_cores(0); }
  static int capped(int threads, std::size_t most) {
    return static_cast<int>(std::min(static_cast<std::size_t>(threads), std::max<std::size_t>(most, 1)));
  }
  int threads_;
  oneapi::tbb::global_control limit_;
  oneapi::tbb::task_arena arena_;
};

}  // namespace ocipipe::pipeline
