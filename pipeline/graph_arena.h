#pragma once
// The threads a flow graph runs on, from -j/--jobs.

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <thread>

namespace ocipipe::pipeline {

/// -j as given, or the host's core count for 0 (or less); never below 1.
[[nodiscard]] inline int jobs_or_cores(int jobs) {
  return jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// A task arena of `jobs` threads (0: all cores), never fewer than
/// `min_threads`. oneTBB caps workers at the core count unless told
/// otherwise; -j above the core count is honoured, not warned about.
/// Not copyable; one per graph run.
class graph_arena {
 public:
  graph_arena(int jobs, int min_threads)
      : threads_(std::max(min_threads, jobs_or_cores(jobs))),
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
  int threads_;
  oneapi::tbb::global_control limit_;
  oneapi::tbb::task_arena arena_;
};

}  // namespace ocipipe::pipeline
