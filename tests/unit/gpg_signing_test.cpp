// io/gpg_signing: simple-signing signatures through gpgme, with real keys
// made by gpg in temporary GnuPG homes (tests/support/gpg_fixture.h), and
// the gpg CLI as the independent judge.
#include <gtest/gtest.h>

#include <cctype>
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
  ASSERT_FALSE(sig->signature.empty());
  EXPECT_NE(static_cast<unsigned char>(sig->signature[0]) & 0x80, 0) << "armored output";
  EXPECT_FALSE(contains(sig->signature, "-----BEGIN PGP"));

  for (const std::string& keyring : {home.public_keyring(), home.public_keyring_armored()}) {
    SCOPED_TRACE(keyring);
    const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(keyring)});
    EXPECT_EQ(v.status, kind::valid) << v.message;
    EXPECT_EQ(v.payload, kPayload);
    EXPECT_EQ(v.key_fingerprint, home.fingerprint());
  }
  // Among other keys, it is still found.
  gpg_home other("other <other@ocipipe.invalid>");
  const gpg_verdict v =
      verify_or_fail(sig->signature, {read_bytes(other.public_keyring()), read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, GpgItselfReadsOurSignedMessage) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  temp_dir dir;
  write_bytes(dir.sub("sig"), sig->signature);
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

TEST(GpgSigning, KeyOfAnotherHomeIsUnknownKeyNamedByItsFingerprintForEd25519AndRsa) {
  gpg_home stranger("stranger <stranger@ocipipe.invalid>");
  const std::string keyring = read_bytes(stranger.public_keyring());
  for (const char* algorithm : {"ed25519", "rsa2048"}) {
    SCOPED_TRACE(algorithm);
    ocipipe::testing::gpg_key_spec spec;
    spec.algorithm = algorithm;
    gpg_home signer(spec);
    auto sig = gpg_sign(kPayload, signer.fingerprint(), "", signer.dir());
    ASSERT_TRUE(sig) << sig.error().message();
    const gpg_verdict v = verify_or_fail(sig->signature, {keyring});
    EXPECT_EQ(v.status, kind::unknown_key) << v.message;
    // The signature carries its key's fingerprint (issuer fingerprint):
    // that is what a user looks for in their keyring.
    EXPECT_EQ(v.key_fingerprint, signer.fingerprint());
    EXPECT_EQ(v.message, "signed by unknown key " + signer.fingerprint() + ", not among the keys given");
  }
}

TEST(GpgSigning, RevokedKeyIsUnusableKeyNamedRevokedAndSignRefusesIt) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  home.revoke();
  for (const std::string& keyring : {home.public_keyring(), home.public_keyring_armored()}) {
    SCOPED_TRACE(keyring);
    const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(keyring)});
    EXPECT_EQ(v.status, kind::unusable_key) << v.message;
    EXPECT_EQ(v.message, "key " + home.fingerprint() + " revoked");
    EXPECT_EQ(v.key_fingerprint, home.fingerprint());
    EXPECT_EQ(v.payload, kPayload);
  }
  auto again = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::invalid_argument) << again.error().message();
  EXPECT_TRUE(contains(again.error().message(), "revoked")) << again.error().message();
}

// A key made on 2020-01-01 that expired a day later; signatures made by
// the gpg CLI back then (--faked-system-time), checked now.
ocipipe::testing::gpg_key_spec made_in_2020(const std::string& expires) {
  ocipipe::testing::gpg_key_spec spec;
  spec.made_at = "20200101T000000";
  spec.expires = expires;
  return spec;
}

std::string sign_in_2020(const gpg_home& home, const std::string& key, std::vector<std::string> extra = {}) {
  temp_dir dir;
  write_bytes(dir.sub("payload"), kPayload);
  std::vector<std::string> args = {"--faked-system-time", "20200101T120000!", "--local-user", key};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--output", dir.sub("sig"), "--sign", dir.sub("payload")});
  const auto r = gpg(home, args);
  EXPECT_TRUE(r.ok()) << r.describe();
  return r.ok() ? read_bytes(dir.sub("sig")) : std::string();
}

TEST(GpgSigning, ExpiredKeyIsUnusableKeyNamedExpiredWithTheDateAndSignRefusesIt) {
  gpg_home home(made_in_2020("1d"));
  const std::string sig = sign_in_2020(home, home.fingerprint());
  ASSERT_FALSE(sig.empty());
  const gpg_verdict v = verify_or_fail(sig, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::unusable_key) << v.message;
  EXPECT_EQ(v.message, "key " + home.fingerprint() + " expired on 2020-01-02");
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
  EXPECT_EQ(v.payload, kPayload);

  auto again = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::invalid_argument) << again.error().message();
  EXPECT_TRUE(contains(again.error().message(), "expired on 2020-01-02")) << again.error().message();
}

TEST(GpgSigning, ExpiredSigningSubkeyIsNamedWithItsPrimaryKey) {
  gpg_home home(made_in_2020("never"));
  const std::string subkey = home.add_signing_subkey("1d", "20200101T010000");
  const std::string sig = sign_in_2020(home, subkey + "!");
  ASSERT_FALSE(sig.empty());
  const gpg_verdict v = verify_or_fail(sig, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::unusable_key) << v.message;
  EXPECT_EQ(v.message, "signing subkey " + subkey + " of key " + home.fingerprint() + " expired on 2020-01-02");
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());

  // Told to use that subkey, gpg_sign refuses; the primary key still signs.
  auto by_subkey = gpg_sign(kPayload, subkey + "!", "", home.dir());
  ASSERT_FALSE(by_subkey);
  EXPECT_EQ(by_subkey.error().code(), errc::invalid_argument) << by_subkey.error().message();
  EXPECT_TRUE(contains(by_subkey.error().message(), "signing subkey " + subkey + " expired on 2020-01-02"))
      << by_subkey.error().message();
  auto by_primary = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(by_primary) << by_primary.error().message();
  EXPECT_EQ(by_primary->key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, ExpiredSignatureIsUnusableKeyNamedExpired) {
  gpg_home home(made_in_2020("never"));
  const std::string sig = sign_in_2020(home, home.fingerprint(), {"--default-sig-expire", "1d"});
  ASSERT_FALSE(sig.empty());
  const gpg_verdict v = verify_or_fail(sig, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::unusable_key) << v.message;
  EXPECT_EQ(v.message, "signature by key " + home.fingerprint() + " expired on 2020-01-02");
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
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
  const std::size_t n = sig->signature.size();
  for (const std::size_t pos : {n / 4, n / 2, n - 20, n - 8}) {
    SCOPED_TRACE(pos);
    std::string altered = sig->signature;
    altered[pos] = static_cast<char>(altered[pos] ^ 0x20);
    const gpg_verdict v = verify_or_fail(altered, {keyring});
    EXPECT_TRUE(v.status == kind::bad || v.status == kind::malformed) << static_cast<int>(v.status) << v.message;
  }
  // Cut short.
  const gpg_verdict v = verify_or_fail(sig->signature.substr(0, sig->signature.size() / 2), {keyring});
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
  auto v = gpg_verify(sig->signature, {read_bytes(home.public_keyring()), "not a keyring"});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), errc::malformed) << v.error().message();
  EXPECT_TRUE(contains(v.error().message(), "keyring 2")) << v.error().message();
}

TEST(GpgSigning, KeyringErrorsKeepTheIndexAndSayWhatTheFileIs) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  temp_dir dir;
  write_bytes(dir.sub("payload"), kPayload);
  ASSERT_TRUE(gpg(home, {"--armor", "--local-user", home.fingerprint(), "--output", dir.sub("detached.asc"),
                         "--detach-sign", dir.sub("payload")})
                  .ok());
  const struct {
    const char* name;
    std::string bytes;
    std::string message;  // the whole error, or its start
  } cases[] = {
      {"a keybox", read_bytes(home.keybox()),
       "keyring 2: a GnuPG keybox, not a keyring: export the key with `gpg --export KEYID > FILE`"},
      {"the trust database", read_bytes(home.dir() + "/trustdb.gpg"),
       "keyring 2: a GnuPG trust database (trustdb.gpg), not a keyring"},
      {"empty", "", "keyring 2: empty, no OpenPGP key in it"},
      {"a PEM public key",
       "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
       "keyring 2: a PEM PUBLIC KEY, not an OpenPGP key"},
      {"the signature", sig->signature, "keyring 2: an OpenPGP signed or compressed message, not a key"},
      {"an armored signature", read_bytes(dir.sub("detached.asc")),
       "keyring 2: an armored OpenPGP SIGNATURE, not a key"},
      {"text", "not a keyring", "keyring 2: holds no OpenPGP key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto v = gpg_verify(sig->signature, {read_bytes(home.public_keyring()), c.bytes});
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code(), errc::malformed) << v.error().message();
    EXPECT_EQ(v.error().message().rfind(c.message, 0), 0u) << v.error().message();
  }
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
  const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
}

TEST(GpgSigning, PassphraseKeyWithoutPassphraseSaysOneIsNeeded) {
  gpg_home home("locked <locked@ocipipe.invalid>", "open sesame");
  auto none = gpg_sign(kPayload, home.fingerprint(), "", home.dir());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::permission_denied) << none.error().message();
  EXPECT_TRUE(contains(none.error().message(), "the key needs a passphrase: give --passphrase-file"))
      << none.error().message();
  EXPECT_FALSE(contains(none.error().message(), "bad passphrase")) << none.error().message();
  auto sig = gpg_sign(kPayload, home.fingerprint(), "open sesame", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
}

TEST(GpgSigning, UnknownSigningKeyIsNotFoundNamingTheGnupgHome) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, "0123456789ABCDEF0123456789ABCDEF01234567", "", home.dir());
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code(), errc::not_found) << sig.error().message();
  EXPECT_EQ(sig.error().message(), "no secret key \"0123456789ABCDEF0123456789ABCDEF01234567\" in the GnuPG home \"" +
                                       home.dir() + "\"");
  {
    // The default home ($GNUPGHOME) is named too.
    scoped_env env("GNUPGHOME", home.dir());
    auto by_default = gpg_sign(kPayload, "nobody@ocipipe.invalid", "");
    ASSERT_FALSE(by_default);
    EXPECT_TRUE(contains(by_default.error().message(), "in the GnuPG home \"" + home.dir() + "\""))
        << by_default.error().message();
  }
  // A home that is not there is named as such.
  auto nowhere = gpg_sign(kPayload, home.fingerprint(), "", home.dir() + "/missing");
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().code(), errc::not_found) << nowhere.error().message();
  EXPECT_EQ(nowhere.error().message(), "GnuPG home \"" + home.dir() + "/missing\" does not exist");
}

TEST(GpgSigning, PublicKeyWithoutItsSecretKeyIsNotFoundSayingSo) {
  gpg_home home, other("other <other@ocipipe.invalid>");
  ASSERT_TRUE(gpg(home, {"--import", other.public_keyring()}).ok());
  auto sig = gpg_sign(kPayload, "other@ocipipe.invalid", "", home.dir());
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code(), errc::not_found) << sig.error().message();
  EXPECT_TRUE(contains(sig.error().message(), "only its public key " + other.fingerprint())) << sig.error().message();
}

TEST(GpgSigning, SignNamesTheFingerprintOfTheKeyThatSignedNotTheNameGiven) {
  gpg_home home;
  auto sig = gpg_sign(kPayload, "test@ocipipe.invalid", "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_EQ(sig->key_fingerprint, home.fingerprint());
  std::string lower = home.fingerprint();
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto by_lowercase = gpg_sign(kPayload, lower, "", home.dir());
  ASSERT_TRUE(by_lowercase) << by_lowercase.error().message();
  EXPECT_EQ(by_lowercase->key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, ShortUserIdNamesTheKeyAsGpgTakesIt) {
  // gpgme_get_key refuses names under 8 characters; gpg takes them.
  gpg_home home("bob <bob@x.io>");
  for (const char* name : {"bob", "bob@x.io"}) {
    SCOPED_TRACE(name);
    auto sig = gpg_sign(kPayload, name, "", home.dir());
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_EQ(sig->key_fingerprint, home.fingerprint());
  }
}

TEST(GpgSigning, NameOfSeveralSecretKeysIsRefused) {
  gpg_home home("dup one <one@dup.invalid>");
  ASSERT_TRUE(gpg(home, {"--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key",
                         "dup two <two@dup.invalid>", "ed25519", "sign", "never"})
                  .ok());
  auto sig = gpg_sign(kPayload, "dup.invalid", "", home.dir());
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code(), errc::invalid_argument) << sig.error().message();
  EXPECT_EQ(sig.error().message(), "signing key \"dup.invalid\" names more than one secret key");
}

TEST(GpgSigning, SignatureBySubkeyNamesThePrimaryKey) {
  gpg_home home;
  const std::string subkey = home.add_signing_subkey();  // the exported keyring now carries it too
  auto sig = gpg_sign(kPayload, subkey + "!", "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_EQ(sig->key_fingerprint, subkey);  // gpgme names the (sub)key that signed
  const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::valid) << v.message;
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());
}

TEST(GpgSigning, RevokedSigningSubkeyIsNamedWithItsPrimaryKeyAndSignRefusesIt) {
  gpg_home home;
  const std::string subkey = home.add_signing_subkey();
  auto sig = gpg_sign(kPayload, subkey + "!", "", home.dir());
  ASSERT_TRUE(sig) << sig.error().message();
  home.revoke_subkey(subkey);
  const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(home.public_keyring())});
  EXPECT_EQ(v.status, kind::unusable_key) << v.message;
  EXPECT_EQ(v.message, "signing subkey " + subkey + " of key " + home.fingerprint() + " revoked");
  EXPECT_EQ(v.key_fingerprint, home.fingerprint());

  auto again = gpg_sign(kPayload, subkey + "!", "", home.dir());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::invalid_argument) << again.error().message();
  EXPECT_TRUE(contains(again.error().message(), "signing subkey " + subkey + " revoked")) << again.error().message();
}

TEST(GpgSigning, DefaultHomeIsGnupghome) {
  gpg_home home;
  scoped_env env("GNUPGHOME", home.dir());
  auto sig = gpg_sign(kPayload, home.fingerprint(), "");
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_EQ(verify_or_fail(sig->signature, {read_bytes(home.public_keyring())}).status, kind::valid);
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
    const gpg_verdict v = verify_or_fail(sig->signature, {read_bytes(home.public_keyring())});
    EXPECT_EQ(v.status, kind::valid) << v.message;
    const gpg_verdict unknown = verify_or_fail(sig->signature, {});
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
      auto v = gpg_verify(sig->signature, {keyring});
      if (v) verdicts[t] = v->status;
    });
  }
  for (auto& th : threads) th.join();
  for (const kind k : verdicts) EXPECT_EQ(k, kind::valid);
}

}  // namespace
}  // namespace ocipipe
