#pragma once
// Downloads a blob from a remote store into an image layout so that an
// interrupted pull, even a killed process, goes on later from the bytes it
// had (issue 7 "resume from the bytes already in the layout's ingest
// area"): the bytes go to a named partial file (layout_writer::
// begin_resumable_blob), digested as they arrive; a restart re-digests the
// bytes present and asks the server only for the rest (Range).

#include <atomic>
#include <cstdint>
#include <functional>

#include "io/layout_writer.h"
#include "io/remote_store.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::pipeline {

/// What pull_blob did.
struct pulled_blob {
  bool skipped = false;          ///< `dst` had the blob already: nothing read
  std::uint64_t resumed = 0;     ///< bytes taken from a partial file instead of the network
  std::uint64_t downloaded = 0;  ///< bytes read from the network
};

/// Copies blob `d` of `src` into `dst`, committing it under its digest only
/// when the whole content's size and digest match. A partial file whose
/// bytes turn out not to be a prefix of the blob (the digest mismatches)
/// is dropped and the blob downloaded once more from the first byte.
/// On failure or `cancel` the partial file stays for the next run, except
/// after a digest or size mismatch. `on_bytes` is told each run of bytes
/// done, resumed ones included (progress), on the calling thread.
/// Errors: `unsupported` (an unregistered digest algorithm), `malformed`
/// (a negative size), `size_mismatch` (dst holds the blob with another
/// size; the body's length), `digest_mismatch`, `cancelled`, those of
/// remote_store::open_blob and of the layout writes. Thread-safe for
/// different digests into one `dst`.
[[nodiscard]] result<pulled_blob> pull_blob(const io::remote_store& src, const descriptor& d, io::layout_writer& dst,
                                            const std::function<void(std::size_t)>& on_bytes = {},
                                            const std::atomic<bool>* cancel = nullptr);

}  // namespace ocipipe::pipeline
