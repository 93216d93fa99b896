#pragma once
// Copies blobs between stores with verification (DESIGN.md §6): streamed in
// chunks, bounded by descriptor.size, digested as they pass, committed under
// their name only when digest and size match.

#include <cstddef>
#include <functional>
#include <string>

#include "io/image_layout.h"
#include "io/layout_writer.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::pipeline {

/// `e` with the context "blob DIGEST", unless its message names the blob
/// already (the stores and clients below say "blob sha256:0123456789ab…"
/// themselves): one mention per message, not one per layer.
[[nodiscard]] inline error in_blob_context(error e, const digest& d) {
  if (e.message().find(d.short_str()) != std::string::npos) return e;
  return std::move(e).context("blob " + d.str());
}

/// Copies blob `d` from `src` (a layout directory or an archive) into `dst`,
/// unless `dst` has it already. Errors: those of image_layout::open_blob,
/// `digest_mismatch` / `size_mismatch` naming the digest (nothing is
/// committed then), `io`, `resource_exhausted`. Thread-safe for different
/// blobs into one `dst` (each call its own ingest). A blob `dst` holds
/// already is not read again (its size is checked: `size_mismatch` when the
/// destination's copy differs). An unregistered digest algorithm cannot be
/// verified and is refused (`unsupported`). `on_bytes`, when set, is told the
/// size of each chunk copied (progress), on the calling thread.
[[nodiscard]] result<void> copy_blob(const io::image_layout& src, const descriptor& d,
                                     io::layout_writer& dst,
                                     const std::function<void(std::size_t)>& on_bytes = {});

}  // namespace ocipipe::pipeline
