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

/// Signs `payload` with the secret key whose fingerprint (or any name gpg
/// accepts for it) is `key`, from GnuPG home `gnupg_home` ("" = $GNUPGHOME,
/// else ~/.gnupg). A key needing a passphrase gets `passphrase` through
/// loopback pinentry (never a dialog). Returns the binary OpenPGP message.
/// Errors: `not_found` (no such secret key), `invalid_argument` (`key`
/// names several), `permission_denied` (bad passphrase), `unavailable`
/// (gpg engine missing), `internal`.
[[nodiscard]] result<std::string> gpg_sign(std::string_view payload, const std::string& key,
                                           const std::string& passphrase, const std::string& gnupg_home = "");

/// How a GnuPG signature check ended.
struct gpg_verdict {
  enum class kind {
    valid,
    unknown_key,  ///< made by a key not among the trusted ones
    bad,          ///< the signature does not match the signed data (altered), or its key expired or was revoked
    malformed,    ///< not an OpenPGP signed message (garbage, no signature, a detached signature)
  };
  kind status = kind::malformed;
  std::string payload;          ///< the signed data (status valid; else what could be read)
  std::string key_fingerprint;  ///< primary key fingerprint (uppercase hex) when known
  std::string message;          ///< why, when not valid ("signed by unknown key ABCD…")
};

/// Checks `signature` (an OpenPGP signed message) against the public keys
/// in `keyrings` (each a keyring or exported key, binary or armored: the
/// contents of policy keyPath files, --key-file): they are imported into a
/// fresh temporary GnuPG home, removed again afterwards (its gpg-agent
/// stopped), so the user's keyring is never read or changed. Errors (not
/// verdicts): `malformed` (a keyring holds no key), `unavailable` (gpg
/// engine missing), `io`.
[[nodiscard]] result<gpg_verdict> gpg_verify(std::string_view signature, const std::vector<std::string>& keyrings);

}  // namespace ocipipe::io
