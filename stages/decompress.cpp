#include "stages/decompress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <array>
#include <vector>

#include "stages/deflate_scan.h"

namespace ocipipe {
namespace {

// " at compressed byte N": where a broken stream stopped decoding, so a
// damaged blob can be looked at (issue 4: "fail with the layer and offset").
std::string blob_offset(std::uint64_t n) { return " at compressed byte " + std::to_string(n); }

// Adds `n` uncompressed bytes to `total` and refuses a stream past the limit
// (a decompression bomb, moby CVE-2017-14992), naming the limit.
result<void> count_output(std::uint64_t& total, std::size_t n, const decompress_limits& lim) {
  total += n;
  if (total > lim.max_output_bytes)
    return fail(errc::resource_exhausted, "uncompressed layer exceeds " + std::to_string(lim.max_output_bytes) +
                                              " bytes" + limit_name(lim.max_output_name));
  return {};
}

constexpr std::size_t out_chunk = 1 << 20;

// Plain tar. A blob that starts with gzip or zstd magic is compressed although
// its media type says it is not (buglog B42): say so, rather than let the tar
// parser report a bare "unrecognized format".
class passthrough_source final : public byte_source {
 public:
  passthrough_source(byte_source& up, decompress_limits lim) : up_(up), lim_(lim) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
    if (!sniffed_) OCIPIPE_TRY(sniff(chunk));
    OCIPIPE_TRY(count_output(total_, chunk.size(), lim_));
    return chunk;
  }

 private:
  result<void> sniff(byte_view chunk) {
    for (std::size_t i = 0; i < chunk.size() && head_n_ < head_.size(); ++i)
      head_[head_n_++] = static_cast<unsigned char>(chunk[i]);
    if (head_n_ < head_.size() && !chunk.empty()) return {};
    sniffed_ = true;
    if (head_n_ >= 2 && head_[0] == 0x1f && head_[1] == 0x8b)
      return fail(errc::malformed,
                  "gzip: blob is gzip-compressed but its media type says uncompressed tar");
    if (head_n_ == 4 && head_[0] == 0x28 && head_[1] == 0xb5 && head_[2] == 0x2f && head_[3] == 0xfd)
      return fail(errc::malformed,
                  "zstd: blob is zstd-compressed but its media type says uncompressed tar");
    return {};
  }

  byte_source& up_;
  decompress_limits lim_;
  std::uint64_t total_ = 0;
  std::array<unsigned char, 4> head_{};
  std::size_t head_n_ = 0;
  bool sniffed_ = false;
};

// igzip's stateful inflate of each member's deflate data; ISA-L checks the
// CRC32 and ISIZE trailer (crc_flag = ISAL_GZIP_NO_HDR_VER). The member
// headers are read by deflate::gzip_header_parser, not by ISA-L: ISA-L's
// header parsing depends on where the input's chunks end (a header split
// across chunks had its FHCRC go unchecked, or was misread so that valid
// data failed as "invalid lookback"; found by tests/fuzz/decompress_fuzz.cpp),
// and the parser reads it the same whatever the chunking, as
// parallel_gzip_source does.
class gzip_source final : public byte_source {
 public:
  gzip_source(byte_source& up, decompress_limits lim) : up_(up), lim_(lim), out_(out_chunk) {
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP_NO_HDR_VER;
  }

  result<byte_view> next() override {
    if (done_) return byte_view{};
    state_.next_out = reinterpret_cast<std::uint8_t*>(out_.data());
    state_.avail_out = static_cast<std::uint32_t>(out_.size());
    while (state_.avail_out == out_.size()) {
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
          return fail(errc::malformed, "gzip: truncated stream (ended inside member " +
                                           std::to_string(members_ + 1) + ")" + at());
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
    if (members_ == 0)
      return fail(errc::malformed, std::string("gzip: blob is not a gzip stream (bad header: ") + header_.what() +
                                       ") but its media type says gzip" + at());
    return fail(errc::malformed, "gzip: bad header of member " + std::to_string(members_ + 1) +
                                     " (trailing garbage?): " + header_.what() + at());
  }

  // Where in the blob decoding stopped: the bytes the inflater consumed.
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

class zstd_source final : public byte_source {
 public:
  zstd_source(byte_source& up, decompress_limits lim)
      : up_(up), lim_(lim), ds_(ZSTD_createDStream()), out_(ZSTD_DStreamOutSize()) {
    ZSTD_initDStream(ds_);
  }
  ~zstd_source() override { ZSTD_freeDStream(ds_); }

  result<byte_view> next() override {
    if (done_) return byte_view{};
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    while (out.pos == 0) {
      if (in_.pos == in_.size) {
        OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
        if (chunk.empty()) {
          if (last_ != 0 || !any_input_)
            return fail(errc::malformed, std::string(any_input_ ? "zstd: truncated frame" : "zstd: empty stream") +
                                             blob_offset(in_total_));
          done_ = true;
          return byte_view{};
        }
        any_input_ = true;
        in_ = ZSTD_inBuffer{chunk.data(), chunk.size(), 0};
        in_total_ += chunk.size();
      }
      last_ = ZSTD_decompressStream(ds_, &out, &in_);
      if (ZSTD_isError(last_))
        return fail(errc::malformed, std::string("zstd: ") + ZSTD_getErrorName(last_) +
                                         blob_offset(in_total_ - (in_.size - in_.pos)));
    }
    OCIPIPE_TRY(count_output(total_, out.pos, lim_));
    return byte_view(out_.data(), out.pos);
  }

 private:
  byte_source& up_;
  decompress_limits lim_;
  ZSTD_DStream* ds_;
  std::vector<std::byte> out_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  std::uint64_t in_total_ = 0;  // compressed bytes taken from upstream
  std::size_t last_ = 0;
  std::uint64_t total_ = 0;
  bool any_input_ = false;
  bool done_ = false;
};

}  // namespace

result<std::unique_ptr<byte_source>> make_decompressor(byte_source& upstream,
                                                       media_type::layer_compression compression,
                                                       decompress_limits limits) {
  using media_type::layer_compression;
  switch (compression) {
    case layer_compression::none:
      return std::make_unique<passthrough_source>(upstream, limits);
    case layer_compression::gzip:
      return std::make_unique<gzip_source>(upstream, limits);
    case layer_compression::zstd:
      return std::make_unique<zstd_source>(upstream, limits);
    case layer_compression::unknown:
      break;
  }
  return fail(errc::unsupported, "layer media type has no known compression");
}

media_type::layer_compression sniff_compression(byte_view head) noexcept {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 2 && at(0) == 0x1f && at(1) == 0x8b) return media_type::layer_compression::gzip;
  if (head.size() >= 4 && at(0) == 0x28 && at(1) == 0xb5 && at(2) == 0x2f && at(3) == 0xfd)
    return media_type::layer_compression::zstd;
  static constexpr char ustar[] = {'u', 's', 't', 'a', 'r'};
  if (head.size() >= 262) {
    bool tar = true;
    for (std::size_t i = 0; i < 5; ++i) tar = tar && at(257 + i) == static_cast<unsigned char>(ustar[i]);
    if (tar) return media_type::layer_compression::none;
  }
  return media_type::layer_compression::unknown;
}

}  // namespace ocipipe
