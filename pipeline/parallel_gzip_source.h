#pragma once
// Parallel inflate of one gzip stream (issue 9 item 3), after rapidgzip
// (Knespel & Brunst 2023): the compressed stream is cut into chunks of
// chunk_bytes; a worker thread per chunk guesses a deflate block start near
// the chunk's beginning (stages/deflate_scan find_block_start) and decodes
// from there without the window, leaving markers for bytes copied from it;
// the consumer chains the chunks in order, replacing the markers once the
// previous chunk's last 32 KiB are known. A guess is used only when the
// previous chunk's decode really ended on it; otherwise (or when no start
// was found, a member ended inside the chunk, a chunk's output passed its
// cap, or the stream is damaged) that chunk is decoded serially with zlib
// from where the previous one ended, with the real window. So the output is
// what a serial inflate gives, whatever the guesses were.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "stages/decompress.h"
#include "stages/oci/byte_source.h"

namespace ocipipe::pipeline {

/// How parallel_gzip_source splits its work.
struct parallel_inflate_options {
  unsigned threads = 2;               // inflate threads (std::thread, not TBB workers: they block), >= 1 (0 means 1)
  std::size_t chunk_bytes = 4u << 20; // compressed bytes per chunk (values below 1 KiB are raised to 1 KiB)
  decompress_limits limits;           // as make_decompressor
  /// Compressed chunks read ahead of the consumer (0: threads + 2); with
  /// output_cap_factor, what bounds memory whatever the thread count.
  std::size_t chunks_ahead = 0;
  /// A chunk whose output passes this x chunk_bytes goes serial (>= 1).
  std::size_t output_cap_factor = 8;
};

/// A gzip decompressor with the contract of make_decompressor(…, gzip): every
/// member of a multi-member stream is decoded (RFC 1952 §2.2) and its CRC-32
/// and ISIZE checked; zero bytes after the last member are taken as padding;
/// truncation, trailing garbage, a bad header, bad deflate data (RFC 1951) or
/// a trailer mismatch are `malformed` naming the compressed byte offset (the
/// chunk that ends a member is handed out only after its trailer is checked,
/// as make_decompressor does); more
/// output than limits.max_output_bytes is `resource_exhausted` naming
/// limits.max_output_name; an upstream error is passed on as it is.
///
/// Threads: one reader thread (the only one that calls upstream.next()) and
/// `threads` inflate workers, all std::threads; next() is for one consumer
/// thread, which also replaces markers, computes the CRC and runs the serial
/// fallback.
///
/// Memory, with C = chunk_bytes, A = chunks_ahead (default T + 2, T =
/// threads) and F = output_cap_factor: at most A compressed chunks (C bytes
/// each) are held; each busy worker (at most min(T, A)) holds a copy of two
/// chunks (2C); at most A finished chunk results wait, each at most FC
/// symbols of output (2 bytes per symbol while the window is unknown, 1
/// after), so 2FC bytes worst case and about 1C x the compression ratio
/// typically; the consumer holds one resolved chunk (<= FC bytes), a 1 MiB
/// serial buffer and the 32 KiB window. Results are decoded into buffers
/// that are reused (at most T + A of them are kept), so each keeps the
/// largest output it held rather than being allocated per chunk. Worst case about AC + 2min(T,A)C +
/// 2AFC: pipeline/layer_threads picks A from a byte budget (C = 1 MiB, F = 4:
/// about 11 MiB a chunk), so many threads never mean much memory. A chunk
/// whose output would pass FC falls back to the serial path (which streams),
/// so a decompression bomb costs time, not memory.
class parallel_gzip_source final : public byte_source {
 public:
  // Borrows `upstream` (compressed bytes; must outlive this). Reads it
  // sequentially, from one thread at a time (it is usually a digesting
  // counting_source, so order matters): the reader thread, which stays at
  // most T + 2 chunks ahead of the consumer. Starts the threads at once.
  parallel_gzip_source(byte_source& upstream, parallel_inflate_options opts);
  // Stops and joins its threads, even mid-stream (a worker finishes its
  // current chunk first; the reader its current upstream.next()).
  ~parallel_gzip_source() override;
  parallel_gzip_source(const parallel_gzip_source&) = delete;
  parallel_gzip_source& operator=(const parallel_gzip_source&) = delete;

  // One consumer thread; output in order, in views of at most
  // detail::out_chunk (256 KiB). The view is valid until the next call.
  result<byte_view> next() override;

  // How many chunks so far came from a worker's guess (the rest were decoded
  // serially): for tests and benchmarks. Consumer thread only.
  [[nodiscard]] std::uint64_t chunks_speculated() const noexcept;
  // How many chunks so far were decoded serially by the consumer.
  [[nodiscard]] std::uint64_t chunks_serial() const noexcept;
  // How many result buffers the workers have allocated so far (they are
  // reused: at most threads + chunks_ahead + 1). Any thread.
  [[nodiscard]] std::uint64_t result_buffers() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ocipipe::pipeline
