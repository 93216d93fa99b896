// progress_meter (pipeline/progress_meter.h) numbers finished items under the lock that
// calls the callback: with items finishing on many threads at once, "k of n" still reaches
// the callback in order and the last update names item n. Before, the number was taken
// outside that lock, so validate's last update could read "blob 2 of 3".

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/progress_meter.h"

namespace ocipipe::pipeline {
namespace {

TEST(ProgressMeter, FinishedItemsFromManyThreadsArriveNumberedInOrder) {
  constexpr std::size_t threads = 8;
  constexpr std::size_t per_thread = 500;
  constexpr std::size_t count = threads * per_thread;
  std::vector<progress_update> updates;  // the meter never calls twice at once
  progress_meter meter([&](const progress_update& u) { updates.push_back(u); }, count);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        meter.add(1);
        meter.finished_item("blob", count, "sha256:x");
      }
    });
  for (auto& w : workers) w.join();
  std::size_t k = 0;
  for (const auto& u : updates) {
    if (!u.finished_one) continue;
    ++k;
    ASSERT_EQ(u.current, "blob " + std::to_string(k) + " of " + std::to_string(count) + " (sha256:x)");
  }
  EXPECT_EQ(k, count);
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(updates.back().current, "blob " + std::to_string(count) + " of " + std::to_string(count) + " (sha256:x)");
  EXPECT_EQ(updates.back().done_bytes, count);
}

TEST(ProgressMeter, UnreportedItemsStillCountTowardTheNumbering) {
  std::vector<progress_update> updates;
  progress_meter meter([&](const progress_update& u) { updates.push_back(u); }, 3);
  meter.finished_item("blob", 3, "a");
  meter.finished_item("blob", 3, "b", /*report=*/false);  // e.g. a blob copy holds in memory
  meter.finished_item("blob", 3, "c");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].current, "blob 1 of 3 (a)");
  EXPECT_EQ(updates[1].current, "blob 3 of 3 (c)");
}

TEST(ProgressMeter, WithoutACallbackFinishedItemIsANoOp) {
  progress_meter meter({}, 10);
  EXPECT_FALSE(meter.enabled());
  meter.finished_item("blob", 1, "a");
  EXPECT_EQ(meter.done(), 0u);
}

}  // namespace
}  // namespace ocipipe::pipeline
