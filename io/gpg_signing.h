#pragma once
// Simple signing with GnuPG through gpgme (containers-signature(5)): the
// signature is an OpenPGP signed message (not detached, not armored) that
// carries the payload, as containers/image's gpgme mechanism writes it.
// Thread-safety: each call uses its own gpgme context; calls may run at once.

#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe::io {

/// A signature gpg_sign made.
struct gpg_signature {
  std::string signature;        ///< the binary OpenPGP signed message (the payload inside)
  /// The fingerprint (40 uppercase hex) of the key that made it, as gpgme
  /// reports it: the signing subkey's when gpg chose a subkey (or was told
  /// one, "FPR!"), so not always the primary key gpg_verify names.
  std::string key_fingerprint;
};

/// Signs `payload` with the secret key whose fingerprint (or any name gpg
/// accepts for it: key ID, user ID, email) is `key`, from GnuPG home
/// `gnupg_home` ("" = $GNUPGHOME, else ~/.gnupg). A key needing a
/// passphrase gets `passphrase` through loopback pinentry (never a
/// dialog). Returns the binary OpenPGP message and the fingerprint of the
/// key that signed. Errors (messages name `key` and, where it matters, the
/// GnuPG home): `not_found` (no such home, no secret key there, only its
/// public key, no usable signing key), `invalid_argument` (`key` names
/// several keys; the key is revoked or expired or cannot sign),
/// `permission_denied` (bad passphrase; "the key needs a passphrase" when
/// it needs one and `passphrase` is ""), `unavailable` (gpg engine
/// missing), `internal`.
[[nodiscard]] result<gpg_signature> gpg_sign(std::string_view payload, const std::string& key,
                                             const std::string& passphrase, const std::string& gnupg_home = "");

/// How a GnuPG signature check ended.
struct gpg_verdict {
  enum class kind {
    valid,
    unknown_key,   ///< made by a key not among the trusted ones
    bad,           ///< the signature does not match the signed data (altered)
    unusable_key,  ///< made by a given key that may not sign (revoked, expired, no signing key), or expired itself
    malformed,     ///< not an OpenPGP signed message (garbage, no signature, a detached signature)
  };
  kind status = kind::malformed;
  std::string payload;  ///< the signed data (status valid; else what could be read)
  /// valid, bad, unusable_key: the primary key's fingerprint (uppercase
  /// hex). unknown_key: what the signature names its key by — the signing
  /// (sub)key's fingerprint, or its 16-hex key ID when the signature
  /// carries no fingerprint. "" when nothing names it.
  std::string key_fingerprint;
  /// Why, when not valid: "signed by unknown key ABCD…, not among the keys
  /// given", "key ABCD… revoked", "key ABCD… expired on 2020-01-02",
  /// "signing subkey … of key … revoked", "signature by key … expired on …",
  /// "key … is not a signing key", "bad signature by key …: …".
  std::string message;
};

/// Checks `signature` (an OpenPGP signed message) against the public keys
/// in `keyrings` (each a keyring or exported key, binary or armored: the
/// contents of policy keyPath files, --key-file): they are imported into a
/// fresh temporary GnuPG home, removed again afterwards (its gpg-agent
/// stopped), so the user's keyring is never read or changed. Errors (not
/// verdicts): `malformed` (a keyring holds no key), `unavailable` (gpg
/// engine missing), `io`. A keyring's error begins "keyring N: " (N from 1,
/// its place in `keyrings`) and says what the bytes are when that shows:
/// empty, a GnuPG keybox (pubring.kbx), trustdb, PEM key, an OpenPGP
/// signature or message rather than a key.
[[nodiscard]] result<gpg_verdict> gpg_verify(std::string_view signature, const std::vector<std::string>& keyrings);

}  // namespace ocipipe::io
