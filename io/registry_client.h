#pragma once
// A client of one registry (OCI distribution-spec v1.1, spec.md "API"):
// manifests, blobs, uploads, tags and referrers of its repositories, with
// authentication (io/registry_auth), retries and checks of what arrives.
// Digest verification of blob bodies is the caller's (pipeline/ digests
// while it streams); this class checks sizes, Docker-Content-Digest of
// manifests, and that every response is what was asked for.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/http_client.h"
#include "io/registry_auth.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::io {

/// How to reach a registry.
struct registry_options {
  tls_options tls;
  auth_sources auth;
  /// Attempts per request for retryable failures (connection errors, 5xx,
  /// 429, a body cut short): waits retry_base_seconds * 2^k (a Retry-After
  /// header wins, capped at 30 s) between them.
  int attempts = 5;
  double retry_base_seconds = 0.25;
  std::string user_agent = "ocipipe";
};

/// The Accept list for manifests: OCI image index, OCI manifest, Docker
/// manifest list, Docker schema2 manifest, all four always (buglog B67).
[[nodiscard]] const std::vector<std::string>& manifest_accept_types();

/// A manifest or image index as the registry returned it.
struct fetched_manifest {
  std::string bytes;
  descriptor desc;  ///< media type (Content-Type checked against the document's own mediaType), digest of the bytes, size
};

/// An upload in progress (distribution-spec "Pushing a blob in chunks"):
/// enough to resume it from another process. `location` is the absolute
/// upload URL; `offset` the bytes the registry holds.
struct upload_session {
  std::string location;
  std::uint64_t offset = 0;
};

/// How a blob is pushed.
struct upload_options {
  /// 0: one monolithic PUT (POST then PUT with the whole body). Else PATCH
  /// chunks of this many bytes (raised to OCI-Chunk-Min-Length when the
  /// registry names a larger minimum), then the closing PUT.
  std::uint64_t chunk_bytes = 0;
  /// A session to continue (its offset is re-read from the registry first:
  /// GET location → 204 with Range); the source must then start at the
  /// registry's offset. nullopt: start a new one.
  std::optional<upload_session> resume;
  /// Called after each chunk the registry accepted, with the session as it
  /// now stands, so the caller can record it for a later resume.
  std::function<void(const upload_session&)> on_chunk;
  /// Called with each run of bytes sent (progress).
  std::function<void(std::uint64_t)> on_bytes;
};

/// One registry host, its scheme chosen and its credentials resolved.
/// Thread-safe: every method may be called from many threads at once.
///
/// Errors common to every call: `unavailable` (network after all attempts,
/// 5xx, 429), `unauthenticated` (401 after the challenge was answered),
/// `permission_denied` (403; a realm that may not receive credentials),
/// `not_found` (404, with the registry's error code in the message, e.g.
/// "MANIFEST_UNKNOWN"), `malformed` (a response that breaks the spec), each
/// message naming the method, the URL path and the status.
class registry_client {
 public:
  /// Checks the credential files for `host` ("host[:port]"; docker.io is served
  /// at registry-1.docker.io) and pings GET /v2/: https first; plain http
  /// when https cannot connect and plain_http_allowed(). A 401 on the ping
  /// is fine (auth comes per request). Credentials are looked up per
  /// repository on its first request (find_credentials: path-scoped keys),
  /// one authenticator per distinct credential set. Errors: those above, `invalid_argument`
  /// (a bad host).
  [[nodiscard]] static result<std::shared_ptr<registry_client>> connect(std::string host,
                                                                        const registry_options& opts);

  [[nodiscard]] const std::string& host() const noexcept;
  /// "https://host:port" or "http://host:port".
  [[nodiscard]] const std::string& base_url() const noexcept;
  [[nodiscard]] http_client& http() noexcept;

  /// GET /v2/<repo>/manifests/<reference> (a tag or a digest), at most
  /// 4 MiB (distribution-spec's manifest limit). A digest reference is
  /// verified against the bytes (`digest_mismatch`); a Docker-Content-Digest
  /// header must match the bytes too (`digest_mismatch`, naming both). A
  /// schema1 manifest is `unsupported`; a Content-Type other than the
  /// document's own mediaType is `malformed`.
  [[nodiscard]] result<fetched_manifest> get_manifest(const std::string& repo, const std::string& reference);

  /// HEAD of a manifest: its descriptor (media type, Docker-Content-Digest,
  /// Content-Length), or nullopt on 404.
  [[nodiscard]] result<std::optional<descriptor>> head_manifest(const std::string& repo,
                                                                const std::string& reference);

  /// PUT /v2/<repo>/manifests/<reference> with Content-Type `media_type`.
  /// Returns the digest the registry reports (checked against the bytes'
  /// own: `digest_mismatch`). Errors also `invalid_argument` (400: the
  /// registry's error codes in the message).
  [[nodiscard]] result<digest> put_manifest(const std::string& repo, const std::string& reference,
                                            const std::string& bytes, const std::string& media_type);

  /// DELETE /v2/<repo>/manifests/<digest>. Errors also `unsupported` (405).
  [[nodiscard]] result<void> delete_manifest(const std::string& repo, const digest& d);

  /// HEAD /v2/<repo>/blobs/<digest>: its size, or nullopt on 404. A HEAD
  /// refused by a redirect target (403/405) falls back to GET with
  /// `Range: bytes=0-0` (buglog B64).
  [[nodiscard]] result<std::optional<std::uint64_t>> head_blob(const std::string& repo, const digest& d);

  /// Streams blob `d` from byte `offset` on (Range: bytes=offset- when
  /// offset > 0; a 200 ignoring the Range is skipped forward), bounded by
  /// d.size (`size_mismatch` when it ends early or runs past). Redirects are
  /// followed without credentials; an expired redirect target (403/404 from
  /// it) is re-requested from the registry. A connection dropped mid-body is
  /// resumed with a Range request, up to `attempts` times. When d.urls is
  /// set (a non-distributable layer, descriptor.md "urls"), those URLs are
  /// tried first, without any credentials, and the registry after (buglog
  /// B61). The source is not thread-safe.
  [[nodiscard]] result<std::unique_ptr<byte_source>> open_blob(const std::string& repo, const descriptor& d,
                                                               std::uint64_t offset = 0);

  /// Reads a small blob (an image config) whole, at most `max_bytes`
  /// (`resource_exhausted`), size checked; the digest is the caller's.
  [[nodiscard]] result<std::string> read_blob(const std::string& repo, const descriptor& d,
                                              std::size_t max_bytes = 64 << 20);

  /// POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from_repo>: true
  /// when mounted (201), false when the registry started an upload instead
  /// (202, which is cancelled) or refused, and without a request when the
  /// two repositories' credentials differ (path-scoped auth keys).
  [[nodiscard]] result<bool> mount_blob(const std::string& repo, const digest& d, const std::string& from_repo);

  /// Uploads `d` (d.size bytes read from `src`), monolithic or chunked per
  /// `opts`. Chunks carry inclusive Content-Range "start-end", each starting
  /// at the previous end + 1; on 416 the upload's status is read and the
  /// upload goes on from the registry's offset when `src` can serve it
  /// (else `unavailable`); the closing PUT ?digest= decides success and
  /// the returned Docker-Content-Digest must equal `d` (`digest_mismatch`).
  /// buglog B65.
  [[nodiscard]] result<void> upload_blob(const std::string& repo, const descriptor& d, byte_source& src,
                                         const upload_options& opts = {});

  /// The registry's current offset of an upload session (GET location →
  /// 204, Range), or nullopt when the session is gone (404).
  [[nodiscard]] result<std::optional<upload_session>> upload_status(const std::string& repo,
                                                                    const std::string& location);

  /// GET /v2/<repo>/tags/list, following Link rel="next" pages (at most
  /// 10,000 pages). Sorted as the registry returned them. `page_size` > 0
  /// asks for pages of that many tags (?n=, distribution-spec "Listing
  /// Tags"); 0 leaves the page size to the registry.
  [[nodiscard]] result<std::vector<std::string>> list_tags(const std::string& repo, std::size_t page_size = 0);

  /// The referrers of `subject` (GET /v2/<repo>/referrers/<digest>, with
  /// `artifact_type` as the artifactType filter when not ""); on 404 the
  /// tag-schema fallback: the image index tagged "<alg>-<hex>", whose
  /// entries must each name `subject` in their manifest's "subject"
  /// (entries that do not, such as the subject itself, are dropped; buglog
  /// B53). An empty index when there are none.
  [[nodiscard]] result<image_index> referrers(const std::string& repo, const digest& subject,
                                              const std::string& artifact_type = "");

  /// Whether the registry serves the referrers API for `repo`: GET
  /// /v2/<repo>/referrers/<subject> answers 200 with an image index (true)
  /// or 404 (false: the client must keep the "<alg>-<hex>" tag-schema index
  /// itself, distribution-spec "Pushing Manifests with Subject"). Asked
  /// after pushing a manifest with a subject, so the repository exists.
  /// Errors: those above, for any other status.
  [[nodiscard]] result<bool> referrers_api(const std::string& repo, const digest& subject);

 private:
  struct impl;
  explicit registry_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;

 public:
  ~registry_client();
};


}  // namespace ocipipe::io
