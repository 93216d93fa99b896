#pragma once
// Where cosign keeps key signatures in an OCI registry or image layout: an
// image manifest tagged "sha256-<hex>.sig" whose layers are payloads of
// media type application/vnd.dev.cosign.simplesigning.v1+json, each
// carrying its base64 signature in the annotation
// dev.cosignproject.cosign/signature; or the same manifest pushed as an
// OCI 1.1 referrer (image-spec manifest.md "subject"). Building and
// parsing those manifests. Pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/descriptor.h"
#include "stages/oci/digest.h"
#include "stages/oci/error.h"

namespace ocipipe {

inline constexpr std::string_view cosign_payload_media_type = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view cosign_signature_annotation = "dev.cosignproject.cosign/signature";
/// artifactType of a signature manifest pushed as a referrer.
inline constexpr std::string_view cosign_signature_artifact_type = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// The tag cosign gives the signatures of manifest `d`: "sha256-<hex>.sig".
[[nodiscard]] std::string cosign_signature_tag(const digest& d);

/// One signature layer: the payload blob's descriptor and its annotation.
struct cosign_signature_layer {
  descriptor payload;            ///< media type cosign_payload_media_type
  std::string signature_base64;  ///< dev.cosignproject.cosign/signature
};

/// A signature manifest and the config blob it names, ready to store.
struct signature_manifest {
  std::string manifest_json;  ///< application/vnd.oci.image.manifest.v1+json
  descriptor config;
  std::string config_json;
};

/// Builds the manifest for `layers` (in order). Without `subject`: cosign's
/// tag form (config application/vnd.oci.image.config.v1+json whose
/// rootfs.diff_ids are the payload digests, as cosign writes it). With
/// `subject`: the referrer form (artifactType
/// cosign_signature_artifact_type, the empty config
/// application/vnd.oci.empty.v1+json "{}", `subject` set).
[[nodiscard]] signature_manifest make_signature_manifest(const std::vector<cosign_signature_layer>& layers,
                                                        const std::optional<descriptor>& subject);

/// One cosign payload layer of a signature manifest, as read: where it
/// stands in the manifest's `layers` array, and its signature or why it
/// has none.
struct signature_layer_entry {
  std::size_t index = 0;  ///< layers[index] of the manifest
  /// The layer, or `malformed` saying what is wrong with this layer alone
  /// (no signature annotation, an empty one, a bad digest or size); the
  /// message does not name the layer: `index` does.
  result<cosign_signature_layer> layer;
};

/// The payload layers of a signature manifest (media type
/// cosign_payload_media_type), in order, each parsed on its own so that a
/// malformed one hides no other; layers of other media types are skipped
/// (attachments cosign or others may add are not ours to judge). A
/// manifest of no payload layers is an empty list. Errors: `malformed`
/// only for the document as a whole (not JSON, not an object, an image
/// index, another mediaType, `layers` missing or not an array).
[[nodiscard]] result<std::vector<signature_layer_entry>> parse_signature_manifest(std::string_view json);

/// Appends `layer` to the tag-form signature manifest `existing`, as cosign
/// appends: the layers there kept as they are (a malformed one too) with
/// the manifest's other fields, `layer` last, and the config rebuilt as
/// make_signature_manifest writes it, one diff_id per layer (its digest as
/// written; a layer with no digest string has none). nullopt when a
/// well-formed layer with the same payload digest and signature is there
/// already (nothing to store). Errors: `malformed` (as
/// parse_signature_manifest), `unsupported` (a `subject`, or a layer of
/// another media type or not an object: the rebuilt config would misstate
/// it, so such a manifest is not rewritten).
[[nodiscard]] result<std::optional<signature_manifest>> append_signature_layer(std::string_view existing,
                                                                              const cosign_signature_layer& layer);

}  // namespace ocipipe
