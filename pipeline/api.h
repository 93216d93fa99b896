#pragma once
// The public API of ocipipe: one function per verb, one options struct per
// verb, reports as values. Nothing here prints; the CLI renders reports.
// Per-image failures are reported in the result values.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
/// docker:// and oci+https:// are reached with `remote` (struct below).
struct remote_options;
[[nodiscard]] result<resolved_image> resolve_image(const image_reference& ref,
                                                   const platform_selector& platform = {});
[[nodiscard]] result<resolved_image> resolve_image(const image_reference& ref, const platform_selector& platform,
                                                   const remote_options& remote);

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

/// How to reach registries (docker://) and web servers (oci+https://):
/// skopeo's flags of the same names. Plain values; pipeline/ turns them
/// into io/registry_options.
struct remote_options {
  std::string creds;      ///< --creds USER[:PASSWORD] for every registry of the run; "" none
  std::string auth_file;  ///< --authfile; "" the default search (io/registry_auth.h)
  bool tls_verify = true;  ///< --tls-verify=false: no certificate checks, plain http allowed
  std::string cert_dir;   ///< --cert-dir: *.crt CA roots, client.cert/client.key
  int attempts = 5;       ///< tries per request for retryable failures (--retry-times + 1)
};

/// Where simple signatures are looked for and kept, besides explicit files:
/// containers-registries.d(5) lookaside stores.
struct signature_store_options {
  /// --lookaside: a lookaside store (directory, file:// URL, or http(s)://
  /// for reading) used for every image of the run, before registries.d.
  std::string lookaside;
  /// --registries.d: the directory of registries.d YAML files ("" =
  /// io::default_registries_d()); consulted for docker:// images only.
  std::string registries_d;
};

/// A containers-policy.json(5) file to enforce, with where signatures are.
struct policy_options {
  std::string policy_file;  ///< "" = no policy: nothing is checked
  signature_store_options store;
};

struct unpack_options {
  int jobs = 0;                                   ///< worker threads; 0 = all cores
  /// Decoded bytes queued for apply, all layers together; each layer's queue
  /// holds between 512 KiB and 2 MiB of it (pipeline/layer_channel.h).
  std::size_t max_bytes_in_flight = 64u << 20;
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
  /// Record the state of the finished rootfs beside it (`<rootfs
  /// basename>.ocipipe-state` in its parent directory; io/rootfs_state.h)
  /// for `pack --diff`. A parent directory that cannot be written gives the
  /// warning `state.unwritable`, any other recording failure
  /// `state.unrecorded`; neither fails the unpack. A state file already
  /// there is removed first either way (it describes an older rootfs).
  bool record_state = true;
  remote_options remote;                          ///< for a docker:// or oci+https:// REF
  /// --policy: REF must satisfy it (enforce_policy) before anything is written.
  policy_options policy;
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
  /// naming the wrong compression; the bytes were followed),
  /// `state.unwritable` / `state.unrecorded` (no state for pack --diff).
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

/// --- pack (issue 6) -------------------------------------------------------

/// Changes pack makes to the image config (config.md) and manifest, as the
/// flags of the same names. Unset fields keep the base image's value.
struct image_edits {
  std::optional<std::vector<std::string>> entrypoint;  ///< config.Entrypoint
  std::optional<std::vector<std::string>> cmd;         ///< config.Cmd
  std::vector<std::string> env;                        ///< NAME=value, replaces NAME or appends
  std::optional<std::string> working_dir;              ///< config.WorkingDir
  std::optional<std::string> user;                     ///< config.User
  std::map<std::string, std::string> labels;           ///< config.Labels additions
  std::map<std::string, std::string> annotations;      ///< manifest annotations
  std::optional<std::string> platform;                 ///< "os/arch[/variant]" of the image
  std::optional<std::string> author;                   ///< author (and history author)
  std::optional<std::string> created;                  ///< RFC 3339; default: now, or SOURCE_DATE_EPOCH
  std::string history_comment;                         ///< history[].comment of the new layer
};

/// How a layer is compressed (media type +gzip, +zstd or plain tar).
enum class layer_compression { gzip, zstd, none };

struct pack_options {
  int jobs = 0;  ///< 0 = all cores (parallel gzip chunks, zstd workers)
  layer_compression compression = layer_compression::gzip;
  int level = -1;  ///< -1: the compressor's default; gzip 1-9, zstd 1-19
  /// Mtimes later than this (seconds since the epoch) are clamped to it
  /// (reproducible-builds.org SOURCE_DATE_EPOCH); also `created`'s default.
  std::optional<std::int64_t> source_date_epoch;
  image_edits edits;
  /// pack DIR only: the image whose layers the new layer goes on top of.
  std::optional<image_reference> base;
  platform_selector base_platform;
  /// For a docker:// or oci+https:// base: --base, or the image a rootfs
  /// was unpacked from (pack --diff).
  remote_options remote;
  progress_callback progress;  ///< optional
};

struct pack_report {
  descriptor manifest;       ///< the new manifest, as tagged in DEST's index.json
  descriptor config;
  descriptor layer;          ///< the new layer
  digest diff_id;
  std::uint64_t tar_bytes = 0;
  std::uint64_t entries = 0;         ///< tar entries in the new layer
  std::uint64_t base_layers = 0;     ///< layers below it
  std::uint64_t changed = 0, removed = 0;  ///< pack --diff: paths added or changed, whiteouts
  std::vector<std::pair<std::string, std::string>> warnings;  ///< (rule id, message)
};

/// Packs directory `dir` into one new layer (image-spec layer.md: every entry
/// of the tree, sorted, uid/gid, mode, xattrs and hardlinks kept, mtimes
/// clamped to source_date_epoch), on top of `opts.base`'s layers when given,
/// writes its image config (with history) and image manifest into the image
/// layout `dest` (oci:, created when missing) and tags it with dest's tag
/// (default "latest"). The same tree and options give the same digests.
/// Errors: `invalid_argument` (dest not oci:, a bad edit), those of
/// resolve_image for the base, `io`, `resource_exhausted`. Thread-safe.
[[nodiscard]] result<pack_report> pack(const std::string& dir, const image_reference& dest,
                                       const pack_options& opts);

/// Packs what changed in BUNDLE's rootfs since `unpack`/`create` wrote it
/// (the state recorded beside the rootfs) as one new layer on top of the
/// image it was unpacked from: new and changed entries, whiteouts for
/// deletions, an opaque whiteout where a directory was replaced as a whole.
/// Unchanged files are not read. `bundle` is a bundle directory (rootfs/
/// inside) or a rootfs unpacked by `unpack`. Errors: `not_found` (no
/// recorded state), those of pack.
[[nodiscard]] result<pack_report> pack_diff(const std::string& bundle, const image_reference& dest,
                                            const pack_options& opts);

/// --- layout management (issue 6) -------------------------------------------
// ls, inspect, tag, rm and gc. Every change of an image layout is made through
// io/layout_writer.h with the layout lock held for the whole
// read-modify-write, so these never interleave with a pack or copy into the
// same layout; readers (ls, inspect) take no lock (index.json is replaced by
// rename, blobs appear whole).

/// A blob and its size in bytes (what gc and rm --blobs delete).
struct blob_entry {
  digest blob;
  std::uint64_t size = 0;
};

/// One entry of index.json, as `ls` lists it.
struct layout_entry {
  std::string tag;                     ///< org.opencontainers.image.ref.name; "" untagged
  descriptor manifest;                 ///< the index.json descriptor (manifest or index)
  /// "os/arch[/variant]": of the descriptors below an image index (their
  /// `platform`, else their config's), or of an image manifest's config.
  std::vector<std::string> platforms;
  /// Bytes of every distinct blob the entry reaches: the manifest, its
  /// config and layers (for an index: itself and all of that for each child).
  std::uint64_t total_size = 0;
  /// Why platforms/total_size are partial ("" when complete): a blob missing,
  /// unreadable or malformed. ls still lists the entry.
  std::string problem;
};

struct ls_report {
  image_reference layout;
  std::vector<layout_entry> entries;  ///< in index.json order
};

/// Lists the entries of an image layout's index.json (oci: or oci-archive:;
/// a tag or digest in `layout` is ignored). Errors: `unsupported`
/// (docker-archive:, docker://), `not_found`, `malformed` (index.json).
/// Thread-safe.
[[nodiscard]] result<ls_report> list_layout(const image_reference& layout);

struct inspect_report {
  resolved_image image;       ///< manifest and config, verified
  std::string manifest_json;  ///< the manifest document as stored (docker-archive: as ocipipe reads it)
  /// Bytes of manifest + config + layers.
  std::uint64_t total_size = 0;
};

/// Resolves `ref` (any readable transport; an index descended by `platform`)
/// and returns its manifest and config. Errors: those of resolve_image.
/// Thread-safe.
[[nodiscard]] result<inspect_report> inspect(const image_reference& ref, const platform_selector& platform = {});
[[nodiscard]] result<inspect_report> inspect(const image_reference& ref, const platform_selector& platform,
                                             const remote_options& remote);

struct tag_report {
  image_reference source;
  descriptor target;               ///< the descriptor now carrying the tag
  std::string tag;
  bool changed = false;            ///< false: the tag was there already
  std::vector<descriptor> moved_from;  ///< descriptors the tag was taken from
  std::vector<descriptor> dropped;     ///< of those, the ones removed from index.json
};

/// Gives the manifest (or index) `ref` names in its oci: layout the tag
/// `new_tag` too, in the same layout (stages/layout_index.h set_tag: a tag
/// names one descriptor, so it moves from any other). `ref` is a tag, a
/// digest (of an index.json entry, or of any manifest or index blob in the
/// layout, verified), or nothing when index.json has one entry.
/// Errors: `unsupported` (not oci:), `invalid_argument` (new_tag not a valid
/// ref name; no tag and several entries), `not_found`, `io`.
[[nodiscard]] result<tag_report> tag_image(const image_reference& ref, const std::string& new_tag);

struct rm_options {
  /// Also delete the blobs only the removed entries reached: those gc would
  /// keep before the removal and not after it.
  bool blobs = false;
};

struct rm_report {
  image_reference ref;
  std::vector<descriptor> removed;   ///< index.json entries removed
  std::vector<blob_entry> blobs;     ///< blobs deleted (--blobs), sorted by digest
  std::uint64_t bytes = 0;           ///< their total size
};

/// Removes the index.json entries `ref` names (every entry with its tag, or
/// with its digest) from its oci: layout; index.json is replaced atomically
/// before any blob is deleted, so a killed run leaves only garbage for gc.
/// `ref` must name a tag or a digest. Errors: `unsupported` (not oci:),
/// `invalid_argument` (neither tag nor digest), `not_found`, those of gc's
/// reachability walk (`malformed` for a reachable manifest that cannot be
/// parsed), `io`.
[[nodiscard]] result<rm_report> remove_image(const image_reference& ref, const rm_options& opts);

struct gc_options {
  bool dry_run = false;  ///< list what would be deleted; delete nothing
};

struct gc_report {
  image_reference layout;
  std::vector<blob_entry> removed;      ///< unreachable blobs (deleted unless dry_run)
  std::vector<std::pair<std::string, std::uint64_t>> stale_files;  ///< ingest leftovers: (path in the layout, bytes)
  std::uint64_t bytes = 0;              ///< bytes of both lists
  std::size_t kept = 0;                 ///< blobs kept (reachable)
  /// Reachable descriptors whose blob is missing (nothing below them could
  /// be followed), as messages; gc goes on.
  std::vector<std::string> warnings;
  bool dry_run = false;
};

/// Deletes every blob under blobs/ that index.json does not reach (image-spec
/// image-layout.md): through manifests, image indexes nested at any depth,
/// and referrers: a manifest or index whose `subject` is reachable is
/// reachable too (repeated to a fixpoint, so referrers of referrers stay);
/// also removes the files a killed writer left in the ingest directory.
/// Never deletes a blob a reachable document points to: a reachable
/// manifest or index that cannot be read or parsed fails the run
/// (`malformed`, `digest_mismatch`) before anything is deleted; a blob that
/// parses as nothing is only a candidate when unreachable. Errors:
/// `unsupported` (not oci:), `not_found`, `malformed`, `io`.
[[nodiscard]] result<gc_report> gc(const image_reference& layout, const gc_options& opts);


/// --- copy (issue 6) ---------------------------------------------------------

struct copy_options {
  int jobs = 0;  ///< blobs copied at once into an oci: layout; 0 = all cores
  /// Set: only the image manifest for this platform is copied out of an
  /// image index (and tagged in DST). Unset: an index is copied whole, with
  /// every manifest it references (as crane and regctl do); a docker-archive
  /// destination, which holds one image, takes the host's platform as unpack
  /// does.
  std::optional<platform_selector> platform;
  bool force = false;  ///< replace an existing oci-archive/docker-archive file
  remote_options source_remote;       ///< SRC docker:// or oci+https://
  remote_options destination_remote;  ///< DST docker://
  /// --policy: SRC must satisfy it (enforce_policy) before anything is written.
  policy_options policy;
  /// docker:// DST: blobs larger than this are uploaded in PATCH chunks of
  /// this many bytes (resumable after an interruption); smaller ones in one
  /// PUT. 0: always one PUT.
  std::uint64_t chunk_bytes = 16u << 20;
  /// Where a pull (docker:// SRC, oci: DST) keeps partly downloaded blobs
  /// and a push (docker:// DST) its upload sessions, so a restarted run
  /// goes on from the bytes already transferred: the oci: DST's ingest
  /// directory for pulls; for pushes this directory ("" =
  /// $XDG_CACHE_HOME/ocipipe/uploads, else ~/.cache/ocipipe/uploads).
  std::string upload_state_dir;
  progress_callback progress;  ///< optional; bytes read from the source
  /// Set (from any thread) to stop between blobs: `cancelled`. Optional.
  const std::atomic<bool>* cancel = nullptr;
};

struct copy_report {
  image_reference source;
  image_reference destination;
  /// What DST names now: the manifest (or image index) as written, in
  /// index.json (oci:, oci-archive:) or as the archive's one image
  /// (docker-archive:, where it is the OCI manifest the image is read as).
  descriptor manifest;
  std::string tag;                  ///< the tag it has in DST; "" for none
  std::uint64_t images = 0;         ///< image manifests copied
  std::uint64_t blobs_copied = 0;   ///< blobs (and archive members of blobs) written
  std::uint64_t blobs_skipped = 0;  ///< blobs DST held already (oci: only)
  std::uint64_t bytes_copied = 0;   ///< bytes of the blobs written
  std::uint64_t blobs_mounted = 0;  ///< docker:// DST: blobs mounted from SRC's repository
  std::uint64_t bytes_resumed = 0;  ///< bytes a restarted run did not transfer again
};

/// Copies the image `src` names into `dst` (DESIGN.md §3 transports oci:,
/// oci-archive:, docker-archive:, both ways; docker:// is `unsupported`).
/// Every blob is read in chunks, bounded by its descriptor size, and
/// verified (size, digest; docker-archive layers also their diff_id) before
/// it is committed; documents of an oci: or oci-archive: source keep their
/// bytes, so their digests stay the same. A docker-archive source becomes an
/// OCI manifest (config application/vnd.oci.image.config.v1+json, layers
/// application/vnd.oci.image.layer.v1.tar, stored as they are); a
/// docker-archive destination gets uncompressed layers (decompressed while
/// written, each diff_id checked) and the `docker save` metadata skopeo
/// writes (manifest.json, repositories, legacy layer directories).
/// oci: DST is created when missing and written under its lock: blobs first
/// (in parallel, `jobs`), index.json last and atomically, tagging the image
/// with DST's tag (skopeo's rule without one: an entry without a ref.name).
/// An archive DST is written to a temporary file and renamed over the final
/// name only when complete; an existing one is refused unless `force`.
/// A failure leaves DST as it was (an oci: layout may keep verified blobs
/// that nothing references yet; `gc` removes them). Errors: those of
/// resolve_image for SRC, `invalid_argument` (an existing archive without
/// `force`, a DST naming a digest, a bad docker-archive NAME:TAG),
/// `digest_mismatch` / `size_mismatch` naming the blob, `unsupported`
/// (docker://; a docker-archive DST of a layer that is not a tar), `io`,
/// `resource_exhausted`, `cancelled`. Thread-safe.
[[nodiscard]] result<copy_report> copy(const image_reference& src, const image_reference& dst,
                                       const copy_options& opts);

/// --- pull and push (issue 7) ----------------------------------------------

/// `pull SRC DEST`: copy() with SRC a registry (docker://) or a web-served
/// layout (oci+https://) and DEST oci:, oci-archive: or docker-archive:.
/// Unlike copy, an image index is narrowed to the host's platform unless
/// `all_platforms` (skopeo copy's default and --all); opts.platform picks
/// another. Into an oci: DEST each blob streams into the layout's ingest
/// area, digested as it arrives; a blob left there by an interrupted pull
/// is continued with a Range request (after its bytes are re-digested), so
/// a restarted pull never transfers finished bytes again.
/// Errors: `invalid_argument` (SRC not docker:// or oci+http(s)://), those
/// of copy().
[[nodiscard]] result<copy_report> pull(const image_reference& src, const image_reference& dst,
                                       const copy_options& opts, bool all_platforms);

/// `push SRC DEST`: copy() with DEST docker://. Blobs the repository has
/// already (HEAD) are skipped, blobs of another repository of the same
/// registry named by SRC are mounted, the rest uploaded in parallel (`jobs`)
/// — chunked when larger than opts.chunk_bytes, with the upload session
/// recorded in opts.upload_state_dir so a restarted push goes on from the
/// registry's offset — then manifests children first, the root last under
/// DEST's tag (or by digest when DEST names one). Errors:
/// `invalid_argument` (DEST not docker://), those of copy().
[[nodiscard]] result<copy_report> push(const image_reference& src, const image_reference& dst,
                                       const copy_options& opts, bool all_platforms);

/// --- sign and verify (issue 8) -------------------------------------------

struct sign_options {
  /// --sign-by: simple signing with this GnuPG key (fingerprint) from
  /// `gnupg_home` ("" = $GNUPGHOME, else ~/.gnupg).
  std::string gpg_key;
  std::string gnupg_home;
  /// --key: cosign-style signing with this private key file (PEM: PKCS#8,
  /// encrypted or not, SEC1, or cosign's encrypted format).
  std::string private_key_file;
  /// The passphrase of the GnuPG key or the private key file ("" none).
  std::string passphrase;
  /// --identity: the docker reference the signature claims ("host/repo:tag").
  /// "" = the image's own (docker:// REF); required for other transports.
  std::string identity;
  /// Simple signing: -o FILE writes the signature there (refusing to
  /// replace an existing file unless `force`); else it goes to the
  /// lookaside store (`store.lookaside`, else registries.d's
  /// lookaside-staging, then lookaside, for the identity's repository).
  std::string output_file;
  bool force = false;
  signature_store_options store;
  /// Key signatures: also, or instead, as an OCI 1.1 referrer of the
  /// signed manifest (manifest.md "subject") rather than the
  /// "sha256-<hex>.sig" tag.
  bool referrer = false;
  remote_options remote;
};

struct sign_report {
  image_reference ref;
  descriptor manifest;          ///< what was signed: the manifest or image index REF names
  std::string format;           ///< "simple-signing" or "sigstore"
  std::string identity;         ///< the docker reference claimed
  std::string key;              ///< GnuPG fingerprint or public key id ("sha256:…")
  std::string stored_at;        ///< the file, lookaside path, or "TAG"/"referrer sha256:…" in REF's store
  std::optional<descriptor> signature_manifest;  ///< sigstore: the manifest holding the signature
};

/// Signs the manifest (or image index) `ref` names, as it is stored (its
/// digest over the stored bytes): simple signing (opts.gpg_key; payload type
/// "atomic container signature", containers-signature(5)) or a cosign-style
/// key signature (opts.private_key_file; payload type "cosign container
/// image signature", stored in REF's image layout or registry under the
/// "sha256-<hex>.sig" tag, appended to the signatures already there, or as a
/// referrer). Exactly one of gpg_key and private_key_file. Errors:
/// `invalid_argument` (both or neither key, no identity for a non-docker
/// REF, an existing -o file, a read-only transport for key signatures:
/// oci-archive:, docker-archive:, oci+https://; an option that does not
/// apply: store, gnupg_home or output_file with a key, referrer with
/// gpg_key, output_file with a store, force without output_file), those
/// of resolution, of
/// io::gpg_sign and parse_private_key, `io`. Thread-safe.
[[nodiscard]] result<sign_report> sign_image(const image_reference& ref, const sign_options& opts);

/// Writes a new ECDSA P-256 key pair: `prefix`.key (mode 0600; PKCS#8,
/// encrypted with `passphrase` when not "") and `prefix`.pub. Neither file
/// is replaced unless `force`. Returns the public key id. Errors:
/// `invalid_argument` (a file exists), `io`.
[[nodiscard]] result<std::string> generate_key_files(const std::string& prefix, const std::string& passphrase,
                                                     bool force);

struct verify_options {
  std::vector<std::string> gpg_keyrings;     ///< --key-file: GnuPG public keyrings
  /// --key: PEM public key files (cosign-style); every PUBLIC KEY block of each is a key.
  std::vector<std::string> public_keys;
  /// --identity: the docker reference a signature must claim (exactly,
  /// after normalization). "": for docker:// REFs the signature's
  /// repository must be REF's; for others the identity is not checked.
  std::string identity;
  std::vector<std::string> signature_files;  ///< --signature: simple signatures in files
  signature_store_options store;
  /// --policy: judge by this containers-policy.json instead of the keys
  /// above (those and `identity` must then be empty: the policy's
  /// signedIdentity decides).
  std::string policy_file;
  remote_options remote;
};

/// Why one signature was or was not accepted.
enum class signature_status {
  valid,
  unknown_key,       ///< signed, but by none of the given keys
  bad_signature,     ///< the signature does not match its payload (altered payload or signature)
  malformed,         ///< the signature or payload cannot be parsed
  digest_differs,    ///< the payload signs another manifest digest
  identity_differs,  ///< the payload claims another docker reference
};
[[nodiscard]] std::string_view signature_status_name(signature_status s) noexcept;

/// One signature looked at.
struct signature_check {
  std::string format;  ///< "simple-signing" or "sigstore"
  std::string source;  ///< the file, lookaside URL, "TAG layers[i]" or "referrer sha256:… layers[i]"
  signature_status status = signature_status::malformed;
  std::string key;       ///< GnuPG fingerprint or key id, when known
  std::string identity;  ///< the docker reference claimed, when read
  std::string message;   ///< why, when not valid
};

struct verify_report {
  image_reference ref;
  descriptor manifest;                     ///< the manifest or image index checked
  std::vector<signature_check> signatures;  ///< every signature found, in the order looked at
  bool accepted = false;  ///< a valid signature (or the policy's requirements) holds
  /// Why not accepted, naming the failed requirement: "no signature",
  /// "policy rejects …", "key signatures are not kept in docker-archive:
  /// images", or the most useful signature's problem (a digest or identity
  /// mismatch of a verified signature, then a mismatch or another key, then
  /// a malformed one).
  std::string reason;
  std::string policy_scope;  ///< --policy: the scope whose requirements applied
};

/// Finds the signatures of the manifest (or image index) `ref` names —
/// opts.signature_files and lookaside stores (simple signing), the
/// "sha256-<hex>.sig" tag and referrers of artifactType
/// application/vnd.dev.cosign.artifact.sig.v1+json in REF's layout or
/// registry (sigstore) — and checks each: signature over payload with the
/// given keys, payload digest against the manifest's stored bytes, identity.
/// With `policy_file`, the policy's requirements for REF decide instead.
/// A negative answer is `accepted == false`, not an error. Errors
/// (failures to run): no keys and no policy, an option that does not apply
/// (identity with a policy; signature_files or a store without
/// gpg_keyrings or a policy) (`invalid_argument`), an unreadable key file
/// or policy, a --key file of no PUBLIC KEY block, resolution failures,
/// `io`, `unavailable`. Thread-safe.
[[nodiscard]] result<verify_report> verify_image(const image_reference& ref, const verify_options& opts);

/// What pull, copy, unpack and create do with --policy: verify_image with
/// the policy; a refusal is `permission_denied` ("policy refused
/// docker://…: <reason>"). Returns the accepted root descriptor, so the
/// caller reads exactly what was checked (by digest). A `policy_file` of
/// "" accepts everything without looking (returns nullopt); a store given
/// without a policy is `invalid_argument` (it would be ignored).
[[nodiscard]] result<std::optional<descriptor>> enforce_policy(const image_reference& ref, const policy_options& policy,
                                                               const remote_options& remote);

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
  remote_options remote;  ///< for docker:// and oci+https:// references
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

/// One share of a sharded validate run: shard `index` of `count` checks the
/// distinct blobs whose digest falls to it (validate_shard_of). Spreading one
/// run over machines is left to the engines that run it: a Kubernetes Indexed
/// Job, a Slurm job array, GNU parallel (README "Sharded validation").
struct validate_shard {
  unsigned index = 0;  ///< K: 0 <= index < count
  unsigned count = 1;  ///< N
};

/// Parses --shard: "K/N"; "auto/N", K from the environment; or "auto", K and
/// N from it. K is JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), else the
/// task's place in a Slurm job array: (SLURM_ARRAY_TASK_ID -
/// SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP; N is SLURM_ARRAY_TASK_COUNT
/// (Kubernetes publishes no count: give auto/N). `env` looks a variable up
/// (nullopt: unset or empty); empty means the process's environment. Errors:
/// `invalid_argument` naming what is missing or out of range (K counts from 0
/// to N-1; N from 1 to 1,000,000; an auto/N that disagrees with
/// SLURM_ARRAY_TASK_COUNT; a task id off the array's step).
[[nodiscard]] result<validate_shard> parse_validate_shard(
    std::string_view text, const std::function<std::optional<std::string>(std::string_view)>& env = {});

/// The shard, of `count`, that checks the blob of digest `d`: the first 16
/// hex digits of a sha256 or sha512 digest's encoded part as a number, modulo
/// `count` (FNV-1a 64 of the whole digest for other algorithms). The same on
/// every host and in every run. Pure.
[[nodiscard]] unsigned validate_shard_of(const digest& d, unsigned count);

/// One shard of a sharded validate: walks every reference's documents as
/// validate() does (each shard reads them all; they are small and name the
/// blobs), checks only the distinct blobs of `shard`, and writes the run's
/// facts as JSON Lines through `emit`, one line (no '\n') per call: the run,
/// the walk's findings and uses of blobs, what each blob of the shard
/// measured, then an end fact (README "Sharded validation"). Per-reference
/// failures are facts, not errors. `totals` receives this shard's blobs only.
/// Errors: `invalid_argument` (shard out of range), the first failure of
/// `emit`, which stops the run. Thread-safe.
[[nodiscard]] result<void> validate_shard_facts(const std::vector<image_reference>& refs, const validate_options& opts,
                                                const validate_shard& shard,
                                                const std::function<result<void>(std::string_view)>& emit,
                                                validate_totals* totals = nullptr);

/// Merges the facts of all N shards of one run (files `fact_files`, each
/// shard once, in any order) and applies the image-level rules to them
/// (diff_ids against the image configs, hardlinks into lower layers): the
/// same image_validation values, finding for finding, as one validate() of the
/// same references with the same options, `seconds` aside (the merge's own
/// wall time). Reads no image; each file is read whole, through symlinks
/// (pipes too: /dev/stdin). Facts are trusted: their shape and agreement are
/// checked, not their truth. Errors: those of reading a file (`not_found`,
/// `permission_denied`, `io`); `malformed` (FILE:LINE: a line that is not a
/// fact or misses a field, lines added or removed since the end fact counted
/// them, a file cut short before it, a reference without its image fact, a
/// blob in the wrong shard or in two); `invalid_argument` (files of different
/// runs — references, options or N differ —, a shard missing or given twice,
/// shards whose walks differ because the images changed between them).
/// Thread-safe.
[[nodiscard]] result<std::vector<image_validation>> validate_merge(const std::vector<std::string>& fact_files,
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
