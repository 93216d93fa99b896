// Verified blob copy between stores (DESIGN.md §6): the bytes go through an
// ingest that is committed under the blob's name only after the size and the
// digest measured on the way matched the descriptor.
#include "pipeline/blob_copy.h"

#include "stages/digester.h"

namespace ocipipe::pipeline {

result<void> copy_blob(const io::image_layout& src, const descriptor& d, io::layout_writer& dst,
                       const std::function<void(std::size_t)>& on_bytes) {
  auto in_blob = [&d](error e) { return tl::unexpected(in_blob_context(std::move(e), d.digest)); };
  // An unregistered algorithm cannot be verified, so it is never copied
  // blindly into a layout that others will trust.
  if (d.digest.algorithm() == digest_algorithm::unregistered)
    return in_blob(error(errc::unsupported, "digest algorithm " + quote(d.digest.algorithm_name()) +
                                                " cannot be verified"));
  if (d.size < 0) return in_blob(error(errc::malformed, "negative size " + std::to_string(d.size)));
  if (dst.has_blob(d.digest)) {
    // Content-addressed: same name, same bytes. A different length means the
    // destination's copy is damaged; referencing it again would spread that.
    auto have = dst.blob_size(d.digest);
    if (!have) return in_blob(std::move(have).error());
    if (*have != static_cast<std::uint64_t>(d.size))
      return in_blob(error(errc::size_mismatch, "destination already holds it with " + std::to_string(*have) +
                                                    " bytes, not " + std::to_string(d.size)));
    return {};
  }
  auto source = src.open_blob(d);
  if (!source) return in_blob(std::move(source).error());
  auto ingest = dst.begin_blob(d.digest.algorithm());
  if (!ingest) return in_blob(std::move(ingest).error());
  digester hash(d.digest.algorithm());
  for (;;) {
    auto chunk = (*source)->next();
    if (!chunk) return in_blob(std::move(chunk).error());  // ingest discarded uncommitted
    if (chunk->empty()) break;
    hash.update(*chunk);
    if (auto ok = ingest->write(*chunk); !ok) return in_blob(std::move(ok).error());
    if (on_bytes) on_bytes(chunk->size());
  }
  // blob_file_source already fails a blob shorter or longer than d.size; this
  // keeps the rule here too, whatever source open_blob returns.
  if (ingest->size() != static_cast<std::uint64_t>(d.size))
    return in_blob(error(errc::size_mismatch, "size mismatch: content is " + std::to_string(ingest->size()) +
                                                  " bytes, descriptor says " + std::to_string(d.size)));
  const auto got = hash.finish();
  if (!(got == d.digest))
    return in_blob(error(errc::digest_mismatch, "digest mismatch: content is " + got.str()));
  if (auto ok = ingest->commit(d.digest); !ok) return in_blob(std::move(ok).error());
  return {};
}

}  // namespace ocipipe::pipeline
