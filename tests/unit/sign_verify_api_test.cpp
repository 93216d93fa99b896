// The sign/verify API (pipeline/api.h "sign and verify") on image layouts
// built in the test, with key signatures only (no GnuPG, no network): what
// is accepted and refused, what each refusal is called, and the policy
// enforcement verbs call first.

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kIdentity = "registry.example.com/team/app:1";

class SignVerifyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("img"), "app", {layer({file("etc/hello", "api\n")})});
    auto id = generate_key_files(tmp_.sub("k"), "", false);
    ASSERT_TRUE(id) << id.error().message();
    key_id_ = *id;
  }

  result<sign_report> sign(const std::string& identity = kIdentity) {
    sign_options o;
    o.private_key_file = tmp_.sub("k.key");
    o.identity = identity;
    return sign_image(img_.ref(), o);
  }
  result<verify_report> verify(const std::string& identity = kIdentity) {
    verify_options o;
    o.public_keys = {tmp_.sub("k.pub")};
    o.identity = identity;
    return verify_image(img_.ref(), o);
  }
  // A policy for this layout's scope (its absolute path), `requirement` as JSON.
  std::string policy(const std::string& requirement) {
    const auto path = tmp_.sub("policy.json");
    write_bytes(path, R"({"default":[{"type":"reject"}],"transports":{"oci":{")" + img_.dir + R"(":[)" + requirement +
                          "]}}}");
    return path;
  }

  temp_dir tmp_;
  built_image img_;
  std::string key_id_;
};

TEST_F(SignVerifyApiTest, KeySignatureSignsTheStoredManifestDigestAndVerifies) {
  auto s = sign();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->format, "sigstore");
  EXPECT_EQ(s->manifest.digest, img_.manifest_digest);
  EXPECT_EQ(s->key, key_id_);
  EXPECT_EQ(s->stored_at, "sha256-" + std::string(img_.manifest_digest.encoded()) + ".sig");
  ASSERT_TRUE(s->signature_manifest);

  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->accepted) << v->reason;
  ASSERT_EQ(v->signatures.size(), 1u);
  EXPECT_EQ(v->signatures[0].status, signature_status::valid);
  EXPECT_EQ(v->signatures[0].key, key_id_);
  EXPECT_EQ(v->signatures[0].identity, kIdentity);
  EXPECT_EQ(v->manifest.digest, img_.manifest_digest);
}

TEST_F(SignVerifyApiTest, UnsignedImageIsNotAcceptedWithNoSignatureAsTheReason) {
  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->reason, "no signature");
  EXPECT_TRUE(v->signatures.empty());
}

TEST_F(SignVerifyApiTest, IdentityIsComparedAfterNormalization) {
  ASSERT_TRUE(sign("docker.io/library/busybox:1"));
  EXPECT_TRUE(verify("busybox:1")->accepted);
  auto other = verify("busybox:2");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->accepted);
  EXPECT_EQ(other->signatures.at(0).status, signature_status::identity_differs);
  EXPECT_EQ(other->reason, "identity differs: signed \"docker.io/library/busybox:1\", expected "
                           "\"docker.io/library/busybox:2\"");
}

TEST_F(SignVerifyApiTest, AnotherKeyDoesNotVerify) {
  ASSERT_TRUE(sign());
  ASSERT_TRUE(generate_key_files(tmp_.sub("other"), "", false));
  verify_options o;
  o.public_keys = {tmp_.sub("other.pub")};
  auto v = verify_image(img_.ref(), o);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->signatures.at(0).status, signature_status::bad_signature);
}

TEST_F(SignVerifyApiTest, MisuseIsAnInvalidArgument) {
  sign_options both;
  both.private_key_file = tmp_.sub("k.key");
  both.gpg_key = "0123";
  both.identity = kIdentity;
  EXPECT_EQ(sign_image(img_.ref(), both).error().code(), errc::invalid_argument);
  sign_options no_identity;
  no_identity.private_key_file = tmp_.sub("k.key");
  EXPECT_EQ(sign_image(img_.ref(), no_identity).error().code(), errc::invalid_argument);
  EXPECT_EQ(verify_image(img_.ref(), verify_options{}).error().code(), errc::invalid_argument);
  EXPECT_EQ(generate_key_files(tmp_.sub("k"), "", false).error().code(), errc::invalid_argument);
  EXPECT_TRUE(generate_key_files(tmp_.sub("k"), "", true));
}

TEST_F(SignVerifyApiTest, EnforcePolicyReturnsTheAcceptedRootOrRefusesWithPermissionDenied) {
  policy_options none;
  auto open = enforce_policy(img_.ref(), none, {});
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->has_value());

  policy_options p;
  p.policy_file = policy(R"({"type":"sigstoreSigned","keyPath":")" + tmp_.sub("k.pub") +
                         R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity + R"("}})");
  auto unsigned_ = enforce_policy(img_.ref(), p, {});
  ASSERT_FALSE(unsigned_);
  EXPECT_EQ(unsigned_.error().code(), errc::permission_denied);
  EXPECT_NE(unsigned_.error().message().find("no signature"), std::string::npos) << unsigned_.error().message();

  ASSERT_TRUE(sign());
  auto accepted = enforce_policy(img_.ref(), p, {});
  ASSERT_TRUE(accepted) << accepted.error().message();
  ASSERT_TRUE(accepted->has_value());
  EXPECT_EQ((*accepted)->digest, img_.manifest_digest);

  // The default (reject) applies to another layout; nothing is read for it.
  auto elsewhere = build_layout(tmp_.sub("elsewhere"), "app", {layer({file("x", "y")})});
  auto rejected = enforce_policy(elsewhere.ref(), p, {});
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message().find("policy rejects"), std::string::npos) << rejected.error().message();
}

TEST_F(SignVerifyApiTest, UnpackWithAPolicyWritesNothingForARefusedImage) {
  unpack_options o;
  o.policy.policy_file = policy(R"({"type":"reject"})");
  auto r = unpack(img_.ref(), tmp_.sub("rootfs"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::permission_denied);
  EXPECT_FALSE(path_exists(tmp_.sub("rootfs")));
}

TEST_F(SignVerifyApiTest, StatusNamesAreStable) {
  EXPECT_EQ(signature_status_name(signature_status::valid), "valid");
  EXPECT_EQ(signature_status_name(signature_status::unknown_key), "unknown_key");
  EXPECT_EQ(signature_status_name(signature_status::bad_signature), "bad_signature");
  EXPECT_EQ(signature_status_name(signature_status::malformed), "malformed");
  EXPECT_EQ(signature_status_name(signature_status::digest_differs), "digest_differs");
  EXPECT_EQ(signature_status_name(signature_status::identity_differs), "identity_differs");
}

// cosign's signature manifests name an image config with empty os and
// architecture; a signed layout must still validate (validate --all reaches
// the .sig tag and the referrer).
TEST_F(SignVerifyApiTest, SignedLayoutStillValidatesWithAllItsSignatureManifests) {
  ASSERT_TRUE(sign());
  sign_options o;
  o.private_key_file = tmp_.sub("k.key");
  o.identity = kIdentity;
  o.referrer = true;
  ASSERT_TRUE(sign_image(img_.ref(), o));
  validate_options all;
  all.all = true;
  auto layout = parse_reference("oci:" + img_.dir);
  ASSERT_TRUE(layout);
  const auto results = validate({*layout}, all);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].valid());
  for (const auto& f : results[0].findings)
    EXPECT_FALSE(f.error) << f.rule << " at " << f.location << ": " << f.message;
}

}  // namespace
}  // namespace ocipipe::testing
