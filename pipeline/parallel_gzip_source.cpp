#include "pipeline/parallel_gzip_source.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "stages/deflate_scan.h"
#include "stages/gzip_chunk.h"
#include "stages/gzip_source.h"

namespace ocipipe::pipeline {
namespace {

using chunk_ptr = std::shared_ptr<const std::vector<std::byte>>;

// A chunk's speculative decode: output for the bits [start_bit, end_bit) of
// the stream (absolute), or ok = false.
struct spec_result {
  bool ok = false;
  std::uint64_t start_bit = 0;
  std::uint64_t end_bit = 0;
  bool member_end = false;
  std::size_t lowest_window_ref = deflate::window_bytes;
  deflate::out_buffer<std::uint16_t> markers;  // [window_bytes, size): symbols with markers
  bool has_markers = false;
  deflate::out_buffer<std::uint8_t> bytes;     // [bytes_prefix, size): plain bytes after them
  std::size_t bytes_prefix = 0;
  std::uint32_t bytes_crc = 0;                 // CRC-32 of the plain bytes
  std::size_t marker_count() const { return has_markers ? markers.size() - deflate::window_bytes : 0; }
  std::size_t byte_count() const { return bytes.size() - bytes_prefix; }
  // As new, keeping the buffers' capacity.
  void reset() {
    ok = false;
    start_bit = end_bit = 0;
    member_end = false;
    lowest_window_ref = deflate::window_bytes;
    markers.clear();
    has_markers = false;
    bytes.clear();
    bytes_prefix = 0;
    bytes_crc = 0;
  }
};

std::string at_byte(std::uint64_t n) { return " at compressed byte " + std::to_string(n); }

constexpr std::size_t serial_out_bytes = 1u << 20;

}  // namespace

struct parallel_gzip_source::impl {
  impl(byte_source& up, parallel_inflate_options o)
      : upstream(up), opts(o), chunk(std::max<std::size_t>(o.chunk_bytes, 1024)),
        threads(std::max(o.threads, 1u)), ahead(o.chunks_ahead ? o.chunks_ahead : threads + 2),
        output_cap_factor(std::max<std::size_t>(o.output_cap_factor, 1)) {}

  byte_source& upstream;
  parallel_inflate_options opts;
  const std::size_t chunk;
  const unsigned threads;
  const std::size_t ahead;              // compressed chunks read ahead of the consumer
  const std::size_t output_cap_factor;  // a chunk's output cap: this x chunk_bytes symbols

  // ---- shared state, under mu ----
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint64_t, chunk_ptr> chunks;  // compressed chunk k: bytes [k*chunk, k*chunk + size)
  std::uint64_t chunks_read = 0;
  bool eof = false;
  std::uint64_t total_in = 0;                 // stream length, once eof
  std::optional<error> read_error;
  std::uint64_t need_from = 0;                // lowest chunk the consumer still needs
  std::uint64_t next_task = 0;
  std::map<std::uint64_t, std::shared_ptr<spec_result>> results;
  // Results the consumer is done with, for workers to decode into again:
  // buffers of megabytes allocated afresh per chunk cost a page fault per
  // 4 KiB and, freed on another thread, fragment the workers' arenas
  // (unpack -j8 of big-1g: 186 MB peak RSS for 70 MB of live heap, and
  // 122 MB once results were reused: four were ever made).
  std::vector<std::shared_ptr<spec_result>> spare;
  std::atomic<std::uint64_t> results_made{0};
  bool stop = false;
  std::vector<std::thread> pool;

  // ---- consumer state (consumer thread only) ----
  enum class phase { header, blocks, serial, after_member, done, failed };
  phase ph = phase::header;
  std::optional<error> failure;
  deflate::gzip_header_parser header;
  std::uint64_t pos = 0;          // header/trailer phases: next compressed byte
  std::uint64_t frontier = 0;     // blocks phase: bit where the next block starts
  std::vector<std::byte> window;  // last <= 32 KiB of the current member's output
  std::uint32_t crc = 0;
  std::uint64_t member_out = 0;
  std::uint64_t total_out = 0;
  unsigned members = 0;           // members finished
  std::uint64_t n_spec = 0, n_serial = 0;
  // serial phase
  deflate::serial_inflater inflater;
  std::uint64_t serial_pos = 0;   // next byte to feed
  std::uint64_t serial_target = 0;
  std::uint64_t consulted = ~std::uint64_t{0};  // the last chunk whose guess at_blocks looked at
  std::vector<std::byte> serial_out = std::vector<std::byte>(serial_out_bytes);
  // output handed out
  std::shared_ptr<spec_result> held;  // keeps a result's bytes alive
  std::vector<std::byte> resolved;
  byte_view out;                      // what next() hands out, a piece at a time
  byte_view pending;                  // a second view to hand out after `out`

  // ---- reader thread ----
  void reader() {
    byte_view left;
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || chunks_read < need_from + ahead; });
        if (stop) return;
      }
      auto buf = std::make_shared<std::vector<std::byte>>();
      buf->reserve(chunk);
      bool end = false;
      std::optional<error> err;
      while (buf->size() < chunk) {
        if (left.empty()) {
          auto c = upstream.next();
          if (!c) {
            err = std::move(c).error();
            break;
          }
          if (c->empty()) {
            end = true;
            break;
          }
          left = *c;
        }
        const std::size_t k = std::min(left.size(), chunk - buf->size());
        buf->insert(buf->end(), left.begin(), left.begin() + static_cast<std::ptrdiff_t>(k));
        left = left.subspan(k);
      }
      std::lock_guard lock(mu);
      if (!buf->empty()) {
        total_in += buf->size();
        chunks[chunks_read++] = std::move(buf);
      }
      if (err) read_error = std::move(err);
      if (end) eof = true;
      cv.notify_all();
      if (end || read_error) return;
    }
  }

  std::shared_ptr<spec_result> fresh_result() {
    {
      std::lock_guard lock(mu);
      if (!spare.empty()) {
        auto r = std::move(spare.back());
        spare.pop_back();
        r->reset();
        return r;
      }
    }
    ++results_made;
    return std::make_shared<spec_result>();
  }

  // Keeps `r` for reuse when nothing else holds it; there are never more
  // results alive than workers plus chunks ahead plus the one held.
  void recycle(std::shared_ptr<spec_result> r) {
    std::lock_guard lock(mu);
    spare_locked(std::move(r));
  }
  void spare_locked(std::shared_ptr<spec_result> r) {
    if (r && r.use_count() == 1 && spare.size() < threads + ahead) spare.push_back(std::move(r));
  }

  // ---- workers ----
  void worker() {
    std::vector<std::byte> input;
    for (;;) {
      std::uint64_t k = 0;
      chunk_ptr a, b;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] {
          if (stop) return true;
          next_task = std::max(next_task, need_from);
          if (next_task >= need_from + threads + 1) return false;
          return chunks_read > next_task + 1 || (eof && chunks_read > next_task);
        });
        if (stop) return;
        k = next_task++;
        a = chunks.at(k);
        if (auto it = chunks.find(k + 1); it != chunks.end()) b = it->second;
      }
      input.assign(a->begin(), a->end());
      if (b) input.insert(input.end(), b->begin(), b->end());
      a.reset();
      b.reset();
      auto r = speculate(k, input);
      std::lock_guard lock(mu);
      if (k >= need_from) results[k] = std::move(r);
      else spare_locked(std::move(r));
      cv.notify_all();
    }
  }

  std::shared_ptr<spec_result> speculate(std::uint64_t k, byte_view in) {
    auto r = fresh_result();
    const std::uint64_t base = k * chunk * 8, stop_bit = std::uint64_t{chunk} * 8;
    const std::size_t cap = output_cap_factor * chunk;
    if (k == 0) {  // the stream's start: a gzip header, then blocks with an empty window
      deflate::gzip_header_parser h;
      std::size_t used = 0;
      if (h.feed(in, used) != deflate::gzip_header_parser::state::done) return r;
      const auto d = deflate::decode_bytes(in, used * 8, stop_bit, {}, cap, r->bytes);
      if (d.why != deflate::stop_reason::boundary && d.why != deflate::stop_reason::member_end) return r;
      r->start_bit = used * 8;
      return finish(r, d, base);
    }
    std::uint64_t from = 0;
    std::vector<std::byte> win(deflate::window_bytes);
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stop || k < need_from) return r;
      }
      const auto cand = deflate::find_block_start(in, from, stop_bit);
      if (!cand) return r;
      from = *cand + 1;
      auto d = deflate::decode_markers(in, *cand, stop_bit, cap, true, r->markers);
      if (d.why == deflate::stop_reason::invalid) continue;
      if (d.why == deflate::stop_reason::clean) {
        // The last 32 KiB are plain bytes: go on without markers.
        const auto* s = r->markers.data() + r->markers.size() - deflate::window_bytes;
        for (std::size_t i = 0; i < deflate::window_bytes; ++i) win[i] = static_cast<std::byte>(s[i]);
        const std::size_t produced = r->markers.size() - deflate::window_bytes;
        const auto lowest = d.lowest_window_ref;
        d = deflate::decode_bytes(in, d.end_bit, stop_bit, win, cap > produced ? cap - produced : 0, r->bytes);
        d.lowest_window_ref = lowest;
        if (d.why == deflate::stop_reason::invalid) continue;
      } else {
        r->bytes.clear();
      }
      if (d.why != deflate::stop_reason::boundary && d.why != deflate::stop_reason::member_end) return r;
      r->has_markers = true;
      r->start_bit = *cand;
      return finish(r, d, base);
    }
  }

  static std::shared_ptr<spec_result> finish(std::shared_ptr<spec_result> r, const deflate::decode_result& d,
                                             std::uint64_t base) {
    r->ok = true;
    r->start_bit += base;
    r->end_bit = base + d.end_bit;
    r->member_end = d.why == deflate::stop_reason::member_end;
    r->lowest_window_ref = d.lowest_window_ref;
    // decode_bytes puts its window first: the output starts after it.
    const std::size_t total_bytes = r->bytes.size();
    r->bytes_prefix = r->has_markers ? std::min<std::size_t>(deflate::window_bytes, total_bytes) : 0;
    if (r->has_markers && r->bytes.size() == 0) r->bytes_prefix = 0;
    r->bytes_crc = crc32_update(0, byte_view(reinterpret_cast<const std::byte*>(r->bytes.data()) + r->bytes_prefix,
                                             r->bytes.size() - r->bytes_prefix));
    return r;
  }

  // ---- consumer helpers ----

  // Moves the consumer's lowest needed chunk forward, freeing older ones.
  void advance_to(std::uint64_t chunk_index) {
    std::lock_guard lock(mu);
    if (chunk_index <= need_from) return;
    need_from = chunk_index;
    chunks.erase(chunks.begin(), chunks.lower_bound(need_from));
    const auto stale = results.lower_bound(need_from);
    for (auto it = results.begin(); it != stale; ++it) spare_locked(std::move(it->second));
    results.erase(results.begin(), stale);
    cv.notify_all();
  }

  // The compressed bytes from `at` to the end of its chunk; empty at the end
  // of the stream.
  result<byte_view> bytes_at(std::uint64_t at, chunk_ptr& keep) {
    const std::uint64_t k = at / chunk;
    advance_to(k);
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return chunks_read > k || eof || read_error; });
    if (chunks_read > k) {
      keep = chunks.at(k);
      const std::size_t off = static_cast<std::size_t>(at - k * chunk);
      if (off >= keep->size()) {  // past the last, short chunk: the end, or a failed read
        if (read_error) return tl::unexpected(*read_error);
        return byte_view{};
      }
      return byte_view(keep->data() + off, keep->size() - off);
    }
    if (read_error) return tl::unexpected(*read_error);
    return byte_view{};
  }

  result<void> count(std::size_t n) {
    total_out += n;
    member_out += n;
    if (total_out > opts.limits.max_output_bytes)
      return fail(errc::resource_exhausted, "uncompressed layer exceeds " +
                                                std::to_string(opts.limits.max_output_bytes) + " bytes" +
                                                limit_name(opts.limits.max_output_name));
    return {};
  }

  void add_window(byte_view v) {
    if (v.size() >= deflate::window_bytes) {
      window.assign(v.end() - deflate::window_bytes, v.end());
      return;
    }
    const std::size_t keep = deflate::window_bytes - v.size();
    if (window.size() > keep) window.erase(window.begin(), window.end() - static_cast<std::ptrdiff_t>(keep));
    window.insert(window.end(), v.begin(), v.end());
  }

  std::string member_name() const { return "member " + std::to_string(members + 1); }

  result<byte_view> step();
  result<byte_view> at_blocks();
  result<byte_view> run_serial();
  result<void> read_trailer();
  result<void> after_member();
  result<void> read_header();
};

parallel_gzip_source::parallel_gzip_source(byte_source& upstream, parallel_inflate_options opts)
    : impl_(std::make_unique<impl>(upstream, opts)) {
  auto& m = *impl_;
  m.pool.emplace_back([&m] { m.reader(); });
  for (unsigned i = 0; i < m.threads; ++i) m.pool.emplace_back([&m] { m.worker(); });
}

parallel_gzip_source::~parallel_gzip_source() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->pool) t.join();
}

std::uint64_t parallel_gzip_source::chunks_speculated() const noexcept { return impl_->n_spec; }
std::uint64_t parallel_gzip_source::chunks_serial() const noexcept { return impl_->n_serial; }
std::uint64_t parallel_gzip_source::result_buffers() const noexcept { return impl_->results_made.load(); }

result<byte_view> parallel_gzip_source::next() {
  auto& m = *impl_;
  if (m.out.empty()) {
    m.out = std::exchange(m.pending, byte_view{});
    if (m.out.empty()) {
      m.recycle(std::move(m.held));
      while (m.out.empty()) {
        if (m.ph == impl::phase::done) return byte_view{};
        if (m.ph == impl::phase::failed) return tl::unexpected(*m.failure);
        auto r = m.step();
        if (!r) {
          m.ph = impl::phase::failed;
          m.failure = r.error();
          return r;
        }
        m.out = *r;
      }
    }
  }
  // A chunk's output is megabytes; a consumer that keeps views (a
  // prefetch_source's queue copies each one) must not get it whole.
  const auto piece = m.out.first(std::min(m.out.size(), detail::out_chunk));
  m.out = m.out.subspan(piece.size());
  return piece;
}

// One step of the consumer's state machine; an empty view means "go on".
result<byte_view> parallel_gzip_source::impl::step() {
  switch (ph) {
    case phase::header: OCIPIPE_TRY(read_header()); return byte_view{};
    case phase::blocks: return at_blocks();
    case phase::serial: return run_serial();
    case phase::after_member: OCIPIPE_TRY(after_member()); return byte_view{};
    case phase::done:
    case phase::failed: break;
  }
  return byte_view{};
}

result<void> parallel_gzip_source::impl::read_header() {
  for (;;) {
    chunk_ptr keep;
    OCIPIPE_ASSIGN_OR_RETURN(auto in, bytes_at(pos, keep));
    if (in.empty())
      return fail(errc::malformed, "gzip: truncated stream (ended inside " + member_name() + ")" + at_byte(pos));
    std::size_t used = 0;
    const auto st = header.feed(in, used);
    pos += used;
    if (st == deflate::gzip_header_parser::state::bad) {
      if (members == 0)
        return fail(errc::malformed, std::string("gzip: blob is not a gzip stream (bad header: ") + header.what() +
                                         ") but its media type says gzip" + at_byte(pos));
      return fail(errc::malformed, "gzip: bad header of " + member_name() + " (trailing garbage?): " +
                                       header.what() + at_byte(pos));
    }
    if (st == deflate::gzip_header_parser::state::done) {
      frontier = pos * 8;
      window.clear();
      crc = 0;
      member_out = 0;
      ph = phase::blocks;
      return {};
    }
  }
}

result<byte_view> parallel_gzip_source::impl::at_blocks() {
  const std::uint64_t k = frontier / (std::uint64_t{chunk} * 8);
  advance_to(k);
  std::shared_ptr<spec_result> r;
  if (consulted != k) {  // each chunk's guess is looked at once: k only grows
    consulted = k;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return results.count(k) || read_error.has_value(); });
    if (auto it = results.find(k); it != results.end()) r = it->second;
  }
  const std::size_t have = window.size();
  if (r && r->ok && r->start_bit == frontier &&
      (r->has_markers ? r->lowest_window_ref >= deflate::window_bytes - have : have == 0)) {
    const std::size_t nm = r->marker_count(), nb = r->byte_count();
    resolved.resize(nm);
    if (nm && !deflate::resolve_markers(std::span(r->markers.data() + deflate::window_bytes, nm), window,
                                        resolved.data()))
      r.reset();  // cannot happen after the lowest_window_ref check; the serial path decides
    if (r) {
      OCIPIPE_TRY(count(nm + nb));
      const byte_view a(resolved.data(), nm);
      const byte_view b(reinterpret_cast<const std::byte*>(r->bytes.data()) + r->bytes_prefix, nb);
      crc = crc32_update(crc, a);
      crc = crc32_concat(crc, r->bytes_crc, nb);
      add_window(a);
      add_window(b);
      frontier = r->end_bit;
      held = r;
      ++n_spec;
      {
        std::lock_guard lock(mu);
        results.erase(k);
      }
      if (r->member_end) {
        pos = (frontier + 7) / 8;
        OCIPIPE_TRY(read_trailer());
      }
      if (a.empty()) return b;
      pending = b;
      return a;
    }
  }
  // Serial from the frontier, with the real window, to the first block
  // boundary at or past the next chunk's start.
  chunk_ptr keep;
  const std::uint64_t byte = frontier / 8;
  OCIPIPE_ASSIGN_OR_RETURN(auto in, bytes_at(byte, keep));
  if (in.empty())
    return fail(errc::malformed, "gzip: truncated stream (ended inside " + member_name() + ")" + at_byte(byte));
  const unsigned bit = static_cast<unsigned>(frontier % 8);
  OCIPIPE_TRY(inflater.start(bit, static_cast<std::uint8_t>(in[0]), window));
  serial_pos = bit ? byte + 1 : byte;
  serial_target = (k + 1) * chunk * 8;
  ++n_serial;
  ph = phase::serial;
  return byte_view{};
}

result<byte_view> parallel_gzip_source::impl::run_serial() {
  std::size_t produced_total = 0;
  for (;;) {
    chunk_ptr keep;
    OCIPIPE_ASSIGN_OR_RETURN(auto in, bytes_at(serial_pos, keep));
    if (in.empty())
      return fail(errc::malformed,
                  "gzip: truncated stream (ended inside " + member_name() + ")" + at_byte(serial_pos));
    std::size_t used = 0, produced = 0;
    unsigned unused = 0;
    auto ev = inflater.run(in, std::span(serial_out).subspan(produced_total), used, produced, unused);
    if (!ev) {
      auto e = std::move(ev).error();
      if (e.code() != errc::malformed) return tl::unexpected(std::move(e));
      return fail(errc::malformed, e.message() + " in " + member_name() + at_byte(serial_pos + used));
    }
    serial_pos += used;
    const byte_view out(serial_out.data() + produced_total, produced);
    produced_total += produced;
    OCIPIPE_TRY(count(produced));
    crc = crc32_update(crc, out);
    add_window(out);
    bool leave = false;
    switch (*ev) {
      case deflate::serial_inflater::event::boundary: {
        const std::uint64_t b = serial_pos * 8 - unused;
        if (b >= serial_target) {
          frontier = b;
          ph = phase::blocks;
          leave = true;
        }
        break;
      }
      case deflate::serial_inflater::event::member_end:
        frontier = serial_pos * 8 - unused;
        pos = (frontier + 7) / 8;
        OCIPIPE_TRY(read_trailer());
        leave = true;
        break;
      case deflate::serial_inflater::event::output_full:
        leave = true;
        break;
      case deflate::serial_inflater::event::need_input:
        break;
    }
    if (leave || produced_total == serial_out.size()) return byte_view(serial_out.data(), produced_total);
  }
}

result<void> parallel_gzip_source::impl::read_trailer() {
  std::uint8_t t[8];
  std::size_t n = 0;
  const std::uint64_t start = pos;
  while (n < 8) {
    chunk_ptr keep;
    OCIPIPE_ASSIGN_OR_RETURN(auto in, bytes_at(pos, keep));
    if (in.empty())
      return fail(errc::malformed, "gzip: truncated stream (ended inside " + member_name() + " trailer)" +
                                       at_byte(pos));
    const std::size_t k = std::min<std::size_t>(8 - n, in.size());
    std::memcpy(t + n, in.data(), k);
    n += k;
    pos += k;
  }
  const std::uint32_t want_crc = t[0] | (t[1] << 8) | (t[2] << 16) | (std::uint32_t{t[3]} << 24);
  const std::uint32_t want_size = t[4] | (t[5] << 8) | (t[6] << 16) | (std::uint32_t{t[7]} << 24);
  if (want_crc != crc)
    return fail(errc::malformed, "gzip: CRC32 trailer mismatch in " + member_name() + at_byte(start));
  if (want_size != static_cast<std::uint32_t>(member_out & 0xffffffffu))
    return fail(errc::malformed, "gzip: size trailer mismatch in " + member_name() + at_byte(start + 4));
  ++members;
  ph = phase::after_member;
  return {};
}

result<void> parallel_gzip_source::impl::after_member() {
  chunk_ptr keep;
  OCIPIPE_ASSIGN_OR_RETURN(auto in, bytes_at(pos, keep));
  if (in.empty()) {
    ph = phase::done;
    return {};
  }
  if (in[0] != std::byte{0}) {
    // Another member (pigz, cat a.gz b.gz).
    header = deflate::gzip_header_parser{};
    ph = phase::header;
    return {};
  }
  // Zero bytes after the last member (tape-style padding) end the stream,
  // as gzip(1) takes them; anything else after them is garbage.
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto z, bytes_at(pos, keep));
    if (z.empty()) break;
    for (std::size_t i = 0; i < z.size(); ++i)
      if (z[i] != std::byte{0})
        return fail(errc::malformed, "gzip: garbage after member " + std::to_string(members) +
                                         " (a non-zero byte in what began as zero padding)" + at_byte(pos + i));
    pos += z.size();
  }
  ph = phase::done;
  return {};
}

}  // namespace ocipipe::pipeline
