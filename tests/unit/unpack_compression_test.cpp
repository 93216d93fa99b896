// Unpack follows a layer's bytes when its media type names another compression
// (buglog B42): a warning, the tree the bytes hold, diff_id checked; validate
// keeps calling it an error. And the stream shapes real compressors write:
// gzip with zero padding after the last member, zstd with skippable frames.

#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

TEST(UnpackSniffing, MislabelledLayerIsUnpackedAsItsBytesWithAWarning) {
  struct variant {
    const char* name;
    layer_compression stored;
    std::string_view labelled;
  };
  for (const auto& v : {variant{"plain tar labelled gzip", layer_compression::none, media_type::layer_tar_gzip},
                        variant{"plain tar labelled docker gzip", layer_compression::none,
                                media_type::docker_layer_gzip},
                        variant{"gzip labelled plain tar", layer_compression::gzip, media_type::layer_tar},
                        variant{"zstd labelled plain tar", layer_compression::zstd, media_type::layer_tar},
                        variant{"zstd labelled gzip", layer_compression::zstd, media_type::layer_tar_gzip}}) {
    SCOPED_TRACE(v.name);
    temp_dir tmp;
    layer_spec odd{{file("etc/motd", "hello\n")}, v.stored};
    odd.media_type = std::string(v.labelled);
    const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("etc/hostname", "box\n")}}, odd});
    auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(path_exists(tmp.sub("rootfs/etc/motd")));
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_EQ(r->warnings[0].first, "layer.compression");
    EXPECT_NE(r->warnings[0].second.find("layer 1"), std::string::npos) << r->warnings[0].second;

    const auto checked = validate({img.ref()}, {});
    EXPECT_FALSE(checked[0].valid());
  }
}

TEST(UnpackSniffing, MislabelledLayerWithAWrongDiffIdStillFails) {
  temp_dir tmp;
  layer_spec odd{{file("a", "a")}, layer_compression::none};
  odd.media_type = std::string(media_type::layer_tar_gzip);
  auto img = build_layout(tmp.sub("layout"), "t", {odd});
  set_wrong_diff_id(img, 0);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::digest_mismatch) << r.error().message();
}

// Layer 0 of a one-file image re-stored as `blob` under `media_type`; the
// tar and so the diff_id stay the same.
built_image with_layer_blob(const temp_dir& tmp, const std::function<std::string(const std::string& tar)>& blob,
                            std::string_view media_type) {
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("f", "content")}, layer_compression::none}});
  const std::string bytes = blob(img.layers[0].tar);
  const auto d = write_blob(img, bytes);
  edit_manifest(img, [&](nlohmann::ordered_json& m) {
    m["layers"][0] = {{"mediaType", media_type}, {"digest", d.str()}, {"size", bytes.size()}};
  });
  return img;
}

std::string skippable_frame(std::string_view payload) {
  std::string f = "\x50\x2a\x4d\x18";  // magic 0x184D2A50, little-endian
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  return f + std::string(payload);
}

TEST(UnpackCompression, GzipWithZeroPaddingAfterTheLastMemberUnpacks) {
  temp_dir tmp;
  const auto img = with_layer_blob(
      tmp, [](const std::string& tar) { return gzip_bytes(tar) + gzip_bytes("") + std::string(70000, '\0'); },
      media_type::layer_tar_gzip);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(tmp.sub("rootfs/f")), "content");
}

TEST(UnpackCompression, GzipWithGarbageAfterZeroPaddingFails) {
  temp_dir tmp;
  const auto img = with_layer_blob(
      tmp, [](const std::string& tar) { return gzip_bytes(tar) + std::string(100, '\0') + "junk"; },
      media_type::layer_tar_gzip);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  EXPECT_NE(r.error().message().find("garbage after member 1"), std::string::npos) << r.error().message();
  const auto junk_at = gzip_bytes(img.layers[0].tar).size() + 100;
  EXPECT_NE(r.error().message().find("at compressed byte " + std::to_string(junk_at)), std::string::npos)
      << r.error().message();
}

TEST(UnpackCompression, ZstdWithSkippableFramesUnpacks) {
  temp_dir tmp;
  const auto img = with_layer_blob(
      tmp,
      [](const std::string& tar) {
        return skippable_frame("seekable-index") + zstd_bytes(tar.substr(0, 512)) + skippable_frame("") +
               zstd_bytes(tar.substr(512)) + skippable_frame(std::string(3000, 'i'));
      },
      media_type::layer_tar_zstd);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_bytes(tmp.sub("rootfs/f")), "content");
}

}  // namespace
}  // namespace ocipipe::testing
