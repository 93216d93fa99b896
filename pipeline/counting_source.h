#pragma once
// Passes a byte_source's chunks through unchanged and tells `on_bytes` each
// chunk's size: how unpack stamps its batches with the blob bytes read and
// how validate feeds its progress meter. Runs on whichever thread pulls.

#include <cstddef>
#include <functional>
#include <memory>

#include "stages/oci/byte_source.h"

namespace ocipipe::pipeline {

class counting_source final : public byte_source {
 public:
  counting_source(std::unique_ptr<byte_source> inner, std::function<void(std::size_t)> on_bytes)
      : inner_(std::move(inner)), on_bytes_(std::move(on_bytes)) {}
  result<byte_view> next() override {
    auto chunk = inner_->next();
    if (chunk) on_bytes_(chunk->size());
    return chunk;
  }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override {
    auto n = inner_->next_into(buf);
    if (n) on_bytes_(*n);
    return n;
  }

 private:
  std::unique_ptr<byte_source> inner_;
  std::function<void(std::size_t)> on_bytes_;
};

}  // namespace ocipipe::pipeline
