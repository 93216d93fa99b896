// containers-policy.json(5) applied: the requirements of the scope an image
// falls in, each of which must hold (insecureAcceptAnything, reject,
// signedBy, sigstoreSigned), as containers/image's PolicyContext does; and
// enforce_policy, which pull, copy, unpack and create call first.
#include <map>

#include "pipeline/remote.h"
#include "pipeline/signature_check.h"
#include "stages/docker_reference.h"
#include "stages/signature_policy.h"

namespace ocipipe {

namespace pipeline {

namespace {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string requirement_name(policy_requirement::kind k) {
  switch (k) {
    case policy_requirement::kind::insecure_accept_anything: return "insecureAcceptAnything";
    case policy_requirement::kind::reject: return "reject";
    case policy_requirement::kind::signed_by: return "signedBy";
    case policy_requirement::kind::sigstore_signed: return "sigstoreSigned";
  }
  return "reject";
}

// Where the simple signatures of an image without a docker reference of
// its own are looked up: the repository a requirement's signedIdentity
// names exactly (exactReference, exactRepository), else none.
std::optional<docker_reference> repository_named_by(const signed_identity& id) {
  std::string_view text;
  if (id.type == signed_identity::kind::exact_reference) text = id.docker_reference;
  if (id.type == signed_identity::kind::exact_repository) text = id.docker_repository;
  if (text.empty()) return std::nullopt;
  auto parsed = parse_docker_reference(text);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

// One policy evaluation: signatures are collected once, on first need.
struct policy_run {
  const image_reference& ref;
  const verify_options& opts;
  std::string policy_dir;
  signed_root root;
  remote_session& session;
  std::optional<docker_reference> image_identity;
  /// Simple signatures by the repository name they were looked up under ("" none).
  std::map<std::string, std::vector<stored_simple_signature>> simple;
  std::optional<std::vector<stored_key_signature>> keyed;

  // The keys of a requirement, named for errors; relative paths taken from
  // the policy's directory.
  result<std::vector<named_keyring>> key_contents(const policy_requirement& req) const {
    std::vector<named_keyring> out;
    for (const auto& p : req.key_paths) {
      const std::string path = !p.empty() && p.front() == '/' ? p : policy_dir + "/" + p;
      OCIPIPE_ASSIGN_OR_RETURN(auto bytes, read_key_file(path, "policy keyPath"));
      out.push_back({"policy keyPath " + quote(path), std::move(bytes)});
    }
    for (std::size_t i = 0; i < req.key_data.size(); ++i)
      out.push_back({req.key_data.size() == 1 ? std::string("policy keyData")
                                              : "policy keyData[" + std::to_string(i) + "]",
                     req.key_data[i]});
    return out;
  }

  identity_rule rule_of(const policy_requirement& req) const {
    return [&req, this](std::string_view signed_ref) -> result<void> {
      auto ok = match_signed_identity(req.identity, image_identity, signed_ref);
      if (ok) return {};
      // Only an unparsable signed reference is the signature's fault.
      const errc code = ok.error().code() == errc::malformed ? errc::malformed : errc::permission_denied;
      return fail(code, "identity differs: " + ok.error().message());
    };
  }

  result<const std::vector<stored_simple_signature>*> simple_signatures(const policy_requirement& req) {
    const std::optional<docker_reference> located_by =
        image_identity ? image_identity : repository_named_by(req.identity);
    const std::string name = located_by ? located_by->name() : std::string();
    auto have = simple.find(name);
    if (have == simple.end()) {
      OCIPIPE_ASSIGN_OR_RETURN(auto sigs, collect_simple_signatures(ref, root.root.digest, opts.signature_files,
                                                                    opts.store, located_by, opts.remote));
      have = simple.emplace(name, std::move(sigs)).first;
    }
    return &have->second;
  }

  result<bool> signed_by(const policy_requirement& req, verify_report& r) {
    OCIPIPE_ASSIGN_OR_RETURN(auto keyrings, key_contents(req));
    OCIPIPE_ASSIGN_OR_RETURN(auto sigs, simple_signatures(req));
    const auto rule = rule_of(req);
    bool holds = false;
    const std::size_t first = r.signatures.size();
    for (const auto& s : *sigs) {
      OCIPIPE_ASSIGN_OR_RETURN(auto c, check_simple_signature(s, keyrings, root.root.digest, rule));
      holds = holds || c.status == signature_status::valid;
      r.signatures.push_back(std::move(c));
    }
    if (!holds) r.reason = failure_reason(std::span(r.signatures).subspan(first));
    return holds;
  }

  result<bool> sigstore_signed(const policy_requirement& req, verify_report& r) {
    OCIPIPE_ASSIGN_OR_RETURN(auto pems, key_contents(req));
    std::vector<public_key> keys;
    for (const auto& pem : pems) {
      OCIPIPE_ASSIGN_OR_RETURN(auto in_it, parse_public_keys(pem.bytes, pem.name));
      for (auto& k : in_it) keys.push_back(std::move(k));
    }
    if (!keyed) {
      OCIPIPE_ASSIGN_OR_RETURN(auto sigs, collect_key_signatures(ref, root, &session));
      keyed = std::move(sigs);
    }
    const auto rule = rule_of(req);
    bool holds = false;
    const std::size_t first = r.signatures.size();
    for (const auto& s : *keyed) {
      auto c = check_key_signature(s, keys, root.root.digest, rule);
      holds = holds || c.status == signature_status::valid;
      r.signatures.push_back(std::move(c));
    }
    if (!holds) {
      const auto unkept = key_signatures_unkept(ref);
      r.reason = r.signatures.size() == first && !unkept.empty()
                     ? unkept
                     : failure_reason(std::span(r.signatures).subspan(first));
    }
    return holds;
  }
};

}  // namespace

result<verify_report> verify_with_policy(const image_reference& ref, const verify_options& opts) {
  if (!opts.gpg_keyrings.empty() || !opts.public_keys.empty())
    return fail(errc::invalid_argument, "--policy takes its keys from the policy: no --key-file or --key with it");
  OCIPIPE_ASSIGN_OR_RETURN(auto text, read_key_file(opts.policy_file, "policy"));
  auto policy = parse_signature_policy(text);
  if (!policy) return tl::unexpected(std::move(policy).error().context("policy " + quote(opts.policy_file)));

  verify_report r;
  r.ref = ref;
  const auto& reqs = requirements_for(*policy, ref, absolute_image_path(ref), &r.policy_scope);
  // A scope that rejects needs nothing read: the image is not even opened.
  for (const auto& req : reqs)
    if (req.type == policy_requirement::kind::reject) {
      r.reason = "policy rejects " + ref.str() + " (scope " + quote(r.policy_scope) + ")";
      return r;
    }
  remote_session session(opts.remote);
  OCIPIPE_ASSIGN_OR_RETURN(auto root, open_signed_root(ref, &session));
  r.manifest = root.root;
  policy_run run{ref, opts, directory_of(opts.policy_file), std::move(root), session, docker_reference_of(ref),
                 {}, {}};
  for (const auto& req : reqs) {
    result<bool> holds = true;
    switch (req.type) {
      case policy_requirement::kind::insecure_accept_anything: break;
      case policy_requirement::kind::reject: holds = false; break;
      case policy_requirement::kind::signed_by: holds = run.signed_by(req, r); break;
      case policy_requirement::kind::sigstore_signed: holds = run.sigstore_signed(req, r); break;
    }
    if (!holds) return tl::unexpected(std::move(holds).error().context(requirement_name(req.type)));
    if (!*holds) {
      r.accepted = false;
      if (r.reason.empty()) r.reason = requirement_name(req.type) + " does not hold";
      return r;
    }
  }
  r.accepted = true;
  r.reason.clear();
  return r;
}

}  // namespace pipeline

result<std::optional<descriptor>> enforce_policy(const image_reference& ref, const policy_options& policy,
                                                 const remote_options& remote) {
  if (policy.policy_file.empty()) {
    // The signature stores are read only to apply a policy: without one they would be ignored.
    if (!policy.store.lookaside.empty() || !policy.store.registries_d.empty())
      return fail(errc::invalid_argument,
                  std::string(policy.store.lookaside.empty() ? "--registries.d" : "--lookaside") +
                      " applies with --policy (where the policy's signedBy signatures are found); give --policy FILE");
    return std::optional<descriptor>{};
  }
  verify_options opts;
  opts.policy_file = policy.policy_file;
  opts.store = policy.store;
  opts.remote = remote;
  auto r = pipeline::verify_with_policy(ref, opts);
  if (!r) return tl::unexpected(std::move(r).error().context("policy " + quote(policy.policy_file)));
  if (!r->accepted) return fail(errc::permission_denied, "policy refused " + ref.str() + ": " + r->reason);
  return std::optional<descriptor>{r->manifest};
}

}  // namespace ocipipe
