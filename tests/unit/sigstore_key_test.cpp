// stages/sigstore_key: ECDSA P-256 key pairs, cosign's encrypted key format
// and DER ECDSA-SHA256 signatures, judged by the openssl CLI and by a
// cosign-format key made in Python (python3-cryptography, hashlib, nacl).
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "stages/base64.h"
#include "stages/sigstore_key.h"
#include "tests/support/test_env.h"

namespace ocipipe {
namespace {

using ocipipe::testing::command_result;
using ocipipe::testing::contains;
using ocipipe::testing::read_bytes;
using ocipipe::testing::run_command;
using ocipipe::testing::temp_dir;
using ocipipe::testing::write_bytes;

constexpr std::string_view kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.example/app:1"},)"
    R"("image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},)"
    R"("type":"cosign container image signature"},"optional":null})";

command_result run(const std::vector<std::string>& argv) {
  ocipipe::testing::run_options opts;
  opts.timeout = std::chrono::seconds(60);
  return run_command(argv, opts);
}

// A key made by the openssl CLI: `genpkey` PKCS#8 PEM.
std::string openssl_key(const temp_dir& dir, const std::string& name, const std::vector<std::string>& genpkey_args) {
  const std::string path = dir.sub(name);
  std::vector<std::string> argv = {"openssl", "genpkey", "-out", path};
  argv.insert(argv.end(), genpkey_args.begin(), genpkey_args.end());
  const auto r = run(argv);
  EXPECT_TRUE(r.ok()) << r.describe();
  return path;
}

std::string openssl_pub(const temp_dir& dir, const std::string& key_path, const std::string& name) {
  const std::string path = dir.sub(name);
  const auto r = run({"openssl", "pkey", "-in", key_path, "-pubout", "-out", path});
  EXPECT_TRUE(r.ok()) << r.describe();
  return read_bytes(path);
}

std::string pem_of(const std::string& type, std::string_view der) {
  std::string b64 = base64_encode(der), out = "-----BEGIN " + type + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + type + "-----\n";
}

// A cosign encrypted key whose JSON body is `json`.
std::string cosign_pem(const std::string& json) { return pem_of("ENCRYPTED SIGSTORE PRIVATE KEY", json); }

std::string cosign_json(const std::string& n, const std::string& r, const std::string& p,
                        const std::string& kdf = "scrypt", const std::string& cipher = "nacl/secretbox",
                        const std::string& nonce = "2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik") {
  return R"({"kdf":{"name":")" + kdf + R"(","params":{"N":)" + n + R"(,"r":)" + r + R"(,"p":)" + p +
         R"(},"salt":"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g="},"cipher":{"name":")" + cipher +
         R"(","nonce":")" + nonce + R"("},"ciphertext":"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ=="})";
}

key_pair_pem plain_pair() {
  auto kp = generate_key_pair("");
  EXPECT_TRUE(kp) << kp.error().message();
  return kp ? *kp : key_pair_pem{};
}

TEST(SigstoreKey, EncryptedKeyPairRoundTripsSignsAndRefusesAWrongPassphrase) {
  auto kp = generate_key_pair("correct horse");
  ASSERT_TRUE(kp) << kp.error().message();
  EXPECT_TRUE(kp->private_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) << kp->private_pem;
  EXPECT_TRUE(kp->public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n")) << kp->public_pem;

  auto key = parse_private_key(kp->private_pem, "correct horse");
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(public_key_pem(*key), kp->public_pem);
  auto pub = parse_public_key(kp->public_pem);
  ASSERT_TRUE(pub) << pub.error().message();
  auto sig = sign_payload(*key, kPayload);
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_EQ(verify_payload(*pub, kPayload, *sig), key_verdict::valid);

  auto wrong = parse_private_key(kp->private_pem, "correct horsf");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), errc::permission_denied) << wrong.error().message();
  auto none = parse_private_key(kp->private_pem, "");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::permission_denied) << none.error().message();
}

TEST(SigstoreKey, EncryptedKeyIsAes256CbcWithPbkdf2HmacSha256AndOpensslReadsIt) {
  auto kp = generate_key_pair("pw");
  ASSERT_TRUE(kp) << kp.error().message();
  temp_dir dir;
  write_bytes(dir.sub("key.pem"), kp->private_pem);
  const auto asn1 = run({"openssl", "asn1parse", "-in", dir.sub("key.pem")});
  ASSERT_TRUE(asn1.ok()) << asn1.describe();
  EXPECT_TRUE(contains(asn1.out, "PBES2")) << asn1.out;
  EXPECT_TRUE(contains(asn1.out, "PBKDF2")) << asn1.out;
  EXPECT_TRUE(contains(asn1.out, "hmacWithSHA256")) << asn1.out;
  EXPECT_TRUE(contains(asn1.out, "aes-256-cbc")) << asn1.out;
  // openssl decrypts it with the passphrase and finds our public key.
  const auto pub = run({"openssl", "pkey", "-in", dir.sub("key.pem"), "-passin", "pass:pw", "-pubout"});
  ASSERT_TRUE(pub.ok()) << pub.describe();
  EXPECT_EQ(pub.out, kp->public_pem);
}

TEST(SigstoreKey, UnencryptedKeyIsPlainPkcs8) {
  const auto kp = plain_pair();
  EXPECT_TRUE(kp.private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << kp.private_pem;
  auto key = parse_private_key(kp.private_pem, "");
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(public_key_pem(*key), kp.public_pem);
}

TEST(SigstoreKey, SignatureByAnotherKeyIsMismatch) {
  const auto a = plain_pair(), b = plain_pair();
  auto key_a = parse_private_key(a.private_pem, "");
  auto pub_b = parse_public_key(b.public_pem);
  ASSERT_TRUE(key_a && pub_b);
  auto sig = sign_payload(*key_a, kPayload);
  ASSERT_TRUE(sig);
  EXPECT_EQ(verify_payload(*pub_b, kPayload, *sig), key_verdict::mismatch);
}

TEST(SigstoreKey, FlippedPayloadByteIsMismatch) {
  const auto kp = plain_pair();
  auto key = parse_private_key(kp.private_pem, "");
  auto pub = parse_public_key(kp.public_pem);
  ASSERT_TRUE(key && pub);
  auto sig = sign_payload(*key, kPayload);
  ASSERT_TRUE(sig);
  std::string altered(kPayload);
  altered[altered.size() / 2] ^= 0x01;
  EXPECT_EQ(verify_payload(*pub, altered, *sig), key_verdict::mismatch);
  EXPECT_EQ(verify_payload(*pub, std::string(kPayload) + " ", *sig), key_verdict::mismatch);
  EXPECT_EQ(verify_payload(*pub, kPayload, *sig), key_verdict::valid);
}

TEST(SigstoreKey, GarbageAndNonCanonicalSignaturesAreMalformed) {
  const auto kp = plain_pair();
  auto key = parse_private_key(kp.private_pem, "");
  auto pub = parse_public_key(kp.public_pem);
  ASSERT_TRUE(key && pub);
  auto sig = sign_payload(*key, kPayload);
  ASSERT_TRUE(sig);
  ASSERT_EQ(static_cast<unsigned char>((*sig)[0]), 0x30);  // SEQUENCE, short length
  EXPECT_EQ(verify_payload(*pub, kPayload, ""), key_verdict::malformed);
  EXPECT_EQ(verify_payload(*pub, kPayload, "garbage, not DER"), key_verdict::malformed);
  EXPECT_EQ(verify_payload(*pub, kPayload, sig->substr(0, sig->size() - 1)), key_verdict::malformed);
  EXPECT_EQ(verify_payload(*pub, kPayload, *sig + '\0'), key_verdict::malformed);
  // The same (r, s) with the length in long form: BER, not DER.
  const std::string ber = std::string("\x30\x81", 2) + sig->substr(1);
  EXPECT_EQ(verify_payload(*pub, kPayload, ber), key_verdict::malformed);
  // The base64 text instead of the bytes (a classic caller mistake).
  EXPECT_EQ(verify_payload(*pub, kPayload, base64_encode(*sig)), key_verdict::malformed);
}

TEST(SigstoreKey, OpensslVerifiesOurSignature) {
  const auto kp = plain_pair();
  auto key = parse_private_key(kp.private_pem, "");
  ASSERT_TRUE(key);
  auto sig = sign_payload(*key, kPayload);
  ASSERT_TRUE(sig);
  temp_dir dir;
  write_bytes(dir.sub("pub.pem"), kp.public_pem);
  write_bytes(dir.sub("payload"), std::string(kPayload));
  write_bytes(dir.sub("sig"), *sig);
  const auto ok = run({"openssl", "dgst", "-sha256", "-verify", dir.sub("pub.pem"), "-signature", dir.sub("sig"),
                       dir.sub("payload")});
  EXPECT_TRUE(ok.ok()) << ok.describe();
  EXPECT_TRUE(contains(ok.out, "Verified OK")) << ok.out;
  // The judge does fail on altered bytes (so its "OK" means something).
  write_bytes(dir.sub("payload"), std::string(kPayload) + "x");
  const auto bad = run({"openssl", "dgst", "-sha256", "-verify", dir.sub("pub.pem"), "-signature", dir.sub("sig"),
                        dir.sub("payload")});
  EXPECT_FALSE(bad.ok()) << bad.describe();
}

TEST(SigstoreKey, OpensslSignatureAndKeysAreAccepted) {
  temp_dir dir;
  const std::string key_path = openssl_key(dir, "key.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
  const std::string pub_pem = openssl_pub(dir, key_path, "pub.pem");
  write_bytes(dir.sub("payload"), std::string(kPayload));
  const auto signed_ =
      run({"openssl", "dgst", "-sha256", "-sign", key_path, "-out", dir.sub("sig"), dir.sub("payload")});
  ASSERT_TRUE(signed_.ok()) << signed_.describe();
  auto pub = parse_public_key(pub_pem);
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(verify_payload(*pub, kPayload, read_bytes(dir.sub("sig"))), key_verdict::valid);

  // openssl's private key, as PKCS#8, SEC1, legacy-encrypted SEC1 and
  // PKCS#8 encrypted by openssl: each parses to the same public key.
  auto pkcs8 = parse_private_key(read_bytes(key_path), "");
  ASSERT_TRUE(pkcs8) << pkcs8.error().message();
  EXPECT_EQ(public_key_pem(*pkcs8), pub_pem);
  ASSERT_TRUE(run({"openssl", "ec", "-in", key_path, "-out", dir.sub("sec1.pem")}).ok());
  const std::string sec1 = read_bytes(dir.sub("sec1.pem"));
  ASSERT_TRUE(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----")) << sec1;
  auto from_sec1 = parse_private_key(sec1, "");
  ASSERT_TRUE(from_sec1) << from_sec1.error().message();
  EXPECT_EQ(public_key_pem(*from_sec1), pub_pem);

  ASSERT_TRUE(run({"openssl", "ec", "-in", key_path, "-aes256", "-passout", "pass:s3cret", "-out",
                   dir.sub("sec1-enc.pem")})
                  .ok());
  auto enc = parse_private_key(read_bytes(dir.sub("sec1-enc.pem")), "s3cret");
  ASSERT_TRUE(enc) << enc.error().message();
  EXPECT_EQ(public_key_pem(*enc), pub_pem);
  auto enc_wrong = parse_private_key(read_bytes(dir.sub("sec1-enc.pem")), "s3creT");
  ASSERT_FALSE(enc_wrong);
  EXPECT_EQ(enc_wrong.error().code(), errc::permission_denied) << enc_wrong.error().message();

  ASSERT_TRUE(run({"openssl", "pkcs8", "-topk8", "-in", key_path, "-v2", "aes-128-cbc", "-iter", "1000", "-passout",
                   "pass:s3cret", "-out", dir.sub("p8-enc.pem")})
                  .ok());
  auto p8 = parse_private_key(read_bytes(dir.sub("p8-enc.pem")), "s3cret");
  ASSERT_TRUE(p8) << p8.error().message();
  EXPECT_EQ(public_key_pem(*p8), pub_pem);
  auto p8_wrong = parse_private_key(read_bytes(dir.sub("p8-enc.pem")), "nope");
  ASSERT_FALSE(p8_wrong);
  EXPECT_EQ(p8_wrong.error().code(), errc::permission_denied) << p8_wrong.error().message();
}

TEST(SigstoreKey, KeysOtherThanP256AreUnsupported) {
  temp_dir dir;
  const struct {
    const char* name;
    std::vector<std::string> args;
  } cases[] = {
      {"p384.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"}},
      {"k256.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}},
      {"ed25519.pem", {"-algorithm", "ED25519"}},
      {"rsa.pem", {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string key_path = openssl_key(dir, c.name, c.args);
    auto priv = parse_private_key(read_bytes(key_path), "");
    ASSERT_FALSE(priv);
    EXPECT_EQ(priv.error().code(), errc::unsupported) << priv.error().message();
    auto pub = parse_public_key(openssl_pub(dir, key_path, std::string(c.name) + ".pub"));
    ASSERT_FALSE(pub);
    EXPECT_EQ(pub.error().code(), errc::unsupported) << pub.error().message();
  }
  auto rsa_pkcs1 = parse_private_key(pem_of("RSA PRIVATE KEY", "\x30\x00"), "");
  ASSERT_FALSE(rsa_pkcs1);
  EXPECT_EQ(rsa_pkcs1.error().code(), errc::unsupported) << rsa_pkcs1.error().message();
}

TEST(SigstoreKey, NotAKeyIsMalformed) {
  const auto kp = plain_pair();
  const struct {
    const char* name;
    std::string pem;
  } cases[] = {
      {"empty", ""},
      {"text", "hello\n"},
      {"certificate type", pem_of("CERTIFICATE", "\x30\x00")},
      {"bad DER", pem_of("PRIVATE KEY", "not DER")},
      {"bad SEC1", pem_of("EC PRIVATE KEY", "\x30\x03\x02\x01\x01")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto priv = parse_private_key(c.pem, "");
    ASSERT_FALSE(priv);
    EXPECT_EQ(priv.error().code(), errc::malformed) << priv.error().message();
  }
  // A public key given where a private one belongs, and the other way round.
  auto priv = parse_private_key(kp.public_pem, "");
  ASSERT_FALSE(priv);
  EXPECT_EQ(priv.error().code(), errc::malformed) << priv.error().message();
  auto pub = parse_public_key(kp.private_pem);
  ASSERT_FALSE(pub);
  EXPECT_EQ(pub.error().code(), errc::malformed) << pub.error().message();
  auto empty = parse_public_key("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), errc::malformed);
}

TEST(SigstoreKey, PrivateKeyWithAForeignPublicHalfIsMalformed) {
  // SEC1 ends with [1] BIT STRING holding the 65-byte public point; put
  // another key's point there.
  temp_dir dir;
  const std::string a = openssl_key(dir, "a.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
  const std::string b = openssl_key(dir, "b.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
  ASSERT_TRUE(run({"openssl", "ec", "-in", a, "-outform", "DER", "-out", dir.sub("a.der")}).ok());
  ASSERT_TRUE(run({"openssl", "ec", "-in", b, "-outform", "DER", "-out", dir.sub("b.der")}).ok());
  std::string der_a = read_bytes(dir.sub("a.der"));
  const std::string der_b = read_bytes(dir.sub("b.der"));
  ASSERT_GT(der_a.size(), 65u);
  ASSERT_EQ(der_a.size(), der_b.size());
  der_a.replace(der_a.size() - 65, 65, der_b.substr(der_b.size() - 65));
  auto k = parse_private_key(pem_of("EC PRIVATE KEY", der_a), "");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), errc::malformed) << k.error().message();
}

TEST(SigstoreKey, PublicKeyIdIsSha256OfItsDer) {
  const auto kp = plain_pair();
  auto pub = parse_public_key(kp.public_pem);
  ASSERT_TRUE(pub);
  temp_dir dir;
  write_bytes(dir.sub("pub.pem"), kp.public_pem);
  ASSERT_TRUE(run({"openssl", "pkey", "-pubin", "-in", dir.sub("pub.pem"), "-outform", "DER", "-out",
                   dir.sub("pub.der")})
                  .ok());
  const auto dgst = run({"openssl", "dgst", "-sha256", "-r", dir.sub("pub.der")});
  ASSERT_TRUE(dgst.ok()) << dgst.describe();
  EXPECT_EQ(pub->id(), "sha256:" + dgst.out.substr(0, 64));
}

// Python makes the key: python3-cryptography (P-256, PKCS#8), hashlib's
// scrypt and nacl's secretbox, independent of our libsodium calls but for
// the secretbox itself.
TEST(SigstoreKey, CosignEncryptedKeysFromPythonParseAndSign) {
  temp_dir dir;
  const std::string script = ocipipe::testing::source_dir() + "/tests/support/make_cosign_key.py";
  for (const char* type : {"SIGSTORE", "COSIGN"}) {
    SCOPED_TRACE(type);
    const std::string key_path = dir.sub(std::string(type) + ".key"), pub_path = dir.sub(std::string(type) + ".pub");
    const auto made = run({"/usr/bin/python3", script, key_path, pub_path, "pässphrase", "--pem-type", type, "--n",
                           type == std::string("COSIGN") ? "16384" : "32768"});
    ASSERT_TRUE(made.ok()) << made.describe();
    const std::string pem = read_bytes(key_path);
    ASSERT_TRUE(pem.starts_with("-----BEGIN ENCRYPTED " + std::string(type) + " PRIVATE KEY-----")) << pem;

    auto key = parse_private_key(pem, "pässphrase");
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(public_key_pem(*key), read_bytes(pub_path));
    auto pub = parse_public_key(read_bytes(pub_path));
    ASSERT_TRUE(pub) << pub.error().message();
    auto sig = sign_payload(*key, kPayload);
    ASSERT_TRUE(sig);
    EXPECT_EQ(verify_payload(*pub, kPayload, *sig), key_verdict::valid);

    auto wrong = parse_private_key(pem, "passphrase");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), errc::permission_denied) << wrong.error().message();
  }
}

TEST(SigstoreKey, CosignKeyHoldingAnotherKeyTypeIsUnsupported) {
  temp_dir dir;
  const std::string p384 = openssl_key(dir, "p384.pem", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"});
  const std::string script = ocipipe::testing::source_dir() + "/tests/support/make_cosign_key.py";
  const auto made = run({"/usr/bin/python3", script, dir.sub("k"), dir.sub("k.pub"), "pw", "--n", "1024",
                         "--from-pem", p384});
  ASSERT_TRUE(made.ok()) << made.describe();
  auto key = parse_private_key(read_bytes(dir.sub("k")), "pw");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), errc::unsupported) << key.error().message();
}

// go-securesystemslib's own test vector (encrypted/encrypted_test.go,
// TestDecrypt): passphrase "supersecret", plaintext "reallyimportant". Our
// scrypt + secretbox must open it; the plaintext is no key, so the answer
// is `malformed` (decrypted, then refused), never `permission_denied`.
TEST(SigstoreKey, GoSecuresystemslibVectorDecrypts) {
  const std::string pem = cosign_pem(cosign_json("32768", "8", "1"));
  auto right = parse_private_key(pem, "supersecret");
  ASSERT_FALSE(right);
  EXPECT_EQ(right.error().code(), errc::malformed) << right.error().message();
  EXPECT_TRUE(contains(right.error().message(), "PKCS#8")) << right.error().message();
  auto wrong = parse_private_key(pem, "supersecreT");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), errc::permission_denied) << wrong.error().message();
}

TEST(SigstoreKey, CostlyOrBrokenCosignKeysAreRefusedBeforeAnyWork) {
  const struct {
    const char* name;
    std::string json;
    errc code;
  } cases[] = {
      {"N 2^30", cosign_json("1073741824", "8", "1"), errc::resource_exhausted},
      {"N 2^21", cosign_json("2097152", "1", "1"), errc::resource_exhausted},
      {"1 GiB of memory", cosign_json("1048576", "8", "1"), errc::resource_exhausted},
      {"r huge", cosign_json("1024", "1073741823", "1"), errc::resource_exhausted},
      {"p huge", cosign_json("16384", "8", "4294967295"), errc::resource_exhausted},
      {"N*r*p too much work", cosign_json("131072", "8", "16"), errc::resource_exhausted},
      {"N beyond 64 bits", cosign_json("18446744073709551616", "8", "1"), errc::malformed},
      {"N not a power of two", cosign_json("32767", "8", "1"), errc::malformed},
      {"N zero", cosign_json("0", "8", "1"), errc::malformed},
      {"N negative", cosign_json("-32768", "8", "1"), errc::malformed},
      {"N a float", cosign_json("32768.5", "8", "1"), errc::malformed},
      {"r zero", cosign_json("32768", "0", "1"), errc::malformed},
      {"N a string", cosign_json("\"32768\"", "8", "1"), errc::malformed},
      {"another kdf", cosign_json("32768", "8", "1", "argon2id"), errc::unsupported},
      {"another cipher", cosign_json("32768", "8", "1", "scrypt", "aes-256-gcm"), errc::unsupported},
      {"short nonce", cosign_json("32768", "8", "1", "scrypt", "nacl/secretbox", "AAAA"), errc::malformed},
      {"nonce not base64", cosign_json("32768", "8", "1", "scrypt", "nacl/secretbox", "!!!!"), errc::malformed},
      {"not JSON", "{\"kdf\":", errc::malformed},
      {"JSON array", "[]", errc::malformed},
      {"no kdf", R"({"cipher":{},"ciphertext":""})", errc::malformed},
      {"ciphertext shorter than its tag",
       R"({"kdf":{"name":"scrypt","params":{"N":1024,"r":8,"p":1},"salt":""},)"
       R"("cipher":{"name":"nacl/secretbox","nonce":"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik"},"ciphertext":"AAAA"})",
       errc::malformed},
  };
  const auto start = std::chrono::steady_clock::now();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto k = parse_private_key(cosign_pem(c.json), "supersecret");
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code(), c.code) << k.error().message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// An "ENCRYPTED PRIVATE KEY" asking for 2^31-1 PBKDF2 rounds (minutes of
// CPU) is refused from its parameters; made here without encrypting
// anything, as nobody would wait for openssl to make one.
TEST(SigstoreKey, Pkcs8WithHugeIterationCountIsRefusedBeforeAnyWork) {
  X509_ALGOR* alg = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), 0x7fffffff, nullptr, 0, nullptr, NID_hmacWithSHA256,
                                         nullptr);
  ASSERT_NE(alg, nullptr);
  X509_SIG* p8 = X509_SIG_new();
  ASSERT_NE(p8, nullptr);
  X509_ALGOR* slot = nullptr;
  ASN1_OCTET_STRING* digest = nullptr;
  X509_SIG_getm(p8, &slot, &digest);
  ASSERT_EQ(X509_ALGOR_copy(slot, alg), 1);
  unsigned char body[48];
  ASSERT_EQ(RAND_bytes(body, sizeof body), 1);
  ASSERT_EQ(ASN1_OCTET_STRING_set(digest, body, sizeof body), 1);
  unsigned char* der = nullptr;
  const int len = i2d_X509_SIG(p8, &der);
  ASSERT_GT(len, 0);
  const std::string pem = pem_of("ENCRYPTED PRIVATE KEY", std::string(reinterpret_cast<char*>(der), len));
  OPENSSL_free(der);
  X509_SIG_free(p8);
  X509_ALGOR_free(alg);

  const auto start = std::chrono::steady_clock::now();
  auto k = parse_private_key(pem, "pw");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), errc::resource_exhausted) << k.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(SigstoreKey, KeysAndSignaturesWorkAcrossThreads) {
  const auto kp = plain_pair();
  auto key = parse_private_key(kp.private_pem, "");
  auto pub = parse_public_key(kp.public_pem);
  ASSERT_TRUE(key && pub);
  std::vector<std::thread> threads;
  std::atomic<int> valid{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string payload = std::string(kPayload) + std::to_string(t * 100 + i);
        auto sig = sign_payload(*key, payload);
        if (sig && verify_payload(*pub, payload, *sig) == key_verdict::valid) ++valid;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(valid.load(), 80);
}

}  // namespace
}  // namespace ocipipe
