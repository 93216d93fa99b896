#pragma once
// A pull interface for byte streams. Stages stay pure by taking their input
// through this interface: io/ implements it over fds, tests over memory.

#include <cstddef>
#include <algorithm>
#include <span>

#include "stages/oci/error.h"

namespace ocipipe {

/// A chunk of bytes owned by the source; valid until the next call to next().
using byte_view = std::span<const std::byte>;

/// Produces a stream in chunks. An empty chunk means end of stream; further
/// calls keep returning empty. Errors end the stream. Not thread-safe: one
/// consumer at a time.
class byte_source {
 public:
  virtual ~byte_source() = default;
  [[nodiscard]] virtual result<byte_view> next() = 0;
};

/// A source over one caller-owned buffer, handed out in chunks of at most
/// `chunk` bytes (tests vary it to hit every chunk boundary).
class memory_source final : public byte_source {
 public:
  explicit memory_source(byte_view bytes, std::size_t chunk = 1 << 20)
      : bytes_(bytes), chunk_(chunk ? chunk : 1) {}
  result<byte_view> next() override {
    const auto n = std::min(chunk_, bytes_.size() - pos_);
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  byte_view bytes_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

}  // namespace ocipipe
