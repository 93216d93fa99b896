#include "pipeline/prefetch_source.h"

namespace ocipipe::pipeline {

prefetch_source::prefetch_source(std::unique_ptr<byte_source> upstream, std::size_t max_chunks)
    : upstream_(std::move(upstream)), max_chunks_(max_chunks ? max_chunks : 1) {
  thread_ = std::thread([this] { run(); });
}

prefetch_source::~prefetch_source() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void prefetch_source::run() {
  for (;;) {
    auto chunk = upstream_->next();
    std::vector<std::byte> buf;
    {
      std::unique_lock lock(mu_);
      if (!chunk) {
        error_ = std::move(chunk).error();
        cv_.notify_all();
        return;
      }
      if (chunk->empty()) {
        eof_ = true;
        cv_.notify_all();
        return;
      }
      if (!spare_.empty()) {
        buf = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    buf.assign(chunk->begin(), chunk->end());
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_ || queue_.size() < max_chunks_; });
    if (stop_) return;
    queue_.push_back(std::move(buf));
    cv_.notify_all();
  }
}

result<byte_view> prefetch_source::next() {
  std::unique_lock lock(mu_);
  if (!current_.empty() || current_.capacity() != 0) spare_.push_back(std::move(current_));
  current_ = {};
  cv_.wait(lock, [&] { return !queue_.empty() || eof_ || error_.has_value(); });
  if (!queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return byte_view(current_.data(), current_.size());
  }
  if (error_) return tl::unexpected(*error_);
  return byte_view{};
}

}  // namespace ocipipe::pipeline
