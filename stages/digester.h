#pragma once
// Streaming sha256/sha512 over OpenSSL EVP (image-spec descriptor.md
// "Registered algorithms").

#include <memory>

#include "stages/oci/byte_source.h"
#include "stages/oci/digest.h"

namespace ocipipe {

/// Incremental digest of a byte stream. One instance per stream; movable, not
/// copyable, not thread-safe. `algorithm` must be sha256 or sha512.
class digester {
 public:
  explicit digester(digest_algorithm algorithm = digest_algorithm::sha256);
  ~digester();
  digester(digester&&) noexcept;
  digester& operator=(digester&&) noexcept;

  /// Adds bytes to the digest.
  void update(byte_view bytes);
  /// Ends the stream and returns "alg:hex". Further calls are invalid.
  [[nodiscard]] digest finish();

  /// One-shot digest of a buffer.
  [[nodiscard]] static digest of(byte_view bytes,
                                 digest_algorithm algorithm = digest_algorithm::sha256);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ocipipe
