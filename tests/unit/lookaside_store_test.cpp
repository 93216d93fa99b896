// io/lookaside_store: simple signatures stored as signature-1, -2, … in a
// local store (never replacing one, never storing one twice), read back in
// order from a directory, a file:// URL and over HTTP; registries.d
// directories read.

#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/http_client.h"
#include "io/lookaside_store.h"
#include "stages/digester.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

digest manifest_digest() { return *digest::parse("sha256:" + std::string(64, 'e')); }

std::string sig_dir(const std::string& base) { return base + "/library/app@sha256=" + std::string(64, 'e'); }

TEST(LookasideStore, WritesNextFreeNumberAndNeverTheSameTwice) {
  temp_dir tmp;
  const std::string base = tmp.sub("store");
  auto first = io::write_lookaside_signature(base, "library/app", manifest_digest(), "signature A");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, sig_dir(base) + "/signature-1");
  auto second = io::write_lookaside_signature(base, "library/app", manifest_digest(), "signature B");
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*second, sig_dir(base) + "/signature-2");
  auto again = io::write_lookaside_signature(base, "library/app", manifest_digest(), "signature A");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, sig_dir(base) + "/signature-1");

  EXPECT_EQ(names_in(sig_dir(base)), (std::vector<std::string>{"signature-1", "signature-2"}))
      << "no third file, no temporary left over";
  EXPECT_EQ(read_bytes(sig_dir(base) + "/signature-1"), "signature A");
  EXPECT_EQ(read_bytes(sig_dir(base) + "/signature-2"), "signature B");
  EXPECT_EQ(lstat_of(sig_dir(base) + "/signature-2").st_mode & 07777, 0644u);

  auto read = io::read_lookaside_signatures(base, "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, (std::vector<std::string>{"signature A", "signature B"}));
}

TEST(LookasideStore, FileUrlBaseReadsAndWritesTheSameDirectory) {
  temp_dir tmp;
  const std::string base = tmp.sub("store");
  ASSERT_TRUE(io::write_lookaside_signature("file://" + base, "library/app", manifest_digest(), "one"));
  auto read = io::read_lookaside_signatures(base, "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, std::vector<std::string>{"one"});
  read = io::read_lookaside_signatures("file://localhost" + base, "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->size(), 1u);
}

TEST(LookasideStore, MissingStoreReadsAsNoSignatures) {
  temp_dir tmp;
  auto read = io::read_lookaside_signatures(tmp.sub("nowhere"), "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_TRUE(read->empty());
}

TEST(LookasideStore, ReadStopsAtTheFirstGap) {
  temp_dir tmp;
  const std::string base = tmp.sub("store");
  ASSERT_TRUE(io::write_lookaside_signature(base, "library/app", manifest_digest(), "one"));
  write_bytes(sig_dir(base) + "/signature-3", "three, after a gap");
  auto read = io::read_lookaside_signatures(base, "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, std::vector<std::string>{"one"});
}

TEST(LookasideStore, ConcurrentWritersEachGetTheirOwnNumber) {
  temp_dir tmp;
  const std::string base = tmp.sub("store");
  constexpr int writers = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> got(writers);
  for (int i = 0; i < writers; ++i)
    threads.emplace_back([&, i] {
      auto r = io::write_lookaside_signature(base, "library/app", manifest_digest(), "sig " + std::to_string(i));
      got[i] = r ? *r : r.error().message();
    });
  for (auto& t : threads) t.join();
  std::vector<std::string> names = names_in(sig_dir(base));
  ASSERT_EQ(names.size(), static_cast<std::size_t>(writers)) << ::testing::PrintToString(names);
  auto read = io::read_lookaside_signatures(base, "library/app", manifest_digest(), nullptr);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(read->size(), static_cast<std::size_t>(writers));
  for (int i = 0; i < writers; ++i)
    EXPECT_EQ(read_bytes(got[i]), "sig " + std::to_string(i)) << got[i];
}

TEST(LookasideStore, ReadsOverHttpUntilNotFound) {
  temp_dir tmp;
  const std::string base = tmp.sub("served");
  ASSERT_TRUE(io::write_lookaside_signature(base, "library/app", manifest_digest(), "first"));
  ASSERT_TRUE(io::write_lookaside_signature(base, "library/app", manifest_digest(), "second"));
  auto server = test::static_http_server::start(base);
  ASSERT_TRUE(server);
  io::http_client http(io::tls_options{});
  auto read = io::read_lookaside_signatures(server->url() + "/", "library/app", manifest_digest(), &http);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, (std::vector<std::string>{"first", "second"}));
  // Another manifest: nothing there, a 404 at once.
  auto none = io::read_lookaside_signatures(server->url(), "library/app",
                                            *digest::parse("sha256:" + std::string(64, 'f')), &http);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_TRUE(none->empty());
}

TEST(LookasideStore, BadBasesAndPathsAreRefused) {
  temp_dir tmp;
  auto r = io::write_lookaside_signature("https://sigs.example.com", "library/app", manifest_digest(), "s");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);

  auto read = io::read_lookaside_signatures("ftp://sigs.example.com", "library/app", manifest_digest(), nullptr);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), errc::invalid_argument);
  read = io::read_lookaside_signatures("https://sigs.example.com", "library/app", manifest_digest(), nullptr);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), errc::unsupported);
  read = io::read_lookaside_signatures("file://otherhost/sigs", "library/app", manifest_digest(), nullptr);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), errc::invalid_argument);

  for (const char* path : {"../escape", "a/../../b", "/abs", "a//b", "", "Upper/case"}) {
    auto w = io::write_lookaside_signature(tmp.sub("store"), path, manifest_digest(), "s");
    ASSERT_FALSE(w) << path;
    EXPECT_EQ(w.error().code(), errc::invalid_argument) << path;
  }
  EXPECT_FALSE(path_exists(tmp.sub("store")));
  EXPECT_FALSE(path_exists(tmp.sub("escape")));
}

TEST(LookasideStore, LoadsYamlFilesOfARegistriesDDirectory) {
  temp_dir tmp;
  const std::string dir = tmp.sub("registries.d");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  write_bytes(dir + "/b.yaml", "docker:\n  example.com:\n    lookaside: file:///b\n");
  write_bytes(dir + "/a.yaml", "default-docker:\n  lookaside: file:///a\n");
  write_bytes(dir + "/ignored.txt", "docker: [not, yaml, that, matters]\n");
  auto c = io::load_registries_d(dir);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(c->default_docker);
  EXPECT_EQ(c->default_docker->lookaside, "file:///a");
  ASSERT_EQ(c->docker.size(), 1u);

  write_bytes(dir + "/c.yaml", "docker:\n  example.com:\n    lookaside: file:///c\n");
  c = io::load_registries_d(dir);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::invalid_argument);
  EXPECT_NE(c.error().message().find("c.yaml"), std::string::npos) << c.error().message();

  auto missing = io::load_registries_d(tmp.sub("absent"));
  ASSERT_TRUE(missing) << missing.error().message();
  EXPECT_FALSE(missing->default_docker);
  EXPECT_TRUE(missing->docker.empty());
}

}  // namespace
}  // namespace ocipipe::testing
