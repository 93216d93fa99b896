// sign: simple signing (GnuPG, containers-signature(5)) into a file or a
// lookaside store, or a cosign-style key signature stored beside the image;
// and new key pairs for the latter.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "io/gpg_signing.h"
#include "io/lookaside_store.h"
#include "io/output_file.h"
#include "io/small_file.h"
#include "pipeline/remote.h"
#include "pipeline/signature_check.h"
#include "pipeline/sigstore_attachments.h"
#include "stages/docker_reference.h"
#include "stages/registries_d.h"
#include "stages/sigstore_key.h"
#include "stages/simple_signing.h"

namespace ocipipe {

namespace {

// Private keys are small; a cap keeps /dev/zero out.
constexpr std::size_t max_private_key_bytes = 1 << 20;

// The identity a signature claims: --identity, else a docker:// image's own.
result<docker_reference> identity_of(const image_reference& ref, const std::string& identity) {
  if (!identity.empty()) {
    auto id = parse_docker_reference(identity);
    if (!id) return tl::unexpected(std::move(id).error().context("--identity"));
    return id;
  }
  if (auto own = docker_reference_of(ref)) return *own;
  return fail(errc::invalid_argument,
              "--identity is required: " + ref.str() + " has no docker reference to claim (e.g. --identity "
              "registry.example.com/app:1)");
}

// Where a simple signature goes without -o: --lookaside, else registries.d's
// lookaside-staging, then lookaside, for the identity's repository.
result<std::string> lookaside_base(const sign_options& opts, const docker_reference& identity) {
  if (!opts.store.lookaside.empty()) return opts.store.lookaside;
  const std::string dir = opts.store.registries_d.empty() ? io::default_registries_d() : opts.store.registries_d;
  OCIPIPE_ASSIGN_OR_RETURN(auto config, io::load_registries_d(dir));
  const auto entry = registries_d_lookup(config, identity.name());
  if (entry.lookaside_staging && !entry.lookaside_staging->empty()) return *entry.lookaside_staging;
  if (entry.lookaside && !entry.lookaside->empty()) return *entry.lookaside;
  return fail(errc::invalid_argument, "no place for the signature: give -o FILE or --lookaside DIR, or configure "
                                      "a lookaside for " + quote(identity.name()) + " in registries.d " + quote(dir));
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

result<sign_report> sign_simple(const image_reference& ref, const sign_options& opts,
                                const pipeline::signed_root& root, const docker_reference& identity) {
  if (opts.referrer) return fail(errc::invalid_argument, "--referrer applies to key signatures (--key), not --sign-by");
  signature_claims claims;
  claims.type = payload_type::simple_signing;
  claims.docker_reference = identity.str();
  claims.manifest_digest = root.root.digest;
  claims.creator = std::string("ocipipe ") + OCIPIPE_VERSION;
  claims.timestamp = unix_now();
  const auto payload = make_signature_payload(claims);
  OCIPIPE_ASSIGN_OR_RETURN(auto made, io::gpg_sign(payload, opts.gpg_key, opts.passphrase, opts.gnupg_home));
  const std::string& signature = made.signature;
  sign_report r;
  r.ref = ref;
  r.manifest = root.root;
  r.format = "simple-signing";
  r.identity = claims.docker_reference;
  r.key = made.key_fingerprint;  // the key that signed, not the name --sign-by gave
  if (!opts.output_file.empty()) {
    OCIPIPE_TRY(io::write_output_file(opts.output_file, signature, 0644, opts.force));
    r.stored_at = opts.output_file;
    return r;
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto base, lookaside_base(opts, identity));
  auto at = io::write_lookaside_signature(base, identity.path, root.root.digest, signature);
  if (!at) return tl::unexpected(std::move(at).error().context("lookaside " + quote(base)));
  r.stored_at = std::move(*at);
  return r;
}

result<sign_report> sign_with_key(const image_reference& ref, const sign_options& opts,
                                  const pipeline::signed_root& root, const docker_reference& identity,
                                  pipeline::remote_session& session) {
  if (ref.kind != transport::oci && ref.kind != transport::docker)
    return fail(errc::invalid_argument, "key signatures are stored beside the image: " + ref.str() +
                                            " is read-only (oci-archive:, docker-archive: and oci+https:// "
                                            "cannot take them; copy the image to oci: or a registry first)");
  auto pem = io::read_linked_file(opts.private_key_file, max_private_key_bytes);
  if (!pem) return tl::unexpected(std::move(pem).error().context("--key " + quote(opts.private_key_file)));
  auto key = parse_private_key(*pem, opts.passphrase);
  if (!key) return tl::unexpected(std::move(key).error().context("--key " + quote(opts.private_key_file)));
  signature_claims claims;
  claims.type = payload_type::cosign;
  claims.docker_reference = identity.str();
  claims.manifest_digest = root.root.digest;
  const auto payload = make_signature_payload(claims);
  OCIPIPE_ASSIGN_OR_RETURN(auto der, sign_payload(*key, payload));
  OCIPIPE_ASSIGN_OR_RETURN(auto written,
                           pipeline::attach_signature(ref, root.root, payload, der, opts.referrer, &session));
  sign_report r;
  r.ref = ref;
  r.manifest = root.root;
  r.format = "sigstore";
  r.identity = claims.docker_reference;
  if (auto pub = parse_public_key(public_key_pem(*key))) r.key = pub->id();
  r.stored_at = std::move(written.stored_at);
  r.signature_manifest = std::move(written.manifest);
  return r;
}

// Options that do not apply to the kind of signature asked for are refused,
// not ignored: the user meant them to do something.
result<void> check_options_apply(const sign_options& opts) {
  auto refuse = [](std::string text) { return fail(errc::invalid_argument, std::move(text)); };
  if (!opts.private_key_file.empty()) {
    const char* where = "key signatures are stored beside the image, in its layout or registry";
    if (!opts.output_file.empty()) return refuse(std::string("-o applies to simple signatures (--sign-by); ") + where);
    if (!opts.store.lookaside.empty())
      return refuse(std::string("--lookaside applies to simple signatures (--sign-by); ") + where);
    if (!opts.store.registries_d.empty())
      return refuse(std::string("--registries.d applies to simple signatures (--sign-by); ") + where);
    if (!opts.gnupg_home.empty())
      return refuse("--gnupg-home applies to simple signatures (--sign-by); --key names the private key file");
  } else {
    if (opts.referrer) return refuse("--referrer applies to key signatures (--key), not --sign-by");
    if (!opts.output_file.empty() && (!opts.store.lookaside.empty() || !opts.store.registries_d.empty()))
      return refuse(std::string("-o and ") + (opts.store.lookaside.empty() ? "--registries.d" : "--lookaside") +
                    " both say where the signature goes: give one");
  }
  if (opts.force && opts.output_file.empty())
    return refuse("--force applies to an existing -o FILE (and to --generate-key); nothing else is replaced");
  return {};
}

}  // namespace

result<sign_report> sign_image(const image_reference& ref, const sign_options& opts) {
  auto where = [&](error e) { return tl::unexpected(std::move(e).context("sign " + ref.str())); };
  if (opts.gpg_key.empty() == opts.private_key_file.empty())
    return where(error(errc::invalid_argument, "give exactly one of --sign-by (GnuPG) and --key (private key file)"));
  if (auto ok = check_options_apply(opts); !ok) return where(std::move(ok).error());
  auto identity = identity_of(ref, opts.identity);
  if (!identity) return where(std::move(identity).error());
  pipeline::remote_session session(opts.remote);
  auto root = pipeline::open_signed_root(ref, &session);
  if (!root) return where(std::move(root).error());
  auto r = opts.gpg_key.empty() ? sign_with_key(ref, opts, *root, *identity, session)
                                : sign_simple(ref, opts, *root, *identity);
  if (!r) return where(std::move(r).error());
  return r;
}

result<std::string> generate_key_files(const std::string& prefix, const std::string& passphrase, bool force) {
  const std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  auto where = [&](error e) { return tl::unexpected(std::move(e).context("generate key " + quote(prefix))); };
  struct stat st {};
  if (!force)
    for (const auto* p : {&key_path, &pub_path})
      if (::lstat(p->c_str(), &st) == 0)
        return where(error(errc::invalid_argument, quote(*p) + " exists (--force replaces it)"));
  auto pair = generate_key_pair(passphrase);
  if (!pair) return where(std::move(pair).error());
  auto pub = parse_public_key(pair->public_pem);
  if (!pub) return where(std::move(pub).error());
  if (auto ok = io::write_output_file(key_path, pair->private_pem, 0600, force); !ok) return where(std::move(ok).error());
  if (auto ok = io::write_output_file(pub_path, pair->public_pem, 0644, force); !ok) {
    // A private key without its public half is of no use; leave neither.
    ::unlink(key_path.c_str());
    return where(std::move(ok).error());
  }
  return pub->id();
}

}  // namespace ocipipe
