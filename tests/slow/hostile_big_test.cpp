// The biggest hostile inputs of issue 10 item 6, too slow for the default suite: a layer of
// one million tar entries through unpack and validate, 1 GB of real JSON as a manifest,
// and a gzip bomb through validate (which has no layer limit: it must read the layer to
// check its diff_id, so the bound is memory, not bytes). Each run's peak RSS comes from
// wait4 and must stay under 256 MB. tests/unit/hostile_generated_test.cpp has the fast ones.

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/digester.h"
#include "tests/support/bomb_streams.h"
#include "tests/support/child_process.h"
#include "tests/support/image_builder.h"
#include "tests/support/measured_run.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr long kMaxRssKb = 256 * 1024;

void report(const std::string& what, const finished_child& f) {
  ::testing::Test::RecordProperty(what + "_peak_rss_kb", std::to_string(f.peak_rss_kb));
  ::testing::Test::RecordProperty(what + "_wall_s", std::to_string(f.wall_s));
  std::cout << what << ": exit " << f.run.exit_code << ", peak RSS " << f.peak_rss_kb << " KiB, " << f.wall_s
            << " s\n";
  EXPECT_FALSE(f.run.timed_out) << what;
  EXPECT_GT(f.peak_rss_kb, 0) << what;
  EXPECT_LT(f.peak_rss_kb, kMaxRssKb) << what << ": " << f.run.describe();
}

// Replaces layer 0 of `img` by `blob` with `diff_id`.
void set_layer(built_image& img, const std::string& blob, const digest& diff_id) {
  const auto d = write_blob(img, blob);
  edit_config(img, [&](nlohmann::ordered_json& c) { c["rootfs"]["diff_ids"][0] = diff_id.str(); });
  edit_manifest(img, [&](nlohmann::ordered_json& m) {
    m["layers"][0]["digest"] = d.str();
    m["layers"][0]["size"] = static_cast<std::int64_t>(blob.size());
  });
}

TEST(HostileBig, MillionEntriesUnpackAndValidateInBoundedMemory) {
  auto tmp = disk_temp_dir("ocipipe-million", std::uint64_t{2} << 30);
  fast_gzip_writer w;
  // 1000 directories of 1000 empty files: 1 001 000 entries.
  for (int d = 0; d < 1000; ++d) {
    const std::string dir = "d" + std::to_string(d) + "/";
    w.bytes(tar_header({dir, 0, '5'}));
    for (int f = 0; f < 1000; ++f) w.bytes(tar_header({dir + "f" + std::to_string(f), 0, '0'}));
  }
  w.end_archive();
  const auto layer_blob = w.finish();
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("placeholder")})});
  set_layer(img, layer_blob.blob, layer_blob.diff_id);

  const auto limited = run_ocipipe_measured(
      {"unpack", "--progress=never", "--max-entries", "100000", img.ref_text(), tmp.sub("limited")});
  report("million_limited_unpack", limited);
  EXPECT_EQ(limited.run.exit_code, 2) << limited.run.describe();
  EXPECT_TRUE(contains(limited.run.err, "--max-entries")) << limited.run.err;
  EXPECT_FALSE(path_exists(tmp.sub("limited")));

  const auto whole = run_ocipipe_measured({"unpack", "--progress=never", img.ref_text(), tmp.sub("rootfs")},
                                          std::chrono::minutes(15));
  report("million_unpack", whole);
  EXPECT_EQ(whole.run.exit_code, 0) << whole.run.describe();
  EXPECT_TRUE(path_exists(tmp.sub("rootfs/d999/f999")));

  const auto v = run_ocipipe_measured({"validate", "--progress=never", img.ref_text()}, std::chrono::minutes(15));
  report("million_validate", v);
  EXPECT_EQ(v.run.exit_code, 0) << v.run.describe();
}

// A manifest of 1 GB of real JSON, its digest right: refused on its descriptor's size,
// before a byte is read.
TEST(HostileBig, ManifestOf1GBOfRealJsonIsRefusedUnread) {
  auto tmp = disk_temp_dir("ocipipe-json1g", std::uint64_t{2} << 30);
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "x")})});
  std::string head = img.manifest.dump();
  head.pop_back();
  head += R"(,"annotations":{"x":")";
  const std::string tail = "\"}}";
  const std::uint64_t total = std::uint64_t{1} << 30;
  const std::string path = tmp.sub("layout/blobs/big.tmp");
  digester dg(digest_algorithm::sha256);
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    auto put = [&](const std::string& s) {
      ASSERT_EQ(std::fwrite(s.data(), 1, s.size(), f), s.size());
      dg.update(std::as_bytes(std::span(s.data(), s.size())));
    };
    put(head);
    const std::string chunk(1 << 20, 'a');
    for (std::uint64_t left = total - head.size() - tail.size(); left > 0;) {
      const std::size_t n = left < chunk.size() ? static_cast<std::size_t>(left) : chunk.size();
      put(chunk.substr(0, n));
      left -= n;
    }
    put(tail);
    ASSERT_EQ(std::fclose(f), 0);
  }
  const digest d = dg.finish();
  ASSERT_EQ(std::rename(path.c_str(), img.blob_path(d).c_str()), 0);
  auto index = nlohmann::ordered_json::parse(read_bytes(img.dir + "/index.json"));
  index["manifests"][0]["digest"] = d.str();
  index["manifests"][0]["size"] = static_cast<std::int64_t>(total);
  write_bytes(img.dir + "/index.json", index.dump());

  const auto u = run_ocipipe_measured({"unpack", "--progress=never", img.ref_text(), tmp.sub("rootfs")});
  report("json1g_unpack", u);
  EXPECT_EQ(u.run.exit_code, 2) << u.run.describe();
  EXPECT_TRUE(contains(u.run.err, "over the limit of 4194304 bytes")) << u.run.err;
  EXPECT_LT(u.wall_s, 10) << "the manifest was read, not refused on its size";
  const auto v = run_ocipipe_measured({"validate", "--progress=never", img.ref_text()});
  report("json1g_validate", v);
  EXPECT_EQ(v.run.exit_code, 1) << v.run.describe();
  EXPECT_LT(v.wall_s, 10);
}

// validate reads a layer to its end (its diff_id is over all of it): an 8 GiB bomb in an
// 8 MB blob is read through in bounded memory, and found valid (it is a valid layer).
TEST(HostileBig, GzipBombThroughValidateStaysInBoundedMemory) {
  auto tmp = disk_temp_dir("ocipipe-vbomb", std::uint64_t{1} << 30);
  const zero_tar tar = zero_file_tar("zeros", std::uint64_t{8} << 30);
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("placeholder")})});
  const std::string written = tmp.sub("bomb.tmp");
  const blob_file blob = write_gzip_bomb(written, tar);
  ASSERT_EQ(std::rename(written.c_str(), img.blob_path(blob.digest).c_str()), 0);
  const digest diff_id = diff_id_of(tar);
  edit_config(img, [&](nlohmann::ordered_json& c) { c["rootfs"]["diff_ids"][0] = diff_id.str(); });
  edit_manifest(img, [&](nlohmann::ordered_json& m) {
    m["layers"][0]["digest"] = blob.digest.str();
    m["layers"][0]["size"] = blob.size;
  });
  const auto v = run_ocipipe_measured({"validate", "--progress=never", img.ref_text()}, std::chrono::minutes(10));
  report("gzip_bomb_validate", v);
  EXPECT_EQ(v.run.exit_code, 0) << v.run.describe();
}

}  // namespace
}  // namespace ocipipe::testing
