#pragma once
// The pieces verify_image and enforce_policy share: the signed root of a
// reference, the signatures stored for it (simple signatures in files and
// lookaside stores, key signatures beside the image), and the check of one
// signature against a set of keys, a manifest digest and an identity rule.
// Internal to pipeline/.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "stages/sigstore_key.h"

namespace ocipipe::pipeline {

class remote_session;

/// What a signature signs: the root descriptor a reference names (a
/// manifest or image index, its digest over the bytes as stored), with the
/// store it was read from. A docker-archive has no stored manifest: its root
/// is the OCI manifest ocipipe reads its entry as (pipeline/docker_archive.h).
struct signed_root {
  io::image_layout store;
  descriptor root;
};

/// Opens `ref`'s store and reads its root, the bytes checked against the
/// descriptor (size, digest). Errors: those of open_store, select_root,
/// read_verified_blob, open_image (docker-archive).
[[nodiscard]] result<signed_root> open_signed_root(const image_reference& ref, remote_session* remote);

/// `ref` naming `root` by digest, so a verb reads exactly what a policy
/// accepted. A docker-archive (named by NAME:TAG or position only) is
/// returned as it is: its root is not addressable by digest there.
[[nodiscard]] image_reference pinned_reference(const image_reference& ref, const descriptor& root);

/// A simple signature as stored (an OpenPGP signed message), and where.
struct stored_simple_signature {
  std::string source;  ///< the file, or the lookaside path / URL
  std::string bytes;
};

/// A key signature as stored beside the image (pipeline/sigstore_attachments.h).
struct stored_key_signature {
  std::string source;  ///< "sha256-<hex>.sig layers[i]", "referrer sha256:… layers[i]"
  std::string payload;
  std::string signature_base64;
};

/// Every simple signature of `root` for `ref`: the files (in order), then
/// store.lookaside, then (docker:// only) registries.d's lookaside for the
/// image's repository. `repo_path` is the docker reference path the
/// lookaside layout uses ("" = none known: registries.d is not consulted,
/// and a store.lookaside is `invalid_argument`).
/// Errors: an unreadable file (`not_found`, `io`, `resource_exhausted`),
/// those of load_registries_d and read_lookaside_signatures.
[[nodiscard]] result<std::vector<stored_simple_signature>> collect_simple_signatures(
    const image_reference& ref, const digest& root, const std::vector<std::string>& files,
    const signature_store_options& store, const std::string& repo_path, const remote_options& remote);

/// Every key signature of `root` stored in `ref`'s layout or registry;
/// transports that keep none (archives, oci+https://) give none. Payloads
/// that fail their descriptor are skipped, their problems appended to
/// `problems`. Errors: those of read_attached_signatures but `unsupported`.
[[nodiscard]] result<std::vector<stored_key_signature>> collect_key_signatures(const image_reference& ref,
                                                                               const signed_root& root,
                                                                               remote_session* remote,
                                                                               std::vector<std::string>& problems);

/// Whether a signed docker reference is acceptable: {} yes; else an error
/// whose code says why (`permission_denied`: another identity; `malformed`:
/// the signed reference does not parse; others: it cannot be judged) and
/// whose message is the report's ("identity differs: signed \"a\", expected \"b\"").
using identity_rule = std::function<result<void>(std::string_view signed_reference)>;

/// Checks one simple signature with the GnuPG public keys of `keyrings`
/// (their contents): the signature over its payload, the payload's type
/// ("atomic container signature"), digest (== `root`) and identity.
/// Errors (failures to run, not verdicts): those of io::gpg_verify.
[[nodiscard]] result<signature_check> check_simple_signature(const stored_simple_signature& sig,
                                                             const std::vector<std::string>& keyrings,
                                                             const digest& root, const identity_rule& identity);

/// Checks one key signature with `keys`: the base64 DER ECDSA signature over
/// its payload (with any key), the payload's type ("cosign container image
/// signature"), digest and identity. Never fails: every outcome is a verdict.
[[nodiscard]] signature_check check_key_signature(const stored_key_signature& sig, const std::vector<public_key>& keys,
                                                  const digest& root, const identity_rule& identity);

/// Reads a key, keyring or policy file named on the command line or in a
/// policy: a regular file (symlinks followed), at most 16 MiB. `what`
/// names it in errors ("--key-file"). Errors: `not_found`, `io`,
/// `permission_denied`, `resource_exhausted`.
[[nodiscard]] result<std::string> read_key_file(const std::string& path, std::string_view what);

/// verify_image with opts.policy_file set: the policy's requirements for
/// `ref` (policy_check.cpp). Errors: the policy unreadable or malformed,
/// a key file named by it unreadable, resolution and I/O failures.
[[nodiscard]] result<verify_report> verify_with_policy(const image_reference& ref, const verify_options& opts);

/// The path of an oci:/oci-archive:/docker-archive: reference made absolute
/// with its symlinks resolved (realpath), as policy scopes name it; the path
/// as given when it cannot be resolved. "" for docker:// and oci+https://.
[[nodiscard]] std::string absolute_image_path(const image_reference& ref);

}  // namespace ocipipe::pipeline
