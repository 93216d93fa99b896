#pragma once
// Standard base64 (RFC 4648 §4, padded), as Docker auth files, descriptor
// `data` and cosign's signature annotations use it. Pure.

#include <optional>
#include <string>
#include <string_view>

namespace ocipipe {

/// The padded standard base64 of `bytes`.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Decodes padded standard base64; nullopt when `text` is not that (wrong
/// alphabet, whitespace and line breaks included; length not a multiple of
/// 4; '=' anywhere but in the last two places of the last quantum). Bits
/// past the last whole byte are ignored, as Go's base64.StdEncoding (Docker's
/// auth files, encoding/json's []byte for descriptor `data` and policy
/// keyData, cosign's signature annotation) ignores them.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ocipipe
