#pragma once
// cosign-style key signatures: ECDSA P-256 key pairs and ECDSA-SHA256
// signatures over a payload (cosign's "sign --key", sigstore's
// simple-signing convention), through OpenSSL; cosign's own encrypted
// private key format read through libsodium. Compute only, no files.
// Thread-safe: keys are immutable after parsing.

#include <memory>
#include <string>
#include <string_view>

#include "stages/oci/error.h"

namespace ocipipe {

/// An ECDSA P-256 private key. Cheap to copy (shared, immutable).
class signing_key {
 public:
  /// Opaque OpenSSL key (EVP_PKEY*), owned.
  struct handle;
  explicit signing_key(std::shared_ptr<const handle> h) : h_(std::move(h)) {}
  [[nodiscard]] const handle& get() const noexcept { return *h_; }

 private:
  std::shared_ptr<const handle> h_;
};

/// An ECDSA P-256 public key. Cheap to copy (shared, immutable).
class public_key {
 public:
  struct handle;
  explicit public_key(std::shared_ptr<const handle> h) : h_(std::move(h)) {}
  [[nodiscard]] const handle& get() const noexcept { return *h_; }
  /// "sha256:<hex>" of the DER SubjectPublicKeyInfo: names the key in
  /// messages and reports.
  [[nodiscard]] std::string id() const;

 private:
  std::shared_ptr<const handle> h_;
};

/// A new key pair in PEM.
struct key_pair_pem {
  /// PKCS#8 "ENCRYPTED PRIVATE KEY" (AES-256-CBC, PBKDF2-HMAC-SHA256) when
  /// a passphrase was given, else "PRIVATE KEY".
  std::string private_pem;
  std::string public_pem;  ///< "PUBLIC KEY" (SubjectPublicKeyInfo)
};

/// Generates an ECDSA P-256 key pair. Errors: `internal` (OpenSSL failed).
[[nodiscard]] result<key_pair_pem> generate_key_pair(std::string_view passphrase);

/// Parses a private key: PKCS#8 "ENCRYPTED PRIVATE KEY" (with
/// `passphrase`), "PRIVATE KEY", SEC1 "EC PRIVATE KEY", or cosign's
/// "ENCRYPTED COSIGN PRIVATE KEY" / "ENCRYPTED SIGSTORE PRIVATE KEY" (JSON:
/// kdf scrypt N/r/p + salt, cipher nacl/secretbox + nonce, ciphertext: the
/// PKCS#8 DER). Only P-256 ECDSA keys are accepted. Errors:
/// `permission_denied` (wrong passphrase), `malformed` (not such a PEM, bad
/// JSON, bad base64), `unsupported` (another key type or curve, another
/// kdf or cipher), `resource_exhausted` (the file asks for more key
/// derivation than allowed: scrypt N > 2^20, 128*N*r > 256 MiB or
/// N*r*p > 2^23; PBKDF2 beyond 10^7 rounds).
[[nodiscard]] result<signing_key> parse_private_key(std::string_view pem, std::string_view passphrase);

/// Parses a "PUBLIC KEY" PEM (SubjectPublicKeyInfo), P-256 ECDSA only.
/// Errors: `malformed`, `unsupported` (another key type or curve).
[[nodiscard]] result<public_key> parse_public_key(std::string_view pem);

/// The public half of `key`, as a "PUBLIC KEY" PEM.
[[nodiscard]] std::string public_key_pem(const signing_key& key);

/// ECDSA-SHA256 over `payload`: the ASN.1 DER signature, as
/// `openssl dgst -sha256 -sign` writes it. Errors: `internal`.
[[nodiscard]] result<std::string> sign_payload(const signing_key& key, std::string_view payload);

/// How a signature check ended.
enum class key_verdict {
  valid,
  mismatch,   ///< well-formed, but not by this key over these bytes
  malformed,  ///< not a DER ECDSA-Sig-Value
};

/// Checks DER signature `signature` over `payload` with `key` (as
/// `openssl dgst -sha256 -verify`).
[[nodiscard]] key_verdict verify_payload(const public_key& key, std::string_view payload, std::string_view signature);

}  // namespace ocipipe
