// The queue between a layer's decoder and the serial apply stage (pipeline/layer_channel.h)
// counts what a batch holds, not what it filled: its byte budget is the memory bound of
// unpack, so a batch of empty files (a 1 MiB arena, no content) or of long paths must
// weigh what it takes.

#include "pipeline/layer_channel.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ocipipe::testing {
namespace {

using pipeline::apply_batch;
using pipeline::apply_op;

TEST(LayerChannel, BatchBytesCountTheArenaAsAllocatedNotAsFilled) {
  apply_batch b;
  b.arena.reserve(1 << 20);
  for (int i = 0; i < 4096; ++i) b.ops.emplace_back().path = "f" + std::to_string(i);
  EXPECT_GE(b.bytes(), (std::size_t{1} << 20) + 4096 * sizeof(apply_op));
}

TEST(LayerChannel, BatchBytesCountStringsTooLongForTheirInlineBuffer) {
  apply_batch b;
  b.ops.resize(100);
  const std::size_t empty = b.bytes();
  for (auto& op : b.ops) {
    op.path = std::string(4000, 'p');
    op.entry.path = std::string(4000, 'e');
    op.entry.link_target = std::string(4000, 'l');
    op.entry.xattrs.emplace_back("user." + std::string(100, 'k'), std::string(4000, 'v'));
  }
  EXPECT_GE(b.bytes() - empty, 100u * (4 * 4000 + 100));
}

// A full channel stops its producer: batches of empty files weigh their 1 MiB arenas, so
// a 4 MiB budget lets in two of them, not the hundreds their ops alone would.
TEST(LayerChannel, ProducerBlocksOnceEmptyFileBatchesFillTheBudget) {
  pipeline::layer_channel ch(4u << 20);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int k = 0; k < 100; ++k) {
      apply_batch b = ch.fresh_batch(1 << 20);
      for (int i = 0; i < 4096; ++i) b.ops.emplace_back().path = "f";
      if (!ch.push(std::move(b))) return;
      ++pushed;
    }
  });
  // Not a timing test: the producer either blocks for good or runs through all 100.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int held = pushed.load();
  ch.cancel();
  producer.join();
  EXPECT_GE(held, 1);
  EXPECT_LE(held, 3);
}

// A batch numbered `k` (in blob_bytes_read, which apply never reads here).
apply_batch numbered(pipeline::layer_channel& ch, std::uint64_t k) {
  apply_batch b = ch.fresh_batch(256u << 10);
  b.blob_bytes_read = k;
  return b;
}

// Waits up to 10 s for apply_all to hand the applying to the producer; whether it did.
bool handed_over(pipeline::layer_channel& ch) {
  for (int i = 0; i < 1000 && !ch.producer_applies_now(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return ch.producer_applies_now();
}

// The layer being applied is applied by its own decoder once the apply stage has caught up
// with it: the batches queued before, on the apply stage's thread, in order; every later
// one on the producer's thread, as it is pushed (no hand-over, no wake-up: debian-slim -j2
// on 2 cores 0.588 -> 0.564 s, a third of the thread switches).
TEST(LayerChannel, OnceTheApplyStageCatchesUpTheProducerAppliesItsBatches) {
  pipeline::layer_channel ch(4u << 20);
  for (std::uint64_t k = 0; k < 3; ++k) ASSERT_TRUE(ch.push(numbered(ch, k)));
  std::vector<std::pair<std::uint64_t, std::thread::id>> applied;  // only one apply call runs at a time
  std::thread apply_stage([&] {
    EXPECT_TRUE(ch.apply_all([&](const apply_batch& b) {
      applied.emplace_back(b.blob_bytes_read, std::this_thread::get_id());
      return true;
    }, true));
  });
  EXPECT_TRUE(handed_over(ch));
  for (std::uint64_t k = 3; k < 6; ++k) ASSERT_TRUE(ch.push(numbered(ch, k)));
  ch.close(layer_digests{});
  apply_stage.join();
  ASSERT_EQ(applied.size(), 6u);
  for (std::uint64_t k = 0; k < 6; ++k) EXPECT_EQ(applied[k].first, k) << "out of order";
  for (std::uint64_t k = 0; k < 3; ++k) EXPECT_NE(applied[k].second, std::this_thread::get_id());
  for (std::uint64_t k = 3; k < 6; ++k) EXPECT_EQ(applied[k].second, std::this_thread::get_id()) << k;
}

// Without the hand-over every batch is applied on the apply stage's thread, in order,
// however late the producer pushes it.
TEST(LayerChannel, WithoutHandOverTheApplyStageAppliesEveryBatch) {
  pipeline::layer_channel ch(4u << 20);
  std::vector<std::pair<std::uint64_t, std::thread::id>> applied;
  std::thread apply_stage([&] {
    EXPECT_TRUE(ch.apply_all([&](const apply_batch& b) {
      applied.emplace_back(b.blob_bytes_read, std::this_thread::get_id());
      return true;
    }, false));
  });
  for (std::uint64_t k = 0; k < 6; ++k) {
    ASSERT_TRUE(ch.push(numbered(ch, k)));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(ch.producer_applies_now());
  }
  ch.close(layer_digests{});
  apply_stage.join();
  ASSERT_EQ(applied.size(), 6u);
  for (std::uint64_t k = 0; k < 6; ++k) {
    EXPECT_EQ(applied[k].first, k);
    EXPECT_NE(applied[k].second, std::this_thread::get_id());
  }
}

// A batch that fails to apply on the producer's thread stops the producer (its push fails,
// nothing more is applied) and the apply stage says so.
TEST(LayerChannel, ABatchTheProducerFailsToApplyStopsTheLayer) {
  pipeline::layer_channel ch(4u << 20);
  std::atomic<int> calls{0};
  std::promise<bool> result;
  std::thread apply_stage([&] {
    result.set_value(ch.apply_all([&](const apply_batch& b) {
      ++calls;
      return b.blob_bytes_read != 1;
    }, true));
  });
  EXPECT_TRUE(handed_over(ch));
  EXPECT_TRUE(ch.push(numbered(ch, 0)));
  EXPECT_FALSE(ch.push(numbered(ch, 1)));
  EXPECT_FALSE(ch.push(numbered(ch, 2)));
  ch.close(fail(errc::cancelled, "stopped"));
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(f.get());
  apply_stage.join();
  EXPECT_EQ(calls.load(), 2);
}

// cancel() while the producer is applying a batch: apply_all returns only once that batch
// is done, since what it applies with (the apply stage's own state) ends when it returns.
TEST(LayerChannel, CancelWaitsForTheBatchTheProducerIsApplying) {
  pipeline::layer_channel ch(4u << 20);
  std::atomic<bool> in_apply{false}, returned{false};
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  std::thread apply_stage([&] {
    ch.apply_all([&](const apply_batch&) {
      in_apply = true;
      entered.set_value();
      released.wait();
      in_apply = false;
      return true;
    }, true);
    returned = true;
    EXPECT_FALSE(in_apply.load()) << "returned while the producer was applying";
  });
  EXPECT_TRUE(handed_over(ch));
  std::thread producer([&] { ch.push(numbered(ch, 0)); });
  entered.get_future().wait();
  ch.cancel();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(returned.load());
  release.set_value();
  producer.join();
  apply_stage.join();
  EXPECT_TRUE(returned.load());
}

// Each layer's queue holds two batches at least and 2 MiB at most, whatever the run's
// budget: bigger queues only filled pages touched once and read back from DRAM (debian-slim
// -j2: 1.26 CPU-s with 32 MiB queues, 0.97 with 2 MiB), and a 64-core run still stays
// within its 64 MiB.
TEST(LayerChannel, CapacityIsBetweenTwoBatchesAndTwoMiB) {
  using pipeline::channel_bytes;
  EXPECT_EQ(channel_bytes(64u << 20, 2), pipeline::max_channel_bytes);
  EXPECT_EQ(channel_bytes(64u << 20, 1), pipeline::max_channel_bytes);
  EXPECT_EQ(channel_bytes(64u << 20, 64), std::size_t{1} << 20);
  EXPECT_EQ(channel_bytes(1u << 20, 4), 2 * pipeline::apply_batch_bytes);
  EXPECT_EQ(channel_bytes(0, 0), 2 * pipeline::apply_batch_bytes);
  EXPECT_LE(64 * channel_bytes(64u << 20, 64), std::size_t{64} << 20);
}

}  // namespace
}  // namespace ocipipe::testing
