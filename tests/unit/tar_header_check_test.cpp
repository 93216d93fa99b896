// The raw tar header checker (stages/tar_header_check): well-formed archives
// from libarchive's writers pass at every chunking; hand-patched faults
// (buglog B25, B26, B29; bad checksums; a missing or padded end-of-archive
// marker) are found with the right rule, severity and offset.

#include "stages/tar_header_check.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/image_builder.h"
#include "tests/support/stream_builders.h"

namespace ocipipe {
namespace {

using testing::fix_tar_checksum;
using testing::pad512;
using testing::pax_record;
using testing::put_octal;
using testing::tar_header;

// ---- building tar bytes ----

struct member {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  std::string link;       // symlink target
  std::string hardlink;   // hardlink target
};

la_ssize_t append_cb(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A tar made by libarchive. bytes_per_block 0: the stream ends right after the
// two zero blocks; 10240: padded to tar's default record size.
std::string write_tar(int (*set_format)(archive*), const std::vector<member>& members,
                      int bytes_per_block = 0) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  EXPECT_EQ(set_format(a.get()), ARCHIVE_OK);
  EXPECT_EQ(archive_write_add_filter_none(a.get()), ARCHIVE_OK);
  EXPECT_EQ(archive_write_set_bytes_per_block(a.get(), bytes_per_block), ARCHIVE_OK);
  std::string out;
  EXPECT_EQ(archive_write_open(a.get(), &out, nullptr, append_cb, nullptr), ARCHIVE_OK);
  for (const auto& m : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                                archive_entry_free);
    archive_entry_copy_pathname(e.get(), m.name.c_str());
    archive_entry_set_filetype(e.get(), m.type);
    archive_entry_set_perm(e.get(), m.type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e.get(), 1700000000, 0);
    if (!m.link.empty()) archive_entry_copy_symlink(e.get(), m.link.c_str());
    if (!m.hardlink.empty()) archive_entry_copy_hardlink(e.get(), m.hardlink.c_str());
    archive_entry_set_size(e.get(), m.type == AE_IFREG && m.hardlink.empty()
                                        ? static_cast<la_int64_t>(m.data.size())
                                        : 0);
    EXPECT_EQ(archive_write_header(a.get(), e.get()), ARCHIVE_OK) << m.name;
    if (m.type == AE_IFREG && m.hardlink.empty() && !m.data.empty()) {
      EXPECT_EQ(archive_write_data(a.get(), m.data.data(), m.data.size()),
                static_cast<la_ssize_t>(m.data.size()));
    }
  }
  EXPECT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
  return out;
}

std::string zeros(std::size_t n) { return std::string(n, '\0'); }
const std::string eoa = zeros(1024);

// A POSIX ustar header block (GNU magic when `gnu`): testing::tar_header's.
std::string header(const std::string& name, std::uint64_t size, char typeflag = '0',
                   bool gnu = false) {
  return tar_header({name, size, typeflag, gnu});
}

std::string pax_member(const std::string& body, char typeflag = 'x') {
  return header("PaxHeaders/x", body.size(), typeflag) + pad512(body);
}

// ---- running the checker ----

std::vector<tar_header_problem> run(const std::string& tar, std::size_t chunk,
                                    std::uint64_t* headers = nullptr) {
  tar_header_check check;
  const auto* p = reinterpret_cast<const std::byte*>(tar.data());
  for (std::size_t i = 0; i < tar.size(); i += chunk)
    check.feed({p + i, std::min(chunk, tar.size() - i)});
  check.feed({});
  auto out = check.finish();
  if (headers) *headers = check.headers();
  return out;
}

std::string describe(const std::vector<tar_header_problem>& ps) {
  std::string s;
  for (const auto& p : ps)
    s += p.rule + (p.error ? " error" : " warning") + " @" + std::to_string(p.offset) + " [" +
         p.entry + "] " + p.message + "\n";
  return s;
}

// Runs at chunkings whole, 1, 511, 513 and 4096 bytes; all must agree.
std::vector<tar_header_problem> check_all(const std::string& tar, std::uint64_t* headers = nullptr) {
  const auto whole = run(tar, std::max<std::size_t>(tar.size(), 1), headers);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{511}, std::size_t{513}, std::size_t{4096}}) {
    std::uint64_t h = 0;
    const auto got = run(tar, chunk, &h);
    EXPECT_EQ(describe(got), describe(whole)) << "chunk " << chunk;
    if (headers) {
      EXPECT_EQ(h, *headers) << "chunk " << chunk;
    }
  }
  return whole;
}

std::size_t count_rule(const std::vector<tar_header_problem>& ps, const std::string& rule) {
  std::size_t n = 0;
  for (const auto& p : ps) n += p.rule == rule;
  return n;
}

const std::vector<member> sample = {
    {"etc/", "", AE_IFDIR},
    {"etc/hostname", "box\n"},
    {"etc/empty", ""},
    {"etc/big", std::string(1000, 'b')},
    {"etc/link", "", AE_IFLNK, "hostname"},
    {"etc/hard", "", AE_IFREG, "", "etc/hostname"},
};

// ---- well-formed archives ----

TEST(TarHeaderCheckValid, UstarFromLibarchive) {
  const auto tar = write_tar(archive_write_set_format_ustar, sample);
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  EXPECT_TRUE(ps.empty()) << describe(ps);
  EXPECT_EQ(headers, sample.size());
}

TEST(TarHeaderCheckValid, PaxWithLongNames) {
  auto members = sample;
  const std::string deep = "d/" + std::string(150, 'n') + "/" + std::string(120, 'm');
  members.push_back({deep, "long\n"});
  members.push_back({"l2", "", AE_IFLNK, std::string(300, 't')});
  const auto tar = write_tar(archive_write_set_format_pax_restricted, members);
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  EXPECT_TRUE(ps.empty()) << describe(ps);
  EXPECT_GT(headers, members.size());  // the x headers count too
}

TEST(TarHeaderCheckValid, GnuLongName) {
  auto members = sample;
  members.push_back({std::string(180, 'g') + "/file", "gnu\n"});
  const auto tar = write_tar(archive_write_set_format_gnutar, members);
  ASSERT_NE(tar.find("././@LongLink"), std::string::npos);
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  EXPECT_TRUE(ps.empty()) << describe(ps);
  EXPECT_EQ(headers, members.size() + 1);  // + the L header
}

// Old GNU sparse (typeflag 'S'): the isextended byte at 482 announces extended
// sparse headers, each with its own flag at 504; then the stored data.
TEST(TarHeaderCheckValid, GnuSparseWithExtendedHeaders) {
  auto s = header("sparse.bin", 1536, 'S', true);
  put_octal(s, 386, 12, 0);          // sparse[0].offset
  put_octal(s, 398, 12, 512);        // sparse[0].numbytes
  s[482] = 1;                        // isextended
  put_octal(s, 483, 12, 10 << 20);   // realsize
  fix_tar_checksum(s, 0);
  std::string ext1(512, '\0');
  put_octal(ext1, 0, 12, 1 << 20);
  put_octal(ext1, 12, 12, 512);
  ext1[504] = 1;
  std::string ext2(512, '\0');
  put_octal(ext2, 0, 12, 2 << 20);
  put_octal(ext2, 12, 12, 512);
  // Data that would fail as a header if the extended headers were not skipped.
  const std::string data(1536, 'D');
  const auto tar = s + ext1 + ext2 + data + header("after.txt", 3) + pad512("abc") + eoa;
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  // Walked correctly: the only remark is that it is sparse (B28).
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.sparse");
  EXPECT_FALSE(ps[0].error);
  EXPECT_EQ(headers, 2u);
}

TEST(TarHeaderCheckValid, PaxSparseFromLibarchive) {
  // libarchive's pax writer stores sparse files as PAX 1.0 sparse: the size is
  // the stored size, nothing special to walk.
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  ASSERT_EQ(archive_write_set_format_pax_restricted(a.get()), ARCHIVE_OK);
  archive_write_set_bytes_per_block(a.get(), 0);
  std::string tar;
  ASSERT_EQ(archive_write_open(a.get(), &tar, nullptr, append_cb, nullptr), ARCHIVE_OK);
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
  archive_entry_copy_pathname(e.get(), "holes");
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), 1 << 20);
  archive_entry_sparse_add_entry(e.get(), 4096, 4);
  ASSERT_EQ(archive_write_header(a.get(), e.get()), ARCHIVE_OK);
  ASSERT_EQ(archive_write_data(a.get(), "data", 4), 4);
  ASSERT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.sparse");
  EXPECT_FALSE(ps[0].error);
}

TEST(TarHeaderCheckValid, ZeroPaddingToTenKiloBytes) {
  const auto tar = write_tar(archive_write_set_format_ustar, sample, 10240);
  ASSERT_EQ(tar.size() % 10240, 0u);
  const auto ps = check_all(tar + zeros(777));  // any length of zero padding
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

TEST(TarHeaderCheckValid, Base256SizeField) {
  auto big = header("b256", 0);
  std::memset(big.data() + 124, 0, 12);
  big[124] = static_cast<char>(0x80);
  big[134] = static_cast<char>(1000 >> 8);
  big[135] = static_cast<char>(1000 & 0xff);
  fix_tar_checksum(big, 0);
  const auto tar = big + pad512(std::string(1000, 'x')) + header("next", 2) + pad512("ok") + eoa;
  const auto ps = check_all(tar);
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

TEST(TarHeaderCheckValid, PaxSizeEqualToUstarSize) {
  const auto tar = pax_member(pax_record("size", "100")) + header("f", 100) +
                   pad512(std::string(100, 'f')) + eoa;
  const auto ps = check_all(tar);
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

TEST(TarHeaderCheckValid, SignedChecksumIsAccepted) {
  // Historic tars summed signed chars; GNU tar accepts both sums.
  auto h = header("caf\xe9\xe9", 0);
  std::memset(h.data() + 148, ' ', 8);
  int sum = 0;
  for (char c : h) sum += static_cast<signed char>(c);
  put_octal(h, 148, 7, static_cast<unsigned>(sum));
  h[155] = ' ';
  const auto ps = check_all(h + eoa);
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

// ---- header faults ----

TEST(TarHeaderCheckFault, BadChecksumStopsTheWalk) {
  auto tar = write_tar(archive_write_set_format_ustar, sample);
  // The second header is etc/hostname at 512; flip a byte of its mode.
  ASSERT_EQ(tar.substr(512, 12), "etc/hostname");
  tar[512 + 100] = '1';
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.checksum");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].offset, 512u);
  EXPECT_EQ(ps[0].entry, "etc/hostname");
  EXPECT_NE(ps[0].message.find("checksum"), std::string::npos);
}

TEST(TarHeaderCheckFault, NegativeBase256Size) {
  auto h = header("neg", 0);
  std::memset(h.data() + 124, 0xff, 12);
  fix_tar_checksum(h, 0);
  const auto ps = check_all(h + eoa);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_EQ(ps[0].entry, "neg");
  EXPECT_NE(ps[0].message.find("negative"), std::string::npos);
}

TEST(TarHeaderCheckFault, NonOctalSize) {
  auto h = header("bad", 0);
  std::memcpy(h.data() + 124, "00000000x12", 11);
  fix_tar_checksum(h, 0);
  const auto ps = check_all(h + eoa);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
}

TEST(TarHeaderCheckFault, SymlinkWithData) {
  // POSIX stores no data after a symlink; GNU tar would skip the size field's
  // bytes, Go and libarchive none: readers disagree.
  const auto tar = header("ln", 512, '2') + header("f", 0) + eoa;
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_EQ(ps[0].offset, 0u);
  EXPECT_NE(ps[0].message.find("symlink"), std::string::npos);
}

// ---- end of archive ----

TEST(TarHeaderCheckEoa, EmptyStreamIsAWarning) {
  const auto ps = check_all("");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].rule, "layer.tar.eoa");
  EXPECT_FALSE(ps[0].error);
}

TEST(TarHeaderCheckEoa, OnlyTheMarkerIsAnEmptyArchive) {
  EXPECT_TRUE(check_all(eoa).empty());
}

TEST(TarHeaderCheckEoa, MissingMarker) {
  auto tar = write_tar(archive_write_set_format_ustar, sample);
  tar.resize(tar.size() - 1024);
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.eoa");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].offset, tar.size());
  EXPECT_EQ(ps[0].entry, "etc/hard");
  EXPECT_NE(ps[0].message.find("end-of-archive marker missing"), std::string::npos);
}

TEST(TarHeaderCheckEoa, OneZeroBlockIsAWarning) {
  auto tar = write_tar(archive_write_set_format_ustar, sample);
  tar.resize(tar.size() - 512);
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.eoa");
  EXPECT_FALSE(ps[0].error);
  EXPECT_EQ(ps[0].offset, tar.size() - 512);
}

TEST(TarHeaderCheckEoa, GarbageAfterTheMarker) {
  auto tar = write_tar(archive_write_set_format_ustar, sample, 10240);
  const auto at = tar.size() + 3000;
  tar += zeros(3000) + "X" + zeros(100) + "more";
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.trailing_data");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].offset, at);
}

TEST(TarHeaderCheckEoa, GarbageRightAfterTheMarker) {
  const auto tar = header("f", 0) + eoa + "\x01";
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.trailing_data");
  EXPECT_EQ(ps[0].offset, 512u + 1024u);
}

TEST(TarHeaderCheckEoa, SingleZeroBlockThenAHeaderIsTrailingData) {
  // GNU tar (without --ignore-zeros) and libarchive stop at the first zero
  // block: a second archive appended after it is hidden from them.
  const auto tar = header("a", 0) + zeros(512) + header("hidden", 0) + eoa;
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.trailing_data");
  EXPECT_EQ(ps[0].offset, 1024u);
  EXPECT_NE(ps[0].message.find("single zero block"), std::string::npos);
}

TEST(TarHeaderCheckEoa, TruncatedMidData) {
  const auto tar = header("a", 0) + header("cut", 2000) + std::string(700, 'c');
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].offset, 512u);
  EXPECT_EQ(ps[0].entry, "cut");
  EXPECT_NE(ps[0].message.find("truncated"), std::string::npos);
}

TEST(TarHeaderCheckEoa, TruncatedMidHeader) {
  const auto tar = header("a", 0) + header("b", 0).substr(0, 300);
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_EQ(ps[0].offset, 512u);
}

TEST(TarHeaderCheckEoa, ExtensionHeaderBeforeTheMarker) {
  const auto tar = header("a", 0) + pax_member(pax_record("path", "dangling")) + eoa;
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_FALSE(ps[0].error);
  EXPECT_EQ(ps[0].offset, 512u);
}

// ---- PAX size against the ustar size (buglog B25, B26) ----

// B26 a: the PAX size 2048 governs file_a, whose ustar size is 0; its data
// holds a complete header and data for "smuggled", which a reader trusting the
// ustar field would list.
TEST(TarHeaderCheckPax, B26aUstarSizeZero) {
  auto smuggled = header("smuggled", 5) + pad512("evil\n");
  smuggled.resize(2048, '\0');
  const auto tar = pax_member(pax_record("size", "2048")) + header("file_a", 0) + smuggled +
                   header("file_b", 16) + pad512(std::string(16, 'b')) + eoa;
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.pax_size");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].offset, 1024u);
  EXPECT_EQ(ps[0].entry, "file_a");
  EXPECT_NE(ps[0].message.find("2048"), std::string::npos);
  EXPECT_EQ(headers, 3u);  // x, file_a, file_b: "smuggled" is data
}

// B26 b: the pending PAX size does not resize the GNU L header between it and
// file_a; it applies to file_a (ustar size 16), whose real data is 2048 bytes.
TEST(TarHeaderCheckPax, B26bLongNameHeaderIsNotResized) {
  const auto tar = pax_member(pax_record("size", "2048")) +
                   header("././@LongLink", 13, 'L', true) + pad512(std::string("longname.txt\0", 13)) +
                   header("file_a", 16, '0', true) + std::string(2048, 'A') +
                   header("file_b", 16, '0', true) + pad512(std::string(16, 'b')) + eoa;
  std::uint64_t headers = 0;
  const auto ps = check_all(tar, &headers);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.pax_size");
  EXPECT_EQ(ps[0].offset, 2048u);
  EXPECT_EQ(ps[0].entry, "longname.txt");
  EXPECT_EQ(headers, 4u);
}

// B26 c: a non-zero ustar size that differs from the PAX size.
TEST(TarHeaderCheckPax, B26cUstarSizeDiffers) {
  const auto tar = pax_member(pax_record("path", "named/by/pax") + pax_record("size", "2048")) +
                   header("file_a", 100) + std::string(2048, 'a') + header("file_b", 0) + eoa;
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar.pax_size");
  EXPECT_EQ(ps[0].entry, "named/by/pax");
  EXPECT_NE(ps[0].message.find("100"), std::string::npos);
}

// B25: a PAX size of 8 GiB + 1 with the ustar field 0 (what GNU tar writes) is
// fine; 8 GiB cannot be fed here, so the stream ends early: that is a
// truncation, not a size disagreement.
TEST(TarHeaderCheckPax, B25LargePaxSizeToleratesUstarZero) {
  const auto tar = pax_member(pax_record("size", "8589934593")) + header("big", 0) +
                   std::string(4096, 'z');
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_TRUE(ps[0].error);
  EXPECT_EQ(ps[0].entry, "big");
  EXPECT_NE(ps[0].message.find("truncated"), std::string::npos);
  EXPECT_NE(ps[0].message.find("8589934593 bytes"), std::string::npos);
  EXPECT_EQ(count_rule(ps, "layer.tar.pax_size"), 0u);
}

TEST(TarHeaderCheckPax, GlobalSizeIsIgnored) {
  const auto tar = pax_member(pax_record("size", "4096"), 'g') + header("f", 3) + pad512("abc") + eoa;
  const auto ps = check_all(tar);
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

TEST(TarHeaderCheckPax, ManyMismatchesAreCapped) {
  std::string tar;
  for (int i = 0; i < 12; ++i)
    tar += pax_member(pax_record("size", "1")) + header("f" + std::to_string(i), 2) + pad512("x");
  tar += eoa;
  const auto ps = check_all(tar);
  ASSERT_EQ(ps.size(), 9u) << describe(ps);
  EXPECT_EQ(count_rule(ps, "layer.tar.pax_size"), 9u);
  EXPECT_EQ(ps.back().message, "and 4 more layer.tar.pax_size problems");
}

TEST(TarHeaderCheckPax, MalformedRecords) {
  const std::vector<std::string> bodies = {
      "30 path=abc\n",              // length beyond the body
      "11 path=abc\n",              // length short of the record
      "x2 path=abc\n",              // not decimal
      "12 pathabcd\n",              // no '='
      "11 path=abcX",               // no newline
      pax_record("size", "12a"),    // size not decimal
      pax_record("size", "-5"),     // negative
  };
  for (const auto& body : bodies) {
    const auto tar = pax_member(body) + header("f", 0) + eoa;
    const auto ps = check_all(tar);
    ASSERT_EQ(ps.size(), 1u) << body << "\n" << describe(ps);
    EXPECT_EQ(ps[0].rule, "layer.tar") << body;
    EXPECT_TRUE(ps[0].error);
    EXPECT_EQ(ps[0].offset, 0u);
    EXPECT_NE(ps[0].message.find("malformed pax"), std::string::npos) << ps[0].message;
  }
}

TEST(TarHeaderCheckPax, EmptySizeValueRevertsToTheHeader) {
  const auto tar = pax_member(pax_record("size", "9") + pax_record("size", "")) + header("f", 3) +
                   pad512("abc") + eoa;
  const auto ps = check_all(tar);
  EXPECT_TRUE(ps.empty()) << describe(ps);
}

// B29: a PAX body past the 1 MiB cap is reported without being buffered: the
// header claims 4 GiB and only 2 MiB follow.
TEST(TarHeaderCheckPax, BodyOverTheCap) {
  const auto tar = header("PaxHeaders/huge", std::uint64_t{4} << 30, 'x') +
                   std::string(2 << 20, 'p');
  const auto whole = run(tar, tar.size());
  const auto chunked = run(tar, 4096);
  EXPECT_EQ(describe(whole), describe(chunked));
  ASSERT_EQ(whole.size(), 1u) << describe(whole);
  EXPECT_EQ(whole[0].rule, "layer.limits");
  EXPECT_TRUE(whole[0].error);
  EXPECT_NE(whole[0].message.find("cap of 1048576 bytes"), std::string::npos) << whole[0].message;
}

// The cap is the caller's (unpack --max-pax-header-bytes): a smaller one stops
// the walk at a PAX header a default check accepts.
TEST(TarHeaderCheckPax, CapIsConfigurable) {
  const std::string body = pax_record("comment", std::string(5000, 'c'));
  const auto tar = header("PaxHeaders/c", body.size(), 'x') + pad512(body) + header("f", 1, '0', true) +
                   pad512("1") + eoa;
  tar_header_check small(4096);
  small.feed(std::as_bytes(std::span(tar.data(), tar.size())));
  EXPECT_TRUE(small.limit_exceeded());
  tar_header_check normal;
  normal.feed(std::as_bytes(std::span(tar.data(), tar.size())));
  EXPECT_FALSE(normal.limit_exceeded());
  EXPECT_TRUE(normal.finish().empty());
}

TEST(TarHeaderCheckPax, LongNameOverTheCapIsSkipped) {
  const std::size_t n = (1 << 20) + 1;
  const auto tar = header("././@LongLink", n, 'L', true) + pad512(std::string(n, 'n')) +
                   header("f", 1, '0', true) + pad512("1") + eoa;
  const auto ps = run(tar, 65536);
  ASSERT_EQ(ps.size(), 1u) << describe(ps);
  EXPECT_EQ(ps[0].rule, "layer.tar");
  EXPECT_EQ(ps[0].offset, 0u);
}

// ---- throughput sanity: 64 files of 1 MiB in 1 MiB chunks (no timing asserts) ----

TEST(TarHeaderCheckThroughput, SixtyFourMiBInMiBChunks) {
  std::string tar;
  tar.reserve((64 << 20) + 64 * 512 + 1024);
  for (int i = 0; i < 64; ++i) {
    tar += header("file" + std::to_string(i), 1 << 20);
    tar.append(1 << 20, static_cast<char>('a' + i % 26));
  }
  tar += eoa;
  std::uint64_t headers = 0;
  const auto ps = run(tar, 1 << 20, &headers);
  EXPECT_TRUE(ps.empty()) << describe(ps);
  EXPECT_EQ(headers, 64u);
}

}  // namespace
}  // namespace ocipipe
