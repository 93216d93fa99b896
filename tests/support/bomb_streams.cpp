#include "tests/support/bomb_streams.h"

#include <isa-l/crc.h>
#if OCIPIPE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "stages/digester.h"
#include "tests/support/stream_builders.h"

namespace ocipipe::testing {

namespace {

constexpr std::size_t kWriteBuffer = 1 << 20;

// Writes a blob file through a buffer, digesting it on the way: the bombs are written in
// pieces of a few bytes (a zstd block header), too small to write or digest one by one.
class blob_writer {
 public:
  explicit blob_writer(const std::string& path) : out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write \"" + path + "\"");
    buf_.reserve(kWriteBuffer);
  }
  void write(std::string_view b) {
    buf_.append(b);
    if (buf_.size() >= kWriteBuffer) flush();
  }
  blob_file finish() {
    flush();
    out_.close();
    if (!out_) throw std::runtime_error("writing a bomb blob failed");
    return {digest_.finish(), size_};
  }

 private:
  void flush() {
    digest_.update(std::as_bytes(std::span(buf_.data(), buf_.size())));
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    size_ += static_cast<std::int64_t>(buf_.size());
    buf_.clear();
  }

  std::ofstream out_;
  std::string buf_;
  digester digest_;
  std::int64_t size_ = 0;
};

std::string little_endian(std::uint64_t v, std::size_t bytes) {
  std::string s(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

// ---- zstd (RFC 8878) ----

constexpr std::uint64_t kZstdMaxBlock = 128 << 10;  // Block_Maximum_Size with our window

// Magic_Number, then a Frame_Header_Descriptor of all zeros: no Frame_Content_Size (the
// decoder cannot know the size up front and must stop on its own limit), not single
// segment (so a Window_Descriptor follows), no checksum, no dictionary. Window_Descriptor
// exponent 7, mantissa 0: Window_Size 2^(10+7) = 128 KiB, all a decoder needs for RLE blocks.
std::string zstd_frame_header() { return std::string("\x28\xb5\x2f\xfd", 4) + '\x00' + '\x38'; }

enum class zstd_block_type : std::uint32_t { raw = 0, rle = 1 };

// Block_Header: Last_Block (bit 0), Block_Type (bits 1-2), Block_Size (bits 3-23), 3 bytes
// little-endian. For an RLE block, Block_Size is the number of times its one byte repeats.
std::string zstd_block_header(bool last, zstd_block_type type, std::uint64_t size) {
  return little_endian((last ? 1u : 0u) | (static_cast<std::uint32_t>(type) << 1) | (size << 3), 3);
}

// ---- gzip (RFC 1952) over deflate (RFC 1951) ----

constexpr std::size_t kZeroChunk = 16 << 20;  // deflates to ~16 KB: near deflate's 1030:1

// ID1 ID2, CM deflate, no flags, MTIME 0, XFL 0, OS unknown.
std::string gzip_header() { return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10); }

// A final fixed-Huffman block holding only end-of-block (bits 1, 01, then 7 zero bits),
// starting on a byte boundary as it does after a full flush.
std::string deflate_final_empty_block() { return std::string("\x03\x00", 2); }

#if OCIPIPE_HAVE_ISAL
// ISA-L deflate whose every call ends on a full flush: the output is byte-aligned (an empty
// stored block closes it) and refers to nothing before it, so it can be repeated at will.
class flushed_deflate {
 public:
  flushed_deflate() : s_(std::make_unique<isal_zstream>()), level_buf_(ISAL_DEF_LVL1_DEFAULT) {
    isal_deflate_init(s_.get());
    s_->level = 1;
    s_->level_buf = level_buf_.data();
    s_->level_buf_size = static_cast<std::uint32_t>(level_buf_.size());
    s_->gzip_flag = IGZIP_DEFLATE;
  }
  std::string chunk(std::string_view in) {
    std::vector<std::uint8_t> out(in.size() + (64 << 10));
    std::string chunk;
    s_->next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    s_->avail_in = static_cast<std::uint32_t>(in.size());
    s_->flush = FULL_FLUSH;
    s_->end_of_stream = 0;
    do {
      s_->next_out = out.data();
      s_->avail_out = static_cast<std::uint32_t>(out.size());
      if (isal_deflate(s_.get()) != COMP_OK) throw std::runtime_error("isal_deflate failed");
      chunk.append(reinterpret_cast<const char*>(out.data()), out.size() - s_->avail_out);
    } while (s_->avail_in > 0 || s_->avail_out == 0);
    return chunk;
  }

 private:
  std::unique_ptr<isal_zstream> s_;
  std::vector<std::uint8_t> level_buf_;
};

#else
// zlib deflate (raw, level 1) whose every call ends on a full flush, as above.
class flushed_deflate {
 public:
  flushed_deflate() : z_(std::make_unique<z_stream>()) {
    if (deflateInit2(z_.get(), 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
  }
  ~flushed_deflate() { deflateEnd(z_.get()); }
  flushed_deflate(const flushed_deflate&) = delete;
  flushed_deflate& operator=(const flushed_deflate&) = delete;
  std::string chunk(std::string_view in) {
    std::vector<char> out(in.size() + (64 << 10));
    std::string chunk;
    z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_->avail_in = static_cast<uInt>(in.size());
    do {
      z_->next_out = reinterpret_cast<Bytef*>(out.data());
      z_->avail_out = static_cast<uInt>(out.size());
      if (deflate(z_.get(), Z_FULL_FLUSH) == Z_STREAM_ERROR) throw std::runtime_error("deflate failed");
      chunk.append(out.data(), out.size() - z_->avail_out);
    } while (z_->avail_in > 0 || z_->avail_out == 0);
    return chunk;
  }

 private:
  std::unique_ptr<z_stream> z_;
};

#endif

// CRC-32 arithmetic modulo the gzip polynomial, as zlib's crc32_combine does it, to extend a
// CRC by gigabytes of zeros without reading them. Reflected: bit 31 is x^0.
constexpr std::uint32_t kCrcPoly = 0xedb88320u;

std::uint32_t crc_multiply(std::uint32_t a, std::uint32_t b) {
  std::uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kCrcPoly : b >> 1;
  }
  return p;
}

// The CRC-32 of (what gave `crc`) followed by `n` zero bytes. A zero byte multiplies the
// CRC register (the CRC with its final inversion undone) by x^8.
std::uint32_t crc_append_zeros(std::uint32_t crc, std::uint64_t n) {
  std::uint32_t power = 1u << 31;  // x^0
  for (std::uint32_t square = 1u << 23; n > 0; n >>= 1, square = crc_multiply(square, square))  // x^8
    if (n & 1) power = crc_multiply(square, power);
  return ~crc_multiply(power, ~crc);
}

const std::string& zero_chunk_input() {
  static const std::string zeros(kZeroChunk, '\0');
  return zeros;
}

}  // namespace

zero_tar zero_file_tar(const std::string& name, std::uint64_t size) {
  zero_tar t;
  t.head = pax_header(name, pax_record("size", std::to_string(size))) +
           tar_header({name, size, '0', false, size_encoding::zero});
  const std::uint64_t data = size + padding_of(size);
  t.zeros = data + end_of_archive(t.head.size() + data).size();
  return t;
}

blob_file write_zstd_bomb(const std::string& path, const zero_tar& tar) {
  if (tar.head.size() > kZstdMaxBlock) throw std::runtime_error("zstd bomb: head over one block");
  blob_writer out(path);
  out.write(zstd_frame_header());
  if (!tar.head.empty()) {
    out.write(zstd_block_header(tar.zeros == 0, zstd_block_type::raw, tar.head.size()));
    out.write(tar.head);
  }
  for (std::uint64_t left = tar.zeros; left > 0;) {
    const std::uint64_t n = std::min(left, kZstdMaxBlock);
    left -= n;
    out.write(zstd_block_header(left == 0, zstd_block_type::rle, n));
    out.write(std::string_view("\0", 1));
  }
  return out.finish();
}

blob_file write_gzip_bomb(const std::string& path, const zero_tar& tar) {
  flushed_deflate deflate;
  blob_writer out(path);
  out.write(gzip_header());
  if (!tar.head.empty()) out.write(deflate.chunk(tar.head));
  const std::string zero_chunk = deflate.chunk(zero_chunk_input());
  for (std::uint64_t i = 0; i < tar.zeros / kZeroChunk; ++i) out.write(zero_chunk);
  if (const std::size_t rest = tar.zeros % kZeroChunk; rest > 0)
    out.write(deflate.chunk(std::string_view(zero_chunk_input().data(), rest)));
  out.write(deflate_final_empty_block());

  const auto* head = reinterpret_cast<const unsigned char*>(tar.head.data());
  const std::uint32_t crc = crc_append_zeros(static_cast<std::uint32_t>(crc32(0, head, static_cast<uInt>(tar.head.size()))), tar.zeros);
  out.write(little_endian(crc, 4));
  out.write(little_endian(tar.size() & 0xffffffffu, 4));  // ISIZE: the size modulo 2^32
  return out.finish();
}

digest diff_id_of(const zero_tar& tar) {
  digester d;
  d.update(std::as_bytes(std::span(tar.head.data(), tar.head.size())));
  const std::string& zeros = zero_chunk_input();
  for (std::uint64_t left = tar.zeros; left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, zeros.size()));
    d.update(std::as_bytes(std::span(zeros.data(), n)));
    left -= n;
  }
  return d.finish();
}

}  // namespace ocipipe::testing
