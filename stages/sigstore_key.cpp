#include "stages/sigstore_key.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "stages/base64.h"

namespace ocipipe {

struct signing_key::handle {
  EVP_PKEY* pkey;
  explicit handle(EVP_PKEY* k) : pkey(k) {}
  ~handle() { EVP_PKEY_free(pkey); }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
};

struct public_key::handle {
  EVP_PKEY* pkey;
  explicit handle(EVP_PKEY* k) : pkey(k) {}
  ~handle() { EVP_PKEY_free(pkey); }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
};

namespace {

// PBKDF2-HMAC-SHA256 rounds for the keys we write: OWASP's 2023 figure,
// about as slow to guess as cosign's scrypt N=32768.
constexpr int kPbkdf2Iterations = 600000;
// A hostile PKCS#8 file could ask for billions of rounds (minutes of CPU).
constexpr std::uint64_t kMaxPbkdf2Iterations = 10'000'000;
// scrypt: cosign writes N=32768 r=8 p=1 (32 MiB); go-securesystemslib's
// strongest preset is N=131072 (128 MiB). A hostile file must not make us
// allocate gigabytes or spin for minutes.
constexpr std::uint64_t kMaxScryptN = std::uint64_t{1} << 20;
constexpr std::uint64_t kMaxScryptMemory = std::uint64_t{256} << 20;  // 128*N*r bytes
constexpr std::uint64_t kMaxScryptWork = std::uint64_t{1} << 23;      // N*r*p
constexpr std::size_t kMaxPemBytes = 1 << 20;

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct x509_sig_free {
  void operator()(X509_SIG* s) const { X509_SIG_free(s); }
};
struct p8inf_free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
struct ecdsa_sig_free {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct openssl_free {
  void operator()(void* p) const { OPENSSL_free(p); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// OpenSSL reports failures on a per-thread queue; leaving entries there
// would leak into the next, unrelated OpenSSL call of this thread.
struct clear_openssl_errors {
  clear_openssl_errors() = default;
  clear_openssl_errors(const clear_openssl_errors&) = delete;
  clear_openssl_errors& operator=(const clear_openssl_errors&) = delete;
  ~clear_openssl_errors() { ERR_clear_error(); }
};

// The most recent OpenSSL reason, for `internal` messages.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  if (e == 0) return "unknown OpenSSL failure";
  const char* r = ERR_reason_error_string(e);
  return r ? std::string(r) : "OpenSSL error " + std::to_string(e);
}

// Secrets (derived keys, decrypted DER) are wiped before their memory is
// given back.
struct secret_bytes {
  std::vector<unsigned char> bytes;
  explicit secret_bytes(std::size_t n) : bytes(n) {}
  ~secret_bytes() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
};

struct pem_block {
  std::string name;
  std::string header;
  std::string der;
};

// The first PEM block of `text`, any type.
result<pem_block> read_pem(std::string_view text, std::string_view what) {
  if (text.size() > kMaxPemBytes) {
    return fail(errc::malformed, std::string(what) + ": larger than " + std::to_string(kMaxPemBytes) + " bytes");
  }
  bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return fail(errc::internal, std::string(what) + ": " + openssl_reason());
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    return fail(errc::malformed, std::string(what) + ": no PEM block");
  }
  std::unique_ptr<char, openssl_free> n(name), h(header);
  std::unique_ptr<unsigned char, openssl_free> d(data);
  pem_block b{name, header, std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len))};
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return b;
}

// Only ECDSA over P-256 (cosign's default; what sigstore's simple signing
// and skopeo's sigstore keys use).
result<void> require_p256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
    const char* t = EVP_PKEY_get0_type_name(k);
    return fail(errc::unsupported,
                std::string("key type ") + (t ? t : "unknown") + ": only ECDSA P-256 keys are supported");
  }
  char group[80] = {};
  std::size_t glen = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) != 1) {
    return fail(errc::unsupported, "EC key without a named curve: only ECDSA P-256 keys are supported");
  }
  if (std::string_view(group, glen) != SN_X9_62_prime256v1) {
    return fail(errc::unsupported,
                "curve " + std::string(group, glen) + ": only ECDSA P-256 (prime256v1) keys are supported");
  }
  return {};
}

// A private key read from bytes must be a consistent pair: a forged public
// half would make our signatures fail to verify with the key we print.
result<signing_key> accept_private(pkey_ptr k) {
  OCIPIPE_TRY(require_p256(k.get()));
  std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  if (!ctx) return fail(errc::internal, "private key check: " + openssl_reason());
  if (EVP_PKEY_check(ctx.get()) != 1) return fail(errc::malformed, "private key: inconsistent EC key");
  return signing_key(std::make_shared<const signing_key::handle>(k.release()));
}

// PKCS#8 PrivateKeyInfo (decrypted) to a key.
result<signing_key> from_pkcs8(const PKCS8_PRIV_KEY_INFO* p8inf) {
  const ASN1_OBJECT* alg = nullptr;
  if (PKCS8_pkey_get0(&alg, nullptr, nullptr, nullptr, p8inf) != 1) {
    return fail(errc::malformed, "private key: bad PKCS#8 structure");
  }
  if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey) {
    char name[80] = {};
    OBJ_obj2txt(name, sizeof name, alg, 0);
    return fail(errc::unsupported, std::string("key type ") + name + ": only ECDSA P-256 keys are supported");
  }
  pkey_ptr k(EVP_PKCS82PKEY(p8inf));
  if (!k) return fail(errc::malformed, "private key: bad PKCS#8 EC key: " + openssl_reason());
  return accept_private(std::move(k));
}

result<signing_key> from_pkcs8_der(const unsigned char* der, std::size_t len) {
  if (len > LONG_MAX) return fail(errc::malformed, "private key: too large");
  const unsigned char* p = der;
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, p8inf_free> p8inf(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(len)));
  if (!p8inf || p != der + len) return fail(errc::malformed, "private key: not a PKCS#8 PrivateKeyInfo");
  return from_pkcs8(p8inf.get());
}

// The cost PBKDF2 (PBES2) or PBES1 asks of us, checked before we pay it.
result<void> check_pbe_cost(const X509_SIG* p8) {
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(p8, &alg, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  if (ptype != V_ASN1_SEQUENCE) return fail(errc::malformed, "encrypted private key: bad encryption parameters");
  const auto* params = static_cast<const ASN1_STRING*>(pval);
  long iterations = -1;
  if (OBJ_obj2nid(oid) == NID_pbes2) {
    std::unique_ptr<PBE2PARAM, void (*)(PBE2PARAM*)> pbe2(
        static_cast<PBE2PARAM*>(ASN1_item_unpack(params, ASN1_ITEM_rptr(PBE2PARAM))), PBE2PARAM_free);
    if (!pbe2) return fail(errc::malformed, "encrypted private key: bad PBES2 parameters");
    const ASN1_OBJECT* kdf_oid = nullptr;
    int kdf_ptype = 0;
    const void* kdf_pval = nullptr;
    X509_ALGOR_get0(&kdf_oid, &kdf_ptype, &kdf_pval, pbe2->keyfunc);
    const int kdf = OBJ_obj2nid(kdf_oid);
    if (kdf == NID_id_scrypt) return {};  // OpenSSL bounds scrypt's memory itself (32 MiB)
    if (kdf != NID_id_pbkdf2) {
      return fail(errc::unsupported, "encrypted private key: key derivation other than PBKDF2 or scrypt");
    }
    if (kdf_ptype != V_ASN1_SEQUENCE) return fail(errc::malformed, "encrypted private key: bad PBKDF2 parameters");
    std::unique_ptr<PBKDF2PARAM, void (*)(PBKDF2PARAM*)> kdp(
        static_cast<PBKDF2PARAM*>(
            ASN1_item_unpack(static_cast<const ASN1_STRING*>(kdf_pval), ASN1_ITEM_rptr(PBKDF2PARAM))),
        PBKDF2PARAM_free);
    if (!kdp) return fail(errc::malformed, "encrypted private key: bad PBKDF2 parameters");
    iterations = ASN1_INTEGER_get(kdp->iter);
  } else {
    // PBES1 and PKCS#12 schemes: PBEPARAM {salt, iter}.
    std::unique_ptr<PBEPARAM, void (*)(PBEPARAM*)> pbe(
        static_cast<PBEPARAM*>(ASN1_item_unpack(params, ASN1_ITEM_rptr(PBEPARAM))), PBEPARAM_free);
    if (!pbe) return fail(errc::unsupported, "encrypted private key: unknown encryption scheme");
    iterations = ASN1_INTEGER_get(pbe->iter);
  }
  if (iterations <= 0) return fail(errc::malformed, "encrypted private key: bad iteration count");
  if (static_cast<std::uint64_t>(iterations) > kMaxPbkdf2Iterations) {
    return fail(errc::resource_exhausted, "encrypted private key: " + std::to_string(iterations) +
                                              " key derivation rounds, more than the limit of " +
                                              std::to_string(kMaxPbkdf2Iterations));
  }
  return {};
}

// True when OpenSSL's queue says the scheme, rather than the passphrase,
// was the problem.
bool unsupported_scheme_reported() {
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    if (ERR_GET_LIB(e) != ERR_LIB_EVP) continue;
    switch (ERR_GET_REASON(e)) {
      case EVP_R_UNKNOWN_PBE_ALGORITHM:
      case EVP_R_UNSUPPORTED_CIPHER:
      case EVP_R_UNSUPPORTED_KEYLENGTH:
      case EVP_R_UNSUPPORTED_PRF:
      case EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION:
      case EVP_R_UNSUPPORTED_PRIVATE_KEY_ALGORITHM:
      case EVP_R_MEMORY_LIMIT_EXCEEDED:
        return true;
      default:
        break;
    }
  }
  return false;
}

std::string wrong_passphrase(std::string_view passphrase) {
  return passphrase.empty() ? "private key is encrypted: no passphrase given, or a wrong one"
                            : "private key: wrong passphrase";
}

result<signing_key> parse_encrypted_pkcs8(const std::string& der, std::string_view passphrase) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  std::unique_ptr<X509_SIG, x509_sig_free> p8(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!p8 || p != end) return fail(errc::malformed, "encrypted private key: not a PKCS#8 EncryptedPrivateKeyInfo");
  OCIPIPE_TRY(check_pbe_cost(p8.get()));
  if (passphrase.size() > INT_MAX) return fail(errc::invalid_argument, "passphrase too long");
  ERR_clear_error();
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, p8inf_free> p8inf(
      PKCS8_decrypt(p8.get(), passphrase.data() ? passphrase.data() : "", static_cast<int>(passphrase.size())));
  if (!p8inf) {
    if (unsupported_scheme_reported()) {
      return fail(errc::unsupported, "encrypted private key: unsupported encryption scheme");
    }
    // CBC padding rejects a wrong passphrase; the rare one that passes it
    // yields DER that fails to parse, reported here all the same.
    return fail(errc::permission_denied, wrong_passphrase(passphrase));
  }
  return from_pkcs8(p8inf.get());
}

int copy_passphrase(char* buf, int size, int /*rwflag*/, void* u) {
  const auto* pass = static_cast<const std::string_view*>(u);
  if (pass->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

// SEC1 "EC PRIVATE KEY", possibly with OpenSSL's legacy Proc-Type/DEK-Info
// encryption (`openssl ec -aes256`).
result<signing_key> parse_sec1(pem_block& b, std::string_view passphrase) {
  const bool encrypted = b.header.find("ENCRYPTED") != std::string::npos;
  if (encrypted) {
    EVP_CIPHER_INFO cipher{};
    if (PEM_get_EVP_CIPHER_INFO(b.header.data(), &cipher) != 1) {
      return fail(errc::unsupported, "EC private key: unsupported PEM encryption header");
    }
    long len = static_cast<long>(b.der.size());
    std::string_view pass = passphrase;
    if (PEM_do_header(&cipher, reinterpret_cast<unsigned char*>(b.der.data()), &len, copy_passphrase, &pass) != 1) {
      return fail(errc::permission_denied, wrong_passphrase(passphrase));
    }
    b.der.resize(static_cast<std::size_t>(len));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(b.der.data());
  const auto* end = p + b.der.size();
  pkey_ptr k(d2i_PrivateKey_ex(EVP_PKEY_EC, nullptr, &p, static_cast<long>(b.der.size()), nullptr, nullptr));
  OPENSSL_cleanse(b.der.data(), b.der.size());
  if (!k || p != end) {
    if (encrypted) return fail(errc::permission_denied, wrong_passphrase(passphrase));
    return fail(errc::malformed, "EC private key: not a SEC1 ECPrivateKey");
  }
  return accept_private(std::move(k));
}

// libsodium must be initialised once before use; a function-local static
// makes that thread-safe.
bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

result<std::uint64_t> json_unsigned(const nlohmann::json& obj, const char* key, std::string_view where) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) {
    return fail(errc::malformed, std::string(where) + ": " + key + " is not a non-negative integer");
  }
  return it->get<std::uint64_t>();
}

result<std::string> json_base64(const nlohmann::json& obj, const char* key, std::string_view where) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return fail(errc::malformed, std::string(where) + ": " + key + " missing");
  auto bytes = base64_decode(it->get_ref<const std::string&>());
  if (!bytes) return fail(errc::malformed, std::string(where) + ": " + key + " is not base64");
  return std::move(*bytes);
}

result<const nlohmann::json*> json_object(const nlohmann::json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) {
    return fail(errc::malformed, std::string("cosign private key: \"") + key + "\" is not an object");
  }
  return &*it;
}

// scrypt's cost as the file states it, bounded before anything is
// allocated: memory 128*N*r bytes, work N*r*p.
result<void> check_scrypt_cost(std::uint64_t n, std::uint64_t r, std::uint64_t p) {
  const std::string params =
      "scrypt N=" + std::to_string(n) + " r=" + std::to_string(r) + " p=" + std::to_string(p);
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0) {
    return fail(errc::malformed, "cosign private key: " + params + ": N must be a power of two, r and p positive");
  }
  const std::uint64_t mib = kMaxScryptMemory >> 20;
  const bool too_costly = n > kMaxScryptN || r > kMaxScryptWork || p > kMaxScryptWork ||
                          n * r > kMaxScryptMemory / 128 || n * r > kMaxScryptWork / p;
  if (too_costly) {
    return fail(errc::resource_exhausted, "cosign private key: " + params +
                                              " costs more than allowed (N at most 2^20, 128*N*r at most " +
                                              std::to_string(mib) + " MiB, N*r*p at most 2^23)");
  }
  return {};
}

// cosign's "ENCRYPTED COSIGN/SIGSTORE PRIVATE KEY": the PEM body is
// go-securesystemslib's encrypted JSON; the plaintext is PKCS#8 DER.
result<signing_key> parse_cosign(const std::string& body, std::string_view passphrase) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(errc::malformed, "cosign private key: body is not JSON");
  OCIPIPE_ASSIGN_OR_RETURN(const nlohmann::json* kdf, json_object(doc, "kdf"));
  OCIPIPE_ASSIGN_OR_RETURN(const nlohmann::json* cipher, json_object(doc, "cipher"));
  const auto kdf_name = kdf->find("name");
  if (kdf_name == kdf->end() || !kdf_name->is_string()) {
    return fail(errc::malformed, "cosign private key: kdf name missing");
  }
  if (*kdf_name != "scrypt") {
    return fail(errc::unsupported, "cosign private key: kdf " + kdf_name->dump() + " (only scrypt is supported)");
  }
  const auto cipher_name = cipher->find("name");
  if (cipher_name == cipher->end() || !cipher_name->is_string()) {
    return fail(errc::malformed, "cosign private key: cipher name missing");
  }
  if (*cipher_name != "nacl/secretbox") {
    return fail(errc::unsupported,
                "cosign private key: cipher " + cipher_name->dump() + " (only nacl/secretbox is supported)");
  }
  OCIPIPE_ASSIGN_OR_RETURN(const nlohmann::json* params, json_object(*kdf, "params"));
  OCIPIPE_ASSIGN_OR_RETURN(const std::uint64_t n, json_unsigned(*params, "N", "cosign private key: kdf params"));
  OCIPIPE_ASSIGN_OR_RETURN(const std::uint64_t r, json_unsigned(*params, "r", "cosign private key: kdf params"));
  OCIPIPE_ASSIGN_OR_RETURN(const std::uint64_t p, json_unsigned(*params, "p", "cosign private key: kdf params"));
  OCIPIPE_ASSIGN_OR_RETURN(const std::string salt, json_base64(*kdf, "salt", "cosign private key: kdf"));
  OCIPIPE_ASSIGN_OR_RETURN(const std::string nonce, json_base64(*cipher, "nonce", "cosign private key: cipher"));
  const auto ct_it = doc.find("ciphertext");
  if (ct_it == doc.end() || !ct_it->is_string()) return fail(errc::malformed, "cosign private key: ciphertext missing");
  auto ciphertext = base64_decode(ct_it->get_ref<const std::string&>());
  if (!ciphertext) return fail(errc::malformed, "cosign private key: ciphertext is not base64");
  if (nonce.size() != crypto_secretbox_NONCEBYTES) {
    return fail(errc::malformed, "cosign private key: nonce of " + std::to_string(nonce.size()) + " bytes, not " +
                                     std::to_string(crypto_secretbox_NONCEBYTES));
  }
  if (ciphertext->size() < crypto_secretbox_MACBYTES) {
    return fail(errc::malformed, "cosign private key: ciphertext shorter than its authenticator");
  }
  OCIPIPE_TRY(check_scrypt_cost(n, r, p));
  if (!sodium_ready()) return fail(errc::internal, "libsodium failed to initialise");

  static const unsigned char empty = 0;
  secret_bytes key(crypto_secretbox_KEYBYTES);
  const auto* pass = passphrase.empty() ? &empty : reinterpret_cast<const unsigned char*>(passphrase.data());
  const auto* salt_bytes = salt.empty() ? &empty : reinterpret_cast<const unsigned char*>(salt.data());
  if (crypto_pwhash_scryptsalsa208sha256_ll(pass, passphrase.size(), salt_bytes, salt.size(), n,
                                            static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(p),
                                            key.bytes.data(), key.bytes.size()) != 0) {
    const int e = errno;
    if (e == ENOMEM) return fail(errc::resource_exhausted, "cosign private key: scrypt: out of memory");
    return fail(errc::malformed, "cosign private key: scrypt refused the parameters");
  }
  secret_bytes plain(ciphertext->size() - crypto_secretbox_MACBYTES);
  // secretbox authenticates: a wrong passphrase (a wrong key) is always
  // caught here, never as garbage DER later.
  if (crypto_secretbox_open_easy(plain.bytes.data(), reinterpret_cast<const unsigned char*>(ciphertext->data()),
                                 ciphertext->size(), reinterpret_cast<const unsigned char*>(nonce.data()),
                                 key.bytes.data()) != 0) {
    return fail(errc::permission_denied, wrong_passphrase(passphrase));
  }
  auto k = from_pkcs8_der(plain.bytes.data(), plain.bytes.size());
  if (!k) return tl::unexpected(std::move(k).error().context("cosign private key"));
  return k;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string write_public_pem(EVP_PKEY* k) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), k) != 1) return {};
  return bio_contents(bio.get());
}

}  // namespace

std::string public_key::id() const {
  clear_openssl_errors guard;
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(h_->pkey, &der);
  if (n <= 0) return "sha256:unknown";
  std::unique_ptr<unsigned char, openssl_free> owner(der);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(der, static_cast<std::size_t>(n), md, &mdlen, EVP_sha256(), nullptr) != 1) return "sha256:unknown";
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < mdlen; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

result<key_pair_pem> generate_key_pair(std::string_view passphrase) {
  clear_openssl_errors guard;
  pkey_ptr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) return fail(errc::internal, "generate ECDSA P-256 key: " + openssl_reason());
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) return fail(errc::internal, "generate key: " + openssl_reason());
  if (passphrase.empty()) {
    if (PEM_write_bio_PKCS8PrivateKey(bio.get(), k.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return fail(errc::internal, "write private key: " + openssl_reason());
    }
  } else {
    if (passphrase.size() > INT_MAX) return fail(errc::invalid_argument, "passphrase too long");
    // Spelled out rather than left to PEM_write_bio_PKCS8PrivateKey, whose
    // defaults (2048 rounds) are too cheap to guess against.
    X509_ALGOR* alg = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), kPbkdf2Iterations, nullptr, 0, nullptr,
                                           NID_hmacWithSHA256, nullptr);
    if (!alg) return fail(errc::internal, "encrypt private key: " + openssl_reason());
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, p8inf_free> p8inf(EVP_PKEY2PKCS8(k.get()));
    if (!p8inf) {
      X509_ALGOR_free(alg);
      return fail(errc::internal, "encrypt private key: " + openssl_reason());
    }
    std::unique_ptr<X509_SIG, x509_sig_free> p8(PKCS8_set0_pbe_ex(
        passphrase.data(), static_cast<int>(passphrase.size()), p8inf.get(), alg, nullptr, nullptr));
    if (!p8) {
      X509_ALGOR_free(alg);
      return fail(errc::internal, "encrypt private key: " + openssl_reason());
    }
    if (PEM_write_bio_PKCS8(bio.get(), p8.get()) != 1) {
      return fail(errc::internal, "write private key: " + openssl_reason());
    }
  }
  key_pair_pem out;
  out.private_pem = bio_contents(bio.get());
  out.public_pem = write_public_pem(k.get());
  if (out.private_pem.empty() || out.public_pem.empty()) {
    return fail(errc::internal, "write key pair: " + openssl_reason());
  }
  return out;
}

namespace {

result<signing_key> parse_private_block(pem_block& b, std::string_view passphrase) {
  if (b.name == PEM_STRING_PKCS8) return parse_encrypted_pkcs8(b.der, passphrase);
  if (b.name == PEM_STRING_PKCS8INF) {
    return from_pkcs8_der(reinterpret_cast<const unsigned char*>(b.der.data()), b.der.size());
  }
  if (b.name == PEM_STRING_ECPRIVATEKEY) return parse_sec1(b, passphrase);
  if (b.name == "ENCRYPTED COSIGN PRIVATE KEY" || b.name == "ENCRYPTED SIGSTORE PRIVATE KEY") {
    return parse_cosign(b.der, passphrase);
  }
  if (b.name.find("PRIVATE KEY") != std::string::npos) {
    return fail(errc::unsupported, "private key: PEM type " + quote(b.name) + ": only ECDSA P-256 keys are supported");
  }
  return fail(errc::malformed, "private key: PEM type " + quote(b.name) + " is not a private key");
}

}  // namespace

result<signing_key> parse_private_key(std::string_view pem, std::string_view passphrase) {
  clear_openssl_errors guard;
  OCIPIPE_ASSIGN_OR_RETURN(pem_block b, read_pem(pem, "private key"));
  auto key = parse_private_block(b, passphrase);
  OPENSSL_cleanse(b.der.data(), b.der.size());  // an unencrypted key's DER
  return key;
}

result<public_key> parse_public_key(std::string_view pem) {
  clear_openssl_errors guard;
  OCIPIPE_ASSIGN_OR_RETURN(pem_block b, read_pem(pem, "public key"));
  if (b.name != PEM_STRING_PUBLIC) {
    return fail(errc::malformed, "public key: PEM type " + quote(b.name) + ", expected \"PUBLIC KEY\"");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(b.der.data());
  const auto* end = p + b.der.size();
  pkey_ptr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(b.der.size())));
  if (!k || p != end) {
    return fail(errc::malformed, "public key: not a SubjectPublicKeyInfo: " + openssl_reason());
  }
  OCIPIPE_TRY(require_p256(k.get()));
  std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  if (!ctx) return fail(errc::internal, "public key check: " + openssl_reason());
  if (EVP_PKEY_public_check(ctx.get()) != 1) return fail(errc::malformed, "public key: not a point on P-256");
  return public_key(std::make_shared<const public_key::handle>(k.release()));
}

std::string public_key_pem(const signing_key& key) {
  clear_openssl_errors guard;
  return write_public_pem(key.get().pkey);
}

result<std::string> sign_payload(const signing_key& key, std::string_view payload) {
  clear_openssl_errors guard;
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get().pkey) != 1) {
    return fail(errc::internal, "sign payload: " + openssl_reason());
  }
  std::size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(payload.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, payload.size()) != 1) {
    return fail(errc::internal, "sign payload: " + openssl_reason());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, payload.size()) != 1) {
    return fail(errc::internal, "sign payload: " + openssl_reason());
  }
  sig.resize(len);
  return sig;
}

key_verdict verify_payload(const public_key& key, std::string_view payload, std::string_view signature) {
  clear_openssl_errors guard;
  if (signature.empty() || signature.size() > 1024) return key_verdict::malformed;
  // Strict DER: BER variants of one (r, s) would let a signature be
  // reshaped without the key, so only the canonical encoding counts.
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  const unsigned char* p = sig;
  std::unique_ptr<ECDSA_SIG, ecdsa_sig_free> parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size())));
  if (!parsed || p != sig + signature.size()) return key_verdict::malformed;
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(parsed.get(), &der);
  std::unique_ptr<unsigned char, openssl_free> der_owner(der);
  if (der_len <= 0 || static_cast<std::size_t>(der_len) != signature.size() ||
      std::memcmp(der, sig, signature.size()) != 0) {
    return key_verdict::malformed;
  }
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get().pkey) != 1) {
    return key_verdict::mismatch;
  }
  const int rc = EVP_DigestVerify(ctx.get(), sig, signature.size(),
                                  reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  return rc == 1 ? key_verdict::valid : key_verdict::mismatch;
}

}  // namespace ocipipe
