// io/layout_writer's resumable blob ingest (what a pull keeps across runs):
// a named partial file in the ingest area that survives its writer, is
// continued from its bytes, renamed into blobs/ on commit, emptied when it
// cannot be a prefix, removed by abandon() and by gc as a stale file.

#include <string>

#include <gtest/gtest.h>

#include "io/layout_writer.h"
#include "stages/digester.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using io::layout_writer;

digest sha256_of(std::string_view s) {
  return digester::of(byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()));
}

std::string partial_path(const temp_dir& t, const digest& d) {
  return t.sub(".ocipipe-ingest/" + layout_writer::partial_blob_name(d));
}

layout_writer open_or_die(const std::string& path) {
  auto w = layout_writer::open(path, true);
  if (!w) throw std::runtime_error(w.error().message());
  return std::move(*w);
}

std::string drain(byte_source& s) {
  std::string out;
  for (;;) {
    auto c = s.next();
    if (!c) return "<" + c.error().message() + ">";
    if (c->empty()) return out;
    out.append(reinterpret_cast<const char*>(c->data()), c->size());
  }
}

const std::string kBlob = std::string(3000, 'a') + std::string(3000, 'b');

TEST(ResumableIngest, PartialFileIsNamedAfterTheDigest) {
  const auto d = sha256_of(kBlob);
  EXPECT_EQ(layout_writer::partial_blob_name(d), "partial-sha256-" + std::string(d.encoded()));
}

TEST(ResumableIngest, UncommittedBytesOutliveTheWriterAndAreContinued) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  {
    auto w = open_or_die(t.path());
    auto in = w.begin_resumable_blob(d, kBlob.size());
    ASSERT_TRUE(in) << in.error().message();
    EXPECT_EQ(in->ingest.size(), 0u);
    EXPECT_EQ(in->present, nullptr);
    ASSERT_TRUE(in->ingest.write(std::string_view(kBlob).substr(0, 2500)));
  }  // a pull cut off: ingest and writer gone, the file stays
  EXPECT_EQ(read_bytes(partial_path(t, d)), kBlob.substr(0, 2500));

  auto w = open_or_die(t.path());
  auto in = w.begin_resumable_blob(d, kBlob.size());
  ASSERT_TRUE(in) << in.error().message();
  EXPECT_EQ(in->ingest.size(), 2500u);
  ASSERT_NE(in->present, nullptr);
  EXPECT_EQ(drain(*in->present), kBlob.substr(0, 2500));
  ASSERT_TRUE(in->ingest.write(std::string_view(kBlob).substr(2500)));
  EXPECT_EQ(in->ingest.size(), kBlob.size());
  ASSERT_TRUE(in->ingest.commit(d));
  EXPECT_EQ(read_bytes(t.sub(d.blob_path())), kBlob);
  EXPECT_FALSE(path_exists(partial_path(t, d)));
  EXPECT_TRUE(w.has_blob(d));
}

TEST(ResumableIngest, LongerThanTheBlobStartsOver) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  auto w = open_or_die(t.path());
  ASSERT_TRUE(w.begin_resumable_blob(d, kBlob.size()));  // makes the ingest dir
  write_bytes(partial_path(t, d), kBlob + "extra");
  auto in = w.begin_resumable_blob(d, kBlob.size());
  ASSERT_TRUE(in) << in.error().message();
  EXPECT_EQ(in->ingest.size(), 0u);
  EXPECT_EQ(in->present, nullptr);
  EXPECT_EQ(read_bytes(partial_path(t, d)), "");
}

TEST(ResumableIngest, AbandonRemovesTheFile) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  auto w = open_or_die(t.path());
  auto in = w.begin_resumable_blob(d, kBlob.size());
  ASSERT_TRUE(in);
  ASSERT_TRUE(in->ingest.write(std::string_view("wrong bytes")));
  in->ingest.abandon();
  EXPECT_FALSE(path_exists(partial_path(t, d)));
  EXPECT_FALSE(w.has_blob(d));
}

TEST(ResumableIngest, CommitOfABlobAlreadyStoredDropsThePartial) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  auto w = open_or_die(t.path());
  auto in = w.begin_resumable_blob(d, kBlob.size());
  ASSERT_TRUE(in);
  ASSERT_TRUE(in->ingest.write(kBlob));
  ASSERT_TRUE(w.put_blob(d, kBlob));
  ASSERT_TRUE(in->ingest.commit(d));
  EXPECT_FALSE(path_exists(partial_path(t, d)));
  EXPECT_EQ(read_bytes(t.sub(d.blob_path())), kBlob);
}

TEST(ResumableIngest, LeftoverPartialIsStaleForGc) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  {
    auto w = open_or_die(t.path());
    auto in = w.begin_resumable_blob(d, kBlob.size());
    ASSERT_TRUE(in);
    ASSERT_TRUE(in->ingest.write(std::string_view(kBlob).substr(0, 100)));
  }
  auto w = open_or_die(t.path());
  auto stale = w.stale_ingest();
  ASSERT_TRUE(stale);
  ASSERT_EQ(stale->size(), 1u);
  EXPECT_EQ((*stale)[0].name, layout_writer::partial_blob_name(d));
  EXPECT_EQ((*stale)[0].size, 100u);
  ASSERT_TRUE(w.remove_stale_ingest());
  EXPECT_FALSE(path_exists(partial_path(t, d)));
}

TEST(ResumableIngest, CommitChecksTheAlgorithm) {
  temp_dir t;
  const auto d = sha256_of(kBlob);
  auto w = open_or_die(t.path());
  auto in = w.begin_resumable_blob(d, kBlob.size());
  ASSERT_TRUE(in);
  ASSERT_TRUE(in->ingest.write(kBlob));
  auto sha512 = digester::of(byte_view(reinterpret_cast<const std::byte*>(kBlob.data()), kBlob.size()),
                             digest_algorithm::sha512);
  auto r = in->ingest.commit(sha512);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

}  // namespace
}  // namespace ocipipe::testing
