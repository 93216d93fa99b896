#include "tests/support/gpg_fixture.h"

#include <stdexcept>
#include <vector>

namespace ocipipe::testing {
namespace {

// gpg with its home given on the command line (run_command passes our
// environment unchanged), never asking a terminal.
command_result gpg(const std::string& home, std::vector<std::string> args) {
  std::vector<std::string> argv = {"gpg", "--homedir", home, "--batch", "--no-tty", "--quiet"};
  argv.insert(argv.end(), args.begin(), args.end());
  run_options opts;
  opts.timeout = std::chrono::seconds(60);
  return run_command(argv, opts);
}

command_result gpg_or_throw(const std::string& home, std::vector<std::string> args, const char* what) {
  command_result r = gpg(home, std::move(args));
  if (!r.ok()) throw std::runtime_error(std::string("gpg ") + what + ": " + r.describe());
  return r;
}

void stop_agent(const std::string& home) {
  run_options opts;
  opts.timeout = std::chrono::seconds(30);
  (void)run_command({"gpgconf", "--homedir", home, "--kill", "all"}, opts);
}

// Field 10 of the first "fpr" record after "sec" (gpg's --with-colons
// listing): the primary key's fingerprint.
std::string primary_fingerprint(const std::string& listing) {
  bool in_sec = false;
  for (const std::string& line : lines_of(listing)) {
    if (line.rfind("sec:", 0) == 0) in_sec = true;
    if (!in_sec || line.rfind("fpr:", 0) != 0) continue;
    std::size_t field = 0, start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ':') {
        if (field == 9) return line.substr(start, i - start);
        ++field;
        start = i + 1;
      }
    }
  }
  return {};
}

// Makes the key in `home` and returns its fingerprint.
std::string make_key(const std::string& home, const gpg_key_spec& spec) {
  std::vector<std::string> args = {"--pinentry-mode", "loopback", "--passphrase", spec.passphrase};
  if (!spec.made_at.empty()) args.insert(args.end(), {"--faked-system-time", spec.made_at});
  args.insert(args.end(), {"--quick-gen-key", spec.uid, spec.algorithm, "sign", spec.expires});
  gpg_or_throw(home, args, "--quick-gen-key");
  const command_result list =
      gpg_or_throw(home, {"--with-colons", "--list-secret-keys", spec.uid}, "--list-secret-keys");
  std::string fpr = primary_fingerprint(list.out);
  if (fpr.size() != 40) throw std::runtime_error("gpg --list-secret-keys: no fingerprint in:\n" + list.out);
  return fpr;
}

}  // namespace

gpg_home::gpg_home(const std::string& uid, const std::string& passphrase)
    : gpg_home(gpg_key_spec{uid, passphrase}) {}

// The home's path stays short ("$TMPDIR/gpg-XXXXXX"): gpg-agent's socket
// lives in it when /run/user/UID does not exist, and a socket path holds
// at most 107 bytes.
gpg_home::gpg_home(const gpg_key_spec& spec) : home_("gpg"), files_("gpgkeys") {
  try {
    // gpg-agent otherwise calibrates its passphrase protection to 100 ms
    // a try, which makes a key with a passphrase take seconds to make and
    // to refuse; these keys guard nothing.
    write_bytes(home_.sub("gpg-agent.conf"), "s2k-count 65536\n");
    fingerprint_ = make_key(home_.path(), spec);
    public_keyring_ = files_.sub("pubkey.gpg");
    public_keyring_armored_ = files_.sub("pubkey.asc");
    passphrase_file_ = files_.sub("passphrase");
    export_public_keys();
    write_bytes(passphrase_file_, spec.passphrase);
  } catch (...) {
    stop_agent(home_.path());  // a throwing constructor runs no destructor
    throw;
  }
}

void gpg_home::export_public_keys() {
  // --output refuses to overwrite in --batch without --yes.
  gpg_or_throw(home_.path(), {"--yes", "--output", public_keyring_, "--export", fingerprint_}, "--export");
  gpg_or_throw(home_.path(), {"--yes", "--armor", "--output", public_keyring_armored_, "--export", fingerprint_},
               "--export --armor");
}

void gpg_home::revoke() {
  // gpg writes the certificate with its armor line disarmed by a leading
  // ':' so that it is not imported by mistake.
  std::string cert = read_bytes(home_.sub("openpgp-revocs.d/" + fingerprint_ + ".rev"));
  const auto at = cert.find(":-----BEGIN PGP PUBLIC KEY BLOCK-----");
  if (at == std::string::npos) throw std::runtime_error("revocation certificate: no disarmed armor line");
  cert.erase(at, 1);
  const std::string file = files_.sub("revoke.asc");
  write_bytes(file, cert);
  gpg_or_throw(home_.path(), {"--import", file}, "--import (revocation)");
  export_public_keys();
}

std::string gpg_home::add_signing_subkey(const std::string& expires, const std::string& made_at) {
  std::vector<std::string> args = {"--pinentry-mode", "loopback", "--passphrase", ""};
  if (!made_at.empty()) args.insert(args.end(), {"--faked-system-time", made_at});
  args.insert(args.end(), {"--quick-add-key", fingerprint_, "ed25519", "sign", expires});
  gpg_or_throw(home_.path(), args, "--quick-add-key");
  // The newest subkey is listed last.
  const command_result list = gpg_or_throw(home_.path(), {"--with-colons", "--list-keys", fingerprint_}, "--list-keys");
  std::string subkey;
  bool in_sub = false;
  for (const std::string& line : lines_of(list.out)) {
    if (line.rfind("sub:", 0) == 0) in_sub = true;
    if (in_sub && line.rfind("fpr:", 0) == 0 && line.size() >= 52) subkey = line.substr(12, 40);
  }
  if (subkey.size() != 40) throw std::runtime_error("gpg --list-keys: no subkey in:\n" + list.out);
  export_public_keys();
  return subkey;
}

void gpg_home::revoke_subkey(const std::string& fingerprint) {
  // key FPR; revkey; "really?" y; reason 0 (none given); empty
  // description line; "okay?" y; save.
  const std::string commands = files_.sub("revkey-commands");
  write_bytes(commands, "key " + fingerprint + "\nrevkey\ny\n0\n\ny\nsave\n");
  const std::vector<std::string> argv = {"gpg",          "--homedir",  home_.path(), "--batch",      "--no-tty",
                                         "--quiet",      "--pinentry-mode", "loopback", "--passphrase", "",
                                         "--command-fd", "0",          "--edit-key", fingerprint_};
  run_options opts;
  opts.timeout = std::chrono::seconds(60);
  opts.stdin_path = commands;
  const command_result r = run_command(argv, opts);
  if (!r.ok()) throw std::runtime_error("gpg --edit-key revkey: " + r.describe());
  const command_result list = gpg_or_throw(home_.path(), {"--with-colons", "--list-keys", fingerprint_}, "--list-keys");
  if (list.out.find("sub:r:") == std::string::npos) throw std::runtime_error("subkey not revoked:\n" + list.out);
  export_public_keys();
}

gpg_home::~gpg_home() {
  if (!home_.path().empty()) stop_agent(home_.path());  // empty: moved from
}

}  // namespace ocipipe::testing
