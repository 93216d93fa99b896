// The parallel part every copy destination shares: the non-document blobs.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "pipeline/copy_plan.h"

namespace ocipipe::pipeline {

result<void> for_each_leaf(copy_source& src, copy_run& run,
                           const std::function<result<void>(const copy_item&)>& one) {
  std::vector<const copy_item*> leaves;
  for (const auto& item : src.items)
    if (!item.document) leaves.push_back(&item);
  std::stable_sort(leaves.begin(), leaves.end(),
                   [](const copy_item* a, const copy_item* b) { return a->desc.size > b->desc.size; });
  std::vector<std::optional<error>> errors(leaves.size());
  std::atomic<bool> stop{false};
  const auto run_one = [&](std::size_t i) {
    if (stop.load(std::memory_order_relaxed)) return;
    const auto& item = *leaves[i];
    auto ok = run.check_cancel();
    if (ok) ok = one(item);
    if (!ok) {
      errors[i] = std::move(ok).error();
      stop = true;
      return;
    }
    // A blob whose bytes the plan holds in memory counts, but has nothing to report.
    run.meter.finished_item("blob", leaves.size(), item.desc.digest.short_str(), !item.bytes);
  };
  const int jobs = run.opts.jobs > 0 ? run.opts.jobs : tbb::this_task_arena::max_concurrency();
  tbb::task_arena arena(jobs);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, leaves.size(), 1),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        for (auto i = r.begin(); i != r.end(); ++i) run_one(i);
                      });
  });
  // A real failure is the cause; the cancellations it triggered are not.
  std::optional<error> out;
  for (auto& e : errors)
    if (e && (!out || (out->code() == errc::cancelled && e->code() != errc::cancelled))) out = std::move(e);
  if (out) return tl::unexpected(std::move(*out));
  return {};
}

}  // namespace ocipipe::pipeline
