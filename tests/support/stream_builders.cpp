#include "tests/support/stream_builders.h"

#if OCIPIPE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#include <zlib.h>
#include <sys/resource.h>
#include <zstd.h>

#include <fstream>
#include <span>
#include <stdexcept>
#include <vector>

#include "tests/support/image_builder.h"

namespace ocipipe::testing {

// ---- hand-made tar blocks ----

std::string pad512(std::string s) {
  s.resize((s.size() + 511) / 512 * 512, '\0');
  return s;
}

void put_octal(std::string& h, std::size_t off, std::size_t len, std::uint64_t v) {
  std::string digits(len - 1, '0');
  for (std::size_t i = len - 1; i-- > 0; v /= 8) digits[i] = static_cast<char>('0' + v % 8);
  std::memcpy(h.data() + off, digits.data(), len - 1);
  h[off + len - 1] = '\0';
}

void put_base256(std::string& h, std::size_t off, std::size_t len, std::uint64_t v) {
  for (std::size_t i = len; i-- > 1; v >>= 8) h[off + i] = static_cast<char>(v & 0xff);
  h[off] = static_cast<char>(0x80);
}

std::string tar_header(const header_spec& s) {
  std::string h(512, '\0');
  std::memcpy(h.data(), s.name.data(), std::min<std::size_t>(s.name.size(), 100));
  put_octal(h, 100, 8, s.type == '5' ? 0755 : 0644);
  put_octal(h, 108, 8, 0);
  put_octal(h, 116, 8, 0);
  switch (s.encoding) {
    case size_encoding::octal: put_octal(h, 124, 12, s.size); break;
    case size_encoding::base256: put_base256(h, 124, 12, s.size); break;
    case size_encoding::zero: put_octal(h, 124, 12, 0); break;
  }
  put_octal(h, 136, 12, default_mtime);
  h[156] = s.type;
  std::memcpy(h.data() + 257, s.gnu ? "ustar  \0" : "ustar\0" "00", 8);
  fix_tar_checksum(h, 0);
  return h;
}

std::string pax_record(const std::string& key, const std::string& value) {
  const auto rest = " " + key + "=" + value + "\n";
  auto len = rest.size() + 1;
  while (std::to_string(len).size() + rest.size() != len) ++len;
  return std::to_string(len) + rest;
}

std::string pax_header(const std::string& for_name, const std::string& records) {
  return tar_header({"PaxHeaders/" + for_name, records.size(), 'x'}) + pad512(records);
}

std::string tar_file(const std::string& name, const std::string& data, bool gnu) {
  return tar_header({name, data.size(), '0', gnu}) + pad512(data);
}

std::string end_of_archive(std::size_t written) {
  std::size_t total = written + 1024;
  total = (total + 10239) / 10240 * 10240;
  return std::string(total - written, '\0');
}

std::string finish_tar(std::string tar) { return tar + end_of_archive(tar.size()); }

// ---- layer streams ----

void layer_stream_writer::bytes(std::string_view b) {
  digest_.update(std::as_bytes(std::span(b.data(), b.size())));
  tar_bytes_ += b.size();
  compress(b, false);
}

void layer_stream_writer::zeros(std::uint64_t n) {
  static const std::string zero_mib(1 << 20, '\0');
  for (std::uint64_t left = n; left > 0;) {
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(left, zero_mib.size()));
    bytes(std::string_view(zero_mib.data(), k));
    left -= k;
  }
}

void layer_stream_writer::end_archive() {
  const std::uint64_t total = (tar_bytes_ + 1024 + 10239) / 10240 * 10240;
  zeros(total - tar_bytes_);
}

layer_stream_writer::result layer_stream_writer::finish() {
  compress({}, true);
  return {std::move(blob_), digest_.finish(), tar_bytes_};
}

struct zstd_writer::impl {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<char> out = std::vector<char>(ZSTD_CStreamOutSize());
  ~impl() { ZSTD_freeCCtx(cctx); }
};

zstd_writer::zstd_writer() : impl_(std::make_unique<impl>()) {
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, 1);
}

zstd_writer::~zstd_writer() = default;

void zstd_writer::compress(std::string_view in, bool last) {
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  for (;;) {
    ZSTD_outBuffer output{impl_->out.data(), impl_->out.size(), 0};
    const std::size_t left = ZSTD_compressStream2(impl_->cctx, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(left));
    blob_.append(impl_->out.data(), output.pos);
    if (last ? left == 0 : input.pos == input.size) break;
  }
}

#if OCIPIPE_HAVE_ISAL
struct fast_gzip_writer::impl {
  isal_zstream s{};
  std::vector<std::uint8_t> level_buf = std::vector<std::uint8_t>(ISAL_DEF_LVL1_DEFAULT);
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(1 << 20);
};

fast_gzip_writer::fast_gzip_writer() : impl_(std::make_unique<impl>()) {
  auto& s = impl_->s;
  isal_deflate_init(&s);
  s.level = 1;
  s.level_buf = impl_->level_buf.data();
  s.level_buf_size = static_cast<std::uint32_t>(impl_->level_buf.size());
  s.gzip_flag = IGZIP_GZIP;
}

fast_gzip_writer::~fast_gzip_writer() = default;

void fast_gzip_writer::compress(std::string_view in, bool last) {
  auto& s = impl_->s;
  auto& out = impl_->out;
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<std::uint32_t>(in.size());
  s.end_of_stream = last ? 1 : 0;
  s.flush = NO_FLUSH;
  do {
    s.next_out = out.data();
    s.avail_out = static_cast<std::uint32_t>(out.size());
    if (isal_deflate(&s) != COMP_OK) throw std::runtime_error("isal_deflate failed");
    blob_.append(reinterpret_cast<const char*>(out.data()), out.size() - s.avail_out);
  } while (s.avail_in > 0 || s.avail_out == 0 || (last && s.internal_state.state != ZSTATE_END));
}

#else
struct fast_gzip_writer::impl {
  z_stream z{};
  std::vector<char> out = std::vector<char>(1 << 20);
  ~impl() { deflateEnd(&z); }
};

fast_gzip_writer::fast_gzip_writer() : impl_(std::make_unique<impl>()) {
  // 15 + 16: a gzip wrapper around the deflate stream. Level 4, not 1: zlib's
  // level 1 packs runs of zeros 4.5 times less tightly (bombs must stay small)
  // and, on them, runs 2.5 times slower.
  if (deflateInit2(&impl_->z, 4, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
}

fast_gzip_writer::~fast_gzip_writer() = default;

void fast_gzip_writer::compress(std::string_view in, bool last) {
  auto& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  do {
    z.next_out = reinterpret_cast<Bytef*>(impl_->out.data());
    z.avail_out = static_cast<uInt>(impl_->out.size());
    rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) throw std::runtime_error("deflate failed");
    blob_.append(impl_->out.data(), impl_->out.size() - z.avail_out);
  } while (z.avail_in > 0 || z.avail_out == 0 || (last && rc != Z_STREAM_END));
}

#endif

std::string zlib_gzip(std::string_view bytes, int level, int strategy) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, strategy) != Z_OK) throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

std::string fast_gzip(const std::string& bytes) {
  fast_gzip_writer w;
  w.bytes(bytes);
  return w.finish().blob;
}

// ---- memory ----

namespace {

long status_kib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return 0;
}

long maxrss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

rss_watch::rss_watch() {
  {
    std::ofstream cr("/proc/self/clear_refs");
    cr << "5";
    cr.flush();
    reset_ = cr.good();
  }
  start_rss_ = status_kib("VmRSS:");
  start_maxrss_ = maxrss_kib();
}

long rss_watch::growth_kib() const {
  if (reset_) return status_kib("VmHWM:") - start_rss_;
  return maxrss_kib() - start_maxrss_;
}

std::string rss_watch::describe() const {
  return "peak growth " + std::to_string(growth_kib() / 1024) + " MiB (VmHWM " +
         std::to_string(status_kib("VmHWM:") / 1024) + " MiB, start VmRSS " + std::to_string(start_rss_ / 1024) +
         " MiB, maxrss " + std::to_string(maxrss_kib() / 1024) + " MiB, was " + std::to_string(start_maxrss_ / 1024) +
         " MiB, peak reset " + (reset_ ? "yes" : "no") + ")";
}

}  // namespace ocipipe::testing
