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
std::string make_key(const std::string& home, const std::string& uid, const std::string& passphrase) {
  gpg_or_throw(home,
               {"--pinentry-mode", "loopback", "--passphrase", passphrase, "--quick-gen-key", uid, "ed25519", "sign",
                "never"},
               "--quick-gen-key");
  const command_result list = gpg_or_throw(home, {"--with-colons", "--list-secret-keys", uid}, "--list-secret-keys");
  std::string fpr = primary_fingerprint(list.out);
  if (fpr.size() != 40) throw std::runtime_error("gpg --list-secret-keys: no fingerprint in:\n" + list.out);
  return fpr;
}

}  // namespace

// The home's path stays short ("$TMPDIR/gpg-XXXXXX"): gpg-agent's socket
// lives in it when /run/user/UID does not exist, and a socket path holds
// at most 107 bytes.
gpg_home::gpg_home(const std::string& uid, const std::string& passphrase) : home_("gpg"), files_("gpgkeys") {
  try {
    // gpg-agent otherwise calibrates its passphrase protection to 100 ms
    // a try, which makes a key with a passphrase take seconds to make and
    // to refuse; these keys guard nothing.
    write_bytes(home_.sub("gpg-agent.conf"), "s2k-count 65536\n");
    fingerprint_ = make_key(home_.path(), uid, passphrase);
    public_keyring_ = files_.sub("pubkey.gpg");
    public_keyring_armored_ = files_.sub("pubkey.asc");
    passphrase_file_ = files_.sub("passphrase");
    gpg_or_throw(home_.path(), {"--output", public_keyring_, "--export", fingerprint_}, "--export");
    gpg_or_throw(home_.path(), {"--armor", "--output", public_keyring_armored_, "--export", fingerprint_},
                 "--export --armor");
    write_bytes(passphrase_file_, passphrase);
  } catch (...) {
    stop_agent(home_.path());  // a throwing constructor runs no destructor
    throw;
  }
}

gpg_home::~gpg_home() {
  if (!home_.path().empty()) stop_agent(home_.path());  // empty: moved from
}

}  // namespace ocipipe::testing
