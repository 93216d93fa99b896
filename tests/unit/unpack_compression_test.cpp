// Unpack follows a layer's bytes when its media type names another compression
// (buglog B42): a warning, the tree the bytes hold, diff_id checked; validate
// keeps calling it an error.

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ocipipe::testing
