#include "stages/signature_policy.h"

#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

#include "stages/base64.h"
#include "stages/json_unique_keys.h"

namespace ocipipe {
namespace {

using json = nlohmann::json;

tl::unexpected<error> bad(std::string_view path, std::string cause) {
  return fail(errc::malformed, std::string(path) + ": " + std::move(cause));
}

tl::unexpected<error> unsupported(std::string_view path, std::string cause) {
  return fail(errc::unsupported, std::string(path) + ": " + std::move(cause));
}

// A JSON path step for an object member: plain names stay plain, others are
// quoted (scopes hold '/', ':' and may be empty).
std::string member(std::string_view path, std::string_view key) {
  bool plain = !key.empty();
  for (char c : key)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '+');
  std::string out(path);
  if (!out.empty()) out += ".";
  out += plain ? std::string(key) : quote(key);
  return out;
}

// Every key of `object` is one of `allowed` (containers/image refuses the others).
result<void> known_keys(const json& object, std::string_view path, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) return bad(path, "unknown key " + quote(key));
  }
  return {};
}

result<std::string> string_member(const json& object, std::string_view path, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return bad(member(path, key), "missing");
  if (!it->is_string()) return bad(member(path, key), "not a string");
  return it->get<std::string>();
}

result<std::string> type_of(const json& object, std::string_view path) {
  if (!object.is_object()) return bad(path, "not a JSON object");
  return string_member(object, path, "type");
}

result<std::vector<std::string>> string_list(const json& v, std::string_view path) {
  if (!v.is_array()) return bad(path, "not a JSON array");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) return bad(std::string(path) + "[" + std::to_string(i) + "]", "not a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

// keyData is a []byte in containers/image: Go's encoding/json reads it as
// padded standard base64, skipping line breaks.
result<std::string> key_bytes(const json& v, std::string_view path) {
  if (!v.is_string()) return bad(path, "not a string");
  std::string text;
  for (char c : v.get_ref<const std::string&>())
    if (c != '\r' && c != '\n') text.push_back(c);
  auto bytes = base64_decode(text);
  if (!bytes) return bad(path, "not base64");
  return std::move(*bytes);
}

// validateIdentityRemappingPrefix: a bare domain, or a domain followed by
// repository path components (no tag, no digest).
bool valid_remap_prefix(std::string_view s) {
  if (is_docker_domain(s)) return true;
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || !is_docker_domain(s.substr(0, slash))) return false;
  // parse_registry_path holds the repository grammar; the host is a stand-in.
  return parse_registry_path("localhost/" + std::string(s.substr(slash + 1))).has_value();
}

result<signed_identity> parse_identity(const json& v, const std::string& path) {
  OCIPIPE_ASSIGN_OR_RETURN(const auto type, type_of(v, path));
  signed_identity out;
  if (type == "matchExact" || type == "matchRepoDigestOrExact" || type == "matchRepository") {
    OCIPIPE_TRY(known_keys(v, path, {"type"}));
    out.type = type == "matchExact"        ? signed_identity::kind::match_exact
               : type == "matchRepository" ? signed_identity::kind::match_repository
                                           : signed_identity::kind::match_repo_digest_or_exact;
  } else if (type == "exactReference") {
    OCIPIPE_TRY(known_keys(v, path, {"type", "dockerReference"}));
    out.type = signed_identity::kind::exact_reference;
    OCIPIPE_ASSIGN_OR_RETURN(out.docker_reference, string_member(v, path, "dockerReference"));
    auto ref = parse_docker_reference(out.docker_reference);
    if (!ref) return bad(member(path, "dockerReference"), ref.error().message());
    if (ref->tag.empty() && !ref->manifest_digest)
      return bad(member(path, "dockerReference"), quote(out.docker_reference) + " names neither a tag nor a digest");
  } else if (type == "exactRepository") {
    OCIPIPE_TRY(known_keys(v, path, {"type", "dockerRepository"}));
    out.type = signed_identity::kind::exact_repository;
    OCIPIPE_ASSIGN_OR_RETURN(out.docker_repository, string_member(v, path, "dockerRepository"));
    if (auto ref = parse_docker_reference(out.docker_repository); !ref)
      return bad(member(path, "dockerRepository"), ref.error().message());
  } else if (type == "remapIdentity") {
    OCIPIPE_TRY(known_keys(v, path, {"type", "prefix", "signedPrefix"}));
    out.type = signed_identity::kind::remap_identity;
    OCIPIPE_ASSIGN_OR_RETURN(out.prefix, string_member(v, path, "prefix"));
    OCIPIPE_ASSIGN_OR_RETURN(out.signed_prefix, string_member(v, path, "signedPrefix"));
    for (const auto& [key, value] : {std::pair{"prefix", &out.prefix}, std::pair{"signedPrefix", &out.signed_prefix}})
      if (!valid_remap_prefix(*value))
        return bad(member(path, key), quote(*value) + " is not a host[:port], namespace or repository");
  } else {
    return bad(member(path, "type"), "unknown signedIdentity type " + quote(type));
  }
  return out;
}

// signedIdentity, matchRepoDigestOrExact when absent.
result<signed_identity> identity_member(const json& v, const std::string& path) {
  const auto it = v.find("signedIdentity");
  if (it == v.end()) return signed_identity{};
  return parse_identity(*it, member(path, "signedIdentity"));
}

// keyPath or keyPaths into out.key_paths; false when the key source is
// another one (the caller checked that exactly one is given).
result<bool> key_path_members(const json& v, const std::string& path, policy_requirement& out,
                              bool empty_list_ok) {
  if (v.contains("keyPath")) {
    OCIPIPE_ASSIGN_OR_RETURN(auto p, string_member(v, path, "keyPath"));
    if (p.empty()) return bad(member(path, "keyPath"), "empty");
    out.key_paths.push_back(std::move(p));
    return true;
  }
  if (!v.contains("keyPaths")) return false;
  OCIPIPE_ASSIGN_OR_RETURN(out.key_paths, string_list(v.at("keyPaths"), member(path, "keyPaths")));
  if (out.key_paths.empty() && !empty_list_ok) return bad(member(path, "keyPaths"), "contains no entries");
  return true;
}

result<policy_requirement> parse_signed_by(const json& v, const std::string& path) {
  OCIPIPE_TRY(known_keys(v, path, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"}));
  policy_requirement out;
  out.type = policy_requirement::kind::signed_by;
  OCIPIPE_ASSIGN_OR_RETURN(const auto key_type, string_member(v, path, "keyType"));
  if (key_type == "signedByGPGKeys" || key_type == "X509Certificates" || key_type == "signedByX509CAs")
    return unsupported(member(path, "keyType"), quote(key_type) + " is not supported; use \"GPGKeys\"");
  if (key_type != "GPGKeys") return bad(member(path, "keyType"), "unknown keyType " + quote(key_type));
  OCIPIPE_ASSIGN_OR_RETURN(out.identity, identity_member(v, path));

  const int sources = int(v.contains("keyPath")) + int(v.contains("keyPaths")) + int(v.contains("keyData"));
  if (sources != 1)
    return bad(path, sources == 0 ? "none of keyPath, keyPaths and keyData given; give exactly one"
                                  : "more than one of keyPath, keyPaths and keyData given; give exactly one");
  // An empty keyPaths is accepted, as containers/image does; it trusts no key.
  OCIPIPE_ASSIGN_OR_RETURN(const bool paths, key_path_members(v, path, out, true));
  if (!paths) {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, key_bytes(v.at("keyData"), member(path, "keyData")));
    out.key_data.push_back(std::move(bytes));
  }
  return out;
}

result<policy_requirement> parse_sigstore_signed(const json& v, const std::string& path) {
  OCIPIPE_TRY(known_keys(v, path,
                         {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath",
                          "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity"}));
  for (const char* key :
       {"fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"})
    if (v.contains(key))
      return unsupported(member(path, key), "Fulcio certificates and Rekor are not supported; use keyPath or keyData");
  policy_requirement out;
  out.type = policy_requirement::kind::sigstore_signed;
  OCIPIPE_ASSIGN_OR_RETURN(out.identity, identity_member(v, path));

  const int sources = int(v.contains("keyPath")) + int(v.contains("keyPaths")) + int(v.contains("keyData")) +
                      int(v.contains("keyDatas"));
  if (sources != 1)
    return bad(path, sources == 0 ? "none of keyPath, keyPaths, keyData and keyDatas given; give exactly one"
                                  : "more than one of keyPath, keyPaths, keyData and keyDatas given; give exactly one");
  OCIPIPE_ASSIGN_OR_RETURN(const bool paths, key_path_members(v, path, out, false));
  if (!paths && v.contains("keyData")) {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, key_bytes(v.at("keyData"), member(path, "keyData")));
    out.key_data.push_back(std::move(bytes));
  } else if (!paths) {
    const auto& list = v.at("keyDatas");
    const auto list_path = member(path, "keyDatas");
    if (!list.is_array()) return bad(list_path, "not a JSON array");
    if (list.empty()) return bad(list_path, "contains no entries");
    for (std::size_t i = 0; i < list.size(); ++i) {
      OCIPIPE_ASSIGN_OR_RETURN(auto bytes, key_bytes(list[i], list_path + "[" + std::to_string(i) + "]"));
      out.key_data.push_back(std::move(bytes));
    }
  }
  return out;
}

result<policy_requirement> parse_requirement(const json& v, const std::string& path) {
  OCIPIPE_ASSIGN_OR_RETURN(const auto type, type_of(v, path));
  if (type == "insecureAcceptAnything" || type == "reject") {
    OCIPIPE_TRY(known_keys(v, path, {"type"}));
    policy_requirement out;
    out.type = type == "reject" ? policy_requirement::kind::reject : policy_requirement::kind::insecure_accept_anything;
    return out;
  }
  if (type == "signedBy") return parse_signed_by(v, path);
  if (type == "sigstoreSigned") return parse_sigstore_signed(v, path);
  if (type == "signedBaseLayer") return unsupported(member(path, "type"), "\"signedBaseLayer\" is not supported");
  return bad(member(path, "type"), "unknown policy requirement type " + quote(type));
}

result<std::vector<policy_requirement>> parse_requirements(const json& v, const std::string& path) {
  if (!v.is_array() && !v.is_null()) return bad(path, "not a JSON array");
  if (v.is_null() || v.empty()) return bad(path, "the list of policy requirements must not be empty");
  std::vector<policy_requirement> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    OCIPIPE_ASSIGN_OR_RETURN(auto req, parse_requirement(v[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(req));
  }
  return out;
}

// filepath.Clean(s) == s for an absolute path: no empty, "." or ".."
// components and no trailing '/'.
bool clean_absolute(std::string_view s) {
  if (s.size() < 2 || s.front() != '/' || s.back() == '/') return false;
  std::string_view rest = s.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const auto c = rest.substr(0, slash);
    if (c.empty() || c == "." || c == "..") return false;
    if (slash == std::string_view::npos) return true;
    rest = rest.substr(slash + 1);
  }
}

// The scopes a transport can hold (containers/image's
// ValidatePolicyConfigurationScope): paths for the file transports; docker's
// and unknown transports' scopes are taken as written.
result<void> check_scope(std::string_view transport_name, std::string_view scope, std::string_view path) {
  const bool file_transport =
      transport_name == "oci" || transport_name == "oci-archive" || transport_name == "docker-archive";
  if (file_transport && !scope.empty() && !clean_absolute(scope))
    return bad(path, "scope must be a clean absolute path other than \"/\"");
  return {};
}

bool name_only(const docker_reference& r) { return r.tag.empty() && !r.manifest_digest; }

tl::unexpected<error> differs(std::string_view signed_reference, std::string_view what) {
  return fail(errc::permission_denied,
              "signed identity " + quote(signed_reference) + " does not match " + std::string(what));
}

// matchRepoDigestOrExact between two parsed references.
result<void> repo_digest_or_exact(const docker_reference& intended, const docker_reference& signature,
                                  std::string_view signed_reference) {
  if (name_only(signature))
    return fail(errc::permission_denied,
                "signed identity " + quote(signed_reference) + " names neither a tag nor a digest");
  if (!intended.tag.empty()) {
    if (signature.str() != intended.str()) return differs(signed_reference, quote(intended.str()));
  } else if (intended.manifest_digest) {
    // The image was asked for by digest: any signature for its repository
    // (the manifest digest itself is checked against the signature apart).
    if (signature.name() != intended.name()) return differs(signed_reference, "repository " + quote(intended.name()));
  } else {
    return differs(signed_reference, quote(intended.str()) + ", which names neither a tag nor a digest");
  }
  return {};
}

// remapIdentity: `intended` with `prefix` replaced by `signed_prefix` when
// its name starts with prefix at a path boundary; a remapped reference must
// come out canonical (Docker's ParseNamed).
result<docker_reference> remap(const signed_identity& identity, const docker_reference& intended) {
  const auto name = intended.name();
  const auto& prefix = identity.prefix;
  const bool matches = name.size() == prefix.size()
                           ? name == prefix
                           : name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
                                 name[prefix.size()] == '/';
  if (!matches) return intended;
  const auto text = identity.signed_prefix + intended.str().substr(prefix.size());
  auto out = parse_docker_reference(text);
  if (!out || out->str() != text)
    return fail(errc::permission_denied, "identity " + quote(intended.str()) + " remapped to " + quote(text) +
                                             " is not a canonical docker reference");
  return out;
}

std::string_view identity_name(signed_identity::kind k) {
  switch (k) {
    case signed_identity::kind::match_repo_digest_or_exact: return "matchRepoDigestOrExact";
    case signed_identity::kind::match_exact: return "matchExact";
    case signed_identity::kind::match_repository: return "matchRepository";
    case signed_identity::kind::exact_reference: return "exactReference";
    case signed_identity::kind::exact_repository: return "exactRepository";
    case signed_identity::kind::remap_identity: return "remapIdentity";
  }
  return "matchRepoDigestOrExact";
}

// The policy's own reference (exactReference, exactRepository).
result<docker_reference> policy_reference(const std::string& text) {
  auto r = parse_docker_reference(text);
  if (!r) return fail(errc::invalid_argument, "policy signedIdentity: " + r.error().message());
  return r;
}

}  // namespace

result<signature_policy> parse_signature_policy(std::string_view text) {
  OCIPIPE_ASSIGN_OR_RETURN(const json doc, parse_json_unique_keys(text));
  if (!doc.is_object()) return fail(errc::malformed, "policy: not a JSON object");
  OCIPIPE_TRY(known_keys(doc, "policy", {"default", "transports"}));
  const auto def = doc.find("default");
  if (def == doc.end()) return fail(errc::malformed, "default: missing (the global default is mandatory)");
  signature_policy out;
  OCIPIPE_ASSIGN_OR_RETURN(out.default_requirements, parse_requirements(*def, "default"));

  const auto transports = doc.find("transports");
  if (transports == doc.end()) return out;
  if (!transports->is_object()) return bad("transports", "not a JSON object");
  for (const auto& [name, scopes] : transports->items()) {
    const auto transport_path = member("transports", name);
    if (!scopes.is_object()) return bad(transport_path, "not a JSON object");
    auto& dest = out.transports[name];
    for (const auto& [scope, requirements] : scopes.items()) {
      const auto scope_path = transport_path + "." + quote(scope);
      OCIPIPE_TRY(check_scope(name, scope, scope_path));
      OCIPIPE_ASSIGN_OR_RETURN(dest[scope], parse_requirements(requirements, scope_path));
    }
  }
  return out;
}

std::string_view policy_transport_name(transport t) noexcept {
  switch (t) {
    case transport::oci: return "oci";
    case transport::oci_archive: return "oci-archive";
    case transport::docker_archive: return "docker-archive";
    case transport::docker: return "docker";
    case transport::oci_url: return "oci+https";
  }
  return "oci";
}

std::vector<std::string> policy_scopes(const image_reference& ref, std::string_view absolute_path) {
  std::vector<std::string> out;
  if (ref.kind == transport::docker) {
    const auto named = docker_reference_of(ref);
    if (!named) return out;
    std::string name = named->name();
    // The image itself (containers/image's DockerReferenceIdentity), then
    // the repository and each namespace above it down to the host.
    if (named->manifest_digest) out.push_back(name + "@" + named->manifest_digest->str());
    else if (!named->tag.empty()) out.push_back(name + ":" + named->tag);
    while (true) {
      out.push_back(name);
      const auto slash = name.rfind('/');
      if (slash == std::string::npos) break;
      name.resize(slash);
    }
    // Then "*.example.com"-style wildcards of the host, port dropped.
    if (const auto colon = name.find(':'); colon != std::string::npos) name.resize(colon);
    for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.')) {
      name.erase(0, dot + 1);
      out.push_back("*." + name);
    }
    return out;
  }
  if (ref.kind == transport::oci_url) return out;
  std::string path(absolute_path);
  if (!ref.tag.empty()) out.push_back(path + ":" + ref.tag);
  // The path and each parent directory; "/" itself is the transport's "" scope.
  while (path != "/") {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) break;
    out.push_back(path);
    path.resize(slash);
  }
  return out;
}

const std::vector<policy_requirement>& requirements_for(const signature_policy& policy, const image_reference& ref,
                                                        std::string_view absolute_path, std::string* scope) {
  if (const auto t = policy.transports.find(std::string(policy_transport_name(ref.kind)));
      t != policy.transports.end()) {
    for (const auto& candidate : policy_scopes(ref, absolute_path))
      if (const auto s = t->second.find(candidate); s != t->second.end()) {
        if (scope) *scope = candidate;
        return s->second;
      }
    if (const auto s = t->second.find(""); s != t->second.end()) {
      if (scope) scope->clear();
      return s->second;
    }
  }
  if (scope) *scope = "default";
  return policy.default_requirements;
}

result<void> match_signed_identity(const signed_identity& identity, const std::optional<docker_reference>& image,
                                   std::string_view signed_reference) {
  using kind = signed_identity::kind;
  const bool needs_image = identity.type != kind::exact_reference && identity.type != kind::exact_repository;
  if (needs_image && !image)
    return fail(errc::invalid_argument, std::string(identity_name(identity.type)) +
                                            " needs the image's docker reference, and this image has none; use "
                                            "exactReference or exactRepository");
  auto parsed = parse_docker_reference(signed_reference);
  if (!parsed) return fail(errc::malformed, "signed identity: " + parsed.error().message());
  const docker_reference& signature = *parsed;

  switch (identity.type) {
    case kind::match_exact:
      if (name_only(signature) || name_only(*image) || signature.str() != image->str())
        return differs(signed_reference, quote(image->str()));
      return {};
    case kind::match_repo_digest_or_exact: return repo_digest_or_exact(*image, signature, signed_reference);
    case kind::match_repository:
      if (signature.name() != image->name()) return differs(signed_reference, "repository " + quote(image->name()));
      return {};
    case kind::exact_reference: {
      OCIPIPE_ASSIGN_OR_RETURN(const auto intended, policy_reference(identity.docker_reference));
      if (name_only(signature) || name_only(intended) || signature.str() != intended.str())
        return differs(signed_reference, quote(intended.str()));
      return {};
    }
    case kind::exact_repository: {
      OCIPIPE_ASSIGN_OR_RETURN(const auto intended, policy_reference(identity.docker_repository));
      if (signature.name() != intended.name()) return differs(signed_reference, "repository " + quote(intended.name()));
      return {};
    }
    case kind::remap_identity: {
      OCIPIPE_ASSIGN_OR_RETURN(const auto intended, remap(identity, *image));
      return repo_digest_or_exact(intended, signature, signed_reference);
    }
  }
  return fail(errc::internal, "signed identity: unknown kind");
}

}  // namespace ocipipe
