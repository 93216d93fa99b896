// The sign and verify command lines (and the repeatable options of the
// other verbs): each occurrence of a repeatable option takes one value, so
// the README's `verify --key-file K --signature S REF1 REF2` form works;
// --generate-key warns of an unencrypted key and refuses the flags of
// signing. Key signatures only (no GnuPG), on layouts built in the test.

#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kIdentity = "registry.example.com/team/app:1";

class SignVerifyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = build_layout(tmp_.sub("a"), "app", {layer({file("etc/a", "a\n")})});
    b_ = build_layout(tmp_.sub("b"), "app", {layer({file("etc/b", "b\n")})});
    const auto gen = run_ocipipe({"sign", "-q", "--generate-key", tmp_.sub("k")});
    ASSERT_TRUE(gen.ok()) << gen.describe();
    for (const auto* img : {&a_, &b_}) {
      const auto s = run_ocipipe({"sign", "--key", tmp_.sub("k.key"), "--identity", kIdentity, img->ref_text()});
      ASSERT_TRUE(s.ok()) << s.describe();
    }
  }

  temp_dir tmp_;
  built_image a_, b_;
};

TEST_F(SignVerifyCliTest, RepeatableOptionTakesOneValueSoSeveralRefsFollowIt) {
  const auto v = run_ocipipe({"verify", "--key", tmp_.sub("k.pub"), "--identity", kIdentity, a_.ref_text(),
                              b_.ref_text()});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_EQ(v.out, "PASS: " + a_.ref_text() + "\nPASS: " + b_.ref_text() + "\n");

  // Repeated, and with the value after '='.
  ASSERT_TRUE(run_ocipipe({"sign", "-q", "--generate-key", tmp_.sub("other")}).ok());
  const auto two = run_ocipipe({"verify", "--key", tmp_.sub("other.pub"), "--key=" + tmp_.sub("k.pub"), "--identity",
                                kIdentity, a_.ref_text(), b_.ref_text()});
  EXPECT_EQ(two.exit_code, 0) << two.describe();
  EXPECT_EQ(lines_of(two.out).size(), 2u) << two.out;

  // --key-file and --signature, the README's form: each takes its one file, the refs stay refs.
  const auto simple = run_ocipipe({"verify", "--key-file", tmp_.sub("missing.gpg"), "--signature",
                                   tmp_.sub("missing.sig"), a_.ref_text(), b_.ref_text()});
  EXPECT_EQ(simple.exit_code, 2) << simple.describe();
  EXPECT_TRUE(contains(simple.err, "missing.gpg")) << simple.err;
  EXPECT_FALSE(contains(simple.err, "REF is required")) << simple.err;
  EXPECT_EQ(lines_of(simple.err).size(), 2u) << "one error per ref: " << simple.err;
}

TEST_F(SignVerifyCliTest, OtherVerbsRepeatableOptionsTakeOneValueEach) {
  // create --env/--arg, then REF and BUNDLE.
  const auto c = run_ocipipe({"create", "--env", "A=1", "--arg", "/bin/true", a_.ref_text(), tmp_.sub("bundle")});
  EXPECT_EQ(c.exit_code, 0) << c.describe();
  EXPECT_TRUE(contains(read_bytes(tmp_.sub("bundle/config.json")), "\"A=1\"")) << c.describe();
  // pack --label/--annotation/--env, then DIR and DEST.
  ASSERT_EQ(::mkdir(tmp_.sub("dir").c_str(), 0755), 0);
  write_bytes(tmp_.sub("dir/f"), "x");
  const auto p = run_ocipipe({"pack", "--label", "l=1", "--annotation", "a=1", "--env", "E=1", tmp_.sub("dir"),
                              "oci:" + tmp_.sub("packed") + ":v1"});
  EXPECT_EQ(p.exit_code, 0) << p.describe();
}

TEST_F(SignVerifyCliTest, EmptyPassphraseWarnsThatTheKeyIsNotEncrypted) {
  write_bytes(tmp_.sub("empty-pass"), "\n");
  const auto from_file =
      run_ocipipe({"sign", "--generate-key", tmp_.sub("e1"), "--passphrase-file", tmp_.sub("empty-pass")});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.describe();
  EXPECT_TRUE(contains(from_file.err, "is empty: the private key is not encrypted")) << from_file.err;
  EXPECT_TRUE(contains(read_bytes(tmp_.sub("e1.key")), "BEGIN PRIVATE KEY"));

  const auto from_env =
      run_command({"env", "COSIGN_PASSWORD=", ocipipe_binary(), "sign", "--generate-key", tmp_.sub("e2")});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.describe();
  EXPECT_TRUE(contains(from_env.err, "$COSIGN_PASSWORD is empty: the private key is not encrypted")) << from_env.err;

  const auto neither =
      run_command({"env", "-u", "COSIGN_PASSWORD", ocipipe_binary(), "sign", "--generate-key", tmp_.sub("e3")});
  EXPECT_EQ(neither.exit_code, 0) << neither.describe();
  EXPECT_TRUE(contains(neither.err, "the private key is not encrypted")) << neither.err;

  write_bytes(tmp_.sub("pass"), "secret\n");
  const auto encrypted = run_ocipipe({"sign", "--generate-key", tmp_.sub("e4"), "--passphrase-file", tmp_.sub("pass")});
  EXPECT_EQ(encrypted.exit_code, 0) << encrypted.describe();
  EXPECT_FALSE(contains(encrypted.err, "warning")) << encrypted.err;
}

TEST_F(SignVerifyCliTest, GenerateKeyRefusesTheFlagsOfSigning) {
  for (const std::vector<std::string>& extra :
       std::vector<std::vector<std::string>>{{"--identity", kIdentity}, {"--referrer"}, {"-o", tmp_.sub("x.sig")},
                                             {"--lookaside", tmp_.sub("store")}, {"--gnupg-home", tmp_.sub("g")},
                                             {"--creds", "u:p"}}) {
    std::vector<std::string> argv = {"sign", "--generate-key", tmp_.sub("g1")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_ocipipe(argv);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.describe();
    EXPECT_TRUE(contains(r.err, "does not apply to --generate-key")) << r.err;
    EXPECT_FALSE(path_exists(tmp_.sub("g1.key"))) << extra[0];
  }
  // The flags every verb takes are fine.
  const auto ok = run_ocipipe({"sign", "--json", "-j", "1", "--generate-key", tmp_.sub("g2")});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
}

TEST_F(SignVerifyCliTest, VerifyRefusesIdentityWithPolicyAsAFailureToRun) {
  write_bytes(tmp_.sub("policy.json"), R"({"default":[{"type":"insecureAcceptAnything"}]})");
  const auto r = run_ocipipe({"verify", "--policy", tmp_.sub("policy.json"), "--identity", kIdentity, a_.ref_text()});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "--identity does not apply with --policy")) << r.err;
}

}  // namespace
}  // namespace ocipipe::testing
