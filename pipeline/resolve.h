#pragma once
// Resolution with the store kept open, for the verbs that go on to read the
// image's blobs (unpack, create, validate).

#include "io/image_layout.h"
#include "pipeline/api.h"

namespace ocipipe::pipeline {

class remote_session;

/// This machine's architecture as image-index.md "platform" names it (GOARCH:
/// amd64, arm64, ppc64le, ...): the default of --platform, and of pack's
/// image config.
[[nodiscard]] std::string host_architecture();

/// The root descriptor a reference names in an image layout's index.json
/// (image-layout.md): by digest, by tag (org.opencontainers.image.ref.name),
/// or the only entry when no tag is given. Errors: `not_found` (the message
/// lists the tags there are), `malformed` (a tag on two different digests),
/// `invalid_argument` (no tag and several entries).
[[nodiscard]] result<descriptor> select_from_index(const image_index& index, const image_reference& ref);

/// Opens what `ref` names for reading: an image layout directory (oci:), an
/// uncompressed archive read in place (oci-archive:, docker-archive:), or a
/// remote store (docker://, oci+https://) reached through `remote` (the
/// run's connections; nullptr: default remote_options, a connection of its
/// own). Errors: those of image_layout::open and open_archive, of
/// remote_session::open_store.
[[nodiscard]] result<io::image_layout> open_store(const image_reference& ref, remote_session* remote = nullptr);

/// The root descriptor `ref` names in `store`: from index.json
/// (select_from_index; local or served layouts), or, for a registry, the
/// manifest its tag (default "latest") or digest names (resolve_root).
/// Errors: those of select_from_index, of remote_store::resolve_root.
[[nodiscard]] result<descriptor> select_root(const io::image_layout& store, const image_reference& ref);

/// A resolved image and the store its blobs are read from.
struct opened_image {
  resolved_image image;
  io::image_layout store;
};

/// resolve_image, keeping the store. A docker-archive image is read as an
/// OCI image (pipeline/docker_archive.h); any problem of its manifest.json
/// entry fails it (`malformed`). Errors: those of resolve_image.
[[nodiscard]] result<opened_image> open_image(const image_reference& ref, const platform_selector& platform,
                                              remote_session* remote = nullptr);

}  // namespace ocipipe::pipeline
