#pragma once
// The signature payload of containers' simple signing
// (containers-signature(5), type "atomic container signature") and of
// cosign/sigstore (type "cosign container image signature"): which manifest
// digest is signed, for which docker reference. Building and strict
// parsing, no cryptography. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stages/oci/digest.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// Which of the two payload types: they differ only in critical.type.
enum class payload_type {
  simple_signing,  ///< "atomic container signature" (GPG, skopeo --sign-by)
  cosign,          ///< "cosign container image signature" (sigstore keys)
};

/// critical.type's text for `t`.
[[nodiscard]] std::string_view payload_type_name(payload_type t) noexcept;

/// What a payload claims.
struct signature_claims {
  payload_type type = payload_type::simple_signing;
  std::string docker_reference;  ///< critical.identity.docker-reference, as written
  digest manifest_digest;        ///< critical.image.docker-manifest-digest
  std::string creator;           ///< optional.creator; "" when absent
  std::optional<std::int64_t> timestamp;  ///< optional.timestamp (Unix seconds)
};

/// The payload JSON for `claims` (keys as containers/image writes them;
/// `optional` holds creator and timestamp when set, else is {} for simple
/// signing, as containers/image writes it and requires it present, and null
/// for cosign, as cosign writes it).
[[nodiscard]] std::string make_signature_payload(const signature_claims& claims);

/// Parses a payload strictly, as containers/image does: a JSON object of
/// exactly `critical` and `optional`, with no key repeated anywhere;
/// `critical` has exactly `type`, `image` and `identity` (unknown keys there
/// refused), `type` equal to `expected`'s name, `image` exactly
/// {docker-manifest-digest: valid sha256/sha512 digest}, `identity` exactly
/// {docker-reference: string}; `optional` is null or an object whose other
/// keys are ignored, `creator` a string and `timestamp` an integral number
/// when present. Errors: `malformed`, naming the JSON path
/// ("critical.image.docker-manifest-digest: …").
[[nodiscard]] result<signature_claims> parse_signature_payload(std::string_view json, payload_type expected);

}  // namespace ocipipe
