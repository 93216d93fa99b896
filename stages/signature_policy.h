#pragma once
// containers-policy.json(5): which signatures an image needs before it is
// used. Parsing, scope lookup and identity matching; checking signatures is
// pipeline's (pipeline/signature_verify.h). Pure.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/docker_reference.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// signedIdentity (containers-policy.json(5) "signedIdentity").
struct signed_identity {
  enum class kind {
    match_repo_digest_or_exact,  ///< the default
    match_exact,
    match_repository,
    exact_reference,   ///< docker_reference
    exact_repository,  ///< docker_repository
    remap_identity,    ///< prefix → signed_prefix, then match_repo_digest_or_exact
  };
  kind type = kind::match_repo_digest_or_exact;
  std::string docker_reference;   ///< exactReference.dockerReference
  std::string docker_repository;  ///< exactRepository.dockerRepository
  std::string prefix;             ///< remapIdentity.prefix
  std::string signed_prefix;      ///< remapIdentity.signedPrefix
};

/// One policy requirement; all of a scope's requirements must hold.
struct policy_requirement {
  enum class kind { insecure_accept_anything, reject, signed_by, sigstore_signed };
  kind type = kind::reject;
  /// signedBy (keyType "GPGKeys": keyPath / keyPaths) and sigstoreSigned
  /// (keyPath / keyPaths): files holding the keys, as written (relative
  /// paths are relative to the policy file's directory; pipeline resolves).
  std::vector<std::string> key_paths;
  /// keyData / keyDatas, base64-decoded: a keyring (GPG) or a PEM public key.
  std::vector<std::string> key_data;
  signed_identity identity;
};

/// A parsed policy file.
struct signature_policy {
  std::vector<policy_requirement> default_requirements;  ///< "default"
  /// "transports": transport name ("docker", "oci", "oci-archive",
  /// "docker-archive", …) → scope → requirements. Scope "" is that
  /// transport's default.
  std::map<std::string, std::map<std::string, std::vector<policy_requirement>>> transports;
};

/// Parses policy.json strictly as containers/image does: unknown
/// requirement types, an unknown keyType (only "GPGKeys"), both keyPath and
/// keyData (or neither), an empty requirement list, unknown fields and
/// sigstoreSigned's fulcio/rekor options (`unsupported`) are refused.
/// Errors: `malformed` (with the JSON path: "transports.docker.\"host/repo\"[0].keyPath"),
/// `unsupported`.
[[nodiscard]] result<signature_policy> parse_signature_policy(std::string_view json);

/// The scope names an image is looked up under, most specific first
/// (containers-policy.json(5) "Policy Requirements"): for "docker", from
/// `ref` (docker://) "host/repo:tag" or "host/repo@digest", "host/repo",
/// each shorter namespace "host/ns", "host", then "*.example.com"-style
/// wildcards of the host's domains; for "oci" and "oci-archive",
/// `absolute_path` (the layout or archive, resolved) with ":tag" when
/// tagged, the path alone, then each parent directory up to but not
/// including "/"; for "docker-archive", the path likewise. Pure.
[[nodiscard]] std::vector<std::string> policy_scopes(const image_reference& ref, std::string_view absolute_path);

/// containers-transports(5)'s name of `t` ("docker", "oci", "oci-archive",
/// "docker-archive"); oci+https:// has none of its own and is looked up
/// as "oci+https" (so only "default" applies unless the policy names it).
[[nodiscard]] std::string_view policy_transport_name(transport t) noexcept;

/// The requirements that apply to `ref`: the first of policy_scopes() that
/// transports[policy_transport_name(ref.kind)] names, else its "" scope,
/// else `default_requirements`. `scope` (optional) receives which scope
/// matched, for messages ("default" for the default). Pure.
[[nodiscard]] const std::vector<policy_requirement>& requirements_for(const signature_policy& policy,
                                                                       const image_reference& ref,
                                                                       std::string_view absolute_path,
                                                                       std::string* scope = nullptr);

/// Whether a signature claiming `signed_reference` (its payload's
/// critical.identity.docker-reference) is acceptable for an image whose
/// docker reference is `image` (nullopt: the image has none, e.g. oci:)
/// under `identity`. Errors (the reason it does not match, for messages):
/// `permission_denied` ("signed identity \"a\" does not match \"b\""),
/// `malformed` (the signed reference does not parse), `invalid_argument`
/// (matchExact and the others that need the image's own docker reference
/// when `image` is nullopt).
[[nodiscard]] result<void> match_signed_identity(const signed_identity& identity,
                                                  const std::optional<docker_reference>& image,
                                                  std::string_view signed_reference);

}  // namespace ocipipe
