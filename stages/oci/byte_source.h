#pragma once
// A pull interface for byte streams. Stages stay pure by taking their input
// through this interface: io/ implements it over fds, tests over memory.

#include <cstddef>
#include <algorithm>
#include <span>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe {

/// A chunk of bytes owned by the source; valid until the next call to next().
using byte_view = std::span<const std::byte>;

/// Copies `chunk` to the front of `buf` (grown if shorter); its length.
inline std::size_t copy_chunk(byte_view chunk, std::vector<std::byte>& buf) {
  if (buf.size() < chunk.size()) buf.resize(chunk.size());
  std::copy(chunk.begin(), chunk.end(), buf.begin());
  return chunk.size();
}

/// Produces a stream in chunks. An empty chunk means end of stream; further
/// calls keep returning empty. Errors end the stream. Not thread-safe: one
/// consumer at a time.
class byte_source {
 public:
  virtual ~byte_source() = default;
  [[nodiscard]] virtual result<byte_view> next() = 0;

  /// The next chunk as the first n bytes of `buf` (n = 0: the end), for a
  /// consumer that keeps chunks beyond its next call (pipeline's
  /// prefetch_source queues them for another thread). A source that fills a
  /// vector of its own swaps it with `buf` rather than copying
  /// (`hand_over`), so a layer's bytes are not copied on their way between
  /// threads; `buf` may be left longer than n. Same errors as next().
  /// Default: next() and a copy.
  [[nodiscard]] virtual result<std::size_t> next_into(std::vector<std::byte>& buf) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, next());
    return copy_chunk(chunk, buf);
  }
};

/// next_into for a source whose next() just handed out `chunk` from the front
/// of `own`: `own` and `buf` trade storage, and `own` gets its size back
/// (zero-filled only when `buf` came in shorter, e.g. a consumer's first
/// call). Falls back to a copy for a chunk that is not at `own`'s front.
inline result<std::size_t> hand_over(result<byte_view> chunk, std::vector<std::byte>& own,
                                     std::vector<std::byte>& buf) {
  if (!chunk) return tl::unexpected(std::move(chunk).error());
  const std::size_t n = chunk->size();
  if (n == 0) return n;
  if (chunk->data() != own.data()) return copy_chunk(*chunk, buf);
  const std::size_t size = own.size();
  own.swap(buf);
  if (own.size() < size) own.resize(size);
  return n;
}

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
