// pipeline/prefetch_source: a source read on its own thread yields exactly
// the upstream's bytes, its errors, and stops cleanly when dropped early.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "pipeline/prefetch_source.h"

namespace ocipipe::pipeline {
namespace {

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131) >> 3);
  return v;
}

class failing_source final : public byte_source {
 public:
  result<byte_view> next() override {
    if (calls_++ < 3) return byte_view(buf_, sizeof buf_);
    return fail(errc::malformed, "gzip: broken");
  }
  std::byte buf_[100]{};
  int calls_ = 0;
};

// Fills a vector of its own per chunk, as the decompressors and the blob
// reader do, and hands it over; remembers where each chunk was written.
class filling_source final : public byte_source {
 public:
  filling_source(std::vector<std::byte> data, std::size_t chunk) : data_(std::move(data)), own_(chunk) {}
  result<byte_view> next() override {
    const auto n = std::min(own_.size(), data_.size() - pos_);
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(pos_), n, own_.begin());
    pos_ += n;
    if (n) written_at.push_back(own_.data());
    return byte_view(own_.data(), n);
  }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return hand_over(next(), own_, buf); }
  std::vector<const std::byte*> written_at;

 private:
  std::vector<std::byte> data_;
  std::vector<std::byte> own_;
  std::size_t pos_ = 0;
};

// Reads `p` to its end; the bytes it yielded.
std::vector<std::byte> drain(prefetch_source& p) {
  std::vector<std::byte> got;
  for (;;) {
    auto c = p.next();
    EXPECT_TRUE(c);
    if (!c || c->empty()) return got;
    got.insert(got.end(), c->begin(), c->end());
  }
}

TEST(PrefetchSource, YieldsTheUpstreamBytesInOrder) {
  const auto data = pattern(5'000'003);
  for (std::size_t chunk : {4096u, 1u << 20}) {
    prefetch_source p(std::make_unique<memory_source>(data, chunk));
    EXPECT_EQ(drain(p), data) << "chunk " << chunk;
    auto again = p.next();
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty());
  }
}

TEST(PrefetchSource, OneByteChunksArriveWhole) {
  const auto data = pattern(50'000);
  prefetch_source p(std::make_unique<memory_source>(data, 1));
  EXPECT_EQ(drain(p), data);
}

TEST(PrefetchSource, PassesTheUpstreamErrorAfterItsData) {
  prefetch_source p(std::make_unique<failing_source>());
  std::size_t n = 0;
  for (;;) {
    auto c = p.next();
    if (!c) {
      EXPECT_EQ(c.error().code(), errc::malformed);
      break;
    }
    ASSERT_FALSE(c->empty()) << "end of stream instead of the error";
    n += c->size();
  }
  EXPECT_EQ(n, 300u);
}

TEST(PrefetchSource, DroppedBeforeTheEndStopsItsThread) {
  const auto data = pattern(64u << 20);
  auto p = std::make_unique<prefetch_source>(std::make_unique<memory_source>(data, 1 << 16), 2 << 16);
  ASSERT_TRUE(p->next());
  p.reset();  // must join, not hang on the full queue
  SUCCEED();
}

TEST(PrefetchSource, ChunksAreHandedOverWhereTheUpstreamWroteThem) {
  const auto data = pattern(3'000'001);
  auto up = std::make_unique<filling_source>(data, 64 << 10);
  auto* upstream = up.get();
  prefetch_source p(std::move(up), 3 * (64 << 10));
  std::vector<std::byte> got;
  std::vector<const std::byte*> read_at;
  for (;;) {
    auto c = p.next();
    ASSERT_TRUE(c);
    if (c->empty()) break;
    read_at.push_back(c->data());
    got.insert(got.end(), c->begin(), c->end());
  }
  EXPECT_EQ(got, data);
  // No copy: each chunk is read from the very buffer it was written into.
  EXPECT_EQ(read_at, upstream->written_at);
}

TEST(PrefetchSource, NextIntoPassesQueuedChunksOnWithoutACopy) {
  const auto data = pattern(1'000'003);
  auto up = std::make_unique<filling_source>(data, 32 << 10);
  auto* upstream = up.get();
  prefetch_source p(std::move(up), 2 * (32 << 10));
  std::vector<std::byte> got, buf;
  std::vector<const std::byte*> read_at;
  for (;;) {
    auto n = p.next_into(buf);
    ASSERT_TRUE(n);
    if (*n == 0) break;
    ASSERT_LE(*n, buf.size());
    read_at.push_back(buf.data());
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(read_at, upstream->written_at);
}

TEST(PrefetchSource, NextIntoCopiesFromASourceThatCannotHandOver) {
  const auto data = pattern(200'000);
  prefetch_source p(std::make_unique<memory_source>(data, 7'000));
  std::vector<std::byte> got, buf;
  for (;;) {
    auto n = p.next_into(buf);
    ASSERT_TRUE(n);
    if (*n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  EXPECT_EQ(got, data);
}

// Counts the chunks asked of it, so a test can see when the prefetch thread reads.
class counted_source final : public byte_source {
 public:
  explicit counted_source(std::size_t chunk = 64) : buf_(chunk) {}
  result<byte_view> next() override {
    ++calls;
    return byte_view(buf_);
  }
  std::atomic<int> calls{0};

 private:
  std::vector<std::byte> buf_;
};

// Waits up to 10 s for `done`; whether it came.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

// A producer that filled the queue waits until half of it is taken, not for the first
// free slot: two threads on one core then trade it every few chunks, not at each one.
TEST(PrefetchSource, AFullQueueResumesOnlyOnceHalfOfItIsTaken) {
  auto up = std::make_unique<counted_source>();
  auto* upstream = up.get();
  prefetch_source p(std::move(up), 8 * 64);
  // 8 queued, plus the one read and waiting for room.
  ASSERT_TRUE(eventually([&] { return upstream->calls.load() == 9; }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.next());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(upstream->calls.load(), 9) << "resumed with the queue more than half full";
  ASSERT_TRUE(p.next());  // 4 left: half
  EXPECT_TRUE(eventually([&] { return upstream->calls.load() > 9; }));
}

// The bound is in bytes, not chunks: an upstream of big chunks (parallel
// inflate's output once came in megabytes) must not fill eight of them
// (unpack -j8 of big-1g peaked at 223 MB, 48 MB of it in this queue).
TEST(PrefetchSource, AQueueOfBigChunksHoldsNoMoreThanItsBytes) {
  auto up = std::make_unique<counted_source>(1 << 20);
  auto* upstream = up.get();
  prefetch_source p(std::move(up), 2 << 20);
  // 2 MiB queued, plus the one read and waiting for room.
  ASSERT_TRUE(eventually([&] { return upstream->calls.load() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(upstream->calls.load(), 3) << "queued past its bytes";
}

// A chunk bigger than the whole bound still passes, alone: the bound slows a
// stream down, it never stops it.
TEST(PrefetchSource, AChunkBiggerThanTheBoundStillPasses) {
  const auto data = pattern(3u << 20);
  prefetch_source p(std::make_unique<memory_source>(data, 1 << 20), 64 << 10);
  EXPECT_EQ(drain(p), data);
}

// What `see` was called on, and where: a stream digest stands for it here.
struct see_log {
  std::mutex mu;
  std::vector<std::byte> bytes;
  std::atomic<std::size_t> seen_bytes{0};
  std::atomic<int> on_producer{0}, overlapping{0};
  std::atomic<bool> inside{false};
  std::thread::id consumer = std::this_thread::get_id();
  std::chrono::microseconds pause{0};
  prefetch_source::see_function function() {
    return [this](byte_view c) {
      if (inside.exchange(true)) ++overlapping;
      if (std::this_thread::get_id() != consumer) ++on_producer;
      if (pause.count()) std::this_thread::sleep_for(pause);
      {
        std::lock_guard lock(mu);
        bytes.insert(bytes.end(), c.begin(), c.end());
      }
      seen_bytes += c.size();
      inside = false;
    };
  }
};

// The diff_id digest given as `see` covers the stream exactly: every chunk once, in
// order, each before the consumer gets it. A slow consumer leaves the producer with a
// full queue, and the producer sees chunks meanwhile instead of waiting.
TEST(PrefetchSource, SeeGetsEveryChunkOnceInOrderBeforeTheConsumerDoes) {
  const auto data = pattern(1u << 20);
  see_log log;
  prefetch_source p(std::make_unique<filling_source>(data, 4096), 16 << 10, log.function());
  std::vector<std::byte> got;
  for (;;) {
    auto c = p.next();
    ASSERT_TRUE(c);
    if (c->empty()) break;
    got.insert(got.end(), c->begin(), c->end());
    ASSERT_GE(log.seen_bytes.load(), got.size()) << "handed out before it was seen";
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(log.bytes, data);
  EXPECT_GT(log.on_producer.load(), 0) << "the producer waited instead of seeing queued chunks";
}

// Both threads may see chunks, never two at once (a digest is one sequence of
// updates): a fast consumer races the producer for every chunk.
TEST(PrefetchSource, SeeNeverRunsOnTwoThreadsAtOnce) {
  const auto data = pattern(4u << 20);
  see_log log;
  log.pause = std::chrono::microseconds(20);
  prefetch_source p(std::make_unique<filling_source>(data, 8192), 32 << 10, log.function());
  EXPECT_EQ(drain(p), data);
  EXPECT_EQ(log.bytes, data);
  EXPECT_EQ(log.overlapping.load(), 0);
}

// Dropped early while its producer is in a slow `see`: the thread still stops.
TEST(PrefetchSource, DroppedWhileItsProducerSeesStopsItsThread) {
  const auto data = pattern(1u << 20);
  see_log log;
  log.pause = std::chrono::milliseconds(5);
  auto p = std::make_unique<prefetch_source>(std::make_unique<filling_source>(data, 4096), 16 << 10, log.function());
  ASSERT_TRUE(p->next());
  ASSERT_TRUE(eventually([&] { return log.on_producer.load() > 0; }));
  p.reset();  // joins
  EXPECT_LT(log.seen_bytes.load(), data.size());
}

}  // namespace
}  // namespace ocipipe::pipeline
