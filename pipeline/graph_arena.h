#pragma once
// The threads a flow graph runs on, from -j/--jobs.

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <thread>

namespace ocipipe::pipeline {

/// A task arena of `jobs` threads (0: all cores), never fewer than
/// `min_threads`. oneTBB caps workers at the core count unless told
/// otherwise; -j above the core count is honoured, not warned about.
/// Not copyable; one per graph run.
class graph_arena {
 public:
  graph_arena(int jobs, int min_threads)
      : threads_(std::max(min_threads, jobs > 0 ? jobs : hardware())),
        limit_(oneapi::tbb::global_control::max_allowed_parallelism,
               static_cast<std::size_t>(std::max(threads_, hardware()))),
        arena_(threads_) {}

  [[nodiscard]] int threads() const noexcept { return threads_; }

  template <typename F>
  void execute(F&& f) {
    arena_.execute(std::forward<F>(f));
  }

 private:
  static int hardware() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
  int threads_;
  oneapi::tbb::global_control limit_;
  oneapi::tbb::task_arena arena_;
};

}  // namespace ocipipe::pipeline
