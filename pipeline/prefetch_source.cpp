#include "pipeline/prefetch_source.h"

namespace ocipipe::pipeline {

prefetch_source::prefetch_source(std::unique_ptr<byte_source> upstream, std::size_t max_bytes, see_function see)
    : upstream_(std::move(upstream)), max_bytes_(max_bytes ? max_bytes : 1), see_(std::move(see)) {
  thread_ = std::thread([this] { run(); });
}

prefetch_source::~prefetch_source() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  can_push_.notify_all();
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
    } else if (*n == 0) {
      eof_ = true;
    } else {
      c.n = *n;
      const std::size_t cost = c.bytes.capacity();
      if (!queue_.empty() && queued_bytes_ + cost > max_bytes_) {
        producer_waits_ = true;
        for (;;) {
          // Instead of waiting, see the queued chunk that is next in line.
          const auto next_unseen = [&]() -> const chunk* {
            if (!see_ || seeing_ || queue_.empty() || seen_ < queue_.front().seq) return nullptr;
            const auto i = seen_ - queue_.front().seq;
            return i < queue_.size() ? &queue_[static_cast<std::size_t>(i)] : nullptr;
          };
          can_push_.wait(lock, [&] { return stop_ || queued_bytes_ <= max_bytes_ / 2 || next_unseen(); });
          if (stop_ || queued_bytes_ <= max_bytes_ / 2) break;
          see_locked(lock, *next_unseen());
        }
        producer_waits_ = false;
      }
      if (stop_) return;
      queued_bytes_ += cost;
      c.seq = pushed_++;
      queue_.push_back(std::move(c));
    }
    if (consumer_waits_) can_pop_.notify_one();
    if (!n || *n == 0) return;
  }
}

result<std::optional<prefetch_source::chunk>> prefetch_source::take() {
  std::unique_lock lock(mu_);
  if (current_.bytes.capacity() != 0) spare_.push_back(std::move(current_.bytes));
  current_ = {};
  if (queue_.empty() && !eof_ && !error_) {
    consumer_waits_ = true;
    can_pop_.wait(lock, [&] { return !queue_.empty() || eof_ || error_.has_value(); });
    consumer_waits_ = false;
  }
  if (queue_.empty()) {
    if (error_) return tl::unexpected(*error_);
    return std::nullopt;
  }
  if (see_) {
    // The producer may be seeing this very chunk: it stays queued until then.
    consumer_waits_ = true;
    can_pop_.wait(lock, [&] { return !seeing_ || seen_ > queue_.front().seq; });
    consumer_waits_ = false;
    if (seen_ == queue_.front().seq) see_locked(lock, queue_.front());
  }
  chunk c = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= c.bytes.capacity();
  if (producer_waits_ && queued_bytes_ <= max_bytes_ / 2) can_push_.notify_one();
  return c;
}

void prefetch_source::see_locked(std::unique_lock<std::mutex>& lock, const chunk& c) {
  // `c` stays valid while unlocked: a deque's references survive push_back
  // and pop_front of other elements, and the consumer pops only chunks
  // already seen.
  seeing_ = true;
  lock.unlock();
  see_(byte_view(c.bytes.data(), c.n));
  lock.lock();
  seeing_ = false;
  ++seen_;
  if (consumer_waits_) can_pop_.notify_one();
  if (producer_waits_) can_push_.notify_one();
}

result<byte_view> prefetch_source::next() {
  OCIPIPE_ASSIGN_OR_RETURN(auto c, take());
  if (!c) return byte_view{};
  current_ = std::move(*c);
  return byte_view(current_.bytes.data(), current_.n);
}

result<std::size_t> prefetch_source::next_into(std::vector<std::byte>& buf) {
  OCIPIPE_ASSIGN_OR_RETURN(auto c, take());
  if (!c) return std::size_t{0};
  c->bytes.swap(buf);
  // `buf`'s old storage stays as current_: the next call recycles it.
  current_ = std::move(*c);
  return current_.n;
}

}  // namespace ocipipe::pipeline
