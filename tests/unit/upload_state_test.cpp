// pipeline/upload_state: the session files a push leaves for a restarted push. What is
// recorded comes back for the same blob only; damaged or foreign files are ignored, never
// errors; removal and the default directory.

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/upload_state.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

descriptor blob(const std::string& hex_char, std::int64_t size) {
  descriptor d;
  d.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
  d.digest = *digest::parse("sha256:" + std::string(64, hex_char[0]));
  d.size = size;
  return d;
}

TEST(upload_state, a_saved_session_comes_back_for_the_same_blob_only) {
  temp_dir tmp;
  pipeline::upload_state st(tmp.sub("uploads"));  // created on the first save
  const auto a = blob("a", 100), b = blob("b", 100);
  ASSERT_TRUE(st.save("127.0.0.1:5000", "library/x", a, {"http://127.0.0.1:5000/v2/library/x/blobs/uploads/u1", 40}));
  auto got = st.load("127.0.0.1:5000", "library/x", a);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->location, "http://127.0.0.1:5000/v2/library/x/blobs/uploads/u1");
  EXPECT_EQ(got->offset, 40u);
  EXPECT_FALSE(st.load("127.0.0.1:5000", "library/x", b));
  EXPECT_FALSE(st.load("127.0.0.1:5000", "library/y", a));
  EXPECT_FALSE(st.load("127.0.0.1:5001", "library/x", a));
  EXPECT_FALSE(st.load("127.0.0.1:5000", "library/x", blob("a", 101)));  // same digest, other size

  // Replaced as the upload goes on; the directory is the user's alone.
  ASSERT_TRUE(st.save("127.0.0.1:5000", "library/x", a, {"http://127.0.0.1:5000/v2/library/x/blobs/uploads/u1", 80}));
  EXPECT_EQ(st.load("127.0.0.1:5000", "library/x", a)->offset, 80u);
  EXPECT_EQ(lstat_of(tmp.sub("uploads")).st_mode & 0777, 0700u);
  EXPECT_EQ(names_in(tmp.sub("uploads")).size(), 1u) << "no temporary file left behind";

  st.remove("127.0.0.1:5000", "library/x", a);
  EXPECT_FALSE(st.load("127.0.0.1:5000", "library/x", a));
  EXPECT_TRUE(names_in(tmp.sub("uploads")).empty());
  st.remove("127.0.0.1:5000", "library/x", a);  // nothing there: no error
}

TEST(upload_state, damaged_or_foreign_files_are_ignored) {
  temp_dir tmp;
  pipeline::upload_state st(tmp.path());
  const auto a = blob("c", 10);
  const auto path = st.path_of("h:1", "r", a);
  EXPECT_EQ(path.rfind(tmp.path() + "/", 0), 0u);
  EXPECT_TRUE(path.ends_with(".json"));
  for (const std::string text :
       {"", "not json", "[]", "{\"format\":1}",
        // an offset past the blob's size
        R"({"format":1,"host":"h:1","repository":"r","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":10,"location":"http://h:1/u","offset":11})",
        // another format version
        R"({"format":2,"host":"h:1","repository":"r","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":10,"location":"http://h:1/u","offset":1})"}) {
    write_bytes(path, text);
    EXPECT_FALSE(st.load("h:1", "r", a)) << text;
  }
  write_bytes(path,
              R"({"format":1,"host":"h:1","repository":"r","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":10,"location":"http://h:1/u","offset":3})");
  ASSERT_TRUE(st.load("h:1", "r", a));
  EXPECT_EQ(st.load("h:1", "r", a)->offset, 3u);
}

TEST(upload_state, the_default_directory_is_under_the_cache_home) {
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", "/some/cache", 1);
  EXPECT_EQ(pipeline::default_upload_state_dir(), "/some/cache/ocipipe/uploads");
  EXPECT_EQ(pipeline::upload_state("").dir(), "/some/cache/ocipipe/uploads");
  ::setenv("XDG_CACHE_HOME", "", 1);
  const char* home = std::getenv("HOME");
  if (home && *home) {
    EXPECT_EQ(pipeline::default_upload_state_dir(), std::string(home) + "/.cache/ocipipe/uploads");
  }
  if (old)
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
}

}  // namespace
}  // namespace ocipipe::testing
