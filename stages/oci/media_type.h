#pragma once
// Media types of image-spec media-types.md, plus the Docker v2.2 names that
// image-spec backwards compatibility and skopeo's docker-archive carry.

#include <string_view>

namespace ocipipe::media_type {

inline constexpr std::string_view oci_layout_header = "application/vnd.oci.layout.header.v1+json";
inline constexpr std::string_view descriptor = "application/vnd.oci.descriptor.v1+json";
inline constexpr std::string_view image_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view image_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view image_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view empty_json = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view layer_tar_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view layer_tar_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view layer_nondistributable_tar =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view layer_nondistributable_tar_gzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view layer_nondistributable_tar_zstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer_gzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view docker_foreign_layer_gzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// An image index (OCI) or a manifest list (Docker v2.2).
constexpr bool is_image_index(std::string_view mt) noexcept {
  return mt == image_index || mt == docker_manifest_list;
}

/// An image manifest (OCI or Docker v2.2).
constexpr bool is_image_manifest(std::string_view mt) noexcept {
  return mt == image_manifest || mt == docker_manifest;
}

/// How deep image indexes may nest below index.json before a reader gives up
/// (nesting is legal, containers/image#2076; loops and bombs are not).
inline constexpr int max_index_depth = 8;

/// How a layer blob is compressed, from its media type.
enum class layer_compression { none, gzip, zstd, unknown };

/// Classifies a layer media type (OCI and Docker names). `unknown` means the
/// media type is not an image layer this reader can apply.
constexpr layer_compression compression_of(std::string_view mt) noexcept {
  if (mt == layer_tar || mt == layer_nondistributable_tar) return layer_compression::none;
  if (mt == layer_tar_gzip || mt == layer_nondistributable_tar_gzip || mt == docker_layer_gzip ||
      mt == docker_foreign_layer_gzip)
    return layer_compression::gzip;
  if (mt == layer_tar_zstd || mt == layer_nondistributable_tar_zstd)
    return layer_compression::zstd;
  return layer_compression::unknown;
}

}  // namespace ocipipe::media_type
