// push() and copy() to docker:// without a registry: what is refused before anything is
// sent (a DEST that is no registry, a DEST digest other than the image's), and an
// unreachable registry failing as `unavailable` with the blob and the run named.

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

class push_api : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("img"), "t", {layer({file("etc/hello", "hi\n")})});
    opts_.upload_state_dir = tmp_.sub("uploads");
    opts_.destination_remote.attempts = 1;
  }
  image_reference ref(const std::string& text) { return *parse_reference(text); }

  temp_dir tmp_;
  built_image img_;
  copy_options opts_;
};

TEST_F(push_api, a_destination_other_than_a_registry_is_refused) {
  auto r = push(img_.ref(), ref("oci:" + tmp_.sub("out") + ":x"), opts_, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().message().find("must be a registry"), std::string::npos) << r.error().message();
  EXPECT_FALSE(path_exists(tmp_.sub("out")));
}

TEST_F(push_api, a_destination_digest_that_is_not_the_images_is_refused_before_connecting) {
  // Port 1 on loopback: nothing listens, so reaching the network would fail otherwise.
  const std::string other = "sha256:" + std::string(64, 'e');
  auto r = push(img_.ref(), ref("docker://127.0.0.1:1/x/y@" + other), opts_, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  EXPECT_NE(r.error().message().find(img_.manifest_digest.str()), std::string::npos) << r.error().message();
}

TEST_F(push_api, an_unreachable_registry_fails_as_unavailable_and_writes_no_upload_state) {
  auto r = copy(img_.ref(), ref("docker://127.0.0.1:1/x/y:v1"), opts_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unavailable) << r.error().message();
  EXPECT_NE(r.error().message().find("docker://127.0.0.1:1/x/y:v1"), std::string::npos) << r.error().message();
  EXPECT_FALSE(path_exists(tmp_.sub("uploads")));
}

}  // namespace
}  // namespace ocipipe::testing
