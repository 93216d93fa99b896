#pragma once
// The digest value type of image-spec descriptor.md "Digests":
//   digest    ::= algorithm ":" encoded
//   algorithm ::= component (separator component)*, component ::= [a-z0-9]+,
//                 separator ::= [+._-]
//   encoded   ::= [a-zA-Z0-9=_-]+
// Registered algorithms (sha256: 64, sha512: 128 lowercase hex) are checked
// strictly; others are well-formed but unverifiable. A digest is parsed and
// validated before it ever becomes a path or a URL (DESIGN.md §6).

#include <string>
#include <string_view>

#include "stages/oci/error.h"

namespace ocipipe {

/// Digest algorithms a reader can verify.
enum class digest_algorithm { sha256, sha512, unregistered };

/// A parsed, grammar-checked digest. Immutable value; thread-safe to share.
class digest {
 public:
  digest() = default;

  /// Parses `s`. Errors: `malformed` for grammar violations and for registered
  /// algorithms whose encoded part is not lowercase hex of the right length.
  static result<digest> parse(std::string_view s);

  /// Builds "sha256:<hex>" or "sha512:<hex>" from raw hash bytes.
  static digest from_bytes(digest_algorithm alg, const unsigned char* bytes, std::size_t n);

  [[nodiscard]] digest_algorithm algorithm() const noexcept { return alg_; }
  /// "sha256", "sha512" or the unregistered algorithm's text.
  [[nodiscard]] std::string_view algorithm_name() const noexcept {
    return std::string_view(text_).substr(0, colon_);
  }
  /// The encoded part (lowercase hex for registered algorithms).
  [[nodiscard]] std::string_view encoded() const noexcept {
    return std::string_view(text_).substr(colon_ + 1);
  }
  /// "algorithm:encoded".
  [[nodiscard]] const std::string& str() const noexcept { return text_; }
  /// "sha256:0123456789ab" — for messages; full digests go to --json.
  [[nodiscard]] std::string short_str() const { return text_.substr(0, colon_ + 13); }
  [[nodiscard]] bool empty() const noexcept { return text_.empty(); }
  /// The path of the blob relative to an image layout: "blobs/<alg>/<encoded>"
  /// (image-spec image-layout.md "Blobs"). Safe: parse() admits no '/' or "..".
  [[nodiscard]] std::string blob_path() const;

  friend bool operator==(const digest& a, const digest& b) { return a.text_ == b.text_; }

 private:
  std::string text_;
  std::size_t colon_ = 0;
  digest_algorithm alg_ = digest_algorithm::unregistered;
};

}  // namespace ocipipe
