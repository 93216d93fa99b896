// Resumable blob download into a layout's ingest area.
#include "pipeline/blob_pull.h"

#include "pipeline/blob_copy.h"
#include "stages/digester.h"

namespace ocipipe::pipeline {
namespace {

// One try: the partial file's bytes re-digested, the rest streamed from the
// server. `restart_from_zero` empties the partial file first.
result<pulled_blob> try_pull(const io::remote_store& src, const descriptor& d, io::layout_writer& dst,
                             const std::function<void(std::size_t)>& on_bytes, const std::atomic<bool>* cancel,
                             bool restart_from_zero) {
  const auto size = static_cast<std::uint64_t>(d.size);
  OCIPIPE_ASSIGN_OR_RETURN(auto partial, dst.begin_resumable_blob(d.digest, size));
  if (restart_from_zero && partial.ingest.size() > 0) {
    partial.ingest.abandon();
    OCIPIPE_ASSIGN_OR_RETURN(partial, dst.begin_resumable_blob(d.digest, size));
  }
  auto& ingest = partial.ingest;
  digester hash(d.digest.algorithm());
  pulled_blob out;
  if (partial.present) {
    for (;;) {
      auto chunk = partial.present->next();
      if (!chunk) {
        // Unreadable bytes cannot be continued; the network has them all.
        ingest.abandon();
        return try_pull(src, d, dst, on_bytes, cancel, true);
      }
      if (chunk->empty()) break;
      hash.update(*chunk);
      if (on_bytes) on_bytes(chunk->size());
    }
    out.resumed = ingest.size();
  }
  if (ingest.size() < size) {
    OCIPIPE_ASSIGN_OR_RETURN(auto body, src.open_blob(d, ingest.size()));
    for (;;) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return fail(errc::cancelled, "cancelled");
      OCIPIPE_ASSIGN_OR_RETURN(auto chunk, body->next());  // the partial file stays for a later run
      if (chunk.empty()) break;
      if (ingest.size() + chunk.size() > size) {
        ingest.abandon();
        return fail(errc::size_mismatch, "content is longer than the descriptor's " + std::to_string(size) + " bytes");
      }
      hash.update(chunk);
      OCIPIPE_TRY(ingest.write(chunk));
      out.downloaded += chunk.size();
      if (on_bytes) on_bytes(chunk.size());
    }
  }
  if (ingest.size() != size) {
    // A body that ended early: what arrived is a prefix, kept for the next run.
    return fail(errc::size_mismatch, "content is " + std::to_string(ingest.size()) + " bytes, descriptor says " +
                                         std::to_string(size));
  }
  const auto got = hash.finish();
  if (!(got == d.digest)) {
    ingest.abandon();
    // The bytes an earlier run left may be what broke it: once more, all from the server.
    if (out.resumed > 0 && !restart_from_zero) return try_pull(src, d, dst, on_bytes, cancel, true);
    return fail(errc::digest_mismatch, "digest mismatch: content is " + got.str());
  }
  OCIPIPE_TRY(ingest.commit(d.digest));
  return out;
}

}  // namespace

result<pulled_blob> pull_blob(const io::remote_store& src, const descriptor& d, io::layout_writer& dst,
                              const std::function<void(std::size_t)>& on_bytes, const std::atomic<bool>* cancel) {
  auto in_blob = [&d](error e) { return tl::unexpected(in_blob_context(std::move(e), d.digest)); };
  if (d.digest.algorithm() == digest_algorithm::unregistered)
    return in_blob(error(errc::unsupported, "digest algorithm " + quote(d.digest.algorithm_name()) +
                                                " cannot be verified"));
  if (d.size < 0) return in_blob(error(errc::malformed, "negative size " + std::to_string(d.size)));
  if (dst.has_blob(d.digest)) {
    auto have = dst.blob_size(d.digest);
    if (!have) return in_blob(std::move(have).error());
    if (*have != static_cast<std::uint64_t>(d.size))
      return in_blob(error(errc::size_mismatch, "destination already holds it with " + std::to_string(*have) +
                                                    " bytes, not " + std::to_string(d.size)));
    return pulled_blob{true, 0, 0};
  }
  auto r = try_pull(src, d, dst, on_bytes, cancel, false);
  if (!r) return in_blob(std::move(r).error());
  return r;
}

}  // namespace ocipipe::pipeline
