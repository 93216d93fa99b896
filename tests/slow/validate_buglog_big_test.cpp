// ocipipe::validate() on the buglog cases that need big streams (shared/cases/buglog.md):
// B24 and B25 (tar entries of 8 GiB and more) and B43 (a gzip bomb of 2 GiB of zeros). The
// layers are streamed here, never held: the tar is made of header blocks written by hand and
// runs of zeros fed from one 1 MiB buffer, compressed as it is made (zstd for the tar cases,
// ISA-L's gzip for the bomb) and digested on the way, so only the compressed blob (a few MiB)
// is kept. The small cases of the same classes are in tests/unit/validate_buglog_test.cpp.
//
// Label `slow`: about 40 GiB of tar are digested twice (here for the diff_id, then by
// validate); a minute or two on 2 cores.

#include <isa-l/igzip_lib.h>
#include <sys/resource.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::uint64_t eight_gib = std::uint64_t{1} << 33;
constexpr long rss_bound_kib = 200 * 1024;

// ---- hand-made tar headers ----

void put_octal(std::string& h, std::size_t off, std::size_t len, std::uint64_t v) {
  std::string digits(len - 1, '0');
  for (std::size_t i = len - 1; i-- > 0; v /= 8) digits[i] = static_cast<char>('0' + v % 8);
  std::memcpy(h.data() + off, digits.data(), len - 1);
  h[off + len - 1] = '\0';
}

// GNU base-256: 0x80, then the value big-endian in the field's other bytes.
void put_base256(std::string& h, std::size_t off, std::size_t len, std::uint64_t v) {
  for (std::size_t i = len; i-- > 1; v >>= 8) h[off + i] = static_cast<char>(v & 0xff);
  h[off] = static_cast<char>(0x80);
}

enum class size_encoding { octal, base256, zero };

std::string tar_header(const std::string& name, std::uint64_t size, char type = '0', bool gnu = false,
                       size_encoding encoding = size_encoding::octal) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  put_octal(h, 100, 8, 0644);
  put_octal(h, 108, 8, 0);
  put_octal(h, 116, 8, 0);
  switch (encoding) {
    case size_encoding::octal: put_octal(h, 124, 12, size); break;
    case size_encoding::base256: put_base256(h, 124, 12, size); break;
    case size_encoding::zero: put_octal(h, 124, 12, 0); break;
  }
  put_octal(h, 136, 12, default_mtime);
  h[156] = type;
  std::memcpy(h.data() + 257, gnu ? "ustar  \0" : "ustar\0" "00", 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(h[i]);
  put_octal(h, 148, 7, sum);
  h[155] = ' ';
  return h;
}

std::string pad512(std::string s) {
  s.resize((s.size() + 511) / 512 * 512, '\0');
  return s;
}

std::string pax_header(const std::string& for_name, const std::string& key, const std::string& value) {
  const auto rest = " " + key + "=" + value + "\n";
  auto len = rest.size() + 1;
  while (std::to_string(len).size() + rest.size() != len) ++len;
  const std::string record = std::to_string(len) + rest;
  return tar_header("PaxHeaders/" + for_name, record.size(), 'x') + pad512(record);
}

std::uint64_t padding_of(std::uint64_t n) { return (512 - n % 512) % 512; }

// ---- streaming a layer ----

// Compresses a tar as it is produced, digesting the tar (the diff_id) on the way.
class layer_stream_writer {
 public:
  virtual ~layer_stream_writer() = default;
  void bytes(std::string_view b) {
    digest_.update(std::as_bytes(std::span(b.data(), b.size())));
    tar_bytes_ += b.size();
    compress(b, false);
  }
  void zeros(std::uint64_t n) {
    static const std::string zero_mib(1 << 20, '\0');
    for (std::uint64_t left = n; left > 0;) {
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(left, zero_mib.size()));
      bytes(std::string_view(zero_mib.data(), k));
      left -= k;
    }
  }
  // The end-of-archive marker and zeros to the 10240-byte record, then the last block.
  void end_archive() {
    const std::uint64_t total = (tar_bytes_ + 1024 + 10239) / 10240 * 10240;
    zeros(total - tar_bytes_);
  }
  struct result {
    std::string blob;
    digest diff_id;
    std::uint64_t tar_bytes = 0;
  };
  result finish() {
    compress({}, true);
    return {std::move(blob_), digest_.finish(), tar_bytes_};
  }

 protected:
  virtual void compress(std::string_view in, bool last) = 0;
  std::string blob_;

 private:
  digester digest_;
  std::uint64_t tar_bytes_ = 0;
};

class zstd_writer final : public layer_stream_writer {
 public:
  zstd_writer() : cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, 1);
  }
  ~zstd_writer() override { ZSTD_freeCCtx(cctx_); }

 private:
  void compress(std::string_view in, bool last) override {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer output{out_.data(), out_.size(), 0};
      const std::size_t left = ZSTD_compressStream2(cctx_, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(left));
      blob_.append(out_.data(), output.pos);
      if (last ? left == 0 : input.pos == input.size) break;
    }
  }
  ZSTD_CCtx* cctx_;
  std::vector<char> out_;
};

class isal_gzip_writer final : public layer_stream_writer {
 public:
  isal_gzip_writer() : level_buf_(ISAL_DEF_LVL1_DEFAULT), out_(1 << 20) {
    isal_deflate_init(&s_);
    s_.level = 1;
    s_.level_buf = level_buf_.data();
    s_.level_buf_size = static_cast<std::uint32_t>(level_buf_.size());
    s_.gzip_flag = IGZIP_GZIP;
  }

 private:
  void compress(std::string_view in, bool last) override {
    s_.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    s_.avail_in = static_cast<std::uint32_t>(in.size());
    s_.end_of_stream = last ? 1 : 0;
    s_.flush = NO_FLUSH;
    do {
      s_.next_out = out_.data();
      s_.avail_out = static_cast<std::uint32_t>(out_.size());
      if (isal_deflate(&s_) != COMP_OK) throw std::runtime_error("isal_deflate failed");
      blob_.append(reinterpret_cast<const char*>(out_.data()), out_.size() - s_.avail_out);
    } while (s_.avail_in > 0 || s_.avail_out == 0 || (last && s_.internal_state.state != ZSTATE_END));
  }
  isal_zstream s_{};
  std::vector<std::uint8_t> level_buf_;
  std::vector<std::uint8_t> out_;
};

// An image whose layer 0 is the streamed layer (`media_type`) and whose layer 1 holds
// hardlinks to `linked` names: layer.tar.hardlink proves those were read in layer 0.
built_image image_with(const temp_dir& tmp, const layer_stream_writer::result& big, std::string_view media_type,
                       const std::vector<std::string>& linked) {
  layer_spec links;
  for (std::size_t i = 0; i < linked.size(); ++i)
    links.entries.push_back(hardlink("seen-" + std::to_string(i), linked[i]));
  layer_spec placeholder;
  placeholder.entries = {file("placeholder")};
  auto img = build_layout(tmp.sub("layout"), "t", {placeholder, links});
  const auto d = write_blob(img, big.blob);
  edit_config(img, [&](ordered_json& c) { c["rootfs"]["diff_ids"][0] = big.diff_id.str(); });
  edit_manifest(img, [&](ordered_json& m) {
    m["layers"][0] = ordered_json{
        {"mediaType", media_type}, {"digest", d.str()}, {"size", static_cast<std::int64_t>(big.blob.size())}};
  });
  img.layers[0].digest = d;
  img.layers[0].size = static_cast<std::int64_t>(big.blob.size());
  img.layers[0].diff_id = big.diff_id;
  img.layers[0].tar.clear();
  return img;
}

// ---- memory ----

// Peak resident memory during a scope over the resident size at its start (VmHWM after a
// reset through /proc/self/clear_refs; getrusage's maxrss where the reset is refused).
class rss_watch {
 public:
  rss_watch() {
    {
      std::ofstream cr("/proc/self/clear_refs");
      cr << "5";
      cr.flush();
      reset_ = cr.good();
    }
    start_rss_ = status_kib("VmRSS:");
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    start_maxrss_ = ru.ru_maxrss;
  }
  [[nodiscard]] long growth_kib() const {
    if (reset_) return status_kib("VmHWM:") - start_rss_;
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss - start_maxrss_;
  }
  [[nodiscard]] std::string describe() const {
    return "peak growth " + std::to_string(growth_kib() / 1024) + " MiB (start VmRSS " +
           std::to_string(start_rss_ / 1024) + " MiB, peak reset " + (reset_ ? "yes" : "no") + ")";
  }

 private:
  static long status_kib(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
    return 0;
  }
  bool reset_ = false;
  long start_rss_ = 0;
  long start_maxrss_ = 0;
};

image_validation validate_big(const built_image& img, rss_watch& rss) {
  validate_options opts;
  opts.jobs = 2;
  auto out = validate({img.ref()}, opts);
  EXPECT_EQ(out.size(), 1u);
  std::cout << "validate: " << (out.empty() ? 0 : out[0].tar_bytes >> 20) << " MiB of tar, "
            << (out.empty() ? 0.0 : out[0].seconds) << " s, " << rss.describe() << "\n";
  return out.empty() ? image_validation{} : out.front();
}

void expect_valid_and_whole(const built_image& img, const layer_stream_writer::result& big) {
  rss_watch rss;
  const auto v = validate_big(img, rss);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  // Every byte of the big tar was digested (the diff_id matched, so they were the right ones).
  EXPECT_EQ(v.tar_bytes, big.tar_bytes + img.layers[1].tar.size());
  EXPECT_LT(rss.growth_kib(), rss_bound_kib) << rss.describe();
}

// =====================================================================================

// B24: big0 of 8 GiB - 1 bytes (the largest 11-digit octal size) and big1 of exactly 8 GiB
// with its size in a PAX `size` record (ustar field 0, as GNU tar writes it), then
// after.txt. Valid; the entries after both big ones are read (a later layer's hardlinks to
// big1 and after.txt find them), and the diff_id over all 16 GiB matches.
TEST(ValidateBuglogBig, EightGiBFileWithPaxSizeRecordIsValid) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(tar_header("big0", eight_gib - 1));
  w.zeros(eight_gib - 1 + padding_of(eight_gib - 1));
  w.bytes(pax_header("big1", "size", std::to_string(eight_gib)));
  w.bytes(tar_header("big1", eight_gib, '0', false, size_encoding::zero));
  w.zeros(eight_gib);
  w.bytes(tar_header("after.txt", 6) + pad512("after\n"));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big0", "big1", "after.txt"});
  expect_valid_and_whole(img, big);
}

// B24, the same archive re-encoded with a GNU base-256 size field for big1 (GNU format).
TEST(ValidateBuglogBig, EightGiBFileWithBase256SizeFieldIsValid) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(tar_header("big0", eight_gib - 1, '0', true));
  w.zeros(eight_gib - 1 + padding_of(eight_gib - 1));
  w.bytes(tar_header("big1", eight_gib, '0', true, size_encoding::base256));
  w.zeros(eight_gib);
  w.bytes(tar_header("after.txt", 6, '0', true) + pad512("after\n"));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big0", "big1", "after.txt"});
  expect_valid_and_whole(img, big);
}

// B25: an `x` header with size=8589934593, then big's ustar header with size field 0, then
// 8 GiB + 1 bytes and padding, then after.txt. The PAX size wins: valid, after.txt read.
TEST(ValidateBuglogBig, PaxSizeOverEightGiBOverridesUstarZero) {
  temp_dir tmp;
  zstd_writer w;
  w.bytes(pax_header("big", "size", std::to_string(eight_gib + 1)));
  w.bytes(tar_header("big", 0, '0', false, size_encoding::zero));
  w.zeros(eight_gib + 1 + padding_of(eight_gib + 1));
  w.bytes(tar_header("after.txt", 6) + pad512("after\n"));
  w.end_archive();
  const auto big = w.finish();
  const auto img = image_with(tmp, big, media_type::layer_tar_zstd, {"big", "after.txt"});
  expect_valid_and_whole(img, big);
}

// B43: a gzip bomb, one file entry of 2 GiB of zeros compressed to about 2 MiB, correctly
// described. validate has no limit on decompressed bytes (the decompressor's default cap is
// 1 TiB): it reads the whole stream, finds the image valid, and its memory does not grow
// with the stream.
TEST(ValidateBuglogBig, GzipBombOfTwoGiBIsReadInBoundedMemory) {
  temp_dir tmp;
  isal_gzip_writer w;
  constexpr std::uint64_t size = std::uint64_t{2} << 30;
  w.bytes(tar_header("zeros", size));
  w.zeros(size + padding_of(size));
  w.end_archive();
  const auto big = w.finish();
  std::cout << "bomb: " << (big.tar_bytes >> 20) << " MiB of tar in " << (big.blob.size() >> 10)
            << " KiB of gzip\n";
  ASSERT_LT(big.blob.size(), std::size_t{8} << 20);
  const auto img = image_with(tmp, big, media_type::layer_tar_gzip, {"zeros"});
  expect_valid_and_whole(img, big);
}

}  // namespace
}  // namespace ocipipe::testing
