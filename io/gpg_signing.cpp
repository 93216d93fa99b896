#include "io/gpg_signing.h"

#include <fcntl.h>
#include <gpgme.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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

struct passphrase_state {
  const std::string* passphrase;
  bool refused = false;
};

// Loopback pinentry: gpg asks us, never the terminal. A second request
// means the first answer was wrong; asking again would only repeat it.
gpgme_error_t give_passphrase(void* hook, const char* /*uid_hint*/, const char* /*info*/, int prev_was_bad,
                              int fd) {
  auto* state = static_cast<passphrase_state*>(hook);
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

// Imports `keyring` and records the fingerprints of every (sub)key it
// brought, mapped to its primary key's.
result<void> import_keyring(gpgme_ctx_t ctx, std::string_view keyring, std::size_t index,
                            std::map<std::string, std::string>& fingerprints) {
  const std::string what = "keyring " + std::to_string(index + 1);
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr in, data_from(keyring));
  if (const gpgme_error_t err = gpgme_op_import(ctx, in.get()); err != 0) {
    if (engine_missing(err)) return fail(errc::unavailable, what + ": gpg: " + gpg_message(err));
    return fail(errc::malformed, what + ": holds no OpenPGP key: " + gpg_message(err));
  }
  const gpgme_import_result_t res = gpgme_op_import_result(ctx);
  std::size_t usable = 0;
  for (gpgme_import_status_t imp = res ? res->imports : nullptr; imp; imp = imp->next) {
    if (imp->result != 0 || !imp->fpr) continue;
    gpgme_key_t raw = nullptr;
    if (gpgme_get_key(ctx, imp->fpr, &raw, 0) != 0 || !raw) continue;
    key_ptr key(raw);
    const std::string primary = upper(key->subkeys ? key->subkeys->fpr : imp->fpr);
    for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next) {
      if (sub->fpr) fingerprints.emplace(upper(sub->fpr), primary);
    }
    ++usable;
  }
  if (usable == 0) return fail(errc::malformed, what + ": holds no usable OpenPGP public key");
  return {};
}

gpg_verdict verdict(gpg_verdict::kind k, std::string payload, std::string fingerprint, std::string message) {
  gpg_verdict v;
  v.status = k;
  v.payload = std::move(payload);
  v.key_fingerprint = std::move(fingerprint);
  v.message = std::move(message);
  return v;
}

}  // namespace

result<std::string> gpg_sign(std::string_view payload, const std::string& key, const std::string& passphrase,
                             const std::string& gnupg_home) {
  OCIPIPE_TRY(gpgme_ready());
  OCIPIPE_ASSIGN_OR_RETURN(ctx_ptr ctx, new_context(gnupg_home));
  passphrase_state state{&passphrase};
  if (const gpgme_error_t err = gpgme_set_pinentry_mode(ctx.get(), GPGME_PINENTRY_MODE_LOOPBACK); err != 0) {
    return fail(errc::unavailable, "gpg loopback pinentry: " + gpg_message(err));
  }
  gpgme_set_passphrase_cb(ctx.get(), give_passphrase, &state);

  gpgme_key_t raw = nullptr;
  if (const gpgme_error_t err = gpgme_get_key(ctx.get(), key.c_str(), &raw, 1); err != 0 || !raw) {
    const auto code = gpgme_err_code(err);
    if (engine_missing(err)) return fail(errc::unavailable, "gpg: " + gpg_message(err));
    if (code == GPG_ERR_AMBIGUOUS_NAME) {
      return fail(errc::invalid_argument, "signing key " + quote(key) + " names more than one secret key");
    }
    return fail(errc::not_found, "no secret key " + quote(key) + " in the GnuPG home");
  }
  key_ptr signer(raw);
  if (const gpgme_error_t err = gpgme_signers_add(ctx.get(), signer.get()); err != 0) {
    return fail(errc::internal, "gpgme signer: " + gpg_message(err));
  }
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr in, data_from(payload));
  OCIPIPE_ASSIGN_OR_RETURN(data_ptr out, data_sink());
  const gpgme_error_t err = gpgme_op_sign(ctx.get(), in.get(), out.get(), GPGME_SIG_MODE_NORMAL);
  if (err != 0) {
    switch (gpgme_err_code(err)) {
      case GPG_ERR_BAD_PASSPHRASE:
      case GPG_ERR_NO_PASSPHRASE:
      case GPG_ERR_NO_PIN:
      case GPG_ERR_BAD_PIN:
        return fail(errc::permission_denied, "signing key " + quote(key) + ": bad passphrase");
      case GPG_ERR_CANCELED:
        if (state.refused) return fail(errc::permission_denied, "signing key " + quote(key) + ": bad passphrase");
        break;
      case GPG_ERR_UNUSABLE_SECKEY:
      case GPG_ERR_NO_SECKEY:
      case GPG_ERR_WRONG_KEY_USAGE:
        return fail(errc::not_found, "signing key " + quote(key) + ": no usable secret signing key");
      default:
        break;
    }
    if (engine_missing(err)) return fail(errc::unavailable, "gpg sign: " + gpg_message(err));
    if (state.refused) return fail(errc::permission_denied, "signing key " + quote(key) + ": bad passphrase");
    return fail(errc::internal, "gpg sign with " + quote(key) + ": " + gpg_message(err));
  }
  const gpgme_sign_result_t res = gpgme_op_sign_result(ctx.get());
  if (!res || !res->signatures) {
    if (res && res->invalid_signers) {
      return fail(errc::not_found, "signing key " + quote(key) + ": " + gpg_message(res->invalid_signers->reason));
    }
    return fail(errc::internal, "gpg sign with " + quote(key) + ": no signature made");
  }
  std::string message = take_data(std::move(out));
  if (message.empty()) return fail(errc::internal, "gpg sign with " + quote(key) + ": empty output");
  return message;
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
  const std::string signer = upper(sig->fpr);
  const auto known = fingerprints.find(signer);
  const std::string primary = known != fingerprints.end() ? known->second : std::string();
  switch (gpgme_err_code(sig->status)) {
    case GPG_ERR_NO_ERROR:
      break;
    case GPG_ERR_NO_PUBKEY:
      return verdict(kind::unknown_key, std::move(payload), {},
                     "signed by unknown key " + signer + ", not among the keys given");
    case GPG_ERR_BAD_SIGNATURE:
      // gpg checks a lone detached signature against empty data; a simple
      // signature always carries its payload, so this is no signed message.
      if (payload.empty()) {
        return verdict(kind::malformed, {}, primary,
                       "no signed data in the OpenPGP message (a detached signature?)");
      }
      return verdict(kind::bad, std::move(payload), primary,
                     "bad signature by key " + signer + ": the signed data or the signature was altered");
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_SIG_EXPIRED:
    case GPG_ERR_CERT_REVOKED:
      return verdict(kind::bad, std::move(payload), primary,
                     "signature by key " + signer + " not acceptable: " + gpg_message(sig->status));
    default:
      return verdict(kind::malformed, std::move(payload), primary,
                     "signature by key " + signer + ": " + gpg_message(sig->status));
  }
  // As containers/image: valid except for trust, which the caller decides
  // through the keys it gave.
  if (sig->validity == GPGME_VALIDITY_NEVER || sig->validity_reason != 0 || sig->wrong_key_usage) {
    return verdict(kind::bad, std::move(payload), primary,
                   "signature by key " + signer + " not acceptable" +
                       (sig->wrong_key_usage ? ": key not meant for signing"
                                             : sig->validity_reason ? ": " + gpg_message(sig->validity_reason)
                                                                    : std::string()));
  }
  if (primary.empty()) {
    return verdict(kind::unknown_key, std::move(payload), {},
                   "signed by key " + signer + ", not among the keys given");
  }
  return verdict(kind::valid, std::move(payload), primary, {});
}

}  // namespace ocipipe::io
