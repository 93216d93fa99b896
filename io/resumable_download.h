#pragma once
// A GET that survives a dropped connection: the body of one blob, bounded
// by its size, re-requested from the first missing byte (Range) when the
// connection breaks, up to a number of attempts. Shared by the registry
// client and the static-layout store.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "io/http_client.h"

namespace ocipipe::io {

/// Opens the body from byte `from` on: returns a stream whose status is 200
/// (the whole body: the source skips `from` bytes) or 206 (Content-Range
/// starting at `from`, checked). Any other outcome is the callback's error
/// (it maps 401/403/404/5xx itself).
using ranged_opener = std::function<result<std::unique_ptr<http_stream>>(std::uint64_t from)>;

/// A byte_source over `size` bytes from `offset` on. A dropped connection or
/// an `unavailable` error from `open_at` is retried after
/// retry_base_seconds * 2^k, up to `attempts` tries in all for each break;
/// a body shorter or longer than `size` is `size_mismatch`. `what` names
/// the blob in messages. The source is not thread-safe.
[[nodiscard]] result<std::unique_ptr<byte_source>> open_resumable(ranged_opener open_at, std::uint64_t size,
                                                                  std::uint64_t offset, int attempts,
                                                                  double retry_base_seconds, std::string what);

}  // namespace ocipipe::io
