#include "pipeline/verified_blob.h"

#include "stages/digester.h"

namespace ocipipe::pipeline {

result<std::string> read_verified_blob(const io::image_layout& layout, const descriptor& d,
                                       std::size_t max_bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto bytes, layout.read_blob(d, max_bytes));
  if (d.digest.algorithm() == digest_algorithm::unregistered) return bytes;
  const auto got = digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())),
                                d.digest.algorithm());
  if (!(got == d.digest))
    return fail(errc::digest_mismatch, "blob " + d.digest.str() + ": digest mismatch: content is " +
                                           got.str());
  return bytes;
}

}  // namespace ocipipe::pipeline
