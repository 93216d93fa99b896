// io/archive_writer.h: members as libarchive reads them back, nothing under the final name
// before commit(), a failed or abandoned archive leaves no file, an existing file is kept
// unless replacing was asked for, even when it appears while the archive is written.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "io/archive_writer.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe {
namespace {

using testing::temp_dir;

byte_view bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(archive_writer, members_read_back_and_nothing_is_named_before_commit) {
  temp_dir tmp;
  auto w = io::archive_writer::create(tmp.sub("a.tar"), false);
  ASSERT_TRUE(w) << w.error().message();
  const std::string big(3 << 20, 'z');
  memory_source src(bytes_of(big), 4096);
  ASSERT_TRUE(w->add_directory("blobs"));
  ASSERT_TRUE(w->add_file("blobs/big", big.size(), src));
  ASSERT_TRUE(w->add_file("small", "hello"));
  const std::string long_name = "dir/" + std::string(150, 'n');  // past ustar's 100 + 155: a PAX path
  ASSERT_TRUE(w->add_file(long_name, "long"));
  ASSERT_TRUE(w->add_symlink("link", "../small"));
  EXPECT_EQ(w->data_bytes(), big.size() + 5 + 4);
  EXPECT_TRUE(testing::names_in(tmp.path()).empty()) << "the archive is unnamed until commit";
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(testing::names_in(tmp.path()), (std::vector<std::string>{"a.tar"}));
  EXPECT_EQ(testing::read_archive_member(tmp.sub("a.tar"), "blobs/big"), big);
  EXPECT_EQ(testing::read_archive_member(tmp.sub("a.tar"), "small"), "hello");
  EXPECT_EQ(testing::read_archive_member(tmp.sub("a.tar"), long_name), "long");
}

TEST(archive_writer, source_shorter_or_longer_than_announced_fails_and_leaves_no_file) {
  for (const std::size_t announced : {std::size_t{99}, std::size_t{101}}) {
    temp_dir tmp;
    auto w = io::archive_writer::create(tmp.sub("a.tar"), false);
    ASSERT_TRUE(w);
    const std::string data(100, 'x');
    memory_source src(bytes_of(data), 7);
    auto ok = w->add_file("m", announced, src);
    ASSERT_FALSE(ok) << announced;
    EXPECT_EQ(ok.error().code(), errc::size_mismatch) << ok.error().message();
    EXPECT_FALSE(w->commit()) << "a broken archive is never committed";
    w = tl::unexpected(error(errc::cancelled, "dropped"));  // destroy the writer
    EXPECT_TRUE(testing::names_in(tmp.path()).empty()) << announced;
  }
}

TEST(archive_writer, abandoned_writer_leaves_the_existing_file) {
  temp_dir tmp;
  testing::write_bytes(tmp.sub("a.tar"), "old");
  {
    auto w = io::archive_writer::create(tmp.sub("a.tar"), true);
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_TRUE(w->add_file("x", "new"));
  }
  EXPECT_EQ(testing::read_bytes(tmp.sub("a.tar")), "old");
  EXPECT_EQ(testing::names_in(tmp.path()), (std::vector<std::string>{"a.tar"}));
}

TEST(archive_writer, existing_file_is_refused_unless_replacing) {
  temp_dir tmp;
  testing::write_bytes(tmp.sub("a.tar"), "old");
  auto refused = io::archive_writer::create(tmp.sub("a.tar"), false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), errc::invalid_argument);
  auto w = io::archive_writer::create(tmp.sub("a.tar"), true);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->add_file("x", "new"));
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(testing::read_archive_member(tmp.sub("a.tar"), "x"), "new");
  EXPECT_EQ(testing::names_in(tmp.path()), (std::vector<std::string>{"a.tar"}));
}

TEST(archive_writer, file_appearing_while_writing_is_not_clobbered) {
  temp_dir tmp;
  auto w = io::archive_writer::create(tmp.sub("a.tar"), false);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->add_file("x", "new"));
  testing::write_bytes(tmp.sub("a.tar"), "someone else's");
  auto ok = w->commit();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code(), errc::invalid_argument) << ok.error().message();
  EXPECT_EQ(testing::read_bytes(tmp.sub("a.tar")), "someone else's");
}

TEST(archive_writer, directory_at_the_destination_is_refused_even_when_replacing) {
  temp_dir tmp;
  ASSERT_EQ(::mkdir(tmp.sub("a.tar").c_str(), 0755), 0);
  auto w = io::archive_writer::create(tmp.sub("a.tar"), true);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::invalid_argument);
}

}  // namespace
}  // namespace ocipipe
