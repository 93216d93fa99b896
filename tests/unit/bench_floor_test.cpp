// The floor model of `ocipipe bench --image` (pipeline/bench_floor.h):
// hand-computed cases, cpu-bound and apply-bound images, zstd and plain tar
// layers, missing rates.

#include <gtest/gtest.h>

#include "pipeline/bench_floor.h"

namespace ocipipe::pipeline {
namespace {

// Round numbers so every term can be checked by hand.
floor_rates rates(int threads) {
  floor_rates r;
  r.sha256 = 1000;       // bytes/s
  r.inflate_gzip = 500;  // bytes/s of output
  r.zstd = 2000;
  r.tar_parse = 4000;
  r.files = 100;         // files/s
  r.file_bytes = 8000;   // bytes/s
  r.threads = threads;
  return r;
}

floor_layer layer(std::string compression, std::uint64_t c, std::uint64_t u, std::uint64_t f) {
  return {"sha256:" + std::string(64, 'a'), std::move(compression), c, u, f};
}

TEST(BenchFloor, GzipLayerTermsAddUpAsTheModelSays) {
  // cpu = 1000/1000 + 4000/500 + 4000/1000 + 4000/4000 = 1 + 8 + 4 + 1 = 14
  // apply = 50/100 + 4000/8000 = 0.5 + 0.5 = 1
  auto f = compute_floor({layer("gzip", 1000, 4000, 50)}, rates(2));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_DOUBLE_EQ(f->cpu_seconds, 14.0);
  EXPECT_DOUBLE_EQ(f->apply_seconds, 1.0);
  EXPECT_DOUBLE_EQ(f->unpack_floor_seconds, 7.5);  // (14 + 1) / 2 > 1
  EXPECT_DOUBLE_EQ(f->validate_floor_seconds, 7.0);
  EXPECT_EQ(f->unpack_bound, "cpu");
}

TEST(BenchFloor, LayersOwnDecompressTimeReplacesTheGeneratedDataRate) {
  // As above, with inflate timed at 3 s on this very layer instead of 4000/500 = 8 s.
  auto l = layer("gzip", 1000, 4000, 50);
  l.decompress_seconds = 3;
  auto f = compute_floor({l}, rates(2));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_DOUBLE_EQ(f->cpu_seconds, 9.0);
  auto none = layer("none", 4000, 4000, 50);
  none.decompress_seconds = 3;  // plain tar decompresses nothing: ignored
  auto g = compute_floor({none}, rates(1));
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_DOUBLE_EQ(g->cpu_seconds, 4.0 + 4.0 + 1.0);
}

TEST(BenchFloor, ManyCoresMakeTheSerialApplyBind) {
  // Same layer on 64 cores: (14 + 1) / 64 < 1 = apply.
  auto f = compute_floor({layer("gzip", 1000, 4000, 50)}, rates(64));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_DOUBLE_EQ(f->unpack_floor_seconds, 1.0);
  EXPECT_EQ(f->unpack_bound, "apply");
  EXPECT_DOUBLE_EQ(f->validate_floor_seconds, 14.0 / 64);
}

TEST(BenchFloor, ManySmallFilesAreApplyBoundOnTwoCores) {
  // plain tar: cpu = 800/1000 + 0 + 800/1000 + 800/4000 = 1.8; apply = 1000/100 + 0.1 = 10.1
  auto f = compute_floor({layer("none", 800, 800, 1000)}, rates(2));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_DOUBLE_EQ(f->cpu_seconds, 1.8);
  EXPECT_DOUBLE_EQ(f->apply_seconds, 10.1);
  EXPECT_DOUBLE_EQ(f->unpack_floor_seconds, 10.1);
  EXPECT_EQ(f->unpack_bound, "apply");
  EXPECT_DOUBLE_EQ(f->validate_floor_seconds, 0.9);
}

TEST(BenchFloor, ZstdLayersUseTheZstdRateAndLayersSum) {
  // zstd: 500/1000 + 2000/2000 + 2000/1000 + 2000/4000 = 0.5 + 1 + 2 + 0.5 = 4; apply 0 + 0.25
  // gzip: 14 and 1 as above. Without an inflate rate a zstd-only image still works.
  auto r = rates(1);
  auto f = compute_floor({layer("zstd", 500, 2000, 0), layer("gzip", 1000, 4000, 50)}, r);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_DOUBLE_EQ(f->cpu_seconds, 18.0);
  EXPECT_DOUBLE_EQ(f->apply_seconds, 1.25);
  EXPECT_DOUBLE_EQ(f->unpack_floor_seconds, 19.25);  // N = 1: everything in sequence
  EXPECT_EQ(f->unpack_bound, "cpu");
  r.inflate_gzip = 0;
  auto z = compute_floor({layer("zstd", 500, 2000, 0)}, r);
  ASSERT_TRUE(z) << z.error().message();
  EXPECT_DOUBLE_EQ(z->cpu_seconds, 4.0);
}

TEST(BenchFloor, AMissingRateThatALayerNeedsIsAnErrorNamingIt) {
  auto r = rates(2);
  r.zstd = 0;
  auto f = compute_floor({layer("zstd", 1, 1, 1)}, r);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), errc::invalid_argument);
  EXPECT_NE(f.error().message().find("zstd"), std::string::npos) << f.error().message();
  r = rates(2);
  r.files = 0;
  f = compute_floor({layer("none", 1, 1, 1)}, r);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message().find("file_create"), std::string::npos) << f.error().message();
}

TEST(BenchFloor, UnknownCompressionAndNoThreadsAreRefused) {
  EXPECT_FALSE(compute_floor({layer("bzip2", 1, 1, 1)}, rates(2)));
  EXPECT_FALSE(compute_floor({}, rates(0)));
}

TEST(BenchFloor, AnImageWithoutLayersHasAZeroFloor) {
  auto f = compute_floor({}, floor_rates{});
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->unpack_floor_seconds, 0);
  EXPECT_EQ(f->validate_floor_seconds, 0);
}

}  // namespace
}  // namespace ocipipe::pipeline
