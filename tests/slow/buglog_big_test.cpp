// ocipipe::validate() and unpack() on the buglog cases that need big streams
// (shared/cases/buglog.md): B24 and B25 (tar entries of 8 GiB and more; unpack writes them
// whole, so those tests need about 17 GiB of scratch disk) and B43 (a gzip bomb of 2 GiB of
// zeros). The
// layers are streamed here, never held: the tar is made of header blocks written by hand and
// runs of zeros fed from one 1 MiB buffer, compressed as it is made (zstd for the tar cases,
// ISA-L's gzip for the bomb) and digested on the way, so only the compressed blob (a few MiB)
// is kept. The small cases of the same classes are in tests/unit/validate_buglog_test.cpp.
//
// Label `slow`: about 40 GiB of tar are digested twice (here for the diff_id, then by
// validate); a minute or two on 2 cores.

#include <sys/stat.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/measured_run.h"
#include "tests/support/report_text.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::uint64_t eight_gib = std::uint64_t{1} << 33;
constexpr long rss_bound_kib = 200 * 1024;

// An image whose layer 0 is the streamed layer (`media_type`) and whose layer 1 holds
// hardlinks to `linked` names: layer.tar.hardlink proves those were read in layer 0.
built_image image_with(const temp_dir& tmp, const layer_stream_writer::result& big, std::string_view media_type,
                       const std::vector<std::string>& linked) {
  layer_spec links;
  for (std::size_t i = 0; i < linked.size(); ++i)
    links.entries.push_back(hardlink("seen-" + std::to_string(i), linked[i]));
  layer_spec placeholder;
  placeholder.entries = {file("placeholder")};
  auto img = build_layout(tmp.sub("layout"), "t", {placeholder, links});
  const auto d = write_blob(img, big.blob);
  edit_config(img, [&](ordered_json& c) { c["rootfs"]["diff_ids"][0] = big.diff_id.str(); });
  edit_manifest(img, [&](ordered_json& m) {
    m["layers"][0] = ordered_json{
        {"mediaType", media_type}, {"digest", d.str()}, {"size", static_cast<std::int64_t>(big.blob.size())}};
  });
  img.layers[0].digest = d;
  img.layers[0].size = static_cast<std::int64_t>(big.blob.size());
  img.layers[0].diff_id = big.diff_id;
  img.layers[0].tar.clear();
  return img;
}

image_validation validate_big(const built_image& img, rss_watch& rss) {
  validate_options opts;
  opts.jobs = 2;
  auto out = validate({img.ref()}, opts);
  EXPECT_EQ(out.size(), 1u);
  std::cout << "validate: " << (out.empty() ? 0 : out[0].tar_bytes >> 20) << " MiB of tar, "
            << (out.empty() ? 0.0 : out[0].seconds) << " s, " << rss.describe() << "\n";
  return out.empty() ? image_validation{} : out.front();
}

void expect_valid_and_whole(const built_image& img, const layer_stream_writer::result& big) {
  rss_watch rss;
  const auto v = validate_big(img, rss);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  // Every byte of the big tar was digested (the diff_id matched, so they were the right ones).
  EXPECT_EQ(v.tar_bytes, big.tar_bytes + img.layers[1].tar.size());
  EXPECT_LT(rss.growth_kib(), rss_bound_kib) << rss.describe();
}

// Unpacks `img` and checks every big file has its size and after.txt its content: the
// tar reader took the size from the PAX record or the base-256 field, not the ustar zero.
void expect_unpacked_whole(const built_image& img, const std::vector<std::pair<std::string, std::uint64_t>>& sizes) {
  std::uint64_t need = 1ull << 30;
  for (const auto& [name, size] : sizes) need += size;
  temp_dir tmp = disk_temp_dir("ocipipe-slow-bigfile", need);
  const std::string rootfs = tmp.sub("rootfs");
  auto r = unpack(img.ref(), rootfs, {});
  ASSERT_TRUE(r) << r.error().message();
  for (const auto& [name, size] : sizes) {
    struct stat st {};
    ASSERT_EQ(::lstat((rootfs + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), size) << name;
  }
  EXPECT_EQ(read_bytes(rootfs + "/after.txt"), "after\n");
}

// =====================================================================================

// B24: big0 of 8 GiB - 1 bytes (the largest 11-digit octal size) and big1 of exactly 8 GiB
// with its size in a PAX `size` record (ustar field 0, as GNU tar writes it), then
// after.txt. Valid; the entries after both big ones are read (a later layer's hardlinks to
// big1 and after.txt find them), and the diff_id over all 16 GiB matches.
TEST(BuglogBig, EightGiBFileWithPaxSizeRecordValidatesAndUnpacksWhole) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(tar_header({"big0", eight_gib - 1}));
  w.zeros(eight_gib - 1 + padding_of(eight_gib - 1));
  w.bytes(pax_header("big1", pax_record("size", std::to_string(eight_gib))));
  w.bytes(tar_header({"big1", eight_gib, '0', false, size_encoding::zero}));
  w.zeros(eight_gib);
  w.bytes(tar_file("after.txt", "after\n"));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big0", "big1", "after.txt"});
  expect_valid_and_whole(img, big);
  expect_unpacked_whole(img, {{"big0", eight_gib - 1}, {"big1", eight_gib}});
}

// B24, the same archive re-encoded with a GNU base-256 size field for big1 (GNU format).
TEST(BuglogBig, EightGiBFileWithBase256SizeFieldValidatesAndUnpacksWhole) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(tar_header({"big0", eight_gib - 1, '0', true}));
  w.zeros(eight_gib - 1 + padding_of(eight_gib - 1));
  w.bytes(tar_header({"big1", eight_gib, '0', true, size_encoding::base256}));
  w.zeros(eight_gib);
  w.bytes(tar_file("after.txt", "after\n", true));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big0", "big1", "after.txt"});
  expect_valid_and_whole(img, big);
  expect_unpacked_whole(img, {{"big0", eight_gib - 1}, {"big1", eight_gib}});
}

// B25: an `x` header with size=8589934593, then big's ustar header with size field 0, then
// 8 GiB + 1 bytes and padding, then after.txt. The PAX size wins: valid, after.txt read.
TEST(BuglogBig, PaxSizeOverEightGiBOverridesUstarZeroInValidateAndUnpack) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(pax_header("big", pax_record("size", std::to_string(eight_gib + 1))));
  w.bytes(tar_header({"big", 0, '0', false, size_encoding::zero}));
  w.zeros(eight_gib + 1 + padding_of(eight_gib + 1));
  w.bytes(tar_file("after.txt", "after\n"));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big", "after.txt"});
  expect_valid_and_whole(img, big);
  expect_unpacked_whole(img, {{"big", eight_gib + 1}});
}

// B43: a gzip bomb, one file entry of 2 GiB of zeros compressed to about 2 MiB, correctly
// described. validate has no limit on decompressed bytes (the decompressor's default cap is
// 1 TiB): it reads the whole stream, finds the image valid, and its memory does not grow
// with the stream.
TEST(BuglogBig, GzipBombOfTwoGiBIsReadInBoundedMemory) {
  temp_dir tmp;
  fast_gzip_writer w;
  constexpr std::uint64_t size = std::uint64_t{2} << 30;
  w.bytes(tar_header({"zeros", size}));
  w.zeros(size + padding_of(size));
  w.end_archive();
  const auto big = w.finish();
  std::cout << "bomb: " << (big.tar_bytes >> 20) << " MiB of tar in " << (big.blob.size() >> 10)
            << " KiB of gzip\n";
  ASSERT_LT(big.blob.size(), std::size_t{8} << 20);
  const auto img = image_with(tmp, big, media_type::layer_tar_gzip, {"zeros"});
  expect_valid_and_whole(img, big);
}

}  // namespace
}  // namespace ocipipe::testing
