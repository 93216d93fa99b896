#pragma once
// The bounded hand-over between one layer's decode task (parallel across
// layers) and the serial apply stage: batches of ready-to-apply operations,
// capped in bytes so a layer never sits whole in memory (DESIGN.md §2).

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stages/layer_stream.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe::pipeline {

/// Content bytes per batch. The decode thread fills one batch while apply
/// writes the one before, and a batch this size is still in cache when apply
/// reads it (pipeline/README.md "Chunk and queue sizes").
inline constexpr std::size_t apply_batch_bytes = 256 << 10;

/// What one layer's channel may queue, bytes: two batches at least (decode
/// fills one while apply writes the other), 2 MiB at most. More never bought
/// time: the bytes a later layer decodes ahead wait out of cache, in pages
/// touched for the first time (debian-slim -j2: 32 MiB channels took 1.25
/// CPU-s and 0.74 s, 2 MiB ones 0.97 CPU-s and 0.62 s).
inline constexpr std::size_t min_channel_bytes = 2 * apply_batch_bytes;
inline constexpr std::size_t max_channel_bytes = std::size_t{2} << 20;

/// The capacity of each channel when a run allows `budget` bytes in all to
/// `layers_in_flight` layers decoding at once.
[[nodiscard]] inline std::size_t channel_bytes(std::size_t budget, std::size_t layers_in_flight) {
  return std::clamp(budget / std::max<std::size_t>(1, layers_in_flight), min_channel_bytes, max_channel_bytes);
}

/// One operation of the apply stage, already cleaned and classified by the
/// decode task.
struct apply_op {
  enum class kind : std::uint8_t { entry, content, whiteout, opaque_whiteout };
  kind what = kind::entry;
  std::string path;          ///< cleaned path (entry), hidden path (whiteout), directory (opaque)
  tar_entry entry;           ///< for `entry`
  std::uint64_t offset = 0;  ///< for `content`: file offset
  std::size_t arena_offset = 0;
  std::size_t length = 0;
};

/// A batch of operations plus the content bytes they refer to.
struct apply_batch {
  std::vector<apply_op> ops;
  std::vector<std::byte> arena;
  std::uint64_t blob_bytes_read = 0;  ///< of the layer's blob, when the batch was cut
  /// Heap bytes the batch holds, as allocated: the arena and op vector by
  /// capacity (a batch of 4096 empty files holds a 1 MiB arena it never
  /// fills) and every string too long for its inline buffer, so the
  /// channel's budget bounds memory whatever the entries are like.
  [[nodiscard]] std::size_t bytes() const {
    const auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
    std::size_t n = arena.capacity() + ops.capacity() * sizeof(apply_op);
    for (const auto& op : ops) {
      n += heap(op.path) + heap(op.entry.path) + heap(op.entry.link_target);
      n += op.entry.xattrs.capacity() * sizeof(op.entry.xattrs[0]);
      for (const auto& [k, v] : op.entry.xattrs) n += heap(k) + heap(v);
    }
    return n;
  }
};

/// Single-producer single-consumer queue of batches with a byte capacity.
/// Thread-safe. push() blocks while the queue is over capacity; cancel()
/// wakes both sides for good. A channel made with a sink hands each batch
/// to it on the producer's thread instead (-j1: decode and apply on one
/// thread, with nothing queued).
///
/// The apply stage takes a layer's batches with apply_all(): those queued
/// while earlier layers were applied it applies itself; once it has caught
/// up, it may hand the applying over to the producer, which then applies
/// each further batch as it makes it, on its own thread: the batch never
/// crosses to another core, and nobody waits on a wake-up. Where that pays
/// is unpack's choice (pipeline/layer_threads.h: producer_applies).
///
/// Applied batches come back through recycle() and leave again through
/// fresh_batch() with their memory: a fresh arena per batch cost a page fault
/// per 4 KiB written into it (the allocator gives freed arenas back to the
/// kernel), 55 000 faults for a 218 MB image.
class layer_channel {
 public:
  /// Consumes one batch; false stops the producer (like cancel()).
  using sink = std::function<bool(const apply_batch&)>;
  explicit layer_channel(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}
  explicit layer_channel(sink direct) : capacity_(0), direct_(std::move(direct)) {}

  /// An empty batch whose arena can hold `arena_bytes` without growing: a
  /// recycled one when there is one.
  apply_batch fresh_batch(std::size_t arena_bytes) {
    apply_batch b;
    {
      std::lock_guard lock(mu_);
      if (!spares_.empty()) {
        b = std::move(spares_.back());
        spares_.pop_back();
      }
    }
    b.arena.reserve(arena_bytes);
    return b;
  }

  /// Takes back a batch the consumer is done with; keeps at most two.
  void recycle(apply_batch&& b) {
    b.ops.clear();
    b.arena.clear();
    b.blob_bytes_read = 0;
    std::lock_guard lock(mu_);
    if (spares_.size() < 2 && !drained_) spares_.push_back(std::move(b));
  }

  /// Queues a batch, or applies it on this thread once apply_all() has
  /// handed the applying over; blocks while the queue is full. False once
  /// cancelled or once applying a batch failed.
  bool push(apply_batch batch) {
    if (direct_) {
      const bool ok = direct_(batch);
      recycle(std::move(batch));
      return ok;
    }
    const auto n = batch.bytes();  // once, outside the lock: it walks the ops
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] {
      return cancelled_ || producer_applies_ != nullptr || queued_ == 0 || queued_ + n <= capacity_;
    });
    if (cancelled_ || apply_failed_) return false;
    if (producer_applies_ != nullptr) {
      // The queue is empty (apply_all hands over only then) and stays so.
      const sink& apply = *producer_applies_;
      in_apply_ = true;
      lock.unlock();
      const bool ok = apply(batch);  // outside the lock: a failure cancels every channel
      lock.lock();
      in_apply_ = false;
      if (!ok) apply_failed_ = true;
      // apply_all waits for this call to end only once it stops waiting for the layer.
      if (cancelled_ || apply_failed_) not_empty_.notify_all();
      lock.unlock();
      recycle(std::move(batch));
      return ok;
    }
    queued_ += n;
    high_water_ = std::max(high_water_, queued_);
    queue_.emplace_back(std::move(batch), n);
    not_empty_.notify_one();
    return true;
  }

  /// Ends the stream with the layer's outcome (digests, or the decode error).
  void close(result<layer_digests> outcome) {
    std::lock_guard lock(mu_);
    outcome_.emplace(std::move(outcome));
    not_empty_.notify_one();
  }

  /// The apply stage's side: every batch of the layer, in order, through
  /// `apply`. It applies the queued ones on this thread; with `hand_over`,
  /// once the queue is empty and the layer not closed, `apply` passes to the
  /// producer (push() calls it) and this waits; without, this waits for each
  /// batch. Returns once the layer is closed and applied, or cancelled: true;
  /// false if `apply` returned false (the producer's next push() then fails
  /// too). Calls of `apply` never overlap, and none is running or will run
  /// once this returns. Call once.
  bool apply_all(const sink& apply, bool hand_over) {
    std::unique_lock lock(mu_);
    while (!cancelled_ && !apply_failed_) {
      if (!queue_.empty()) {
        queued_ -= queue_.front().second;
        apply_batch b = std::move(queue_.front().first);
        queue_.pop_front();
        not_full_.notify_one();
        lock.unlock();
        const bool ok = apply(b);
        recycle(std::move(b));
        lock.lock();
        if (!ok) apply_failed_ = true;
        continue;
      }
      if (outcome_) break;
      if (!hand_over) {
        not_empty_.wait(lock, [&] { return cancelled_ || !queue_.empty() || outcome_.has_value(); });
        continue;
      }
      producer_applies_ = &apply;
      not_full_.notify_one();  // a producer waiting for room applies instead
      not_empty_.wait(lock, [&] { return (cancelled_ || apply_failed_ || outcome_.has_value()) && !in_apply_; });
      producer_applies_ = nullptr;
      break;
    }
    drained_ = true;  // nobody takes spares any more
    spares_.clear();
    return !apply_failed_;
  }

  /// The outcome passed to close(); call after apply_all() returned.
  result<layer_digests> outcome() {
    std::lock_guard lock(mu_);
    if (!outcome_) return fail(errc::cancelled, "layer decode cancelled");
    return *outcome_;
  }

  void cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    queue_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  /// Whether apply_all() has handed the applying to the producer and waits
  /// (its next push() applies). For tests, which must not guess it by time.
  [[nodiscard]] bool producer_applies_now() {
    std::lock_guard lock(mu_);
    return producer_applies_ != nullptr;
  }

  [[nodiscard]] std::size_t high_water_bytes() {
    std::lock_guard lock(mu_);
    return high_water_;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::pair<apply_batch, std::size_t>> queue_;  ///< with bytes() as counted at push
  std::vector<apply_batch> spares_;
  bool drained_ = false;
  std::size_t capacity_;
  std::size_t queued_ = 0;
  std::size_t high_water_ = 0;
  bool cancelled_ = false;
  std::optional<result<layer_digests>> outcome_;
  sink direct_;
  const sink* producer_applies_ = nullptr;  ///< set by apply_all once it has caught up
  bool in_apply_ = false;                   ///< the producer is in *producer_applies_
  bool apply_failed_ = false;
};

}  // namespace ocipipe::pipeline
