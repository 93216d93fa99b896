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

// A payload blob that failed its descriptor, as one more signature looked at.
signature_check problem_check(const std::string& problem) {
  signature_check c;
  c.format = "sigstore";
  const auto cut = problem.find(": ");
  c.source = cut == std::string::npos ? problem : problem.substr(0, cut);
  c.status = signature_status::malformed;
  c.message = cut == std::string::npos ? problem : problem.substr(cut + 2);
  return c;
}

void decide(verify_report& r) {
  for (const auto& c : r.signatures)
    if (c.status == signature_status::valid) {
      r.accepted = true;
      r.reason.clear();
      return;
    }
  r.accepted = false;
  r.reason = r.signatures.empty() ? "no signature" : r.signatures.front().message;
}

result<verify_report> verify_with_keys(const image_reference& ref, const verify_options& opts) {
  if (opts.gpg_keyrings.empty() && opts.public_keys.empty())
    return fail(errc::invalid_argument, "no keys: give --key-file (GnuPG), --key (PEM public key) or --policy");
  std::vector<std::string> keyrings;
  for (const auto& f : opts.gpg_keyrings) {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, pipeline::read_key_file(f, "--key-file"));
    keyrings.push_back(std::move(bytes));
  }
  std::vector<public_key> keys;
  for (const auto& f : opts.public_keys) {
    OCIPIPE_ASSIGN_OR_RETURN(auto pem, pipeline::read_key_file(f, "--key"));
    auto k = parse_public_key(pem);
    if (!k) return tl::unexpected(std::move(k).error().context("--key " + quote(f)));
    keys.push_back(std::move(*k));
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
    // Lookaside stores are laid out by repository path: --identity's, else the image's own.
    std::string repo_path;
    if (!opts.identity.empty()) {
      if (auto id = parse_docker_reference(opts.identity)) repo_path = id->path;
    } else if (auto own = docker_reference_of(ref)) {
      repo_path = own->path;
    }
    OCIPIPE_ASSIGN_OR_RETURN(auto sigs, pipeline::collect_simple_signatures(ref, d, opts.signature_files, opts.store,
                                                                            repo_path, opts.remote));
    for (const auto& s : sigs) {
      OCIPIPE_ASSIGN_OR_RETURN(auto c, pipeline::check_simple_signature(s, keyrings, d, rule));
      r.signatures.push_back(std::move(c));
    }
  } else if (!opts.signature_files.empty()) {
    return fail(errc::invalid_argument, "--signature: simple signatures need --key-file (GnuPG public keys)");
  }
  if (!keys.empty()) {
    std::vector<std::string> problems;
    OCIPIPE_ASSIGN_OR_RETURN(auto sigs, pipeline::collect_key_signatures(ref, root, &session, problems));
    for (const auto& s : sigs) r.signatures.push_back(pipeline::check_key_signature(s, keys, d, rule));
    for (const auto& p : problems) r.signatures.push_back(problem_check(p));
  }
  if (identity_unchecked)
    for (auto& c : r.signatures)
      if (c.status == signature_status::valid)
        c.message = "identity " + quoted_identity(c.identity) + " not checked (no --identity, and " +
                    ref.str() + " has no docker reference)";
  decide(r);
  return r;
}

}  // namespace

result<verify_report> verify_image(const image_reference& ref, const verify_options& opts) {
  auto r = opts.policy_file.empty() ? verify_with_keys(ref, opts) : pipeline::verify_with_policy(ref, opts);
  if (!r) return tl::unexpected(std::move(r).error().context("verify " + ref.str()));
  return r;
}

}  // namespace ocipipe
