#pragma once
// Serializers for the image-spec documents of stages/oci/descriptor.h, the
// inverse of stages/image_json.h: image manifest (manifest.md), image index
// and index.json (image-index.md, image-layout.md) and descriptors
// (descriptor.md). Output is canonical for ocipipe: keys in the spec's order,
// no insignificant whitespace, empty optional fields left out, so the same
// value always gives the same bytes and therefore the same digest. Written
// with nlohmann::json (no hand-written JSON). Pure and thread-safe.

#include <string>

#include "stages/oci/descriptor.h"

namespace ocipipe {

/// One descriptor as a JSON object, keys in the order of image-spec's Go type
/// specs-go/v1/descriptor.go (what skopeo and umoci write): mediaType,
/// digest, size, urls, annotations, data, platform (architecture, os,
/// os.version, os.features, variant), artifactType. Annotations in key order.
[[nodiscard]] std::string descriptor_json(const descriptor& d);
/// An image manifest: schemaVersion 2, mediaType (`m.media_type`, default
/// the OCI manifest type), artifactType, config, layers (always, even
/// empty), subject, annotations.
[[nodiscard]] std::string manifest_json(const manifest& m);
/// An image index or index.json: schemaVersion 2, mediaType when set,
/// artifactType, manifests (always, even empty), subject, annotations. index.json gets mediaType
/// application/vnd.oci.image.index.v1+json when `i.media_type` is set to it.
[[nodiscard]] std::string image_index_json(const image_index& i);

}  // namespace ocipipe
