// pigz-style chunked deflate over ISA-L (levels 1-3) and zlib (levels 4-9,
// and 1-3 in a build without ISA-L); gzip_chunk.h says why each.
#include "stages/gzip_chunk.h"

#if OCIPIPE_HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace ocipipe {

namespace {

// Levels below this use ISA-L, the rest zlib.
constexpr int first_zlib_level = OCIPIPE_HAVE_ISAL ? 4 : gzip_min_level;

// Output room for one chunk: deflate's worst case is stored blocks (5 bytes
// per 64 KiB block) plus block headers and the flush marker; both engines
// are also called again with more room if ever short.
std::size_t first_guess(std::size_t n) { return n + n / 64 + 1024; }

}  // namespace

struct chunk_deflater::impl {
  int level = 0;
  bool isal = false;
  z_stream z{};
  bool z_ready = false;
#if OCIPIPE_HAVE_ISAL
  isal_zstream iz{};
  std::vector<std::uint8_t> level_buf;  // ISA-L's per-level work area
#endif
  ~impl() {
    if (z_ready) deflateEnd(&z);
  }
  result<void> zlib_deflate(byte_view dict, byte_view input, bool last, std::vector<std::byte>& out);
#if OCIPIPE_HAVE_ISAL
  result<void> isal_deflate(byte_view dict, byte_view input, bool last, std::vector<std::byte>& out);
#endif
};

chunk_deflater::chunk_deflater(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
chunk_deflater::chunk_deflater(chunk_deflater&&) noexcept = default;
chunk_deflater& chunk_deflater::operator=(chunk_deflater&&) noexcept = default;
chunk_deflater::~chunk_deflater() = default;

result<chunk_deflater> chunk_deflater::create(int level) {
  if (level < gzip_min_level || level > gzip_max_level)
    return fail(errc::invalid_argument, "gzip level " + std::to_string(level) + ": not in " +
                                            std::to_string(gzip_min_level) + "-" +
                                            std::to_string(gzip_max_level));
  auto p = std::make_unique<impl>();
  p->level = level;
#if OCIPIPE_HAVE_ISAL
  if (level < first_zlib_level) {
    p->isal = true;
    // The LARGE work area (64 Ki tokens) is ISA-L's default size per level.
    static constexpr std::size_t buf_bytes[] = {0, ISAL_DEF_LVL1_LARGE, ISAL_DEF_LVL2_LARGE,
                                                ISAL_DEF_LVL3_LARGE};
    p->level_buf.resize(buf_bytes[level]);
    isal_deflate_init(&p->iz);
    return chunk_deflater(std::move(p));
  }
#endif
  // Raw deflate (negative window bits): the gzip framing is ours, written
  // once for the whole member. memLevel 8 is zlib's default.
  const int rc = deflateInit2(&p->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK)
    return fail(rc == Z_MEM_ERROR ? errc::resource_exhausted : errc::internal,
                "zlib deflateInit2: error " + std::to_string(rc));
  p->z_ready = true;
  return chunk_deflater(std::move(p));
}

result<void> chunk_deflater::deflate(byte_view dict, byte_view input, bool last,
                                     std::vector<std::byte>& out) {
  if (dict.size() > deflate_window_bytes) dict = dict.last(deflate_window_bytes);
#if OCIPIPE_HAVE_ISAL
  if (impl_->isal) return impl_->isal_deflate(dict, input, last, out);
#endif
  return impl_->zlib_deflate(dict, input, last, out);
}

#if OCIPIPE_HAVE_ISAL
result<void> chunk_deflater::impl::isal_deflate(byte_view dict, byte_view input, bool last,
                                                std::vector<std::byte>& out) {
  // ISA-L counts in uint32_t; pipeline chunks are a few MiB at most.
  if (input.size() > (std::size_t{1} << 31))
    return fail(errc::internal, "igzip: chunk of " + std::to_string(input.size()) + " bytes too large");
  isal_deflate_reset(&iz);
  iz.level = static_cast<std::uint32_t>(level);
  iz.level_buf = level_buf.data();
  iz.level_buf_size = static_cast<std::uint32_t>(level_buf.size());
  iz.gzip_flag = IGZIP_DEFLATE;  // raw deflate: the gzip framing is ours
  iz.hist_bits = 0;              // the full 32 KiB window
  iz.flush = SYNC_FLUSH;
  iz.end_of_stream = last ? 1 : 0;
  if (!dict.empty()) {
    const int rc = isal_deflate_set_dict(&iz, reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(dict.data())),
                                         static_cast<std::uint32_t>(dict.size()));
    if (rc != COMP_OK) return fail(errc::internal, "igzip set_dict: error " + std::to_string(rc));
  }
  iz.next_in = reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(input.data()));
  iz.avail_in = static_cast<std::uint32_t>(input.size());
  out.resize(first_guess(input.size()));
  std::size_t produced = 0;
  for (;;) {
    iz.next_out = reinterpret_cast<std::uint8_t*>(out.data() + produced);
    iz.avail_out = static_cast<std::uint32_t>(out.size() - produced);
    const std::uint32_t room = iz.avail_out;
    const int rc = ::isal_deflate(&iz);
    if (rc != COMP_OK) return fail(errc::internal, "igzip deflate: error " + std::to_string(rc));
    produced += room - iz.avail_out;
    // It returns early only when the output is full; room left means the
    // input is in and flushed (and, when last, the final block written).
    if (iz.avail_out != 0 && iz.avail_in == 0 &&
        (!last || iz.internal_state.state == ZSTATE_END))
      break;
    out.resize(out.size() + out.size() / 2 + 1024);
  }
  out.resize(produced);
  return {};
}
#endif

result<void> chunk_deflater::impl::zlib_deflate(byte_view dict, byte_view input, bool last,
                                                std::vector<std::byte>& out) {
  if (int rc = deflateReset(&z); rc != Z_OK)
    return fail(errc::internal, "zlib deflateReset: error " + std::to_string(rc));
  if (!dict.empty()) {
    const int rc = deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()),
                                        static_cast<uInt>(dict.size()));
    if (rc != Z_OK)
      return fail(errc::internal, "zlib deflateSetDictionary: error " + std::to_string(rc));
  }
  out.resize(deflateBound(&z, static_cast<uLong>(input.size())) + 16);
  std::size_t produced = 0;
  std::size_t consumed = 0;
  const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
  for (;;) {
    // zlib counts in uInt: feed at most 1 GiB per call.
    const std::size_t in_now = std::min<std::size_t>(input.size() - consumed, 1u << 30);
    const bool all_in = consumed + in_now == input.size();
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data() + consumed));
    z.avail_in = static_cast<uInt>(in_now);
    const std::size_t room = std::min<std::size_t>(out.size() - produced, 1u << 30);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(room);
    const int rc = ::deflate(&z, all_in ? flush : Z_NO_FLUSH);
    consumed += in_now - z.avail_in;
    produced += room - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return fail(errc::internal, "zlib deflate: error " + std::to_string(rc));
    // zlib: a flush is complete when it returns with output room left.
    if (!last && consumed == input.size() && z.avail_out != 0) break;
    if (z.avail_out == 0) out.resize(out.size() + out.size() / 2 + 64);
  }
  out.resize(produced);
  return {};
}

std::uint32_t crc32_update(std::uint32_t crc, byte_view bytes) noexcept {
  // ISA-L's folding CRC (PCLMULQDQ) is several times faster than zlib's
  // table-driven one; both compute the same gzip CRC-32.
  while (!bytes.empty()) {
    const std::size_t n = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
#if OCIPIPE_HAVE_ISAL
    crc = ::crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(bytes.data()), n);
#else
    crc = static_cast<std::uint32_t>(::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n)));
#endif
    bytes = bytes.subspan(n);
  }
  return crc;
}

std::uint32_t crc32_concat(std::uint32_t crc_a, std::uint32_t crc_b,
                           std::uint64_t length_b) noexcept {
  // crc32_combine64 takes z_off64_t; lengths past 2^63 are not a concern.
  return static_cast<std::uint32_t>(
      ::crc32_combine64(crc_a, crc_b, static_cast<z_off64_t>(length_b)));
}

std::array<std::byte, 10> gzip_header(int level) noexcept {
  const std::byte xfl = level >= gzip_max_level ? std::byte{2}
                        : level <= gzip_min_level ? std::byte{4}
                                                  : std::byte{0};
  return {std::byte{0x1f}, std::byte{0x8b}, std::byte{8}, std::byte{0},  // magic, CM, FLG
          std::byte{0},    std::byte{0},    std::byte{0}, std::byte{0},  // MTIME 0
          xfl,             std::byte{3}};                                // XFL, OS
}

std::array<std::byte, 8> gzip_trailer(std::uint32_t crc, std::uint64_t input_bytes) noexcept {
  const auto isize = static_cast<std::uint32_t>(input_bytes & 0xffffffffu);
  std::array<std::byte, 8> t{};
  for (int i = 0; i < 4; ++i) {
    t[static_cast<std::size_t>(i)] = static_cast<std::byte>((crc >> (8 * i)) & 0xff);
    t[static_cast<std::size_t>(4 + i)] = static_cast<std::byte>((isize >> (8 * i)) & 0xff);
  }
  return t;
}

}  // namespace ocipipe
