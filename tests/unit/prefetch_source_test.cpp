// pipeline/prefetch_source: a source read on its own thread yields exactly
// the upstream's bytes, its errors, and stops cleanly when dropped early.
#include <gtest/gtest.h>

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
  auto p = std::make_unique<prefetch_source>(std::make_unique<memory_source>(data, 1 << 16), 2);
  ASSERT_TRUE(p->next());
  p.reset();  // must join, not hang on the full queue
  SUCCEED();
}

}  // namespace
}  // namespace ocipipe::pipeline
