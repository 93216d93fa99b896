#pragma once
// A real GnuPG home for signing tests: a temporary GNUPGHOME holding one
// fresh key made by gpg itself, so skopeo, gpgme and ocipipe all use real
// keys and the user's own keyring is never touched.

#include <string>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

/// The key a gpg_home makes (`gpg --quick-gen-key UID ALGO sign EXPIRES`).
struct gpg_key_spec {
  std::string uid = "ocipipe test <test@ocipipe.invalid>";  ///< "Name <email>"
  std::string passphrase;              ///< "" for a key without one
  std::string algorithm = "ed25519";   ///< "ed25519", "rsa2048", … (rsa2048 takes ~0.5 s to make)
  std::string expires = "never";       ///< "never", "1d", "2020-01-02", …
  /// gpg --faked-system-time while making the key ("20200101T000000", UTC;
  /// "" now): made in the past with `expires` "1d", the key has expired.
  std::string made_at;
};

/// A temporary GnuPG home with one secret key (ed25519 unless told,
/// signing only), made by `gpg --batch --quick-gen-key`. Destroying it
/// stops its gpg-agent (gpgconf --kill all) and removes the directory.
/// Throws std::runtime_error when gpg fails (a test failure). Move-only;
/// not thread-safe.
class gpg_home {
 public:
  /// `uid` "Name <email>"; `passphrase` "" for a key without one.
  explicit gpg_home(const std::string& uid = "ocipipe test <test@ocipipe.invalid>",
                    const std::string& passphrase = "");
  explicit gpg_home(const gpg_key_spec& spec);
  ~gpg_home();
  gpg_home(gpg_home&&) noexcept = default;
  gpg_home(const gpg_home&) = delete;
  gpg_home& operator=(const gpg_home&) = delete;

  /// The GNUPGHOME directory.
  [[nodiscard]] const std::string& dir() const noexcept { return home_.path(); }
  /// The key's fingerprint, 40 uppercase hex digits.
  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  /// A file holding the public key exported (binary), as policy keyPath
  /// and `verify --key-file` take it.
  [[nodiscard]] const std::string& public_keyring() const noexcept { return public_keyring_; }
  /// The same, ASCII-armored.
  [[nodiscard]] const std::string& public_keyring_armored() const noexcept { return public_keyring_armored_; }
  /// A file holding the passphrase ("" key: an empty file).
  [[nodiscard]] const std::string& passphrase_file() const noexcept { return passphrase_file_; }
  /// The home's keybox (pubring.kbx): what a user may give by mistake
  /// instead of an exported key.
  [[nodiscard]] std::string keybox() const { return home_.sub("pubring.kbx"); }

  /// Revokes the key: imports the revocation certificate gpg wrote when it
  /// made the key (openpgp-revocs.d/FPR.rev), then exports public_keyring()
  /// and public_keyring_armored() again, now carrying the revocation.
  void revoke();
  /// Adds a signing subkey (ed25519; `expires` and `made_at` as in
  /// gpg_key_spec: made in the past, it may have expired already), exports
  /// the public keyrings again, and returns the subkey's fingerprint.
  std::string add_signing_subkey(const std::string& expires = "never", const std::string& made_at = "");
  /// Revokes subkey `fingerprint` (`gpg --edit-key`: key, revkey, save) and
  /// exports the public keyrings again.
  void revoke_subkey(const std::string& fingerprint);

 private:
  void export_public_keys();

  temp_dir home_;
  temp_dir files_;
  std::string fingerprint_;
  std::string public_keyring_;
  std::string public_keyring_armored_;
  std::string passphrase_file_;
};

}  // namespace ocipipe::testing
