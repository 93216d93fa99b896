#pragma once
// Image references in skopeo's transport syntax (containers-transports(5);
// DESIGN.md §3). Parsing only: resolving against an image layout is pipeline's.

#include <optional>
#include <string>
#include <string_view>

#include "stages/oci/digest.h"

namespace ocipipe {

/// oci_url: an image layout published as static files on a web server or
/// CDN, "oci+https://HOST[:PORT]/PATH[:TAG|@DIGEST]" (or oci+http:// for
/// loopback hosts and --tls-verify=false); `path` holds the layout's base URL.
enum class transport { oci, oci_archive, docker_archive, docker, oci_url };

/// A parsed reference. For `oci:` the path is the image layout directory;
/// for docker:// it is "HOST[:PORT]/REPO"; for oci+http(s):// the base URL.
/// At most one of `tag` / `manifest_digest` is set.
struct image_reference {
  transport kind = transport::oci;
  std::string path;
  std::string tag;
  std::optional<digest> manifest_digest;

  /// The canonical text form, e.g. "oci:/img:debian".
  [[nodiscard]] std::string str() const;
};

/// Parses "oci:DIR[:TAG]", "oci:DIR@sha256:…", or a bare "DIR[:TAG]" (taken as
/// oci:). As in skopeo, the first ':' after the transport ends DIR, so a layout
/// path cannot hold ':'. Other transports are recognised and parsed but
/// returned for the caller to refuse if unsupported. docker:// follows
/// docker's syntax instead: the tag is after the last ':' past the last '/',
/// "latest" when neither a tag nor a digest is given (skopeo's default).
/// Errors: `invalid_argument` (empty path, empty tag, malformed digest, tag
/// not matching the image-layout.md ref.name grammar for tags, or for
/// docker:// distribution-spec's tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}).
[[nodiscard]] result<image_reference> parse_reference(std::string_view text);

/// A docker:// path split into registry host and repository.
struct registry_repository {
  std::string host;        ///< "localhost:5000", "docker.io"
  std::string repository;  ///< "library/debian"
};

/// Splits "HOST[:PORT]/REPO" with Docker's normalization: a first component
/// without '.' or ':' and other than "localhost" is a Docker Hub
/// repository ("debian" → docker.io, "library/debian").
/// Errors: `invalid_argument` (a repository outside distribution-spec's
/// grammar [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*,
/// an empty host).
[[nodiscard]] result<registry_repository> parse_registry_path(std::string_view path);

}  // namespace ocipipe
