#pragma once
// A real GnuPG home for signing tests: a temporary GNUPGHOME holding one
// fresh key made by gpg itself, so skopeo, gpgme and ocipipe all use real
// keys and the user's own keyring is never touched.

#include <string>

#include "tests/support/test_env.h"

namespace ocipipe::testing {

/// A temporary GnuPG home with one secret key (ed25519, signing only),
/// made by `gpg --batch --quick-gen-key`. Destroying it stops its
/// gpg-agent (gpgconf --kill all) and removes the directory. Throws
/// std::runtime_error when gpg fails (a test failure). Move-only.
class gpg_home {
 public:
  /// `uid` "Name <email>"; `passphrase` "" for a key without one.
  explicit gpg_home(const std::string& uid = "ocipipe test <test@ocipipe.invalid>",
                    const std::string& passphrase = "");
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

 private:
  temp_dir home_;
  temp_dir files_;
  std::string fingerprint_;
  std::string public_keyring_;
  std::string public_keyring_armored_;
  std::string passphrase_file_;
};

}  // namespace ocipipe::testing
