// The gzip source over ISA-L's igzip inflate (stages/gzip_source.h).
#include "stages/gzip_source.h"

#if OCIPIPE_HAVE_ISAL

#include <isa-l/igzip_lib.h>

#include <vector>

#include "stages/deflate_scan.h"

namespace ocipipe::detail {
namespace {

// igzip's stateful inflate of each member's deflate data; ISA-L checks the
// CRC32 and ISIZE trailer (crc_flag = ISAL_GZIP_NO_HDR_VER).
class isal_gzip_source final : public byte_source {
 public:
  isal_gzip_source(byte_source& up, decompress_limits lim) : up_(up), lim_(lim), out_(out_chunk) {
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP_NO_HDR_VER;
  }

  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return hand_over(next(), out_, buf); }

  result<byte_view> next() override {
    if (done_) return byte_view{};
    state_.next_out = reinterpret_cast<std::uint8_t*>(out_.data());
    state_.avail_out = static_cast<std::uint32_t>(out_.size());
    // The bytes that end a member wait for its trailer: handed out first, a
    // consumer would take a damaged member's end for damage of its own. (A
    // full buffer still goes: the member has more bytes after it.)
    while (state_.avail_out == out_.size() || (trailer_pending() && state_.avail_out > 0)) {
      if (state_.block_state == ISAL_BLOCK_FINISH) {
        // A member ended. More input means another member (pigz, mgzip).
        if (state_.avail_in == 0) {
          OCIPIPE_TRY(refill());
          if (state_.avail_in == 0) {
            done_ = true;
            return byte_view{};
          }
        }
        // Zero bytes after the last member (tape-style padding) end the
        // stream, as gzip(1) takes them; anything else must be a member.
        if (*state_.next_in == 0) {
          OCIPIPE_TRY(skip_zero_padding());
          done_ = true;
          return byte_view{};
        }
        const auto* in = state_.next_in;
        const auto avail = state_.avail_in;
        isal_inflate_reset(&state_);
        state_.crc_flag = ISAL_GZIP_NO_HDR_VER;
        state_.next_in = const_cast<std::uint8_t*>(in);
        state_.avail_in = avail;
        state_.next_out = reinterpret_cast<std::uint8_t*>(out_.data());
        state_.avail_out = static_cast<std::uint32_t>(out_.size());
        ++members_;
        header_ = deflate::gzip_header_parser();
        header_done_ = false;
      }
      if (state_.avail_in == 0) {
        OCIPIPE_TRY(refill());
        if (state_.avail_in == 0)
          return fail(errc::malformed, truncated_message(members_) + at());
      }
      if (!header_done_) {
        OCIPIPE_TRY(read_header());
        if (state_.avail_in == 0) continue;  // the header took all the input there was
      }
      const int rc = isal_inflate(&state_);
      if (rc != ISAL_DECOMP_OK) return fail(errc::malformed, gzip_error(rc, members_) + at());
    }
    const std::size_t n = out_.size() - state_.avail_out;
    OCIPIPE_TRY(count_output(total_, n, lim_));
    if (n == 0) done_ = true;
    return byte_view(out_.data(), n);
  }

 private:
  // Reads to the end of the stream, which must hold only zero bytes.
  result<void> skip_zero_padding() {
    for (;;) {
      for (std::uint32_t i = 0; i < state_.avail_in; ++i)
        if (state_.next_in[i] != 0)
          return fail(errc::malformed, "gzip: garbage after member " + std::to_string(members_ + 1) +
                                           " (a non-zero byte in what began as zero padding)" +
                                           blob_offset(in_total_ - state_.avail_in + i));
      state_.avail_in = 0;
      OCIPIPE_TRY(refill());
      if (state_.avail_in == 0) return {};
    }
  }

  result<void> refill() {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
    state_.next_in = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(chunk.data()));
    state_.avail_in = static_cast<std::uint32_t>(chunk.size());
    in_total_ += chunk.size();
    return {};
  }

  // Consumes the current member's header from the input (in as many chunks
  // as it spans) and refuses a bad one with the messages of
  // parallel_gzip_source.
  result<void> read_header() {
    std::size_t used = 0;
    const auto st = header_.feed(byte_view(reinterpret_cast<const std::byte*>(state_.next_in), state_.avail_in), used);
    state_.next_in += used;
    state_.avail_in -= static_cast<std::uint32_t>(used);
    if (st == deflate::gzip_header_parser::state::done) header_done_ = true;
    if (st != deflate::gzip_header_parser::state::bad) return {};
    return fail(errc::malformed, bad_header_message(members_, header_.what()) + at());
  }

  // Where in the blob decoding stopped: the bytes the inflater consumed.
  // In the member's last block, or past it, with its CRC32 and ISIZE not yet
  // read (an end-of-block code alone may be all the last input byte holds).
  bool trailer_pending() const {
    return state_.block_state == ISAL_BLOCK_INPUT_DONE || state_.block_state == ISAL_CHECKSUM_CHECK ||
           (state_.bfinal && state_.block_state != ISAL_BLOCK_FINISH);
  }

  std::string at() const { return blob_offset(in_total_ - state_.avail_in); }

  static std::string gzip_error(int rc, unsigned members_done) {
    switch (rc) {
      case ISAL_INVALID_BLOCK: return "gzip: invalid deflate block";
      case ISAL_INVALID_SYMBOL: return "gzip: invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK: return "gzip: invalid lookback distance";
      case ISAL_INVALID_WRAPPER:
        // A bad first header means the blob is not gzip at all (buglog B42).
        if (members_done == 0)
          return "gzip: blob is not a gzip stream (bad header) but its media type says gzip";
        return "gzip: bad header of member " + std::to_string(members_done + 1) +
               " (trailing garbage?)";
      case ISAL_UNSUPPORTED_METHOD: return "gzip: unsupported compression method";
      case ISAL_INCORRECT_CHECKSUM: return "gzip: CRC32 or size trailer mismatch";
      default: return "gzip: inflate failed (" + std::to_string(rc) + ")";
    }
  }

  byte_source& up_;
  decompress_limits lim_;
  inflate_state state_{};
  std::vector<std::byte> out_;
  std::uint64_t total_ = 0;
  std::uint64_t in_total_ = 0;  // compressed bytes taken from upstream
  unsigned members_ = 0;
  bool done_ = false;
  deflate::gzip_header_parser header_;  // the current member's header
  bool header_done_ = false;
};

}  // namespace

std::unique_ptr<byte_source> make_isal_gzip_source(byte_source& up, decompress_limits lim) {
  return std::make_unique<isal_gzip_source>(up, lim);
}

}  // namespace ocipipe::detail

#endif  // OCIPIPE_HAVE_ISAL
