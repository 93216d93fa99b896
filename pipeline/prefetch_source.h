#pragma once
// Runs a byte_source on a thread of its own, a few chunks ahead of its
// consumer: within one layer, inflate (and the compressed digest) overlaps
// with the diff_id digest and tar parsing. The queue is bounded in bytes;
// it takes chunks from upstream with next_into: a decompressor or blob reader
// hands over the vector it filled, so nothing is copied on the way.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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
///
/// `see`, when set, is called on every chunk exactly once, in order, before
/// the consumer gets it, and never on two threads at once: by the consumer
/// when it takes a chunk not yet seen, or by the producer thread while the
/// queue is full and it would otherwise wait. A stream digest given as `see`
/// (the diff_id) so moves to whichever of the two threads is idle: unpack -j2
/// on 2 cores, where parsing and apply outlast inflate (pipeline/README.md
/// "Scheduling one layer and many").
class prefetch_source final : public byte_source {
 public:
  using see_function = std::function<void(byte_view)>;
  explicit prefetch_source(std::unique_ptr<byte_source> upstream, std::size_t max_bytes = default_max_bytes,
                           see_function see = {});

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
    std::uint64_t seq = 0;  ///< position in the stream, from 0
  };
  /// Calls see_ on `c` (chunk seen_ of the stream) outside the lock, with
  /// seeing_ set meanwhile; wakes a waiting other side after. Lock held on
  /// entry and exit.
  void see_locked(std::unique_lock<std::mutex>& lock, const chunk& c);
  /// Recycles current_'s buffer and takes the front chunk off the queue,
  /// waiting for one; nullopt at the end, or the upstream's error. Wakes a
  /// producer that waits once the queue is down to half its bytes. Consumer
  /// thread only.
  result<std::optional<chunk>> take();
  std::deque<chunk> queue_;
  std::vector<std::vector<std::byte>> spare_;  // recycled buffers
  chunk current_;                              // what the consumer last took (consumer thread only)
  std::optional<error> error_;
  see_function see_;
  std::uint64_t pushed_ = 0;  ///< chunks queued so far (the next one's seq)
  std::uint64_t seen_ = 0;    ///< chunks see_ has been called on (all of seq < seen_)
  bool seeing_ = false;       ///< a thread is in see_ now
  bool eof_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ocipipe::pipeline
