#pragma once
// cosign-style key signatures stored with the image they sign: the
// "sha256-<hex>.sig" tagged manifest (stages/cosign_signature.h) and OCI
// 1.1 referrers: read from image layouts wherever they are (oci:,
// oci-archive:, oci+http(s)://) and registries (docker://), written to
// oci: layouts and registries.

#include <optional>
#include <string>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "stages/cosign_signature.h"

namespace ocipipe::pipeline {

class remote_session;

/// One stored key signature, with its payload read and verified against
/// the layer descriptor (size, digest); or, with `problem` set, a layer or
/// signature manifest that holds no signature that can be checked.
struct attached_signature {
  std::string payload;           ///< the payload blob's bytes
  std::string signature_base64;  ///< the annotation, as stored
  /// Where it was found, for reports: "sha256-<hex>.sig layers[0]" or
  /// "referrer sha256:<hex> layers[0]" (the index in the manifest's
  /// `layers`), or the manifest alone ("sha256-<hex>.sig") for a problem
  /// with the whole manifest.
  std::string source;
  /// Why this is no signature ("" when it is one): a malformed payload
  /// layer (no or an empty signature annotation, a bad descriptor), a
  /// payload that fails its descriptor or cannot be read, a signature
  /// manifest that cannot be read or is none.
  std::string problem;
};

/// Every key signature of manifest `subject` in the store of `ref`
/// (`store` opened on it), in order: the layers of the manifest tagged
/// cosign_signature_tag(subject) (a layout's index.json ref.name, a
/// registry's tag), then those of each referrer whose artifactType is
/// cosign_signature_artifact_type (a layout's index.json entries whose
/// manifest names `subject`; a registry's io::registry_client::referrers).
/// Layouts are read through `store` wherever it is: a directory (oci:),
/// an archive (oci-archive:) or static files (oci+http(s)://). One bad
/// layer, payload or signature manifest hides no other: each is an entry
/// with its `problem`. Errors: `unsupported` (docker-archive:, which keeps
/// none; callers treat it as "no signatures"), reading index.json or the
/// registry failing (`io`, `unavailable`, `unauthenticated`, ...).
[[nodiscard]] result<std::vector<attached_signature>> read_attached_signatures(const image_reference& ref,
                                                                               const io::image_layout& store,
                                                                               const digest& subject,
                                                                               remote_session* remote);

/// Stores one key signature (`payload` and its DER signature, base64'd
/// here) for manifest `subject` of `ref`: appended as a new layer to the
/// manifest tagged cosign_signature_tag(subject.digest) (created when
/// missing; a layer with the same payload digest and signature already
/// there is not added twice; the layers there are kept as they are, a
/// malformed one too: stages' append_signature_layer), or, when `as_referrer`, as a new referrer
/// manifest naming `subject` (a layout: an untagged index.json entry; a
/// registry: pushed by digest, and where the registry has no referrers API
/// the "<alg>-<hex>" tag-schema index updated, distribution-spec "Pushing
/// Manifests with Subject"). Layouts are written under their lock (blobs
/// first, index.json last, atomically). Returns where it went, and the
/// descriptor of the manifest written. Errors: `unsupported` (archives,
/// oci+https://; a .sig manifest holding more than cosign signature
/// layers), `malformed` (a .sig manifest that is none), `io`,
/// `unavailable`, `unauthenticated`.
struct attached_write {
  std::string stored_at;  ///< "sha256-<hex>.sig" or "referrer sha256:<hex>"
  descriptor manifest;
};
[[nodiscard]] result<attached_write> attach_signature(const image_reference& ref, const descriptor& subject,
                                                      const std::string& payload, const std::string& der_signature,
                                                      bool as_referrer, remote_session* remote);

}  // namespace ocipipe::pipeline
