// stages/tar_reader: what read_content hands out for sparse entries whose map
// disagrees with the entry's size.
#include "stages/tar_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/stream_builders.h"

namespace ocipipe::testing {
namespace {

// A PAX 1.0 sparse member "sp" (GNU.sparse.* records, the map at the start of
// the data: one region of 512 bytes at `at`), with GNU.sparse.realsize only
// when `real_size` is not 0.
std::string pax_sparse_tar(std::uint64_t at, std::uint64_t real_size) {
  std::string records = pax_record("GNU.sparse.major", "1") + pax_record("GNU.sparse.minor", "0") +
                        pax_record("GNU.sparse.name", "sp");
  if (real_size) records += pax_record("GNU.sparse.realsize", std::to_string(real_size));
  const std::string data = pad512("1\n" + std::to_string(at) + "\n512\n") + std::string(512, 'D');
  header_spec h;
  h.name = "GNUSparseFile.0/sp";
  h.size = data.size();
  return finish_tar(pax_header("GNUSparseFile.0/sp", records) + tar_header(h) + data);
}

// Every block of the first entry, or the error of read_content.
result<std::uint64_t> content_end(const std::string& tar) {
  memory_source src(byte_view(reinterpret_cast<const std::byte*>(tar.data()), tar.size()));
  tar_reader reader(src);
  OCIPIPE_ASSIGN_OR_RETURN(auto e, reader.next_entry());
  if (!e) return fail(errc::malformed, "no entry");
  std::uint64_t end = 0;
  OCIPIPE_TRY(reader.read_content([&](std::uint64_t offset, byte_view b) -> result<void> {
    end = offset + b.size();
    return {};
  }));
  EXPECT_LE(end, e->size);
  return end;
}

// Found by tests/fuzz/tar_whiteout_fuzz.cpp: without GNU.sparse.realsize
// libarchive reports the stored size (1024 here) and still places the data
// where the map says (28672), so unpack wrote a file past its header's size
// and past the entry size limit.
TEST(TarReader, RefusesSparseDataPastTheEntrySize) {
  auto r = content_end(pax_sparse_tar(28672, 0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find("outside the entry's size"), std::string::npos) << r.error().message();
}

TEST(TarReader, SparseDataWithinTheRealSizeIsRead) {
  auto r = content_end(pax_sparse_tar(28672, 32768));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 28672u + 512u);
}

}  // namespace
}  // namespace ocipipe::testing
