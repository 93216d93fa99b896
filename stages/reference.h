#pragma once
// Image references in skopeo's transport syntax (containers-transports(5);
// DESIGN.md §3). Parsing only: resolving against an image layout is pipeline's.

#include <optional>
#include <string>
#include <string_view>

#include "stages/oci/digest.h"

namespace ocipipe {

enum class transport { oci, oci_archive, docker_archive, docker };

/// A parsed reference. For `oci:` the path is the image layout directory, and
/// at most one of `tag` / `manifest_digest` is set.
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
/// returned for the caller to refuse if unsupported. Errors: `invalid_argument`
/// (empty path, empty tag, malformed digest, tag not matching the
/// image-layout.md ref.name grammar for tags).
[[nodiscard]] result<image_reference> parse_reference(std::string_view text);

}  // namespace ocipipe
