#pragma once
// cosign-style key signatures stored with the image they sign: the
// "sha256-<hex>.sig" tagged manifest (stages/cosign_signature.h) and OCI
// 1.1 referrers, in image layouts (oci:) and registries (docker://).

#include <optional>
#include <string>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "stages/cosign_signature.h"

namespace ocipipe::pipeline {

class remote_session;

/// One stored key signature, with its payload read and verified against
/// the layer descriptor (size, digest).
struct attached_signature {
  std::string payload;           ///< the payload blob's bytes
  std::string signature_base64;  ///< the annotation, as stored
  /// Where it was found, for reports: "sha256-<hex>.sig layers[0]" or
  /// "referrer sha256:<hex> layers[0]".
  std::string source;
};

/// Every key signature of manifest `subject` in the layout or registry of
/// `ref` (`store` opened on it): the layers of the manifest tagged
/// cosign_signature_tag(subject) (index.json ref.name in a layout, the tag
/// in a registry), then those of each referrer whose artifactType is
/// cosign_signature_artifact_type (a layout: the index.json entries whose
/// manifest names `subject`; a registry: io::registry_client::referrers).
/// A payload blob that fails its descriptor's digest or size, or cannot be
/// read, is skipped and its problem ("sha256-<hex>.sig layers[1]: …")
/// appended to `problems` when given, so one bad signature hides no other.
/// Errors: `unsupported` (archives and oci+https: none are kept there, so
/// callers treat it as "no signatures"), `io`, `unavailable`, `malformed`
/// (a signature manifest that is not one).
[[nodiscard]] result<std::vector<attached_signature>> read_attached_signatures(
    const image_reference& ref, const io::image_layout& store, const digest& subject, remote_session* remote,
    std::vector<std::string>* problems = nullptr);

/// Stores one key signature (`payload` and its DER signature, base64'd
/// here) for manifest `subject` of `ref`: appended as a new layer to the
/// manifest tagged cosign_signature_tag(subject.digest) (created when
/// missing; a layer with the same payload digest and signature already
/// there is not added twice), or, when `as_referrer`, as a new referrer
/// manifest naming `subject` (a layout: an untagged index.json entry; a
/// registry: pushed by digest, and where the registry has no referrers API
/// the "<alg>-<hex>" tag-schema index updated, distribution-spec "Pushing
/// Manifests with Subject"). Layouts are written under their lock (blobs
/// first, index.json last, atomically). Returns where it went, and the
/// descriptor of the manifest written. Errors: `unsupported` (archives,
/// oci+https://), `io`, `unavailable`, `unauthenticated`.
struct attached_write {
  std::string stored_at;  ///< "sha256-<hex>.sig" or "referrer sha256:<hex>"
  descriptor manifest;
};
[[nodiscard]] result<attached_write> attach_signature(const image_reference& ref, const descriptor& subject,
                                                      const std::string& payload, const std::string& der_signature,
                                                      bool as_referrer, remote_session* remote);

}  // namespace ocipipe::pipeline
