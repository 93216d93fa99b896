#include "io/gpg_signing.h"

#include <fcntl.h>
#include <gpgme.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>

extern char** environ;

namespace ocipipe::io {
namespace {

// gpgme must be initialised (gpgme_check_version) before any other call;
// a function-local static runs that once, thread-safely.
result<void> gpgme_ready() {
  static const bool initialised = gpgme_check_version(nullptr) != nullptr;
  if (!initialised) return fail(errc::internal, "gpgme failed to initialise");
  // Cheap after the first call: gpgme keeps the engine's version.
  if (const gpgme_error_t engine = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP); engine != 0) {
    return fail(errc::unavailable, std::string("gpg engine missing: ") + gpgme_strerror(engine));
  }
  return {};
}

std::string gpg_message(gpgme_error_t err) { return gpgme_strerror(err); }

struct ctx_release {
  void operator()(gpgme_ctx_t c) const { gpgme_release(c); }
};
struct data_release {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
struct key_unref {
  void operator()(gpgme_key_t k) const { gpgme_key_unref(k); }
};
using ctx_ptr = std::unique_ptr<gpgme_context, ctx_release>;
using data_ptr = std::unique_ptr<gpgme_data, data_release>;
using key_ptr = std::unique_ptr<_gpgme_key, key_unref>;

bool engine_missing(gpgme_error_t err) {
  const auto code = gpgme_err_code(err);
  return code == GPG_ERR_INV_ENGINE || code == GPG_ERR_ENOENT || code == GPG_ERR_ENGINE_TOO_OLD;
}

// A context on GnuPG home `home` ("" = gpg's default), binary output, no
// network (no key servers, no auto-key-retrieve).
result<ctx_ptr> new_context(const std::string& home) {
  gpgme_ctx_t raw = nullptr;
  if (const gpgme_error_t err = gpgme_new(&raw); err != 0) {
    return fail(engine_missing(err) ? errc::unavailable : errc::internal, "gpgme context: " + gpg_message(err));
  }
  ctx_ptr ctx(raw);
  if (const gpgme_error_t err = gpgme_set_protocol(raw, GPGME_PROTOCOL_OpenPGP); err != 0) {
    return fail(errc::unavailable, "gpgme OpenPGP protocol: " + gpg_message(err));
  }
  if (!home.empty()) {
    if (const gpgme_error_t err = gpgme_ctx_set_engine_info(raw, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
        err != 0) {
      return fail(errc::unavailable, "gpgme GnuPG home " + quote(home) + ": " + gpg_message(err));
    }
  }
  gpgme_set_armor(raw, 0);
  gpgme_set_textmode(raw, 0);
  gpgme_set_offline(raw, 1);
  return ctx;
}

result<data_ptr> data_from(std::string_view bytes) {
  gpgme_data_t raw = nullptr;
  // copy = 0: gpgme reads our buffer, which outlives the operation.
  if (const gpgme_error_t err = gpgme_data_new_from_mem(&raw, bytes.data(), bytes.size(), 0); err != 0) {
    return fail(errc::internal, "gpgme data: " + gpg_message(err));
  }
  return data_ptr(raw);
}

result<data_ptr> data_sink() {
  gpgme_data_t raw = nullptr;
  if (const gpgme_error_t err = gpgme_data_new(&raw); err != 0) {
    return fail(errc::internal, "gpgme data: " + gpg_message(err));
  }
  return data_ptr(raw);
}

std::string take_data(data_ptr d) {
  std::size_t len = 0;
  char* mem = gpgme_data_release_and_get_mem(d.release(), &len);
  std::string out = mem ? std::string(mem, len) : std::string();
  gpgme_free(mem);
  return out;
}

std::string upper(const char* s) {
  std::string out = s ? s : "";
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "2020-01-02" (UTC) for a gpgme timestamp; "" for 0 (none).
std::string utc_date(long seconds) {
  if (seconds <= 0) return {};
  const std::time_t t = seconds;
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return {};
  char buf[32];
  return std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) ? buf : std::string();
}

// The GnuPG home gpg uses for `home` ("" = gpg's default), for messages.
std::string home_in_use(const std::string& home) {
  if (!home.empty()) return home;
  if (const char* env = std::getenv("GNUPGHOME"); env && *env) return env;
  // gpg's default on Unix. (gpgme_get_dirinfo would say so too, but keeps
  // the first answer for the life of the process.)
  if (const char* env = std::getenv("HOME"); env && *env) return std::string(env) + "/.gnupg";
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return std::string(pw->pw_dir) + "/.gnupg";
  return "~/.gnupg";
}

struct passphrase_state {
  const std::string* passphrase;
  bool refused = false;  // a passphrase was given and was wrong
  bool missing = false;  // the key wanted one and none was given
};

// Loopback pinentry: gpg asks us, never the terminal. A second request
// means the first answer was wrong; asking again would only repeat it.
// No passphrase: refuse at once rather than offer an empty one, so the
// caller can say a passphrase is needed, not that it was wrong.
gpgme_error_t give_passphrase(void* hook, const char* /*uid_hint*/, const char* /*info*/, int prev_was_bad,
                              int fd) {
  auto* state = static_cast<passphrase_state*>(hook);
  if (state->passphrase->empty()) {
    state->missing = true;
    return gpg_error(GPG_ERR_NO_PASSPHRASE);
  }
  if (prev_was_bad) {
    state->refused = true;
    return gpg_error(GPG_ERR_BAD_PASSPHRASE);
  }
  const std::string line = *state->passphrase + "\n";
  if (gpgme_io_writen(fd, line.data(), line.size()) != 0) return gpg_error(GPG_ERR_EIO);
  return 0;
}

// Runs gpgconf with `args` on home `dir`, output discarded; best effort.
void run_gpgconf(const std::string& dir, const char* arg1, const char* arg2) {
  const char* named = gpgme_get_dirinfo("gpgconf-name");
  const std::string program = named && *named ? named : "gpgconf";
  std::string a0 = program, h = "--homedir", d = dir, x1 = arg1, x2 = arg2 ? arg2 : "";
  char* argv[] = {a0.data(), h.data(), d.data(), x1.data(), arg2 ? x2.data() : nullptr, nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// A GnuPG home of our own, made for one verification: its agent (if gpg
// started one) is stopped and the directory removed when it goes.
class ephemeral_home {
 public:
  static result<ephemeral_home> create() {
    // gpg-agent's socket lives in the home unless /run/user/UID exists,
    // and a socket path must fit in 108 bytes: a long $TMPDIR is skipped.
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp && std::strlen(tmp) < 64 ? tmp : "/tmp";
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::string tmpl = base + "/ocipipe-gpg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return fail_errno("temporary GnuPG home " + quote(tmpl), errno);
    return ephemeral_home(std::move(tmpl));
  }
  ~ephemeral_home() {
    if (dir_.empty()) return;
    run_gpgconf(dir_, "--kill", "all");
    struct stat st {};
    const std::string run_dir = "/run/user/" + std::to_string(::getuid()) + "/gnupg";
    if (::stat(run_dir.c_str(), &st) == 0) run_gpgconf(dir_, "--remove-socketdir", nullptr);
    std::error_code ec;
    // The agent may still be removing its sockets: try again once.
    if (std::filesystem::remove_all(dir_, ec) == static_cast<std::uintmax_t>(-1) || ec) {
      ec.clear();
      ::usleep(50 * 1000);
      std::filesystem::remove_all(dir_, ec);
    }
  }
  ephemeral_home(ephemeral_home&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}
  ephemeral_home& operator=(ephemeral_home&&) = delete;
  ephemeral_home(const ephemeral_home&) = delete;
  ephemeral_home& operator=(const ephemeral_home&) = delete;

  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

 private:
  explicit ephemeral_home(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// What `bytes` are instead of an OpenPGP keyring, when their start shows
// it (a file given by mistake); "" when they may be one.
std::string not_a_keyring(std::string_view bytes) {
  if (bytes.empty()) return "empty, no OpenPGP key in it";
  // A keybox (pubring.kbx) opens with its header blob: length, type 1,
  // version, flags, then the magic.
  if (bytes.size() >= 12 && bytes.substr(8, 4) == "KBXf") {
    return "a GnuPG keybox, not a keyring: export the key with `gpg --export KEYID > FILE`";
  }
  if (bytes.size() >= 4 && bytes[0] == 1 && bytes.substr(1, 3) == "gpg") {
    return "a GnuPG trust database (trustdb.gpg), not a keyring: export the key with `gpg --export KEYID > FILE`";
  }
  // Armor may follow other text; gpg finds it anywhere.
  if (bytes.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") != std::string_view::npos ||
      bytes.find("-----BEGIN PGP PRIVATE KEY BLOCK-----") != std::string_view::npos) {
    return {};
  }
  if (const auto at = bytes.find("-----BEGIN "); at != std::string_view::npos) {
    const auto label_at = at + 11;
    const auto end = bytes.find("-----", label_at);
    const std::string label(bytes.substr(label_at, end == std::string_view::npos ? 0 : std::min<std::size_t>(
                                                                                           end - label_at, 40)));
    if (label.rfind("PGP ", 0) == 0) return "an armored OpenPGP " + label.substr(4) + ", not a key";
    return "a PEM " + (label.empty() ? std::string("file") : label) +
           ", not an OpenPGP key (a sigstore public key goes with --key or a sigstoreSigned requirement)";
  }
  // Binary OpenPGP: the first packet's tag (RFC 4880 4.2, old or new
  // format). Keys start with a public (6) or secret (5) key packet.
  const auto first = static_cast<unsigned char>(bytes[0]);
  if ((first & 0x80) == 0) return {};  // not OpenPGP at all: gpg's answer is as good
  const unsigned tag = (first & 0x40) != 0 ? (first & 0x3fU) : ((first >> 2) & 0x0fU);
  switch (tag) {
    case 2:
      return "an OpenPGP signature, not a key (a signature file?)";
    case 4:
    case 8:
    case 11:
      return "an OpenPGP signed or compressed message, not a key (a signature file?)";
    case 1:
    case 3:
    case 18:
      return "an OpenPGP encrypted message, not a key";
    default:
      return {};
  }
}

// Imports `keyring` and records the fingerprints of every (sub)key it
// brought, mapped to its primary key's. Errors begin "keyring N: " (N
// from 1): callers map N back to the file.
result<void> import_keyring(gpgme_ctx_t ctx, std::string_view keyring, std::size_t index,
                            std::map<std::string, std::string>& fingerprints) {
  const std::string what = "keyring " + std::to_string(index + 1);
  if (const std::string instead = not_a_keyring(keyring); !instead.empty()) {
    return fail(errc::malformed, what + ": " + instead);
  }
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr in, data_from(keyring));
  if (const gpgme_error_t err = gpgme_op_import(ctx, in.get()); err != 0) {
    if (engine_missing(err)) return fail(errc::unavailable, what + ": gpg: " + gpg_message(err));
    return fail(errc::malformed, what + ": holds no OpenPGP key: " + gpg_message(err));
  }
  const gpgme_import_result_t res = gpgme_op_import_result(ctx);
  std::size_t usable = 0;
  std::string refused;  // why gpg refused the first key it did not import
  for (gpgme_import_status_t imp = res ? res->imports : nullptr; imp; imp = imp->next) {
    if (imp->result != 0 || !imp->fpr) {
      if (imp->result != 0 && refused.empty()) refused = gpg_message(imp->result);
      continue;
    }
    gpgme_key_t raw = nullptr;
    if (gpgme_get_key(ctx, imp->fpr, &raw, 0) != 0 || !raw) continue;
    key_ptr key(raw);
    const std::string primary = upper(key->subkeys ? key->subkeys->fpr : imp->fpr);
    for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next) {
      if (sub->fpr) fingerprints.emplace(upper(sub->fpr), primary);
    }
    ++usable;
  }
  if (usable == 0 && (!res || res->considered == 0)) {
    return fail(errc::malformed, what + ": holds no OpenPGP key: not OpenPGP data");
  }
  if (usable == 0) {
    return fail(errc::malformed,
                what + ": holds no usable OpenPGP public key" + (refused.empty() ? "" : " (gpg: " + refused + ")"));
  }
  return {};
}

// The primary key, among the imported ones, of the (sub)key `id` (a
// fingerprint, or a 16-hex key ID from a signature without one); "" when
// none of them.
std::string primary_of(const std::map<std::string, std::string>& fingerprints, const std::string& id) {
  if (const auto it = fingerprints.find(id); it != fingerprints.end()) return it->second;
  if (id.size() == 16) {
    for (const auto& [fpr, primary] : fingerprints) {
      if (fpr.size() > id.size() && fpr.compare(fpr.size() - id.size(), id.size(), id) == 0) return primary;
    }
  }
  return {};
}

// Says which key is revoked or expired, for a signature by (sub)key
// `signer` of key `primary`: "key P revoked", "key P expired on DATE",
// "signing subkey S of key P revoked"… (the imported key listed again).
std::string key_state(gpgme_ctx_t ctx, const std::string& signer, const std::string& primary, bool revoked) {
  const std::string key_name = "key " + primary;
  std::string state = revoked ? " revoked" : " expired";
  gpgme_key_t raw = nullptr;
  if (gpgme_get_key(ctx, primary.c_str(), &raw, 0) != 0 || !raw || !raw->subkeys) return key_name + state;
  const key_ptr key(raw);
  const gpgme_subkey_t main = key->subkeys;
  gpgme_subkey_t used = nullptr;
  for (gpgme_subkey_t sub = main; sub; sub = sub->next) {
    const std::string fpr = upper(sub->fpr);
    if (fpr == signer || (signer.size() == 16 && upper(sub->keyid) == signer)) used = sub;
  }
  const auto expired_on = [](gpgme_subkey_t k) {
    const std::string date = utc_date(k->expires);
    return date.empty() ? std::string(" expired") : " expired on " + date;
  };
  if (revoked ? (key->revoked || main->revoked) : (key->expired || main->expired)) {
    return key_name + (revoked ? " revoked" : expired_on(main));
  }
  if (used && used != main) {
    return "signing subkey " + upper(used->fpr) + " of " + key_name + (revoked ? " revoked" : expired_on(used));
  }
  return key_name + state;
}

gpg_verdict verdict(gpg_verdict::kind k, std::string payload, std::string fingerprint, std::string message) {
  gpg_verdict v;
  v.status = k;
  v.payload = std::move(payload);
  v.key_fingerprint = std::move(fingerprint);
  v.message = std::move(message);
  return v;
}

struct found_key {
  gpgme_error_t err = 0;  // 0, GPG_ERR_EOF (no such key), GPG_ERR_AMBIGUOUS_NAME, or the listing's error
  key_ptr key;
};

// The one key `name` (a fingerprint, key ID, or user ID substring, as gpg
// takes them) names in GnuPG home `home`. gpgme_get_key would do, but it
// refuses names under 8 characters ("bob", "bob@x.io") that gpg accepts.
found_key find_key(const std::string& home, const std::string& name, bool secret) {
  found_key found;
  auto ctx = new_context(home);
  if (!ctx) {
    found.err = gpg_error(GPG_ERR_INV_ENGINE);
    return found;
  }
  if (const gpgme_error_t err = gpgme_op_keylist_start(ctx->get(), name.c_str(), secret ? 1 : 0); err != 0) {
    found.err = err;
    return found;
  }
  for (;;) {
    gpgme_key_t raw = nullptr;
    const gpgme_error_t err = gpgme_op_keylist_next(ctx->get(), &raw);
    if (err != 0) {
      if (gpgme_err_code(err) != GPG_ERR_EOF || !found.key) found.err = err;
      break;
    }
    key_ptr key(raw);
    // A damaged keyring may list one key twice: the same fingerprint is
    // the same key (as gpgme_get_key decides).
    if (found.key && upper(found.key->subkeys ? found.key->subkeys->fpr : nullptr) !=
                         upper(key->subkeys ? key->subkeys->fpr : nullptr)) {
      found.key.reset();
      found.err = gpg_error(GPG_ERR_AMBIGUOUS_NAME);
      break;
    }
    if (!found.key) found.key = std::move(key);
  }
  gpgme_op_keylist_end(ctx->get());
  return found;
}

// Why secret key `k` cannot sign now, "" when it can: revoked, expired,
// disabled, or no subkey that may sign. `key` is the name it was asked
// for: "FPR!" asks for that very subkey, which alone must then be usable.
std::string cannot_sign(gpgme_key_t k, const std::string& key) {
  const auto expired = [](gpgme_subkey_t s) {
    const std::string date = utc_date(s->expires);
    return date.empty() ? std::string("expired") : "expired on " + date;
  };
  if (k->revoked || (k->subkeys && k->subkeys->revoked)) return "revoked";
  if (k->expired || (k->subkeys && k->subkeys->expired)) return expired(k->subkeys);
  if (k->disabled) return "disabled";
  const bool exact = key.size() > 1 && key.back() == '!';
  const std::string wanted = exact ? upper(key.substr(0, key.size() - 1).c_str()) : std::string();
  std::string why = "cannot sign: none of its (sub)keys is a signing key";
  for (gpgme_subkey_t sub = k->subkeys; sub; sub = sub->next) {
    if (exact && upper(sub->fpr) != wanted && upper(sub->keyid) != wanted) continue;
    if (!sub->can_sign) {
      if (exact) return "cannot sign: subkey " + upper(sub->fpr) + " is not a signing key";
      continue;
    }
    if (sub->revoked) {
      why = "cannot sign: signing subkey " + upper(sub->fpr) + " revoked";
    } else if (sub->expired) {
      why = "cannot sign: signing subkey " + upper(sub->fpr) + " " + expired(sub);
    } else if (!sub->disabled && !sub->invalid) {
      return {};
    }
  }
  return why;
}

}  // namespace

result<gpg_signature> gpg_sign(std::string_view payload, const std::string& key, const std::string& passphrase,
                               const std::string& gnupg_home) {
  OCIPIPE_TRY(gpgme_ready());
  OCIPIPE_ASSIGN_OR_RETURN(ctx_ptr ctx, new_context(gnupg_home));
  passphrase_state state{&passphrase};
  if (const gpgme_error_t err = gpgme_set_pinentry_mode(ctx.get(), GPGME_PINENTRY_MODE_LOOPBACK); err != 0) {
    return fail(errc::unavailable, "gpg loopback pinentry: " + gpg_message(err));
  }
  gpgme_set_passphrase_cb(ctx.get(), give_passphrase, &state);
  const std::string named = "signing key " + quote(key);

  if (key.empty()) return fail(errc::invalid_argument, "no signing key named");
  found_key found = find_key(gnupg_home, key, true);
  if (found.err != 0 || !found.key) {
    const gpgme_error_t err = found.err;
    if (gpgme_err_code(err) == GPG_ERR_AMBIGUOUS_NAME) {
      return fail(errc::invalid_argument, named + " names more than one secret key");
    }
    const std::string home = home_in_use(gnupg_home);
    struct stat st {};
    if (::stat(home.c_str(), &st) != 0) return fail(errc::not_found, "GnuPG home " + quote(home) + " does not exist");
    if (engine_missing(err)) return fail(errc::unavailable, "gpg: " + gpg_message(err));
    if (const found_key pub = find_key(gnupg_home, key, false); pub.err == 0 && pub.key) {
      return fail(errc::not_found, "no secret key " + quote(key) + " in the GnuPG home " + quote(home) +
                                       ", only its public key" +
                                       (pub.key->subkeys && pub.key->subkeys->fpr ? " " + upper(pub.key->subkeys->fpr)
                                                                                  : ""));
    }
    return fail(errc::not_found, "no secret key " + quote(key) + " in the GnuPG home " + quote(home));
  }
  key_ptr signer = std::move(found.key);
  const std::string fingerprint = upper(signer->subkeys ? signer->subkeys->fpr : nullptr);
  const std::string named_fpr = named + (fingerprint.empty() || fingerprint == key ? "" : " (" + fingerprint + ")");
  if (const std::string why = cannot_sign(signer.get(), key); !why.empty()) {
    return fail(errc::invalid_argument, named_fpr + " " + why);
  }
  if (const gpgme_error_t err = gpgme_signers_add(ctx.get(), signer.get()); err != 0) {
    return fail(errc::internal, "gpgme signer: " + gpg_message(err));
  }
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr in, data_from(payload));
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr out, data_sink());
  const gpgme_error_t err = gpgme_op_sign(ctx.get(), in.get(), out.get(), GPGME_SIG_MODE_NORMAL);
  if (err != 0) {
    // Whatever gpg made of our refusal, the callback knows what happened.
    if (state.missing) {
      return fail(errc::permission_denied, named_fpr + ": the key needs a passphrase: give --passphrase-file");
    }
    if (state.refused) return fail(errc::permission_denied, named_fpr + ": bad passphrase");
    switch (gpgme_err_code(err)) {
      case GPG_ERR_BAD_PASSPHRASE:
      case GPG_ERR_NO_PASSPHRASE:
      case GPG_ERR_NO_PIN:
      case GPG_ERR_BAD_PIN:
        return fail(errc::permission_denied, named_fpr + ": bad passphrase");
      case GPG_ERR_UNUSABLE_SECKEY:
      case GPG_ERR_NO_SECKEY:
      case GPG_ERR_WRONG_KEY_USAGE:
        return fail(errc::not_found, named_fpr + ": no usable secret signing key in the GnuPG home " +
                                         quote(home_in_use(gnupg_home)) + ": " + gpg_message(err));
      default:
        break;
    }
    if (engine_missing(err)) return fail(errc::unavailable, "gpg sign: " + gpg_message(err));
    return fail(errc::internal, "gpg sign with " + quote(key) + ": " + gpg_message(err));
  }
  const gpgme_sign_result_t res = gpgme_op_sign_result(ctx.get());
  if (!res || !res->signatures) {
    if (res && res->invalid_signers) {
      return fail(errc::not_found, named_fpr + ": " + gpg_message(res->invalid_signers->reason));
    }
    return fail(errc::internal, "gpg sign with " + quote(key) + ": no signature made");
  }
  gpg_signature made;
  made.key_fingerprint = upper(res->signatures->fpr);
  made.signature = take_data(std::move(out));
  if (made.signature.empty()) return fail(errc::internal, "gpg sign with " + quote(key) + ": empty output");
  if (made.key_fingerprint.empty()) made.key_fingerprint = fingerprint;
  return made;
}

result<gpg_verdict> gpg_verify(std::string_view signature, const std::vector<std::string>& keyrings) {
  OCIPIPE_TRY(gpgme_ready());
  OCIPIPE_ASSIGN_OR_RETURN(ephemeral_home home, ephemeral_home::create());
  OCIPIPE_ASSIGN_OR_RETURN(ctx_ptr ctx, new_context(home.dir()));
  std::map<std::string, std::string> fingerprints;  // (sub)key -> primary key
  for (std::size_t i = 0; i < keyrings.size(); ++i) {
    OCIPIPE_TRY(import_keyring(ctx.get(), keyrings[i], i, fingerprints));
  }

  using kind = gpg_verdict::kind;
  if (signature.empty()) return verdict(kind::malformed, {}, {}, "empty signature");
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr in, data_from(signature));
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr plain, data_sink());
  const gpgme_error_t err = gpgme_op_verify(ctx.get(), in.get(), nullptr, plain.get());
  std::string payload = take_data(std::move(plain));
  if (err != 0) {
    if (engine_missing(err)) return fail(errc::unavailable, "gpg verify: " + gpg_message(err));
    return verdict(kind::malformed, std::move(payload), {},
                   "not an OpenPGP signed message: " + gpg_message(err));
  }
  const gpgme_verify_result_t res = gpgme_op_verify_result(ctx.get());
  std::size_t count = 0;
  for (gpgme_signature_t s = res ? res->signatures : nullptr; s; s = s->next) ++count;
  if (count != 1) {
    return verdict(kind::malformed, std::move(payload), {},
                   count == 0 ? "no signature in the OpenPGP message"
                              : std::to_string(count) + " signatures in the OpenPGP message, expected one");
  }
  const gpgme_signature_t sig = res->signatures;
  // The (sub)key the signature names: its fingerprint (issuer fingerprint
  // or VALIDSIG), else the 16-hex key ID of an older signature.
  const std::string signer = upper(sig->fpr);
  const std::string primary = primary_of(fingerprints, signer);
  const std::string by = primary.empty() ? signer : primary;
  const auto unknown = [&] {
    return verdict(kind::unknown_key, std::move(payload), signer,
                   signer.empty() ? "signed by a key not among the keys given (the signature names none)"
                                  : "signed by unknown key " + signer + ", not among the keys given");
  };
  switch (gpgme_err_code(sig->status)) {
    case GPG_ERR_NO_ERROR:
      break;
    case GPG_ERR_NO_PUBKEY:
      return unknown();
    case GPG_ERR_BAD_SIGNATURE:
      // gpg checks a lone detached signature against empty data; a simple
      // signature always carries its payload, so this is no signed message.
      if (payload.empty()) {
        return verdict(kind::malformed, {}, primary,
                       "no signed data in the OpenPGP message (a detached signature?)");
      }
      return verdict(kind::bad, std::move(payload), primary,
                     "bad signature by key " + by + ": the signed data or the signature was altered");
    case GPG_ERR_CERT_REVOKED:
      return verdict(kind::unusable_key, std::move(payload), by, key_state(ctx.get(), signer, by, true));
    case GPG_ERR_KEY_EXPIRED:
      return verdict(kind::unusable_key, std::move(payload), by, key_state(ctx.get(), signer, by, false));
    case GPG_ERR_SIG_EXPIRED: {
      const std::string date = utc_date(static_cast<long>(sig->exp_timestamp));
      return verdict(kind::unusable_key, std::move(payload), by,
                     "signature by key " + by + " expired" + (date.empty() ? "" : " on " + date));
    }
    default:
      return verdict(kind::malformed, std::move(payload), primary,
                     "signature by key " + by + ": " + gpg_message(sig->status));
  }
  // As containers/image: valid except for trust, which the caller decides
  // through the keys it gave.
  if (sig->wrong_key_usage) {
    return verdict(kind::unusable_key, std::move(payload), by,
                   "key " + by + " is not a signing key: signature by " + signer + ", a key not meant for signing");
  }
  if (sig->validity == GPGME_VALIDITY_NEVER || sig->validity_reason != 0) {
    return verdict(kind::unusable_key, std::move(payload), by,
                   "signature by key " + by + " not acceptable" +
                       (sig->validity_reason ? ": " + gpg_message(sig->validity_reason) : std::string()));
  }
  if (primary.empty()) return unknown();
  return verdict(kind::valid, std::move(payload), primary, {});
}

}  // namespace ocipipe::io
