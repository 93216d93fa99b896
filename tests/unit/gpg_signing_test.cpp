// io/gpg_signing: simple-signing signatures through gpgme, with real keys
// made by gpg in temporary GnuPG homes (tests/support/gpg_fixture.h), and
// the gpg CLI as the independent judge.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/gpg_signing.h"
#include "tests/support/gpg_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe {
namespace {

using io::gpg_sign;
using io::gpg_verdict;
using io::gpg_verify;
using ocipipe::testing::command_result;
using ocipipe::testing::contains;
using ocipipe::testing::gpg_home;
using ocipipe::testing::names_in;
using ocipipe::testing::read_bytes;
using ocipipe::testing::temp_dir;
using ocipipe::testing::write_bytes;
using kind = gpg_verdict::kind;

const std::string kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.example/app:1"},"image":{"docker-manifest-digest":)"
    R"("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},)"
    R"("type":"atomic container signature"},)"
    R"("optional":{"creator":"ocipipe test"}})";

command_result gpg(const gpg_home& home, std::vector<std::string> args) {
  std::vector<std::string> argv = {"gpg", "--homedir", home.dir(), "--batch", "--no-tty"};
  argv.insert(argv.end(), args.begin(), args.end());
  ocipipe::testing::run_options opts;
  opts.timeout = std::chrono::seconds(60);
  return ocipipe::testing::run_command(argv, opts);
}

// Sets an environment variable for one scope, restoring it afterwards.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

gpg_verdict verify_or_fail(std::string_view sig, const std::vector<std::string>& keyrings) {
  auto v = gpg_verify(sig, keyrings);
  EXPECT_TRUE(v) << v.error().message();
  return v ? *v : gpg_verdict{};
}

TEST(GpgSigning, SignedPayloadVerifiesWithTheExportedKeyBinaryOrArmored) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  // Binary OpenPGP (a packet tag has its top bit set), not armor.
  ASSERT_FALSE(sig->empty());
  EXPECT_NE(static_cast<unsigned char>((*sig)[0]) & 0x80, 0) << "armored output";
  EXPECT_FALSE(contains(*sig, "-----BEGIN PGP"));

  for (const std::string& keyring : {home.public_keyring(), home.public_keyring_armored()}) {
    SCOPED_TRACE(keyring);
    const gpg_verdict v = verify_or_fail(*sig, {read_bytes(keyring)});
    EXPECT_EQ(v.status, kind::valid) << v.message;
    EXPECT_EQ(v.payload, kPayload);
    EXPECT_EQ(v.key_fingerprint, home.fingerprint());
  }
  // Among other keys, it is still found.
  gpg_home other("other <other@ocipipe.invalid>");
  const gpg_verdict v = verify_or_fail(*sig, {read_bytes(other.public_keyring()), read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, GpgItselfReadsOurSignedMessage) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  temp_dir dir;
  write_bytes(dir.sub("sig"), *sig);
  const auto r = gpg(home, {"--status-fd", "2", "--decrypt", dir.sub("sig")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, kPayload);
  EXPECT_TRUE(contains(r.err, "[GNUPG:] VALIDSIG " + home.fingerprint())) << r.err;
}

TEST(GpgSigning, SignatureFromGpgCliVerifies) {
  gpg_home home;
  temp_dir dir;
  write_bytes(dir.sub("payload"), kPayload);
  const auto r =
      gpg(home, {"--local-user", home.fingerprint(), "--output", dir.sub("sig"), "--sign", dir.sub("payload")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const gpg_verdict v = verify_or_fail(read_bytes(dir.sub("sig")), {read_bytes(home.public_keyring_armored())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
  EXPECT_EQ(v.payload, kPayload);
}

TEST(GpgSigning, KeyOfAnotherHomeIsUnknownKey) {
  gpg_home signer, stranger("stranger <stranger@ocipipe.invalid>");
  auto sig = gpg_sign(kPayload, signer.fingerprint(), "", signer.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  const gpg_verdict v = verify_or_fail(*sig, {read_bytes(stranger.public_keyring())});
  EXPECT_EQ(v.status, kind::unknown_key) << v.message;
  EXPECT_TRUE(contains(v.message, signer.fingerprint().substr(24))) << v.message;
  EXPECT_TRUE(v.key_fingerprint.empty());
}

TEST(GpgSigning, AlteredSignedDataIsBad) {
  // Uncompressed, the payload stands in the literal data packet as is, so
  // one flipped byte there is a signature over other data.
  gpg_home home;
  temp_dir dir;
  write_bytes(dir.sub("payload"), kPayload);
  const auto r = gpg(home, {"--compress-algo", "none", "--local-user", home.fingerprint(), "--output", dir.sub("sig"),
                            "--sign", dir.sub("payload")});
  ASSERT_TRUE(r.ok()) << r.describe();
  std::string sig = read_bytes(dir.sub("sig"));
  const auto at = sig.find("registry.example/app:1");
  ASSERT_NE(at, std::string::npos);
  sig[at + 9] = 'X';
  const gpg_verdict v = verify_or_fail(sig, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::bad) << v.message;
  EXPECT_TRUE(contains(v.payload, "registry.Xxample/app:1")) << v.payload;
}

TEST(GpgSigning, AlteredSignatureBytesAreNeverValid) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  const std::string keyring = read_bytes(home.public_keyring());
  // gpg compresses the message: bytes in the payload's and the signature's
  // stretch of the deflate stream. (Not the last byte: its padding bits
  // are ignored, and the literal packet's name and date, early in the
  // stream, are outside what OpenPGP signs.)
  for (const std::size_t pos : {sig->size() / 4, sig->size() / 2, sig->size() - 20, sig->size() - 8}) {
    SCOPED_TRACE(pos);
    std::string altered = *sig;
    altered[pos] = static_cast<char>(altered[pos] ^ 0x20);
    const gpg_verdict v = verify_or_fail(altered, {keyring});
    EXPECT_TRUE(v.status == kind::bad || v.status == kind::malformed) << static_cast<int>(v.status) << v.message;
  }
  // Cut short.
  const gpg_verdict v = verify_or_fail(sig->substr(0, sig->size() / 2), {keyring});
  EXPECT_TRUE(v.status == kind::bad || v.status == kind::malformed) << static_cast<int>(v.status) << v.message;
}

TEST(GpgSigning, GarbageAndUnsignedMessagesAreMalformed) {
  gpg_home home;
  temp_dir dir;
  write_bytes(dir.sub("payload"), kPayload);
  ASSERT_TRUE(gpg(home, {"--output", dir.sub("stored"), "--store", dir.sub("payload")}).ok());
  ASSERT_TRUE(gpg(home, {"--local-user", home.fingerprint(), "--output", dir.sub("detached"), "--detach-sign",
                         dir.sub("payload")})
                  .ok());
  const std::string keyring = read_bytes(home.public_keyring());
  const struct {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"empty", ""},
      {"text", "this is not an OpenPGP message"},
      {"the payload itself", kPayload},
      {"literal data without a signature", read_bytes(dir.sub("stored"))},
      {"a detached signature without its data", read_bytes(dir.sub("detached"))},
      {"a public key", keyring},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const gpg_verdict v = verify_or_fail(c.bytes, {keyring});
    EXPECT_EQ(v.status, kind::malformed) << static_cast<int>(v.status) << " " << v.message;
    EXPECT_FALSE(v.message.empty());
  }
}

TEST(GpgSigning, KeyringWithoutKeysIsMalformedError) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  auto v = gpg_verify(*sig, {read_bytes(home.public_keyring()), "not a keyring"});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), errc::malformed) << v.error().message();
  EXPECT_TRUE(contains(v.error().message(), "keyring 2")) << v.error().message();
}

TEST(GpgSigning, PassphraseKeySignsThroughLoopbackAndRefusesAWrongPassphrase) {
  gpg_home home("locked <locked@ocipipe.invalid>", "open sesame");
  EXPECT_EQ(read_bytes(home.passphrase_file()), "open sesame");
  // The wrong one first: gpg-agent caches a passphrase once it worked.
  auto wrong = gpg_sign(kPayload, home.fingerprint(), "open sesamE", home.dir());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), errc::permission_denied) << wrong.error().message();
  auto none = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::permission_denied) << none.error().message();

  auto sig = gpg_sign(kPayload, home.fingerprint(), "open sesame", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  const gpg_verdict v = verify_or_fail(*sig, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
}

TEST(GpgSigning, UnknownSigningKeyIsNotFound) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, "0123456789ABCDEF0123456789ABCDEF01234567", "", home.dir());
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code(), errc::not_found) << sig.error().message();
}

TEST(GpgSigning, SignatureBySubkeyNamesThePrimaryKey) {
  gpg_home home;
  ASSERT_TRUE(gpg(home, {"--passphrase", "", "--pinentry-mode", "loopback", "--quick-add-key", home.fingerprint(),
                         "ed25519", "sign", "never"})
                  .ok());
  const auto list = gpg(home, {"--with-colons", "--list-keys", home.fingerprint()});
  ASSERT_TRUE(list.ok()) << list.describe();
  std::string subkey;
  for (const std::string& line : ocipipe::testing::lines_of(list.out)) {
    if (line.rfind("fpr:", 0) != 0) continue;
    const std::string fpr = line.substr(12, 40);
    if (fpr != home.fingerprint()) subkey = fpr;
  }
  ASSERT_EQ(subkey.size(), 40u) << list.out;
  // The exported keyring now carries the subkey too.
  temp_dir dir;
  ASSERT_TRUE(gpg(home, {"--output", dir.sub("pub.gpg"), "--export", home.fingerprint()}).ok());

  auto sig = gpg_sign(kPayload, subkey + "!", "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  const gpg_verdict v = verify_or_fail(*sig, {read_bytes(dir.sub("pub.gpg"))});
  EXPECT_EQ(v.status, kind::valid) << v.message;
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, DefaultHomeIsGnupghome) {
  gpg_home home;
  scoped_env env("GNUPGHOME", home.dir());
  auto sig = gpg_sign(kPayload, home.fingerprint(), "");
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_EQ(verify_or_fail(*sig, {read_bytes(home.public_keyring())}).status, kind::valid);
}

TEST(GpgSigning, VerifyLeavesTheUsersKeyringAndTmpdirAlone) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  temp_dir user_home("uh"), tmp("tmp");
  const auto before = names_in(home.dir());
  {
    scoped_env gnupghome("GNUPGHOME", user_home.path());
    scoped_env tmpdir("TMPDIR", tmp.path());
    const gpg_verdict v = verify_or_fail(*sig, {read_bytes(home.public_keyring())});
    EXPECT_EQ(v.status, kind::valid) << v.message;
    const gpg_verdict unknown = verify_or_fail(*sig, {});
    EXPECT_EQ(unknown.status, kind::unknown_key) << unknown.message;
  }
  EXPECT_TRUE(names_in(user_home.path()).empty());
  // The temporary GnuPG homes were made under $TMPDIR and are gone again.
  EXPECT_TRUE(names_in(tmp.path()).empty()) << names_in(tmp.path()).front();
  // The signer's own home is not changed either (no key imported there).
  EXPECT_EQ(names_in(home.dir()), before);
}

TEST(GpgSigning, VerificationsRunAtOnce) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  const std::string keyring = read_bytes(home.public_keyring());
  std::vector<std::thread> threads;
  std::vector<kind> verdicts(3, kind::malformed);
  for (std::size_t t = 0; t < verdicts.size(); ++t) {
    threads.emplace_back([&, t] {
      auto v = gpg_verify(*sig, {keyring});
      if (v) verdicts[t] = v->status;
    });
  }
  for (auto& th : threads) th.join();
  for (const kind k : verdicts) EXPECT_EQ(k, kind::valid);
}

}  // namespace
}  // namespace ocipipe
