#pragma once
// The public API of ocipipe: one function per verb, one options struct per
// verb, reports as values. Nothing here prints; the CLI renders reports.
// Per-image failures are reported in the result values.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stages/oci/descriptor.h"
#include "stages/oci/error.h"
#include "stages/reference.h"

namespace ocipipe {

/// Which manifest of an image index to take (image-index.md "platform").
/// Empty fields mean the host's own value (os "linux", its architecture).
struct platform_selector {
  std::string os;
  std::string architecture;
  std::string variant;
};

/// Parses "OS/ARCH[/VARIANT]". Errors: `invalid_argument`.
[[nodiscard]] result<platform_selector> parse_platform(std::string_view text);

/// An image reference resolved against its image layout: the manifest and the
/// image config, both read with their digests and sizes verified.
struct resolved_image {
  image_reference reference;
  descriptor manifest_descriptor;
  ocipipe::manifest manifest;
  descriptor config_descriptor;
  image_config config;
  std::string config_bytes;
};

/// Resolves `ref` (oci: transport) to one image manifest: by tag
/// (index.json's org.opencontainers.image.ref.name), by digest, or the only
/// manifest when no tag is given; an image index is descended by `platform`.
/// Errors: `not_found` (no such tag/digest/platform), `invalid_argument` (no
/// tag and several manifests: the message lists the tags), `unsupported`
/// (other transports), `malformed`, `digest_mismatch`, `size_mismatch`.
[[nodiscard]] result<resolved_image> resolve_image(const image_reference& ref,
                                                   const platform_selector& platform = {});

/// Progress as data (DESIGN.md §4), for unpack, create and validate: bytes
/// done of the run's total, in blob bytes as stored (compressed), and what is
/// being worked on. Reported at most every 200 ms, plus once per finished
/// layer (unpack) or blob (validate).
struct progress_update {
  std::uint64_t done_bytes = 0;
  std::uint64_t total_bytes = 0;  ///< sum of the descriptor sizes to read
  /// Unpack: the layer being applied, "layer 2 of 5 (sha256:0123456789ab)";
  /// validate: the blob finished last, "blob 7 of 40 (sha256:…)".
  std::string current;
  bool finished_one = false;  ///< this update marks a layer (blob) finished
};
/// Called from pipeline threads, never concurrently with itself; must be
/// cheap; it never affects the result.
using progress_callback = std::function<void(const progress_update&)>;

struct unpack_options {
  int jobs = 0;                                   ///< worker threads; 0 = all cores
  std::size_t max_bytes_in_flight = 64u << 20;    ///< decoded bytes queued for apply, all layers
  bool force = false;                             ///< empty a non-empty rootfs first
  /// Rootless unpack (umoci --rootless), automatic when not running as root:
  /// no chown and no device nodes (skipped with a warning); an owner other
  /// than 0:0 is kept in the `user.rootlesscontainers` xattr of regular files
  /// and directories; directory modes are set last, so a lower layer's 0555
  /// directory still takes the upper layers' changes.
  bool rootless = false;
  /// Largest uncompressed tar stream accepted per layer: past it a decompression
  /// bomb fails with `resource_exhausted` (DESIGN.md §6; moby CVE-2017-14992).
  std::uint64_t max_layer_bytes = std::uint64_t{1} << 40;
  /// Largest sum of the uncompressed tar streams of all layers, in bytes.
  std::uint64_t max_image_bytes = std::uint64_t{4} << 40;
  /// Most tar entries in one layer (Debian's largest images hold ~100 000).
  std::uint64_t max_entries_per_layer = std::uint64_t{1} << 24;
  /// Longest entry path or link target, in bytes (Linux's PATH_MAX).
  std::size_t max_path_bytes = 4096;
  /// Most path components of one entry below the rootfs.
  std::size_t max_depth = 1024;
  /// Largest PAX extended header body, in bytes (Go's cap; buglog B29).
  std::size_t max_pax_header_bytes = std::size_t{1} << 20;
  platform_selector platform;
  progress_callback progress;                     ///< optional
  /// Set (from any thread, e.g. a signal handler) to stop: the run ends with
  /// `cancelled` and the rootfs is emptied as for any failure. Optional.
  const std::atomic<bool>* cancel = nullptr;
};

/// What happened to one layer.
struct layer_report {
  std::size_t index = 0;
  descriptor layer;
  digest diff_id;                  ///< measured
  std::uint64_t compressed_bytes = 0;
  std::uint64_t tar_bytes = 0;
  std::uint64_t entries = 0;
};

struct unpack_report {
  resolved_image image;
  std::vector<layer_report> layers;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t tar_bytes = 0;
  std::size_t peak_queued_bytes = 0;  ///< high-water mark of decoded bytes waiting for apply
  bool rootless = false;  ///< unpacked rootless (asked for, or not running as root)
  /// What was done other than the image says, as (rule id, message):
  /// `rootfs.unsupported` (device nodes not permitted, …), `rootfs.owner`
  /// (owners this user namespace cannot map, kept in the
  /// `user.rootlesscontainers` xattr), `layer.compression` (a media type
  /// naming the wrong compression; the bytes were followed).
  std::vector<std::pair<std::string, std::string>> warnings;
};

/// Unpacks the image's layers into `rootfs` through the unpack flow graph
/// (DESIGN.md §2): layers are read, digested, decompressed, diff_id-digested
/// and tar-parsed in parallel, then applied in manifest order by one serial
/// stage (image-spec layer.md "Applying Changesets"). `rootfs` is created if
/// missing; an existing non-empty one is refused (`invalid_argument`) unless
/// `force`. On failure the rootfs is removed again (when this call created
/// it) or emptied, so no half-applied tree is left behind. Errors: those of
/// resolve_image, `digest_mismatch` naming the layer index and both digests,
/// `unsafe_path`, `malformed`, `io`. Thread-safe (each call its own graph).
[[nodiscard]] result<unpack_report> unpack(const image_reference& ref, const std::string& rootfs,
                                           const unpack_options& opts);

struct create_options {
  /// How the rootfs is unpacked; `unpack.rootless` (automatic when not root)
  /// also makes config.json rootless, as `runc spec --rootless` writes it.
  unpack_options unpack;
  std::optional<std::vector<std::string>> args;  ///< replaces process.args
  bool terminal = false;                         ///< process.terminal
  /// --env NAME=value: replaces the image Env entry of that NAME, else appended.
  std::vector<std::string> env;
  std::optional<std::string> cwd;   ///< --cwd: replaces WorkingDir
  std::optional<std::string> user;  ///< --user: replaces Config.User (any of its forms)
};

struct create_report {
  unpack_report unpack;
  std::string config_json;  ///< the runtime config written to BUNDLE/config.json
  /// What of the image config.json leaves out, as (rule id, message):
  /// `runtime.annotations.key` (a label with an empty key). Unpack's own
  /// warnings are in `unpack.warnings`.
  std::vector<std::pair<std::string, std::string>> warnings;
};

/// Creates an OCI runtime bundle (runtime-spec bundle.md): BUNDLE (mode
/// 0700) with BUNDLE/rootfs (as unpack) and BUNDLE/config.json converted from
/// the image config per image-spec conversion.md (stages/runtime_config.h),
/// with `env`, `cwd` and `user` applied to the image config first
/// (conversion.md: externally provided inputs), and the rest as `runc spec`
/// (or `runc spec --rootless`, mapping the caller's effective uid and gid to
/// 0) writes it. Config.User is resolved from the rootfs's /etc/passwd and
/// /etc/group, read inside the rootfs; a WorkingDir missing from the rootfs is
/// created there, owned by the process user (rootless: by the caller). On
/// failure nothing is left of BUNDLE (or it is emptied, when it existed).
/// Errors: those of unpack; `not_found` for a user or group name missing from
/// the rootfs; `invalid_argument` for a numeric uid/gid out of range, an env
/// entry not NAME=value, a relative WorkingDir, a WorkingDir that is not a
/// directory, a Volumes path with "..", nothing to run, or a rootless
/// process user other than 0:0.
[[nodiscard]] result<create_report> create(const image_reference& ref, const std::string& bundle,
                                           const create_options& opts);

/// Empties or creates a target directory per DESIGN.md §4: refuses a
/// non-empty one unless `force`. Returns whether it created the directory.
[[nodiscard]] result<bool> prepare_target_dir(const std::string& dir, bool force);

}  // namespace ocipipe

namespace ocipipe {

/// One validation finding: which spec rule (README "Validation rules"), how
/// bad, and where, both as one human-readable `location` and field by field.
struct finding {
  std::string rule;
  bool error = true;  ///< false: a warning (exit 0), e.g. an artifact media type
  /// Everything below in one line: `manifests[0].layers[2] (sha256:0123456789ab):
  /// entry "etc/x"` or `manifests[0] (sha256:…): layers[1].digest`.
  std::string location;
  std::string message;
  /// Which document or blob: `manifests[0].layers[2]` (descriptor path from
  /// index.json), `index.json`, `oci-layout`, `manifest.json`.
  std::string descriptor_path;
  std::string digest;     ///< the blob's full digest, when about a blob
  std::string json_path;  ///< inside the document: `layers[1].digest`; "" for none
  std::string entry;      ///< the tar entry, when about one
};

struct validate_options {
  int jobs = 0;        ///< 0 = all cores
  bool all = false;    ///< every manifest of index.json, even without a tag
  /// Schema mode: rules where the spec's prose says SHOULD but its JSON schema
  /// says MUST (a manifest with `layers: []`, buglog B52) are errors, not warnings.
  bool strict = false;
  /// Progress as data: bytes of the distinct blobs read of all there are. Optional.
  progress_callback progress;
};

/// The outcome for one reference.
struct image_validation {
  std::string ref;
  std::vector<finding> findings;
  std::optional<error> failure;    ///< operational failure (layout unreadable): exit 2
  std::uint64_t blobs = 0;         ///< blobs checked
  std::uint64_t blob_bytes = 0;    ///< compressed bytes read
  std::uint64_t tar_bytes = 0;     ///< uncompressed bytes digested
  double seconds = 0;
  [[nodiscard]] bool valid() const;
};

/// What a whole validate run read: each distinct blob counts once.
struct validate_totals {
  /// Blobs checked: each distinct layer (or other) blob once per run, plus the
  /// documents (manifests, indexes, configs), read per reference.
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;  ///< their bytes, as stored
  std::uint64_t tar_bytes = 0;   ///< uncompressed layer bytes digested
  double seconds = 0;            ///< wall time of the run
};

/// Validates images against the image-spec (README "Validation rules"): image
/// layouts (oci:), oci-archive: and docker-archive: tars read in place.
/// oci-layout and index.json, every manifest, image index and image config
/// (stages/schema_rules.h), a docker-archive's manifest.json; every blob's
/// existence, size and digest; each layer's compressed stream, diff_id, tar
/// stream (libarchive's parse plus header checksums, end-of-archive, PAX
/// consistency, safe paths, whiteout names, duplicate paths) and hardlinks to
/// paths no lower layer created. Bulk mode: across all references of the run
/// each distinct blob (same file, or same archive member) is read once, for
/// its digest and diff_id together; blobs are checked in parallel, largest
/// first, on `opts.jobs` threads. Never fails as a whole: per-reference
/// problems are findings, unreadable inputs `failure`. `totals`, when given,
/// receives the run's distinct counts. Thread-safe.
[[nodiscard]] std::vector<image_validation> validate(const std::vector<image_reference>& refs,
                                                     const validate_options& opts,
                                                     validate_totals* totals = nullptr);

/// Checks one document alone against `media_type`'s rules (what
/// oci-image-tool's `validate --type` does). Findings carry JSON paths.
[[nodiscard]] std::vector<finding> validate_document(std::string_view media_type,
                                                     std::string_view json);

/// validate_document on the contents of file `path`, read whole: a regular
/// file of at most `max_bytes`. Errors: `not_found`, `malformed` (not a
/// regular file: a FIFO, a device), `resource_exhausted` (too big), `io`.
[[nodiscard]] result<std::vector<finding>> validate_document_file(std::string_view media_type,
                                                                  const std::string& path,
                                                                  std::size_t max_bytes = 64 << 20);

}  // namespace ocipipe
