#pragma once
// Runs a byte_source on a thread of its own, a few chunks ahead of its
// consumer: within one layer, inflate (and the compressed digest) overlaps
// with the diff_id digest and tar parsing. The queue is bounded in bytes;
// it takes chunks from upstream with next_into: a decompressor or blob reader
// hands over the vector it filled, so nothing is copied on the way.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "stages/oci/byte_source.h"

namespace ocipipe::pipeline {

/// Owns `upstream` and reads it on a std::thread (not a TBB worker: it blocks
/// when the queue is full, which must never starve the flow graph). next() is
/// for one consumer thread. Destruction stops and joins the thread, after
/// which the upstream's own upstreams are free to be read by others.
/// `max_bytes` bounds the queue, counted by each chunk's buffer capacity: a
/// chunk that would take it past that waits, except into an empty queue (so
/// the queue holds at most max(max_bytes, max_bytes / 2 + one chunk)). A
/// producer that found it full waits until the consumer has taken half of
/// it, and each side is woken only when it waits: two threads sharing a core
/// then trade the core every few chunks rather than at every chunk.
class prefetch_source final : public byte_source {
 public:
  explicit prefetch_source(std::unique_ptr<byte_source> upstream, std::size_t max_bytes = default_max_bytes);

  /// Eight 256 KiB chunks (pipeline/README.md "Chunk and queue sizes").
  static constexpr std::size_t default_max_bytes = std::size_t{8} << 18;
  ~prefetch_source() override;
  prefetch_source(const prefetch_source&) = delete;
  prefetch_source& operator=(const prefetch_source&) = delete;

  result<byte_view> next() override;
  /// Hands the queued chunk itself over (no copy).
  result<std::size_t> next_into(std::vector<std::byte>& buf) override;

 private:
  void run();

  std::unique_ptr<byte_source> upstream_;
  std::size_t max_bytes_;
  std::size_t queued_bytes_ = 0;  // capacity of the buffers in queue_
  std::mutex mu_;
  std::condition_variable can_push_, can_pop_;
  bool producer_waits_ = false, consumer_waits_ = false;
  struct chunk {
    std::vector<std::byte> bytes;  ///< may be longer than n
    std::size_t n = 0;
  };
  /// Recycles current_'s buffer and takes the front chunk off the queue,
  /// waiting for one; nullopt at the end, or the upstream's error. Wakes a
  /// producer that waits once the queue is down to half its bytes. Consumer
  /// thread only.
  result<std::optional<chunk>> take();
  std::deque<chunk> queue_;
  std::vector<std::vector<std::byte>> spare_;  // recycled buffers
  chunk current_;                              // what the consumer last took (consumer thread only)
  std::optional<error> error_;
  bool eof_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ocipipe::pipeline
