#include "io/resumable_download.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

namespace ocipipe::io {
namespace {

void backoff(double base_seconds, int k) {
  double s = base_seconds;
  for (int i = 0; i < k && s < 30; ++i) s *= 2;
  if (s > 30) s = 30;
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

/// Checks a 206's Content-Range "bytes FIRST-LAST/TOTAL" (TOTAL may be "*")
/// against the bytes asked for. RFC 7233 §4.2.
result<void> check_content_range(std::string_view value, std::uint64_t from, std::uint64_t size,
                                 const std::string& what) {
  auto bad = [&](const std::string& why) {
    return fail(errc::malformed, what + ": Content-Range " + quote(value) + ": " + why);
  };
  std::string_view v = value;
  if (v.substr(0, 6) != "bytes ") return bad("not a byte range");
  v.remove_prefix(6);
  const auto dash = v.find('-');
  const auto slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
    return bad("not FIRST-LAST/TOTAL");
  const auto first = to_u64(v.substr(0, dash));
  const auto last = to_u64(v.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return bad("not FIRST-LAST/TOTAL");
  if (*first != from) return bad("starts at " + std::to_string(*first) + ", asked for " + std::to_string(from));
  const auto total_text = v.substr(slash + 1);
  if (total_text != "*") {
    const auto total = to_u64(total_text);
    if (!total) return bad("bad total");
    if (*total != size)
      return fail(errc::size_mismatch, what + ": blob has " + std::to_string(*total) +
                                           " bytes, descriptor size says " + std::to_string(size));
  }
  if (*last >= size)
    return fail(errc::size_mismatch, what + ": range ends at byte " + std::to_string(*last) +
                                         ", past descriptor size " + std::to_string(size));
  return {};
}

class resumable_source final : public byte_source {
 public:
  resumable_source(ranged_opener open_at, std::uint64_t size, std::uint64_t offset, int attempts,
                   double retry_base_seconds, std::string what)
      : open_at_(std::move(open_at)),
        size_(size),
        pos_(offset),
        attempts_(attempts < 1 ? 1 : attempts),
        base_(retry_base_seconds),
        what_(std::move(what)) {}

  /// Opens the first stream, so that a missing blob or a refusal shows at
  /// open time rather than on the first read.
  result<void> start() {
    if (pos_ == size_ && size_ > 0) {
      done_ = true;  // nothing left; a Range past the end would be a 416
      return {};
    }
    return reopen();
  }

  result<byte_view> next() override {
    if (done_) return byte_view{};
    int breaks = 0;  // consecutive failures without a byte in between
    for (;;) {
      if (!stream_) {
        if (auto r = reopen(); !r) return tl::unexpected(std::move(r).error());
      }
      auto chunk = stream_->next();
      if (!chunk) {
        if (chunk.error().code() != errc::unavailable) return tl::unexpected(std::move(chunk).error());
        stream_.reset();
        if (pos_ == size_) {
          // Every byte arrived; only the connection's end went wrong.
          done_ = true;
          return byte_view{};
        }
        if (++breaks >= attempts_)
          return fail(errc::unavailable, what_ + ": connection broken at byte " + std::to_string(pos_) + " of " +
                                             std::to_string(size_) + " after " + std::to_string(attempts_) +
                                             " attempts: " + chunk.error().message());
        backoff(base_, breaks - 1);
        continue;
      }
      byte_view bytes = *chunk;
      if (bytes.empty()) {
        stream_.reset();
        if (pos_ != size_)
          return fail(errc::size_mismatch, what_ + ": blob ended after " + std::to_string(pos_) +
                                               " bytes, descriptor size says " + std::to_string(size_));
        done_ = true;
        return byte_view{};
      }
      if (skip_ > 0) {
        // A 200 answered a Range request: the body starts at byte 0.
        const auto n = std::min<std::uint64_t>(skip_, bytes.size());
        skip_ -= n;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        if (bytes.empty()) continue;
      }
      if (bytes.size() > size_ - pos_)
        return fail(errc::size_mismatch,
                    what_ + ": blob is larger than descriptor size " + std::to_string(size_) + " bytes");
      pos_ += bytes.size();
      return bytes;
    }
  }

 private:
  result<void> reopen() {
    for (int k = 0;; ++k) {
      auto s = open_at_(pos_);
      if (s) {
        OCIPIPE_TRY(accept(std::move(*s)));
        return {};
      }
      if (s.error().code() != errc::unavailable || k + 1 >= attempts_) return tl::unexpected(std::move(s).error());
      backoff(base_, k);
    }
  }

  result<void> accept(std::unique_ptr<http_stream> s) {
    const long st = s->status();
    const auto len = s->content_length();
    if (st == 206) {
      OCIPIPE_TRY(check_content_range(header_value(s->headers(), "content-range"), pos_, size_, what_));
      if (len && *len > size_ - pos_)
        return fail(errc::size_mismatch, what_ + ": blob is larger than descriptor size " + std::to_string(size_) +
                                             " bytes");
      skip_ = 0;
    } else if (st == 200) {
      if (len && *len != size_)
        return fail(errc::size_mismatch, what_ + ": blob has " + std::to_string(*len) +
                                             " bytes, descriptor size says " + std::to_string(size_));
      skip_ = pos_;
    } else {
      return fail(errc::malformed, what_ + ": GET " + quote(s->url()) + ": unexpected status " + std::to_string(st));
    }
    stream_ = std::move(s);
    return {};
  }

  ranged_opener open_at_;
  std::uint64_t size_;
  std::uint64_t pos_;  ///< absolute offset of the next byte handed out
  int attempts_;
  double base_;
  std::string what_;
  std::unique_ptr<http_stream> stream_;
  std::uint64_t skip_ = 0;  ///< bytes of the current body before pos_
  bool done_ = false;
};

}  // namespace

result<std::unique_ptr<byte_source>> open_resumable(ranged_opener open_at, std::uint64_t size, std::uint64_t offset,
                                                    int attempts, double retry_base_seconds, std::string what) {
  if (offset > size)
    return fail(errc::invalid_argument, what + ": offset " + std::to_string(offset) + " is past its size " +
                                            std::to_string(size));
  auto src = std::make_unique<resumable_source>(std::move(open_at), size, offset, attempts, retry_base_seconds,
                                                std::move(what));
  OCIPIPE_TRY(src->start());
  return std::unique_ptr<byte_source>(std::move(src));
}

}  // namespace ocipipe::io
