// containers-policy.json(5) enforced by `ocipipe pull --policy` (and unpack,
// verify) against the test registry: images signed with a key
// (sigstoreSigned) or with GnuPG into a lookaside store (signedBy), and
// unsigned ones, are accepted and refused as the policy's scopes say
// (insecureAcceptAnything, reject as the default); a refused pull leaves no
// DEST.

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/gpg_fixture.h"
#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using test::registry_auth;
using test::registry_server;

class SignVerifyPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_ = registry_server::start(registry_auth::none);
    ASSERT_TRUE(reg_);
    img_ = build_layout(tmp_.sub("img"), "app", {layer({file("etc/hello", "policy content\n")})});
    // The same image under four repositories; which of them are signed is up to the test.
    for (const char* repo : {"keyed/app:1", "gpg/app:1", "open/app:1", "other/app:1"}) {
      const auto p = run_ocipipe({"push", "--upload-state-dir", tmp_.sub("uploads"), img_.ref_text(), reg_->ref(repo)});
      ASSERT_TRUE(p.ok()) << p.describe();
    }
    write_bytes(tmp_.sub("pass"), "pw\n");
    const auto gen = run_ocipipe({"sign", "--generate-key", tmp_.sub("k"), "--passphrase-file", tmp_.sub("pass")});
    ASSERT_TRUE(gen.ok()) << gen.describe();
    // The policy names its keys relative to its own directory.
    std::filesystem::create_directories(tmp_.sub("etc/keys"));
    std::filesystem::copy_file(tmp_.sub("k.pub"), tmp_.sub("etc/keys/cosign.pub"));
    std::filesystem::copy_file(gpg_.public_keyring(), tmp_.sub("etc/keys/pubring.gpg"));
    const auto host = reg_->host();
    const nlohmann::json policy = {
        {"default", {{{"type", "reject"}}}},
        {"transports",
         {{"docker",
           {{host + "/keyed", {{{"type", "sigstoreSigned"}, {"keyPath", "keys/cosign.pub"}}}},
            {host + "/gpg", {{{"type", "signedBy"}, {"keyType", "GPGKeys"}, {"keyPath", "keys/pubring.gpg"}}}},
            {host + "/open", {{{"type", "insecureAcceptAnything"}}}}}}}}};
    write_bytes(tmp_.sub("etc/policy.json"), policy.dump(2));
  }

  command_result sign_key(const std::string& repo) {
    return run_ocipipe({"sign", "--key", tmp_.sub("k.key"), "--passphrase-file", tmp_.sub("pass"), reg_->ref(repo)});
  }
  command_result sign_gpg(const std::string& repo) {
    return run_ocipipe({"sign", "--sign-by", gpg_.fingerprint(), "--gnupg-home", gpg_.dir(), "--lookaside",
                        tmp_.sub("lookaside"), reg_->ref(repo)});
  }
  // pull --policy into a fresh oci: DEST named `dest`.
  command_result pull(const std::string& repo, const std::string& dest) {
    return run_ocipipe({"pull", "--policy", tmp_.sub("etc/policy.json"), "--lookaside", tmp_.sub("lookaside"),
                        reg_->ref(repo), "oci:" + tmp_.sub(dest) + ":app"});
  }
  void expect_refused(const command_result& r, const std::string& dest, const std::string& why) {
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "policy refused")) << r.err;
    EXPECT_TRUE(contains(r.err, why)) << r.err;
    EXPECT_FALSE(path_exists(tmp_.sub(dest))) << "a refused pull wrote " << dest;
  }
  void expect_pulled(const command_result& r, const std::string& dest) {
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(path_exists(tmp_.sub(dest + "/index.json"))) << r.describe();
  }

  temp_dir tmp_;
  gpg_home gpg_;
  std::unique_ptr<registry_server> reg_;
  built_image img_;
};

TEST_F(SignVerifyPolicyTest, SigstoreSignedScopeAcceptsTheKeySignedImageAndRefusesItUnsigned) {
  expect_refused(pull("keyed/app:1", "unsigned"), "unsigned", "no signature");
  ASSERT_TRUE(sign_key("keyed/app:1").ok());
  expect_pulled(pull("keyed/app:1", "signed"), "signed");
}

TEST_F(SignVerifyPolicyTest, SignedByScopeAcceptsTheGpgSignedImageFromTheLookasideAndRefusesItUnsigned) {
  expect_refused(pull("gpg/app:1", "unsigned"), "unsigned", "no signature");
  // A key signature does not satisfy signedBy.
  ASSERT_TRUE(sign_key("gpg/app:1").ok());
  expect_refused(pull("gpg/app:1", "keyonly"), "keyonly", "no signature");
  const auto s = sign_gpg("gpg/app:1");
  ASSERT_TRUE(s.ok()) << s.describe();
  expect_pulled(pull("gpg/app:1", "signed"), "signed");
  // The same lookaside found through registries.d (containers-registries.d(5)) instead of --lookaside.
  const auto regd = tmp_.sub("registries.d");
  std::filesystem::create_directories(regd);
  write_bytes(regd + "/test.yaml",
              "docker:\n  \"" + reg_->host() + "\":\n    lookaside: file://" + tmp_.sub("lookaside") + "\n");
  const auto via = run_ocipipe({"pull", "--policy", tmp_.sub("etc/policy.json"), "--registries.d", regd,
                                reg_->ref("gpg/app:1"), "oci:" + tmp_.sub("viaregd") + ":app"});
  expect_pulled(via, "viaregd");
}

TEST_F(SignVerifyPolicyTest, DefaultRejectRefusesAnySignatureAndInsecureAcceptAnythingScopeTakesUnsigned) {
  ASSERT_TRUE(sign_key("other/app:1").ok());
  expect_refused(pull("other/app:1", "rejected"), "rejected", "policy rejects");
  expect_pulled(pull("open/app:1", "open"), "open");

  // verify --policy gives the same answers as a negative/positive exit.
  const auto yes = run_ocipipe({"verify", "--json", "--policy", tmp_.sub("etc/policy.json"), reg_->ref("open/app:1")});
  EXPECT_EQ(yes.exit_code, 0) << yes.describe();
  const auto end = nlohmann::json::parse(lines_of(yes.out).back());
  EXPECT_EQ(end["data"]["policy_scope"], reg_->host() + "/open");
  const auto no = run_ocipipe({"verify", "--policy", tmp_.sub("etc/policy.json"), reg_->ref("other/app:1")});
  EXPECT_EQ(no.exit_code, 1) << no.describe();
  EXPECT_TRUE(contains(no.out, "FAIL: " + reg_->ref("other/app:1") + ": policy rejects")) << no.out;
}

TEST_F(SignVerifyPolicyTest, SignatureForAnotherTagIsRefusedByTheDefaultIdentityRule) {
  // Signed as keyed/app:2 (matchRepoDigestOrExact wants keyed/app:1 or a digest reference).
  const auto s = run_ocipipe({"sign", "--key", tmp_.sub("k.key"), "--passphrase-file", tmp_.sub("pass"), "--identity",
                              reg_->host() + "/keyed/app:2", reg_->ref("keyed/app:1")});
  ASSERT_TRUE(s.ok()) << s.describe();
  expect_refused(pull("keyed/app:1", "wrongtag"), "wrongtag", "identity differs");
}

TEST_F(SignVerifyPolicyTest, UnpackAndCreateWithAPolicyWriteNothingForARefusedImage) {
  const auto unpack = run_ocipipe({"unpack", "--policy", tmp_.sub("etc/policy.json"), reg_->ref("keyed/app:1"),
                                   tmp_.sub("rootfs")});
  EXPECT_EQ(unpack.exit_code, 2) << unpack.describe();
  EXPECT_TRUE(contains(unpack.err, "policy refused")) << unpack.err;
  EXPECT_FALSE(path_exists(tmp_.sub("rootfs")));
  const auto create = run_ocipipe({"create", "--policy", tmp_.sub("etc/policy.json"), reg_->ref("keyed/app:1"),
                                   tmp_.sub("bundle")});
  EXPECT_EQ(create.exit_code, 2) << create.describe();
  EXPECT_FALSE(path_exists(tmp_.sub("bundle")));

  ASSERT_TRUE(sign_key("keyed/app:1").ok());
  const auto ok = run_ocipipe({"unpack", "--policy", tmp_.sub("etc/policy.json"), reg_->ref("keyed/app:1"),
                               tmp_.sub("rootfs")});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_EQ(read_bytes(tmp_.sub("rootfs/etc/hello")), "policy content\n");
}

}  // namespace
}  // namespace ocipipe::testing
