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

/// The signature layers of a signature manifest: layers of
/// cosign_payload_media_type with a signature annotation, in order; other
/// layers are skipped. Errors: `malformed` (not a manifest; a payload
/// layer without the annotation, naming layers[i]).
[[nodiscard]] result<std::vector<cosign_signature_layer>> parse_signature_manifest(std::string_view json);

}  // namespace ocipipe
