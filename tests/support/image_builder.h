#pragma once
// Builds OCI image layouts from code, for tests: layers described entry by entry (hostile
// names, whiteouts, hardlinks, devices, xattrs welcome), written as tar by libarchive's pax
// writer into memory, compressed with libdeflate (gzip) or libzstd, and stored with their
// config, manifest, index.json and oci-layout in a directory. The same input always gives
// the same bytes, so digests in a test are stable from run to run.
//
// Broken images are made by asking for them: layer options write a multi-member or
// truncated gzip, or label a layer with a media type its bytes do not have; the corrupt_*
// and edit_* helpers break a layout that build_layout() wrote. Tar header fields that
// libarchive will not write wrong (a PAX `size` record disagreeing with the ustar field, a
// PAX header claiming a huge body: buglog B25, B26, B29) are patched into libarchive's
// output in place, field by field; the tar stream itself always comes from libarchive.
//
// Not part of ocipipe. Failures throw std::runtime_error, which GoogleTest reports as a
// failure of the test that asked.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "stages/oci/digest.h"
#include "stages/reference.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe::testing {

/// A fixed, plausible mtime (2023-11-14), so default entries are deterministic.
inline constexpr std::int64_t default_mtime = 1700000000;

/// One tar entry as the layer should carry it. Start from the helpers below (file(), dir(),
/// ...) and change fields as needed.
struct tar_spec_entry {
  std::string name;  ///< raw name, written as given: "../x", "/abs", ".wh.", "." are allowed
  entry_type type = entry_type::regular;
  std::string content;      ///< regular files
  std::string link_target;  ///< symlink target, or the name a hardlink refers to (raw)
  std::uint32_t mode = 0644;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t mtime = default_mtime;
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;  ///< name ("user.x") and value
  /// A sparse file: `content` is the whole logical file, and these (offset, length) pairs
  /// are its data regions; the rest is written as holes (PAX GNU.sparse 1.0; buglog B28).
  std::vector<std::pair<std::int64_t, std::int64_t>> sparse_data;

  // Header patches (see the file comment). Each forces libarchive to write a PAX header
  // for the entry, then rewrites fields of libarchive's output.
  /// Adds a PAX `size` record with this value.
  std::optional<std::uint64_t> pax_size;
  /// Rewrites the entry's own ustar size field to this value (checksum fixed).
  std::optional<std::uint64_t> ustar_size;
  /// Rewrites the size field of the entry's PAX `x` header: the header claims a body of
  /// this many bytes (at most 8 GiB - 1; checksum fixed).
  std::optional<std::uint64_t> pax_header_size;
};

/// Regular file `name` with `content`, mode 0644, root-owned.
tar_spec_entry file(std::string name, std::string content = {}, std::uint32_t mode = 0644);
/// Directory `name` (a trailing "/" is optional), mode 0755.
tar_spec_entry dir(std::string name, std::uint32_t mode = 0755);
/// Symlink `name` -> `target`, mode 0777.
tar_spec_entry symlink(std::string name, std::string target);
/// Hardlink entry `name` => `target` (typeflag 1).
tar_spec_entry hardlink(std::string name, std::string target);
tar_spec_entry char_device(std::string name, std::uint32_t major, std::uint32_t minor,
                           std::uint32_t mode = 0600);
tar_spec_entry block_device(std::string name, std::uint32_t major, std::uint32_t minor,
                            std::uint32_t mode = 0600);
tar_spec_entry fifo(std::string name, std::uint32_t mode = 0644);

/// How a layer blob is compressed.
enum class layer_compression { none, gzip, zstd };

/// What is wrong with a gzip blob on purpose.
enum class gzip_form {
  normal,        ///< one gzip member
  multi_member,  ///< the tar split in two halves, each its own member, concatenated (B39)
  truncated,     ///< cut in the middle of the deflate data; digest and size describe the cut
                 ///< bytes (B44)
};

/// Which PAX records carry xattrs (libarchive's "xattrheader" option).
enum class xattr_records { all, schily, libarchive };

/// One layer: entries in tar stream order, and how the blob is made and labelled.
struct layer_spec {
  std::vector<tar_spec_entry> entries;
  layer_compression compression = layer_compression::gzip;
  gzip_form gzip = gzip_form::normal;
  xattr_records xattrs = xattr_records::schily;
  /// The descriptor's mediaType; empty means the one `compression` calls for. Set it to
  /// label a gzip blob as plain tar or the other way round (B42), or to an artifact type.
  std::string media_type;
  /// Bytes to use as the uncompressed stream instead of writing `entries` (e.g. 1024 zero
  /// bytes for an empty changeset, B52). Compressed as `compression` says.
  std::optional<std::string> raw_tar;
};

/// A layer of `entries` compressed as `compression`; every other field as layer_spec has it.
[[nodiscard]] layer_spec layer(std::vector<tar_spec_entry> entries,
                               layer_compression compression = layer_compression::gzip);
/// A layer whose uncompressed stream is `tar`, byte for byte (layer_spec::raw_tar), compressed
/// as `compression`.
[[nodiscard]] layer_spec raw_layer(std::string tar, layer_compression compression);

/// Fields of the image config (config.md) a test may set; the rest are fixed.
struct config_overrides {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::optional<std::vector<std::string>> entrypoint;  ///< nullopt: absent
  std::optional<std::vector<std::string>> cmd;         ///< nullopt: absent
  std::vector<std::string> env;                        ///< omitted when empty
  std::string user;                                    ///< omitted when empty
  std::string working_dir;                             ///< omitted when empty
  std::vector<std::string> volumes;                    ///< Volumes keys; omitted when empty
  /// rootfs.diff_ids as written, replacing the correct ones.
  std::optional<std::vector<std::string>> diff_ids;
};

/// What build_layout() wrote, enough for the helpers below to rewrite it.
struct built_layer {
  std::string media_type;
  ocipipe::digest digest;    ///< of the blob as stored
  std::int64_t size = 0;     ///< of the blob as stored
  ocipipe::digest diff_id;   ///< of the uncompressed tar (whatever the blob holds)
  std::string tar;           ///< the uncompressed tar stream
};

struct built_image {
  std::string dir;  ///< the image layout directory
  std::string tag;
  std::vector<built_layer> layers;
  nlohmann::ordered_json config;    ///< as stored
  nlohmann::ordered_json manifest;  ///< as stored
  ocipipe::digest config_digest;
  ocipipe::digest manifest_digest;
  std::int64_t manifest_size = 0;

  /// "oci:<dir>:<tag>", as the CLI takes it.
  [[nodiscard]] std::string ref_text() const { return "oci:" + dir + ":" + tag; }
  /// The parsed reference, for ocipipe::unpack() and friends.
  [[nodiscard]] image_reference ref() const;
  /// Path of a blob of this layout.
  [[nodiscard]] std::string blob_path(const ocipipe::digest& d) const;
  [[nodiscard]] std::string layer_blob_path(std::size_t n) const {
    return blob_path(layers.at(n).digest);
  }
};

/// The uncompressed tar stream of `entries`, written by libarchive (pax_restricted format,
/// 10240-byte blocks) with `xattrs` choosing the xattr records, header patches applied.
[[nodiscard]] std::string make_tar(const std::vector<tar_spec_entry>& entries,
                                   xattr_records xattrs = xattr_records::schily);

/// gzip of `bytes` (libdeflate, level 6; the header carries no name and mtime 0).
[[nodiscard]] std::string gzip_bytes(const std::string& bytes);
/// zstd of `bytes` (libzstd, level 3, one frame).
[[nodiscard]] std::string zstd_bytes(const std::string& bytes);

/// The media type `compression` calls for: application/vnd.oci.image.layer.v1.tar[+gzip|+zstd].
[[nodiscard]] std::string layer_media_type(layer_compression compression);

/// sha256 of `bytes` (OpenSSL, through stages/digester.h).
[[nodiscard]] ocipipe::digest sha256_of(const std::string& bytes);

/// Writes an image layout into `dir` (created when missing; existing files are
/// overwritten): the layer blobs, the image config (os/architecture from `config`,
/// rootfs.diff_ids correct unless overridden), the manifest, index.json naming the manifest
/// with org.opencontainers.image.ref.name = `tag`, and oci-layout.
built_image build_layout(const std::string& dir, const std::string& tag,
                         const std::vector<layer_spec>& layers,
                         const config_overrides& config = {});

/// Writes `bytes` as a blob of `img`'s layout and returns its digest.
ocipipe::digest write_blob(const built_image& img, const std::string& bytes);

// Breaking a built layout. Each keeps index.json, the manifest and the config consistent
// with one another except for the one thing it breaks, so a test sees exactly one fault.

/// Flips every bit of one byte of layer `n`'s blob in place (default: the middle byte); its
/// descriptor still names the old digest.
void corrupt_layer_byte(built_image& img, std::size_t n, std::optional<std::size_t> offset = {});
/// Sets rootfs.diff_ids[n] to `diff_id` (default: the sha256 of "wrong"). Rewrites the
/// config, the manifest and index.json.
void set_wrong_diff_id(built_image& img, std::size_t n,
                       std::optional<std::string> diff_id = std::nullopt);
/// Sets layer `n`'s descriptor size (negative allowed). Rewrites the manifest and index.json.
void set_layer_size(built_image& img, std::size_t n, std::int64_t size);
/// Points layer `n`'s descriptor at a digest with no blob. Returns that digest.
ocipipe::digest point_layer_at_missing_blob(built_image& img, std::size_t n);
/// Applies `edit` to the stored config, then rewrites config, manifest and index.json.
void edit_config(built_image& img, const std::function<void(nlohmann::ordered_json&)>& edit);
/// Applies `edit` to the stored manifest, then rewrites the manifest and index.json (the
/// index entry's mediaType stays the OCI manifest type).
void edit_manifest(built_image& img, const std::function<void(nlohmann::ordered_json&)>& edit);

/// Rewrites index.json so that the tag names a nested image index (buglog B50): index.json
/// -> index (tagged) -> { the image's manifest for linux/amd64, an attestation manifest for
/// unknown/unknown with an unknown config type }, plus a second index.json entry of unknown
/// media type `application/vnd.example.thing+json`. Returns the nested index's digest.
ocipipe::digest nest_in_index(built_image& img);


// ---- archives of a built image (oci-archive:, docker-archive:) ----

/// Writes `img`'s layout as an uncompressed tar (an oci-archive, as skopeo's oci-archive:
/// transport writes it): members "oci-layout", "index.json" and every file under
/// "blobs/<alg>/", written by libarchive (pax_restricted), sorted by name, mode 0644,
/// mtime default_mtime. Reads what is stored now, so a layout broken by corrupt_*() makes a
/// broken archive.
void write_oci_archive(const built_image& img, const std::string& path);

/// What write_docker_archive() writes, and what it breaks on purpose.
struct docker_archive_options {
  /// RepoTags of the (first) image; entries are written as given (a bad one on purpose is
  /// fine).
  std::vector<std::string> repo_tags = {"example.com/test:latest"};
  /// Member name of the config; "" means "<config hex>.json". A name whose hex is another
  /// digest breaks docker.config.digest.
  std::string config_name;
  /// Layers lists this many more members after the image's own, each a real tar member
  /// ("<hex>.tar" of an archive holding one file "extraN"): breaks docker.layers.count.
  std::size_t extra_layers = 0;
  /// Layers leaves out the image's last layer (its member is not written either): breaks
  /// docker.layers.count.
  bool drop_last_layer = false;
  /// Layers[n] is listed but its member is not written: docker.layer.missing.
  std::optional<std::size_t> absent_layer;
  /// Layer n's member holds these bytes instead of its tar (the name keeps the diff_id's
  /// hex): layer.diff_id.
  std::vector<std::pair<std::size_t, std::string>> replace_layer;
  /// manifest.json holds exactly this text.
  std::optional<std::string> manifest_json;
  /// Layers are named "<id>/layer.tar", symlinks to "../<diffid hex>.tar", with "<id>/VERSION"
  /// and "<id>/json" beside them, as skopeo's docker-archive: transport writes them.
  bool layer_symlinks = false;
  /// Layers[n] is "evil<n>/layer.tar", a symlink member to `escape_target`; no other member
  /// holds layer n.
  std::optional<std::size_t> escaping_layer;
  std::string escape_target = "../../etc/passwd";
  /// Further images in the same archive, each with its RepoTags; members they share with
  /// earlier images (same name) are written once. Options above apply to the first image.
  std::vector<std::pair<const built_image*, std::vector<std::string>>> more_images;
};

/// Writes `img` in the `docker save` shape: manifest.json [{"Config": "<hex>.json",
/// "RepoTags": [...], "Layers": ["<diffid hex>.tar", ...]}], the config member (the stored
/// config, byte for byte) and each layer's uncompressed tar (built_layer::tar, so a layer
/// blob corrupted afterwards in the layout does not reach the archive). Members in
/// manifest.json's order, manifest.json last, via libarchive (pax_restricted).
void write_docker_archive(const built_image& img, const std::string& path,
                          const docker_archive_options& options = {});

/// The data of regular member `name` of the uncompressed tar at `path` (read with libarchive).
[[nodiscard]] std::string read_archive_member(const std::string& path, const std::string& name);
/// Rewrites the tar at `path` with libarchive: every member copied as it is (headers, links,
/// data), except that regular member `name` holds `bytes` instead. Throws when there is none.
void rewrite_archive_member(const std::string& path, const std::string& name, const std::string& bytes);

// ---- several images, shared blobs ----

/// Rewrites index.json of the layout the images share (all `dir`s must be equal) to list
/// each image's manifest with its tag, in order. Build them with build_layout() into one
/// directory first: each call leaves only its own image in index.json.
void write_shared_index(const std::vector<built_image>& images);

/// Replaces blob `d` of `to` with a hardlink to the same blob of `from` (both must hold it).
void hardlink_blob(const built_image& from, const built_image& to, const ocipipe::digest& d);

// ---- raw tar surgery (for streams given as layer_spec::raw_tar) ----

/// Offsets of each entry's own header in a tar stream (PAX `x` headers before it are not
/// counted), in stream order, up to the first zero block.
[[nodiscard]] std::vector<std::size_t> tar_entry_headers(const std::string& tar);
/// Offset just past the last entry's data (rounded to 512), where the end-of-archive
/// marker begins.
[[nodiscard]] std::size_t tar_entries_end(const std::string& tar);
/// Recomputes the chksum field of the header at `offset` after a test changed it on purpose
/// (not used when the checksum itself is meant to be wrong).
void fix_tar_checksum(std::string& tar, std::size_t offset);

}  // namespace ocipipe::testing
