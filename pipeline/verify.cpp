// verify: the signatures of one image checked with the keys given
// (--key-file GnuPG keyrings, --key PEM public keys), or by a policy.
#include "pipeline/remote.h"
#include "pipeline/signature_check.h"
#include "stages/docker_reference.h"

namespace ocipipe {

std::string_view signature_status_name(signature_status s) noexcept {
  switch (s) {
    case signature_status::valid: return "valid";
    case signature_status::unknown_key: return "unknown_key";
    case signature_status::bad_signature: return "bad_signature";
    case signature_status::malformed: return "malformed";
    case signature_status::digest_differs: return "digest_differs";
    case signature_status::identity_differs: return "identity_differs";
  }
  return "malformed";
}

namespace {

std::string quoted_identity(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The identity a signature must claim without a policy: --identity exactly
// (both normalized), else a docker:// image's own repository, else anything
// (said so in the signature's message).
result<pipeline::identity_rule> identity_rule_of(const image_reference& ref, const std::string& wanted) {
  if (!wanted.empty()) {
    auto expected = parse_docker_reference(wanted);
    if (!expected) return tl::unexpected(std::move(expected).error().context("--identity"));
    return pipeline::identity_rule([want = expected->str()](std::string_view signed_ref) -> result<void> {
      auto got = parse_docker_reference(signed_ref);
      if (!got) return fail(errc::malformed, "signed identity " + quoted_identity(signed_ref) + ": " + got.error().message());
      if (got->str() != want)
        return fail(errc::permission_denied,
                    "identity differs: signed " + quoted_identity(signed_ref) + ", expected " + quoted_identity(want));
      return {};
    });
  }
  if (auto own = docker_reference_of(ref)) {
    return pipeline::identity_rule([want = own->name()](std::string_view signed_ref) -> result<void> {
      auto got = parse_docker_reference(signed_ref);
      if (!got) return fail(errc::malformed, "signed identity " + quoted_identity(signed_ref) + ": " + got.error().message());
      if (got->name() != want)
        return fail(errc::permission_denied,
                    "identity differs: signed " + quoted_identity(signed_ref) + ", expected repository " + quoted_identity(want));
      return {};
    });
  }
  return pipeline::identity_rule([](std::string_view) -> result<void> { return {}; });
}

// The verdict: accepted with one valid signature, else the most useful
// reason. Where the image cannot hold the key signatures asked for, that
// is the reason rather than a bare "no signature".
void decide(verify_report& r, const image_reference& ref, bool simple_asked, bool keys_asked) {
  for (const auto& c : r.signatures)
    if (c.status == signature_status::valid) {
      r.accepted = true;
      r.reason.clear();
      return;
    }
  r.accepted = false;
  r.reason = pipeline::failure_reason(r.signatures);
  if (const auto unkept = pipeline::key_signatures_unkept(ref); r.signatures.empty() && keys_asked && !unkept.empty())
    r.reason = simple_asked ? "no signature (" + unkept + ")" : unkept;
}

// Options that only find simple signatures are refused without --key-file:
// nothing would read them.
result<void> check_simple_sources_used(const verify_options& opts) {
  std::string given;
  if (!opts.signature_files.empty()) given = "--signature";
  else if (!opts.store.lookaside.empty()) given = "--lookaside";
  else if (!opts.store.registries_d.empty()) given = "--registries.d";
  if (given.empty()) return {};
  return fail(errc::invalid_argument, given + " finds simple signatures, which need --key-file (GnuPG public keys) "
                                              "or --policy to be checked");
}

result<verify_report> verify_with_keys(const image_reference& ref, const verify_options& opts) {
  if (opts.gpg_keyrings.empty() && opts.public_keys.empty())
    return fail(errc::invalid_argument, "no keys: give --key-file (GnuPG), --key (PEM public key) or --policy");
  if (opts.gpg_keyrings.empty()) OCIPIPE_TRY(check_simple_sources_used(opts));
  std::vector<pipeline::named_keyring> keyrings;
  for (const auto& f : opts.gpg_keyrings) {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, pipeline::read_key_file(f, "--key-file"));
    keyrings.push_back({"--key-file " + quote(f), std::move(bytes)});
  }
  std::vector<public_key> keys;
  for (const auto& f : opts.public_keys) {
    const std::string what = "--key " + quote(f);
    OCIPIPE_ASSIGN_OR_RETURN(auto pem, pipeline::read_key_file(f, "--key"));
    OCIPIPE_ASSIGN_OR_RETURN(auto in_file, pipeline::parse_public_keys(pem, what));
    for (auto& k : in_file) keys.push_back(std::move(k));
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto rule, identity_rule_of(ref, opts.identity));
  const bool identity_unchecked = opts.identity.empty() && !docker_reference_of(ref);

  pipeline::remote_session session(opts.remote);
  OCIPIPE_ASSIGN_OR_RETURN(auto root, pipeline::open_signed_root(ref, &session));
  verify_report r;
  r.ref = ref;
  r.manifest = root.root;
  const digest& d = root.root.digest;

  if (!keyrings.empty()) {
    // Lookaside stores are laid out by repository: --identity's, else the image's own.
    std::optional<docker_reference> located_by;
    if (!opts.identity.empty()) {
      if (auto id = parse_docker_reference(opts.identity)) located_by = std::move(*id);
    } else {
      located_by = docker_reference_of(ref);
    }
    OCIPIPE_ASSIGN_OR_RETURN(auto sigs, pipeline::collect_simple_signatures(ref, d, opts.signature_files, opts.store,
                                                                            located_by, opts.remote));
    for (const auto& s : sigs) {
      OCIPIPE_ASSIGN_OR_RETURN(auto c, pipeline::check_simple_signature(s, keyrings, d, rule));
      r.signatures.push_back(std::move(c));
    }
  }
  if (!keys.empty()) {
    OCIPIPE_ASSIGN_OR_RETURN(auto sigs, pipeline::collect_key_signatures(ref, root, &session));
    for (const auto& s : sigs) r.signatures.push_back(pipeline::check_key_signature(s, keys, d, rule));
  }
  if (identity_unchecked)
    for (auto& c : r.signatures)
      if (c.status == signature_status::valid)
        c.message = "identity " + quoted_identity(c.identity) + " not checked (no --identity, and " +
                    ref.str() + " has no docker reference)";
  decide(r, ref, !keyrings.empty(), !keys.empty());
  return r;
}

}  // namespace

result<verify_report> verify_image(const image_reference& ref, const verify_options& opts) {
  if (!opts.policy_file.empty() && !opts.identity.empty())
    return tl::unexpected(error(errc::invalid_argument,
                                "--identity does not apply with --policy: each requirement's signedIdentity says "
                                "what a signature must claim")
                              .context("verify " + ref.str()));
  auto r = opts.policy_file.empty() ? verify_with_keys(ref, opts) : pipeline::verify_with_policy(ref, opts);
  if (!r) return tl::unexpected(std::move(r).error().context("verify " + ref.str()));
  return r;
}

}  // namespace ocipipe
