// containers-policy.json(5) applied: the requirements of the scope an image
// falls in, each of which must hold (insecureAcceptAnything, reject,
// signedBy, sigstoreSigned), as containers/image's PolicyContext does; and
// enforce_policy, which pull, copy, unpack and create call first.
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

// One policy evaluation: signatures are collected once, on first need.
struct policy_run {
  const image_reference& ref;
  const verify_options& opts;
  std::string policy_dir;
  signed_root root;
  remote_session& session;
  std::optional<docker_reference> image_identity;
  std::optional<std::vector<stored_simple_signature>> simple;
  std::optional<std::vector<stored_key_signature>> keyed;
  std::vector<std::string> key_problems;

  // The key files of a requirement, relative paths taken from the policy's directory.
  result<std::vector<std::string>> key_contents(const policy_requirement& req) const {
    std::vector<std::string> out;
    for (const auto& p : req.key_paths) {
      const std::string path = !p.empty() && p.front() == '/' ? p : policy_dir + "/" + p;
      OCIPIPE_ASSIGN_OR_RETURN(auto bytes, read_key_file(path, "policy keyPath"));
      out.push_back(std::move(bytes));
    }
    for (const auto& d : req.key_data) out.push_back(d);
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

  result<bool> signed_by(const policy_requirement& req, verify_report& r) {
    OCIPIPE_ASSIGN_OR_RETURN(auto keyrings, key_contents(req));
    if (!simple) {
      std::string repo_path;
      if (!opts.identity.empty()) {
        if (auto id = parse_docker_reference(opts.identity)) repo_path = id->path;
      } else if (image_identity) {
        repo_path = image_identity->path;
      }
      OCIPIPE_ASSIGN_OR_RETURN(auto sigs, collect_simple_signatures(ref, root.root.digest, opts.signature_files,
                                                                    opts.store, repo_path, opts.remote));
      simple = std::move(sigs);
    }
    const auto rule = rule_of(req);
    bool holds = false;
    const std::size_t first = r.signatures.size();
    for (const auto& s : *simple) {
      OCIPIPE_ASSIGN_OR_RETURN(auto c, check_simple_signature(s, keyrings, root.root.digest, rule));
      holds = holds || c.status == signature_status::valid;
      r.signatures.push_back(std::move(c));
    }
    if (!holds) r.reason = r.signatures.size() == first ? "no signature" : r.signatures[first].message;
    return holds;
  }

  result<bool> sigstore_signed(const policy_requirement& req, verify_report& r) {
    OCIPIPE_ASSIGN_OR_RETURN(auto pems, key_contents(req));
    std::vector<public_key> keys;
    for (const auto& pem : pems) {
      auto k = parse_public_key(pem);
      if (!k) return tl::unexpected(std::move(k).error().context("policy sigstoreSigned key"));
      keys.push_back(std::move(*k));
    }
    if (!keyed) {
      OCIPIPE_ASSIGN_OR_RETURN(auto sigs, collect_key_signatures(ref, root, &session, key_problems));
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
      for (const auto& p : key_problems) {
        signature_check c;
        c.format = "sigstore";
        const auto cut = p.find(": ");
        c.source = cut == std::string::npos ? p : p.substr(0, cut);
        c.message = cut == std::string::npos ? p : p.substr(cut + 2);
        r.signatures.push_back(std::move(c));
      }
      r.reason = r.signatures.size() == first ? "no signature" : r.signatures[first].message;
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
                 {}, {}, {}};
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
  if (policy.policy_file.empty()) return std::optional<descriptor>{};
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
