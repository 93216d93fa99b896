#pragma once
// Resolution with the store kept open, for the verbs that go on to read the
// image's blobs (unpack, create, validate).

#include "io/image_layout.h"
#include "pipeline/api.h"

namespace ocipipe::pipeline {

/// Opens what `ref` names for reading: an image layout directory (oci:) or an
/// uncompressed archive read in place (oci-archive:, docker-archive:).
/// Errors: `unsupported` (docker://), those of image_layout::open and
/// open_archive.
[[nodiscard]] result<io::image_layout> open_store(const image_reference& ref);

/// A resolved image and the store its blobs are read from.
struct opened_image {
  resolved_image image;
  io::image_layout store;
};

/// resolve_image, keeping the store. A docker-archive image is read as an
/// OCI image (pipeline/docker_archive.h); any problem of its manifest.json
/// entry fails it (`malformed`). Errors: those of resolve_image.
[[nodiscard]] result<opened_image> open_image(const image_reference& ref, const platform_selector& platform);

}  // namespace ocipipe::pipeline
