#pragma once
// Docker references ("docker.io/library/busybox:latest") as the identities
// of signatures (containers-signature(5) "critical.identity") and policy
// scopes (containers-policy.json(5)), normalized as Docker's
// reference.ParseNormalizedNamed does. Pure.

#include <optional>
#include <string>
#include <string_view>

#include "stages/oci/digest.h"
#include "stages/reference.h"

namespace ocipipe {

/// A normalized docker reference: domain "docker.io" for Docker Hub names,
/// "library/" added to single-component Hub repositories.
struct docker_reference {
  std::string domain;                   ///< "docker.io", "localhost:5000"
  std::string path;                     ///< "library/busybox"
  std::string tag;                      ///< "" when none
  std::optional<digest> manifest_digest;  ///< set when "@sha256:…" was given

  /// "domain/path" (Docker's Name()).
  [[nodiscard]] std::string name() const;
  /// The full text: name, then ":tag" when set, then "@digest" when set.
  [[nodiscard]] std::string str() const;
};

/// Parses and normalizes "[DOMAIN/]PATH[:TAG][@DIGEST]" (no transport
/// prefix; a leading "docker://" is refused). No default tag is added.
/// Errors: `invalid_argument` (repository outside distribution-spec's
/// grammar, uppercase, bad tag, malformed digest, empty).
[[nodiscard]] result<docker_reference> parse_docker_reference(std::string_view text);

/// Whether `text` is a domain in distribution's reference grammar: DNS
/// labels [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? joined by '.', or a
/// bracketed IPv6 address, then an optional ":port" (policy remapIdentity
/// prefixes may be a bare domain).
[[nodiscard]] bool is_docker_domain(std::string_view text) noexcept;

/// The docker reference of a docker:// image reference (host, repository,
/// its tag or digest); nullopt for the other transports, which have none
/// (as in containers/image, so policy identities cannot match them unless
/// exactReference/exactRepository names one).
[[nodiscard]] std::optional<docker_reference> docker_reference_of(const image_reference& ref);

}  // namespace ocipipe
