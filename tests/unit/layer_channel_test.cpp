// The queue between a layer's decoder and the serial apply stage (pipeline/layer_channel.h)
// counts what a batch holds, not what it filled: its byte budget is the memory bound of
// unpack, so a batch of empty files (a 1 MiB arena, no content) or of long paths must
// weigh what it takes.

#include "pipeline/layer_channel.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

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
