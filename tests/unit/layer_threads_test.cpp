// pipeline/layer_threads: how many threads one layer's byte path uses for a
// given -j, and that every arrangement (one thread, three, parallel inflate)
// yields the same tar stream and digests.

#include "pipeline/layer_threads.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "pipeline/parallel_gzip_source.h"
#include "pipeline/resolve.h"
#include "stages/synthetic_tree.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

TEST(LayerThreads, JobsGiveOneThreadOverlapThenParallelInflate) {
  EXPECT_FALSE(pipeline::threading_for_jobs(1, 64).overlap);
  EXPECT_EQ(pipeline::threading_for_jobs(1, 64).inflate_threads, 1u);
  EXPECT_TRUE(pipeline::threading_for_jobs(2, 64).overlap);
  EXPECT_EQ(pipeline::threading_for_jobs(7, 64).inflate_threads, 1u);
  EXPECT_EQ(pipeline::threading_for_jobs(8, 64).inflate_threads, 6u);
  EXPECT_EQ(pipeline::threading_for_jobs(64, 64).inflate_threads, 62u);
}

// A big layer's decoder applies its own batches only where read, inflate and parse
// already hold the cores (-j2, -j3); a small layer's, which would then leave the other
// cores idle, never; -j1 has no apply thread to spare.
TEST(LayerThreads, ProducerAppliesBigLayersBelowFourJobsOnly) {
  const auto big = pipeline::overlap_min_blob_bytes;
  EXPECT_TRUE(pipeline::producer_applies(big, 2));
  EXPECT_TRUE(pipeline::producer_applies(big, 3));
  EXPECT_FALSE(pipeline::producer_applies(big, 4));
  EXPECT_FALSE(pipeline::producer_applies(big, 64));
  EXPECT_FALSE(pipeline::producer_applies(big - 1, 2));
  EXPECT_FALSE(pipeline::producer_applies(big, 1));
}

// -j beyond the host's cores never starts parallel inflate's speculating
// threads: on 2 cores, -j8 unpacked a 330 MB layer in 7-27 s against -j2's
// 0.5-1.3 s, the workers starving the consumer.
TEST(LayerThreads, ParallelInflateNeedsTheCoresNotOnlyTheJobs) {
  EXPECT_EQ(pipeline::threading_for_jobs(8, 2).inflate_threads, 1u);
  EXPECT_EQ(pipeline::threading_for_jobs(64, 7).inflate_threads, 1u);
  EXPECT_EQ(pipeline::threading_for_jobs(64, 8).inflate_threads, 6u);
  EXPECT_EQ(pipeline::threading_for_jobs(8, 64).inflate_threads, 6u);
  EXPECT_EQ(pipeline::threading_for_jobs(16, 0).inflate_threads, 1u);  // unknown: one core
  EXPECT_TRUE(pipeline::threading_for_jobs(8, 2).overlap);
}

struct streamed {
  std::string tar_sha256;
  layer_digests digests;
};

streamed stream_layer(const io::image_layout& store, const descriptor& layer, const digest& diff_id,
                      const pipeline::layer_threading& threading) {
  auto blob = store.open_blob(layer);
  EXPECT_TRUE(blob);
  auto s = layer_stream::open(**blob, layer, {}, digest_algorithm::sha256, pipeline::layer_stream_hooks(layer, threading));
  EXPECT_TRUE(s);
  auto d = (*s)->finish();
  EXPECT_TRUE(d) << (d ? "" : d.error().message());
  EXPECT_TRUE(check_layer_digests(*d, layer, &diff_id)) << "digests differ";
  return {d->diff_id.str(), *d};
}

TEST(LayerThreads, EveryArrangementYieldsTheSameStreamAndDigests) {
  temp_dir tmp;
  std::vector<tar_spec_entry> files;
  const auto bytes = rootfs_like_bytes(6u << 20, 7);
  for (int i = 0; i < 24; ++i)
    files.push_back(file("data/f" + std::to_string(i),
                         std::string(reinterpret_cast<const char*>(bytes.data()) + i * (256u << 10), 256u << 10)));
  const auto img = build_layout(tmp.sub("layout"), "t", {layer(files)});
  auto opened = pipeline::open_image(img.ref(), {});
  ASSERT_TRUE(opened) << opened.error().message();
  const auto& layer = opened->image.manifest.layers[0];
  const auto& diff_id = opened->image.config.diff_ids[0];
  pipeline::layer_threading one{.overlap = false};
  pipeline::layer_threading three{.overlap = true};
  pipeline::layer_threading parallel{.overlap = true, .inflate_threads = 3, .parallel_inflate_min_bytes = 0};
  const auto a = stream_layer(opened->store, layer, diff_id, one);
  const auto b = stream_layer(opened->store, layer, diff_id, three);
  const auto c = stream_layer(opened->store, layer, diff_id, parallel);
  EXPECT_EQ(a.tar_sha256, b.tar_sha256);
  EXPECT_EQ(a.tar_sha256, c.tar_sha256);
  EXPECT_EQ(a.digests.compressed_bytes, c.digests.compressed_bytes);
  EXPECT_EQ(a.digests.tar_bytes, c.digests.tar_bytes);
}

// With a reader slower than inflate (unpack's parsing thread, which also applies), the
// inflate thread digests queued chunks for the diff_id while it would wait: the digest
// and the stream stay exact whichever thread digested what.
TEST(LayerThreads, ASlowReaderLetsTheInflateThreadDigestTheDiffIdExactly) {
  temp_dir tmp;
  // Random bytes: the blob must be big enough (overlap_min_blob_bytes) for the threads.
  std::string data(6u << 20, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (auto& ch : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ch = static_cast<char>(x);
  }
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("data/random", data)})});
  auto opened = pipeline::open_image(img.ref(), {});
  ASSERT_TRUE(opened) << opened.error().message();
  const auto& layer = opened->image.manifest.layers[0];
  ASSERT_GE(layer.size, pipeline::overlap_min_blob_bytes);
  auto blob = opened->store.open_blob(layer);
  ASSERT_TRUE(blob);
  auto s = layer_stream::open(**blob, layer, {}, digest_algorithm::sha256,
                              pipeline::layer_stream_hooks(layer, pipeline::layer_threading{.overlap = true}));
  ASSERT_TRUE(s);
  std::uint64_t read = 0;
  for (;;) {
    auto c = (*s)->next();
    ASSERT_TRUE(c) << c.error().message();
    if (c->empty()) break;
    read += c->size();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto d = (*s)->finish();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->tar_bytes, read);
  EXPECT_TRUE(check_layer_digests(*d, layer, &opened->image.config.diff_ids[0]));
}

}  // namespace
}  // namespace ocipipe::testing
