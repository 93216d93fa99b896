// The gzip source over zlib's raw inflate (stages/gzip_source.h): the
// inflater of builds without ISA-L, and compared with ISA-L's in every build
// that has both (tests/unit/decompress_test.cpp). zlib inflates the deflate
// data only (negative window bits); this source checks each member's CRC32
// and ISIZE trailer itself, as ISA-L's does for the other.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <vector>

#include "stages/deflate_scan.h"
#include "stages/gzip_source.h"

namespace ocipipe::detail {
namespace {

class zlib_gzip_source final : public byte_source {
 public:
  zlib_gzip_source(byte_source& up, decompress_limits lim) : up_(up), lim_(lim), out_(out_chunk) {
    // Raw deflate with the full 32 KiB window; the framing is ours.
    ready_ = inflateInit2(&z_, -15) == Z_OK;
  }
  ~zlib_gzip_source() override {
    if (ready_) inflateEnd(&z_);
  }
  zlib_gzip_source(const zlib_gzip_source&) = delete;
  zlib_gzip_source& operator=(const zlib_gzip_source&) = delete;

  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return hand_over(next(), out_, buf); }

  result<byte_view> next() override {
    if (!ready_) return fail(errc::resource_exhausted, "zlib inflateInit2: out of memory");
    std::size_t produced = 0;
    // The bytes that end a member wait for its trailer: handed out first, a
    // consumer would take a damaged member's end for damage of its own.
    while ((produced == 0 || phase_ == phase::trailer || (in_last_block() && produced < out_.size())) &&
           phase_ != phase::done) {
      switch (phase_) {
        case phase::between: OCIPIPE_TRY(start_member()); break;
        case phase::header: OCIPIPE_TRY(read_header()); break;
        case phase::body: OCIPIPE_TRY(inflate_some(produced)); break;
        case phase::trailer: OCIPIPE_TRY(read_trailer()); break;
        case phase::done: break;
      }
    }
    OCIPIPE_TRY(count_output(total_, produced, lim_));
    return byte_view(out_.data(), produced);
  }

 private:
  enum class phase { between, header, body, trailer, done };

  // Takes the next chunk from upstream; false at the end of the blob.
  result<bool> refill() {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
    in_ = chunk;
    in_total_ += chunk.size();
    return !chunk.empty();
  }

  // After a member (or before the first): another member, zero padding to
  // the end, or the end.
  result<void> start_member() {
    if (in_.empty()) {
      OCIPIPE_ASSIGN_OR_RETURN(const bool more, refill());
      if (!more) {
        if (members_ == 0) return fail(errc::malformed, truncated_message(0) + at());
        phase_ = phase::done;
        return {};
      }
    }
    if (members_ > 0 && in_[0] == std::byte{0}) return skip_zero_padding();
    if (int rc = inflateReset(&z_); rc != Z_OK)
      return fail(errc::internal, "zlib inflateReset: error " + std::to_string(rc));
    header_ = deflate::gzip_header_parser();
    crc_ = crc32(0, nullptr, 0);
    isize_ = 0;
    trailer_n_ = 0;
    phase_ = phase::header;
    return {};
  }

  result<void> skip_zero_padding() {
    for (;;) {
      for (std::size_t i = 0; i < in_.size(); ++i)
        if (in_[i] != std::byte{0})
          return fail(errc::malformed, "gzip: garbage after member " + std::to_string(members_) +
                                           " (a non-zero byte in what began as zero padding)" +
                                           blob_offset(in_total_ - in_.size() + i));
      in_ = {};
      OCIPIPE_ASSIGN_OR_RETURN(const bool more, refill());
      if (!more) {
        phase_ = phase::done;
        return {};
      }
    }
  }

  // zlib's data_type has 64 while it decodes the deflate stream's last block.
  [[nodiscard]] bool in_last_block() const { return phase_ == phase::body && (z_.data_type & 64) != 0; }

  result<void> need_input() {
    if (!in_.empty()) return {};
    OCIPIPE_ASSIGN_OR_RETURN(const bool more, refill());
    if (!more) return fail(errc::malformed, truncated_message(members_) + at());
    return {};
  }

  result<void> read_header() {
    OCIPIPE_TRY(need_input());
    std::size_t used = 0;
    const auto st = header_.feed(in_, used);
    in_ = in_.subspan(used);
    if (st == deflate::gzip_header_parser::state::bad)
      return fail(errc::malformed, bad_header_message(members_, header_.what()) + at());
    if (st == deflate::gzip_header_parser::state::done) phase_ = phase::body;
    return {};
  }

  result<void> inflate_some(std::size_t& produced) {
    OCIPIPE_TRY(need_input());
    // zlib counts in uInt: at most 1 GiB of input per call.
    const std::size_t in_now = std::min<std::size_t>(in_.size(), 1u << 30);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in_.data()));
    z_.avail_in = static_cast<uInt>(in_now);
    z_.next_out = reinterpret_cast<Bytef*>(out_.data() + produced);
    z_.avail_out = static_cast<uInt>(out_.size() - produced);
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const std::size_t got = out_.size() - produced - z_.avail_out;
    const std::size_t used = in_now - z_.avail_in;
    in_ = in_.subspan(used);
    crc_ = crc32(crc_, reinterpret_cast<const Bytef*>(out_.data() + produced), static_cast<uInt>(got));
    isize_ += static_cast<std::uint32_t>(got);  // ISIZE is the length modulo 2^32
    produced += got;
    switch (rc) {
      case Z_OK:
        return {};
      case Z_BUF_ERROR:
        // No progress: all input used (need_input takes more next time).
        if (used == 0 && got == 0 && !in_.empty()) return fail(errc::internal, "zlib inflate made no progress" + at());
        return {};
      case Z_STREAM_END:
        phase_ = phase::trailer;
        return {};
      case Z_MEM_ERROR:
        return fail(errc::resource_exhausted, "zlib inflate: out of memory");
      default:
        // Z_DATA_ERROR: zlib says what is wrong with the deflate data.
        return fail(errc::malformed, std::string("gzip: invalid deflate data (") + (z_.msg ? z_.msg : "error") +
                                         ")" + at());
    }
  }

  // CRC32 and ISIZE, little-endian, in as many chunks as they span.
  result<void> read_trailer() {
    while (trailer_n_ < trailer_.size()) {
      OCIPIPE_TRY(need_input());
      const std::size_t n = std::min(in_.size(), trailer_.size() - trailer_n_);
      std::copy_n(in_.begin(), n, trailer_.begin() + static_cast<std::ptrdiff_t>(trailer_n_));
      trailer_n_ += n;
      in_ = in_.subspan(n);
    }
    const auto le32 = [&](std::size_t at) {
      std::uint32_t v = 0;
      for (std::size_t i = 0; i < 4; ++i) v |= std::to_integer<std::uint32_t>(trailer_[at + i]) << (8 * i);
      return v;
    };
    if (le32(0) != static_cast<std::uint32_t>(crc_) || le32(4) != isize_)
      return fail(errc::malformed, "gzip: CRC32 or size trailer mismatch" + at());
    ++members_;
    phase_ = phase::between;
    return {};
  }

  // Where in the blob decoding stopped: the bytes taken from upstream and used.
  std::string at() const { return blob_offset(in_total_ - in_.size()); }

  byte_source& up_;
  decompress_limits lim_;
  z_stream z_{};
  bool ready_ = false;
  std::vector<std::byte> out_;
  byte_view in_;                // input taken from upstream, not yet used
  std::uint64_t in_total_ = 0;  // compressed bytes taken from upstream
  std::uint64_t total_ = 0;
  phase phase_ = phase::between;
  unsigned members_ = 0;        // members read whole
  deflate::gzip_header_parser header_;
  uLong crc_ = 0;
  std::uint32_t isize_ = 0;
  std::array<std::byte, 8> trailer_{};
  std::size_t trailer_n_ = 0;
};

}  // namespace

std::unique_ptr<byte_source> make_zlib_gzip_source(byte_source& up, decompress_limits lim) {
  return std::make_unique<zlib_gzip_source>(up, lim);
}

}  // namespace ocipipe::detail
