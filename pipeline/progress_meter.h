#pragma once
// Turns byte counts from many threads into a calm stream of progress_update
// (api.h): one every 200 ms at most, plus the ones asked for (a layer or blob
// finished), never two at once. Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "pipeline/api.h"

namespace ocipipe::pipeline {

class progress_meter {
 public:
  /// `cb` may be empty: then every call is a no-op.
  progress_meter(progress_callback cb, std::uint64_t total_bytes) : cb_(std::move(cb)), total_(total_bytes) {}

  [[nodiscard]] bool enabled() const noexcept { return static_cast<bool>(cb_); }
  /// Adds `bytes` done.
  void add(std::uint64_t bytes) {
    if (!cb_) return;
    done_.fetch_add(bytes, std::memory_order_relaxed);
    if (due()) emit({}, false);
  }
  /// Sets the bytes done (never backwards) and what is being worked on.
  void set(std::uint64_t done, const std::string& current) {
    if (!cb_) return;
    raise(done);
    if (due()) emit(current, false);
  }
  /// Reports now, marking one layer or blob finished.
  void finished(std::uint64_t done, const std::string& current) {
    if (!cb_) return;
    raise(done);
    emit(current, true);
  }
  /// Counts one more of `count` items (layers or blobs) finished and, when `report`, reports
  /// now "<noun> k of <count> (<detail>)". k is taken under the same lock that calls the
  /// callback, so when items finish on many threads the numbers still arrive in order and
  /// the last update names the last item.
  void finished_item(std::string_view noun, std::size_t count, std::string_view detail, bool report = true) {
    if (!cb_) return;
    std::lock_guard lock(mu_);
    const auto k = ++items_finished_;
    if (!report) return;
    current_ = std::string(noun) + " " + std::to_string(k) + " of " + std::to_string(count) + " (" +
               std::string(detail) + ")";
    call(true);
  }
  [[nodiscard]] std::uint64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }

 private:
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  bool due() {
    constexpr std::int64_t every_ns = 200'000'000;
    const auto now = now_ns();
    auto last = last_ns_.load(std::memory_order_relaxed);
    return now - last >= every_ns && last_ns_.compare_exchange_strong(last, now);
  }
  void raise(std::uint64_t done) {
    auto cur = done_.load(std::memory_order_relaxed);
    while (cur < done && !done_.compare_exchange_weak(cur, done)) {
    }
  }
  // Reads the count under the lock, so updates never go backwards.
  void emit(const std::string& current, bool finished_one) {
    std::lock_guard lock(mu_);
    if (!current.empty()) current_ = current;
    call(finished_one);
  }
  // Holds mu_.
  void call(bool finished_one) {
    cb_(progress_update{std::min(done_.load(std::memory_order_relaxed), total_), total_, current_, finished_one});
  }

  progress_callback cb_;
  std::uint64_t total_;
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::int64_t> last_ns_{0};
  std::mutex mu_;
  std::string current_;
  std::size_t items_finished_ = 0;  // guarded by mu_
};

}  // namespace ocipipe::pipeline
