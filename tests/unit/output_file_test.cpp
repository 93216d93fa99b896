// io::write_output_file, which writes what a user names for a verb's output (sign's
// signature and key files, validate --shard's facts): whole or not at all, and never by
// renaming over something that is not a regular file — a symlink would be replaced rather
// than written through, a device such as /dev/null or a FIFO destroyed.

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "io/output_file.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

TEST(OutputFile, WritesANewFileWhole) {
  temp_dir tmp;
  ASSERT_TRUE(io::write_output_file(tmp.sub("out.jsonl"), "facts\n", 0644, false));
  EXPECT_EQ(read_bytes(tmp.sub("out.jsonl")), "facts\n");
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"out.jsonl"}) << "no temporary file left";
}

TEST(OutputFile, ReplacesARegularFileOnlyWhenAsked) {
  temp_dir tmp;
  write_bytes(tmp.sub("out"), "old");
  auto refused = io::write_output_file(tmp.sub("out"), "new", 0644, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(refused.error().message(), "exists")) << refused.error().message();
  EXPECT_EQ(read_bytes(tmp.sub("out")), "old");
  ASSERT_TRUE(io::write_output_file(tmp.sub("out"), "new", 0644, true));
  EXPECT_EQ(read_bytes(tmp.sub("out")), "new");
}

// The regression behind this file: validate --facts /dev/null, run as root, renamed a
// regular file over /dev/null. Each kind of non-regular file is refused and left as it
// was, replace or not (a symlink to a device stands in for the device itself).
TEST(OutputFile, RefusesWhatIsNotARegularFileAndLeavesItAlone) {
  temp_dir tmp;
  write_bytes(tmp.sub("target"), "kept");
  ASSERT_EQ(::symlink("target", tmp.sub("link").c_str()), 0);
  ASSERT_EQ(::symlink("/dev/null", tmp.sub("devlink").c_str()), 0);
  ASSERT_EQ(::mkfifo(tmp.sub("fifo").c_str(), 0644), 0);
  ASSERT_EQ(::mkdir(tmp.sub("dir").c_str(), 0755), 0);
  const std::pair<const char*, const char*> cases[] = {
      {"link", "a symbolic link"}, {"devlink", "a symbolic link"}, {"fifo", "a FIFO"}, {"dir", "a directory"}};
  for (const auto& [name, kind] : cases) {
    for (bool replace : {false, true}) {
      SCOPED_TRACE(std::string(name) + (replace ? " replace" : ""));
      auto r = io::write_output_file(tmp.sub(name), "new", 0644, replace);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code(), errc::invalid_argument);
      EXPECT_TRUE(contains(r.error().message(), kind)) << r.error().message();
      EXPECT_TRUE(contains(r.error().message(), "regular file")) << r.error().message();
    }
  }
  EXPECT_TRUE(S_ISLNK(lstat_of(tmp.sub("link")).st_mode));
  EXPECT_TRUE(S_ISLNK(lstat_of(tmp.sub("devlink")).st_mode));
  EXPECT_TRUE(S_ISFIFO(lstat_of(tmp.sub("fifo")).st_mode));
  EXPECT_EQ(read_bytes(tmp.sub("target")), "kept");
  EXPECT_EQ(names_in(tmp.path()).size(), 5u) << "no temporary file left";
}

TEST(OutputFile, RefusesAPathThatNamesNoFile) {
  temp_dir tmp;
  for (const std::string p : {std::string(""), tmp.path() + "/", tmp.path() + "/.", tmp.path() + "/.."}) {
    SCOPED_TRACE(p);
    auto r = io::write_output_file(p, "x", 0644, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
  }
}

TEST(OutputFile, MissingDirectoryIsAnIoError) {
  temp_dir tmp;
  auto r = io::write_output_file(tmp.sub("no/such/dir/out"), "x", 0644, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().code(), errc::invalid_argument);
}

}  // namespace
}  // namespace ocipipe::testing
