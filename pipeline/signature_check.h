#pragma once
// The pieces verify_image and enforce_policy share: the signed root of a
// reference, the signatures stored for it (simple signatures in files and
// lookaside stores, key signatures beside the image), and the check of one
// signature against a set of keys, a manifest digest and an identity rule.
// Internal to pipeline/.

#include <functional>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "stages/docker_reference.h"
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
  std::string problem;  ///< why it is no signature that can be checked ("" when it is one)
};

/// Every simple signature of `root` for `ref`: the files (in order), then
/// store.lookaside, then registries.d's lookaside for `located_by`'s
/// repository. `located_by` is the docker reference whose repository path
/// the lookaside layout uses (--identity, else the image's own; nullopt =
/// none known: then a store.lookaside or store.registries_d is
/// `invalid_argument`, as it could not be used, and the default
/// registries.d is not consulted).
/// Errors: an unreadable file (`not_found`, `io`, `resource_exhausted`),
/// those of load_registries_d and read_lookaside_signatures.
[[nodiscard]] result<std::vector<stored_simple_signature>> collect_simple_signatures(
    const image_reference& ref, const digest& root, const std::vector<std::string>& files,
    const signature_store_options& store, const std::optional<docker_reference>& located_by,
    const remote_options& remote);

/// Why `ref` can hold no key signatures, for a verdict's reason ("key
/// signatures are not kept in docker-archive: images"); "" when it can.
[[nodiscard]] std::string key_signatures_unkept(const image_reference& ref);

/// Every key signature of `root` stored in `ref`'s layout (wherever it is)
/// or registry, in order; one that cannot be checked (a malformed layer, a
/// payload failing its descriptor, an unreadable signature manifest) is an
/// entry with its `problem`. A docker-archive keeps none: an empty list
/// (key_signatures_unkept says why). Errors: those of
/// read_attached_signatures but `unsupported`.
[[nodiscard]] result<std::vector<stored_key_signature>> collect_key_signatures(const image_reference& ref,
                                                                               const signed_root& root,
                                                                               remote_session* remote);

/// Whether a signed docker reference is acceptable: {} yes; else an error
/// whose code says why (`permission_denied`: another identity; `malformed`:
/// the signed reference does not parse; others: it cannot be judged) and
/// whose message is the report's ("identity differs: signed \"a\", expected \"b\"").
using identity_rule = std::function<result<void>(std::string_view signed_reference)>;

/// A GnuPG keyring (or exported key) and the name its errors carry: the
/// file (`--key-file "k.gpg"`, `policy keyPath "…"`) or `policy keyData`.
struct named_keyring {
  std::string name;
  std::string bytes;
};

/// Checks one simple signature with the GnuPG public keys of `keyrings`:
/// the signature over its payload, the payload's type ("atomic container
/// signature"), digest (== `root`) and identity. Errors (failures to run,
/// not verdicts): those of io::gpg_verify, a keyring's named by its
/// `name` (a keyring holding no key is `malformed`).
[[nodiscard]] result<signature_check> check_simple_signature(const stored_simple_signature& sig,
                                                             const std::vector<named_keyring>& keyrings,
                                                             const digest& root, const identity_rule& identity);

/// Checks one key signature with `keys`: the base64 DER ECDSA signature over
/// its payload (with any key), the payload's type ("cosign container image
/// signature"), digest and identity; a `problem` entry is `malformed`
/// with the problem as its message. Never fails: every outcome is a verdict.
[[nodiscard]] signature_check check_key_signature(const stored_key_signature& sig, const std::vector<public_key>& keys,
                                                  const digest& root, const identity_rule& identity);

/// Every "PUBLIC KEY" PEM block of `pem` (a --key file, a policy keyPath
/// file or keyData), each a key, in order; other PEM blocks and text
/// around them are ignored. `what` names the source in errors ("--key
/// \"k.pub\""). Errors: `malformed` (no PUBLIC KEY block, one without its
/// END line), those of parse_public_key (naming the block when there are
/// several).
[[nodiscard]] result<std::vector<public_key>> parse_public_keys(std::string_view pem, std::string_view what);

/// Why none of `checks` is valid, the most useful problem first: one whose
/// signature a trusted key verified but whose manifest digest or identity
/// differs, else one that does not match its payload or was made by
/// another key, else a malformed one; among equals the first. "no
/// signature" when `checks` is empty.
[[nodiscard]] std::string failure_reason(std::span<const signature_check> checks);

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
