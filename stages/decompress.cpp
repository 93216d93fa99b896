#include "stages/decompress.h"

#include <zstd.h>

#include <array>
#include <vector>

#include "stages/gzip_source.h"

namespace ocipipe {
namespace {

using detail::blob_offset;
using detail::count_output;


// Plain tar. A blob that starts with gzip or zstd magic is compressed although
// its media type says it is not (buglog B42): say so, rather than let the tar
// parser report a bare "unrecognized format".
class passthrough_source final : public byte_source {
 public:
  passthrough_source(byte_source& up, decompress_limits lim) : up_(up), lim_(lim) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
    OCIPIPE_TRY(check(chunk));
    return chunk;
  }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override {
    OCIPIPE_ASSIGN_OR_RETURN(const auto n, up_.next_into(buf));
    OCIPIPE_TRY(check(byte_view(buf.data(), n)));
    return n;
  }

 private:
  result<void> check(byte_view chunk) {
    if (!sniffed_) OCIPIPE_TRY(sniff(chunk));
    return count_output(total_, chunk.size(), lim_);
  }
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

class zstd_source final : public byte_source {
 public:
  zstd_source(byte_source& up, decompress_limits lim)
      : up_(up), lim_(lim), ds_(ZSTD_createDStream()), out_(ZSTD_DStreamOutSize()) {
    ZSTD_initDStream(ds_);
  }
  ~zstd_source() override { ZSTD_freeDStream(ds_); }

  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return hand_over(next(), out_, buf); }

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

gzip_inflater default_gzip_inflater() noexcept {
  return OCIPIPE_HAVE_ISAL ? gzip_inflater::isal : gzip_inflater::zlib;
}

std::string_view gzip_inflater_name(gzip_inflater inflater) noexcept {
  return inflater == gzip_inflater::isal ? "isa-l" : "zlib";
}

bool have_gzip_inflater(gzip_inflater inflater) noexcept {
  return inflater == gzip_inflater::zlib || OCIPIPE_HAVE_ISAL;
}

result<std::unique_ptr<byte_source>> make_gzip_decompressor(byte_source& upstream, gzip_inflater inflater,
                                                             decompress_limits limits) {
#if OCIPIPE_HAVE_ISAL
  if (inflater == gzip_inflater::isal) return detail::make_isal_gzip_source(upstream, limits);
#else
  if (inflater == gzip_inflater::isal)
    return fail(errc::unsupported, "gzip: this ocipipe was built without ISA-L (OCIPIPE_WITH_ISAL)");
#endif
  return detail::make_zlib_gzip_source(upstream, limits);
}

result<std::unique_ptr<byte_source>> make_decompressor(byte_source& upstream,
                                                       media_type::layer_compression compression,
                                                       decompress_limits limits) {
  using media_type::layer_compression;
  switch (compression) {
    case layer_compression::none:
      return std::make_unique<passthrough_source>(upstream, limits);
    case layer_compression::gzip:
      return make_gzip_decompressor(upstream, default_gzip_inflater(), limits);
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
