// Simple signing (containers-signature(5)) against skopeo with real GnuPG
// keys made by gpg in temporary homes (tests/support/gpg_fixture.h): a
// signature from `skopeo standalone-sign` verifies with `ocipipe verify`,
// one from `ocipipe sign --sign-by` with `skopeo standalone-verify`; a
// lookaside store round trip; and each failure named: no signature, unknown
// key, manifest digest differs, identity differs, a damaged signature.

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/gpg_fixture.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kIdentity = "registry.example.com/team/app:1";

// A command run with GNUPGHOME set (skopeo's gpgme reads it).
command_result with_gnupg_home(const std::string& home, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"env", "GNUPGHOME=" + home});
  return run_command(argv);
}

// The JSON records of a --json run, in order.
std::vector<nlohmann::json> records_of(const command_result& r) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(r.out)) out.push_back(nlohmann::json::parse(line, nullptr, false));
  return out;
}

class SignVerifyGpgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("img"), "app", {layer({file("etc/hello", "signed content\n")})});
  }

  // The manifest as stored, the file skopeo's standalone commands take.
  [[nodiscard]] std::string manifest_file() const { return img_.blob_path(img_.manifest_digest); }

  command_result verify(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"verify"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(img_.ref_text());
    return run_ocipipe(argv);
  }

  temp_dir tmp_;
  built_image img_;
};

TEST_F(SignVerifyGpgTest, SkopeoStandaloneSignatureVerifiesWithOcipipeVerify) {
  gpg_home key;
  const auto sig = tmp_.sub("skopeo.sig");
  const auto signed_ = with_gnupg_home(
      key.dir(), {"skopeo", "standalone-sign", manifest_file(), kIdentity, key.fingerprint(), "-o", sig});
  ASSERT_TRUE(signed_.ok()) << signed_.describe();

  const auto r = verify({"--json", "--key-file", key.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  const auto recs = records_of(r);
  ASSERT_EQ(recs.size(), 2u) << r.out;
  EXPECT_EQ(recs[0]["type"], "signature");
  EXPECT_EQ(recs[0]["data"]["status"], "valid");
  EXPECT_EQ(recs[0]["data"]["format"], "simple-signing");
  EXPECT_EQ(recs[0]["data"]["key"], key.fingerprint());
  EXPECT_EQ(recs[0]["data"]["identity"], kIdentity);
  EXPECT_EQ(recs[1]["type"], "end");
  EXPECT_EQ(recs[1]["data"]["status"], "pass");
  EXPECT_EQ(recs[1]["data"]["manifest_digest"], img_.manifest_digest.str());

  // The armored export is a keyring too; the human form says PASS.
  const auto human = verify({"--key-file", key.public_keyring_armored(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(human.exit_code, 0) << human.describe();
  EXPECT_EQ(human.out, "PASS: " + img_.ref_text() + "\n");
}

TEST_F(SignVerifyGpgTest, OcipipeSignatureVerifiesWithSkopeoStandaloneVerify) {
  gpg_home key;
  const auto sig = tmp_.sub("ocipipe.sig");
  const auto s = run_ocipipe({"sign", "--json", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(),
                              "--identity", kIdentity, "-o", sig, img_.ref_text()});
  ASSERT_TRUE(s.ok()) << s.describe();
  const auto rec = records_of(s).at(0);
  EXPECT_EQ(rec["type"], "sign");
  EXPECT_EQ(rec["data"]["status"], "ok");
  EXPECT_EQ(rec["data"]["format"], "simple-signing");
  EXPECT_EQ(rec["data"]["manifest_digest"], img_.manifest_digest.str());
  EXPECT_EQ(rec["data"]["stored_at"], sig);

  const auto v = with_gnupg_home(key.dir(), {"skopeo", "standalone-verify", manifest_file(), kIdentity,
                                             key.fingerprint(), sig});
  EXPECT_TRUE(v.ok()) << v.describe();
  EXPECT_TRUE(contains(v.out, img_.manifest_digest.str())) << v.out;

  // skopeo holds ocipipe to the identity it signed.
  const auto other = with_gnupg_home(key.dir(), {"skopeo", "standalone-verify", manifest_file(),
                                                 "registry.example.com/team/other:1", key.fingerprint(), sig});
  EXPECT_FALSE(other.ok()) << other.describe();

  // An existing -o file is not replaced without --force.
  const auto again = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(), "--identity",
                                  kIdentity, "-o", sig, img_.ref_text()});
  EXPECT_EQ(again.exit_code, 2) << again.describe();
  EXPECT_TRUE(contains(again.err, "exists")) << again.err;
}

TEST_F(SignVerifyGpgTest, KeyWithPassphraseSignsThroughPassphraseFile) {
  gpg_home key("ocipipe pass <pass@ocipipe.invalid>", "correct horse");
  const auto sig = tmp_.sub("pass.sig");
  const auto s = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(),
                              "--passphrase-file", key.passphrase_file(), "--identity", kIdentity, "-o", sig,
                              img_.ref_text()});
  ASSERT_TRUE(s.ok()) << s.describe();
  const auto v = verify({"--key-file", key.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(SignVerifyGpgTest, LookasideStoreRoundTripsAndHoldsTheSignatureWhereRegistriesDSays) {
  gpg_home key;
  const auto store = tmp_.sub("lookaside");
  const auto s = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(), "--identity",
                              kIdentity, "--lookaside", store, img_.ref_text()});
  ASSERT_TRUE(s.ok()) << s.describe();
  // containers-registries.d(5): <store>/<repo path>@<alg>=<hex>/signature-<n>.
  const auto where = store + "/team/app@sha256=" + std::string(img_.manifest_digest.encoded()) + "/signature-1";
  ASSERT_TRUE(path_exists(where)) << s.out;
  const auto skopeo = with_gnupg_home(key.dir(), {"skopeo", "standalone-verify", manifest_file(), kIdentity,
                                                  key.fingerprint(), where});
  EXPECT_TRUE(skopeo.ok()) << skopeo.describe();

  const auto v = verify({"-v", "--key-file", key.public_keyring(), "--identity", kIdentity, "--lookaside", store});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_TRUE(contains(v.err, "valid (simple-signing")) << v.err;

  // Without --lookaside, registries.d says where: lookaside-staging before lookaside.
  const auto regd = tmp_.sub("registries.d");
  std::filesystem::create_directories(regd);
  write_bytes(regd + "/example.yaml", "docker:\n  registry.example.com/team:\n    lookaside: file://" + store +
                                          "\n    lookaside-staging: file://" + tmp_.sub("staging") + "\n");
  const auto staged = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(), "--identity",
                                   kIdentity, "--registries.d", regd, img_.ref_text()});
  ASSERT_TRUE(staged.ok()) << staged.describe();
  EXPECT_TRUE(path_exists(tmp_.sub("staging") + "/team/app@sha256=" + std::string(img_.manifest_digest.encoded()) +
                          "/signature-1"));
}

TEST_F(SignVerifyGpgTest, NoSignatureIsANegativeAnswer) {
  gpg_home key;
  const auto v = verify({"--key-file", key.public_keyring(), "--identity", kIdentity});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_EQ(v.out, "FAIL: " + img_.ref_text() + ": no signature\n");
}

TEST_F(SignVerifyGpgTest, SignatureByAnotherKeyIsAnUnknownKey) {
  gpg_home signer, trusted("ocipipe trusted <trusted@ocipipe.invalid>");
  const auto sig = tmp_.sub("a.sig");
  ASSERT_TRUE(with_gnupg_home(signer.dir(), {"skopeo", "standalone-sign", manifest_file(), kIdentity,
                                             signer.fingerprint(), "-o", sig})
                  .ok());
  const auto v = verify({"--json", "--key-file", trusted.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  const auto recs = records_of(v);
  ASSERT_EQ(recs.size(), 2u) << v.out;
  EXPECT_EQ(recs[0]["data"]["status"], "unknown_key");
  EXPECT_EQ(recs[1]["data"]["status"], "fail");
  EXPECT_TRUE(contains(recs[1]["data"]["reason"].get<std::string>(), "signature by unknown key")) << v.out;
}

TEST_F(SignVerifyGpgTest, SignatureOfAnotherManifestIsADigestMismatch) {
  gpg_home key;
  auto other = build_layout(tmp_.sub("other"), "app", {layer({file("etc/hello", "other content\n")})});
  const auto sig = tmp_.sub("other.sig");
  ASSERT_TRUE(with_gnupg_home(key.dir(), {"skopeo", "standalone-sign", other.blob_path(other.manifest_digest),
                                          kIdentity, key.fingerprint(), "-o", sig})
                  .ok());
  const auto v = verify({"--key-file", key.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_EQ(v.out, "FAIL: " + img_.ref_text() + ": manifest digest differs: signed " + other.manifest_digest.str() +
                       ", image " + img_.manifest_digest.str() + "\n");
}

TEST_F(SignVerifyGpgTest, SignatureForAnotherIdentityIsAnIdentityMismatch) {
  gpg_home key;
  const auto sig = tmp_.sub("id.sig");
  ASSERT_TRUE(with_gnupg_home(key.dir(), {"skopeo", "standalone-sign", manifest_file(), kIdentity,
                                          key.fingerprint(), "-o", sig})
                  .ok());
  const auto v = verify({"--key-file", key.public_keyring(), "--identity", "registry.example.com/team/app:2",
                         "--signature", sig});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_EQ(v.out, "FAIL: " + img_.ref_text() + ": identity differs: signed \"" + kIdentity +
                       "\", expected \"registry.example.com/team/app:2\"\n");
}

TEST_F(SignVerifyGpgTest, DamagedSignatureBytesAreCaught) {
  gpg_home key;
  const auto sig = tmp_.sub("bad.sig");
  ASSERT_TRUE(with_gnupg_home(key.dir(), {"skopeo", "standalone-sign", manifest_file(), kIdentity,
                                          key.fingerprint(), "-o", sig})
                  .ok());
  std::string bytes = read_bytes(sig);
  ASSERT_GT(bytes.size(), 40u);
  // The last bytes are the signature's MPIs: the message still parses, the signature fails.
  bytes[bytes.size() - 5] = static_cast<char>(bytes[bytes.size() - 5] ^ 0x40);
  write_bytes(sig, bytes);
  const auto v = verify({"--json", "--key-file", key.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  const auto recs = records_of(v);
  ASSERT_EQ(recs.size(), 2u) << v.out;
  const std::string status = recs[0]["data"]["status"];
  EXPECT_TRUE(status == "bad_signature" || status == "malformed") << v.out;

  // Not a signature at all.
  write_bytes(sig, "this is no OpenPGP message");
  const auto junk = verify({"--json", "--key-file", key.public_keyring(), "--identity", kIdentity, "--signature", sig});
  EXPECT_EQ(junk.exit_code, 1) << junk.describe();
  EXPECT_EQ(records_of(junk).at(0)["data"]["status"], "malformed") << junk.out;
}

TEST_F(SignVerifyGpgTest, FailuresToRunExitTwo) {
  // A keyring that does not exist, and no keys at all.
  const auto missing = verify({"--key-file", tmp_.sub("nope.gpg"), "--signature", tmp_.sub("x.sig")});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "ocipipe: verify ")) << missing.err;
  const auto nokeys = verify({});
  EXPECT_EQ(nokeys.exit_code, 2) << nokeys.describe();
  EXPECT_TRUE(contains(nokeys.err, "no keys")) << nokeys.err;
  // An oci: image has no docker reference to claim.
  gpg_home key;
  const auto noid = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(), "-o",
                                 tmp_.sub("n.sig"), img_.ref_text()});
  EXPECT_EQ(noid.exit_code, 2) << noid.describe();
  EXPECT_TRUE(contains(noid.err, "--identity")) << noid.err;
}

// The README's form: --key-file and --signature each take one file, and
// every REF after them is verified; an error about a key file names it.
TEST_F(SignVerifyGpgTest, ReadmeFormVerifiesEveryRefAndKeyFileErrorsNameTheFile) {
  gpg_home key;
  const auto sig = tmp_.sub("app.sig");
  const auto s = run_ocipipe({"sign", "--sign-by", key.fingerprint(), "--gnupg-home", key.dir(), "--identity",
                              kIdentity, "-o", sig, img_.ref_text()});
  ASSERT_TRUE(s.ok()) << s.describe();
  // The same image under a second tag: the signature signs its manifest digest too.
  ASSERT_TRUE(run_ocipipe({"tag", img_.ref_text(), "second"}).ok());
  const std::string second = "oci:" + img_.dir + ":second";

  const auto both = run_ocipipe({"verify", "--key-file", key.public_keyring(), "--identity", kIdentity,
                                 "--signature", sig, img_.ref_text(), second});
  EXPECT_EQ(both.exit_code, 0) << both.describe();
  EXPECT_EQ(both.out, "PASS: " + img_.ref_text() + "\nPASS: " + second + "\n");

  // A second --key-file that holds no key: the error names that file, not "keyring 2".
  write_bytes(tmp_.sub("notes.txt"), "these are notes, not keys\n");
  const auto bad = run_ocipipe({"verify", "--key-file", key.public_keyring(), "--key-file", tmp_.sub("notes.txt"),
                                "--identity", kIdentity, "--signature", sig, img_.ref_text()});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
  EXPECT_TRUE(contains(bad.err, "--key-file \"" + tmp_.sub("notes.txt") + "\"")) << bad.err;
  EXPECT_FALSE(contains(bad.err, "keyring 2")) << bad.err;
}

}  // namespace
}  // namespace ocipipe::testing
