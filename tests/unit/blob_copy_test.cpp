// pipeline/blob_copy.h: a blob is committed in the destination layout only
// when its size and digest match the descriptor; nothing half-written stays.
#include <gtest/gtest.h>

#include "io/image_layout.h"
#include "io/layout_writer.h"
#include "pipeline/blob_copy.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe {
namespace {

using testing::build_layout;
using testing::file;
using testing::layer;
using testing::temp_dir;

descriptor layer_descriptor(const testing::built_image& img, std::size_t n) {
  const auto& l = img.layers.at(n);
  return {l.media_type, l.digest, l.size};
}

// Files under the destination's blobs/ and ingest area, so a test sees any
// leftover of a failed copy.
std::vector<std::string> stored_files(const std::string& layout) {
  auto names = testing::names_in(layout + "/blobs/sha256");
  for (const auto& n : testing::names_in(layout + "/" + std::string(io::layout_ingest_dir)))
    names.push_back(std::string(io::layout_ingest_dir) + "/" + n);
  return names;
}

struct blob_copy_fixture : ::testing::Test {
  temp_dir tmp;
  testing::built_image img = build_layout(tmp.sub("src"), "v1",
                                          {layer({file("a", std::string(3 << 20, 'a')), file("b", "bee")})});
};

TEST_F(blob_copy_fixture, copies_a_layer_blob_byte_for_byte) {
  auto src = io::image_layout::open(img.dir);
  ASSERT_TRUE(src) << src.error().message();
  auto dst = io::layout_writer::open(tmp.sub("dst"), true);
  ASSERT_TRUE(dst) << dst.error().message();
  std::uint64_t counted = 0;
  auto ok = pipeline::copy_blob(*src, layer_descriptor(img, 0), *dst, [&](std::size_t n) { counted += n; });
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(testing::read_bytes(tmp.sub("dst/") + img.layers[0].digest.blob_path()),
            testing::read_bytes(img.layer_blob_path(0)));
  EXPECT_EQ(counted, static_cast<std::uint64_t>(img.layers[0].size));
}

TEST_F(blob_copy_fixture, blob_already_in_destination_is_not_read_again) {
  auto src = io::image_layout::open(img.dir);
  ASSERT_TRUE(src);
  auto dst = io::layout_writer::open(tmp.sub("dst"), true);
  ASSERT_TRUE(dst);
  ASSERT_TRUE(pipeline::copy_blob(*src, layer_descriptor(img, 0), *dst));
  std::uint64_t counted = 0;
  auto again = pipeline::copy_blob(*src, layer_descriptor(img, 0), *dst, [&](std::size_t n) { counted += n; });
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(counted, 0u);
}

TEST_F(blob_copy_fixture, corrupted_blob_fails_with_digest_mismatch_and_commits_nothing) {
  testing::corrupt_layer_byte(img, 0);
  auto src = io::image_layout::open(img.dir);
  ASSERT_TRUE(src);
  auto dst = io::layout_writer::open(tmp.sub("dst"), true);
  ASSERT_TRUE(dst);
  auto ok = pipeline::copy_blob(*src, layer_descriptor(img, 0), *dst);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code(), errc::digest_mismatch) << ok.error().message();
  EXPECT_TRUE(testing::contains(ok.error().message(), img.layers[0].digest.str())) << ok.error().message();
  EXPECT_FALSE(dst->has_blob(img.layers[0].digest));
  EXPECT_TRUE(stored_files(tmp.sub("dst")).empty()) << testing::format_command(stored_files(tmp.sub("dst")));
}

TEST_F(blob_copy_fixture, descriptor_size_other_than_the_blob_fails_with_size_mismatch) {
  auto src = io::image_layout::open(img.dir);
  ASSERT_TRUE(src);
  auto dst = io::layout_writer::open(tmp.sub("dst"), true);
  ASSERT_TRUE(dst);
  for (const std::int64_t delta : {-1, 1}) {
    auto d = layer_descriptor(img, 0);
    d.size += delta;
    auto ok = pipeline::copy_blob(*src, d, *dst);
    ASSERT_FALSE(ok) << delta;
    EXPECT_EQ(ok.error().code(), errc::size_mismatch) << ok.error().message();
  }
  EXPECT_TRUE(stored_files(tmp.sub("dst")).empty()) << testing::format_command(stored_files(tmp.sub("dst")));
}

TEST_F(blob_copy_fixture, docker_archive_member_is_copied_under_its_diff_id) {
  testing::write_docker_archive(img, tmp.sub("img.tar"));
  auto src = io::image_layout::open_archive(tmp.sub("img.tar"));
  ASSERT_TRUE(src) << src.error().message();
  auto dst = io::layout_writer::open(tmp.sub("dst"), true);
  ASSERT_TRUE(dst);
  descriptor d{std::string(media_type::layer_tar), img.layers[0].diff_id,
               static_cast<std::int64_t>(img.layers[0].tar.size())};
  d.annotations[std::string(io::image_layout::member_annotation)] =
      std::string(img.layers[0].diff_id.encoded()) + ".tar";
  auto ok = pipeline::copy_blob(*src, d, *dst);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(testing::read_bytes(tmp.sub("dst/") + img.layers[0].diff_id.blob_path()), img.layers[0].tar);
}

}  // namespace
}  // namespace ocipipe
