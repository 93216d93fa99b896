#pragma once
// Shows every byte of a layer's tar stream to tar_header_check on its way to
// libarchive: validate reports what the check finds, and both verbs stop a
// stream whose sparse map would make libarchive allocate without bound
// (buglog B29), or whose PAX header is over the cap, before libarchive sees it.

#include <memory>

#include "stages/oci/byte_source.h"
#include "stages/tar_header_check.h"

namespace ocipipe::pipeline {

/// Passes `inner`'s chunks through after feeding them to `check` (which must
/// outlive this). next() fails with `resource_exhausted` once
/// check.limit_exceeded(). Not thread-safe.
class header_check_tap final : public byte_source {
 public:
  header_check_tap(std::unique_ptr<byte_source> inner, tar_header_check& check)
      : inner_(std::move(inner)), check_(check) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, inner_->next());
    check_.feed(chunk);
    if (check_.limit_exceeded()) return fail(errc::resource_exhausted, "tar: " + check_.limit_message());
    return chunk;
  }

 private:
  std::unique_ptr<byte_source> inner_;
  tar_header_check& check_;
};

}  // namespace ocipipe::pipeline
