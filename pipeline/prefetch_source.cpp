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
    chunk c;
    {
      std::lock_guard lock(mu_);
      if (!spare_.empty()) {
        c.bytes = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    auto n = upstream_->next_into(c.bytes);
    std::unique_lock lock(mu_);
    if (!n) {
      error_ = std::move(n).error();
      cv_.notify_all();
      return;
    }
    if (*n == 0) {
      eof_ = true;
      cv_.notify_all();
      return;
    }
    c.n = *n;
    cv_.wait(lock, [&] { return stop_ || queue_.size() < max_chunks_; });
    if (stop_) return;
    queue_.push_back(std::move(c));
    cv_.notify_all();
  }
}

bool prefetch_source::wait_front(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [&] { return !queue_.empty() || eof_ || error_.has_value(); });
  return !queue_.empty();
}

result<byte_view> prefetch_source::next() {
  std::unique_lock lock(mu_);
  if (current_.bytes.capacity() != 0) spare_.push_back(std::move(current_.bytes));
  current_ = {};
  if (wait_front(lock)) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return byte_view(current_.bytes.data(), current_.n);
  }
  if (error_) return tl::unexpected(*error_);
  return byte_view{};
}

result<std::size_t> prefetch_source::next_into(std::vector<std::byte>& buf) {
  std::unique_lock lock(mu_);
  if (current_.bytes.capacity() != 0) spare_.push_back(std::move(current_.bytes));
  current_ = {};
  if (wait_front(lock)) {
    chunk c = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    c.bytes.swap(buf);
    if (c.bytes.capacity() != 0) spare_.push_back(std::move(c.bytes));
    return c.n;
  }
  if (error_) return tl::unexpected(*error_);
  return std::size_t{0};
}

}  // namespace ocipipe::pipeline
