// io/layout_writer: atomic blob ingest (O_TMPFILE + link, or a named temporary
// + rename), the layout lock, atomic index.json replacement, and what a killed
// writer leaves behind (DESIGN.md §6).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/image_layout.h"
#include "io/layout_writer.h"
#include "io/small_file.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using io::layout_writer;

digest sha256_of(std::string_view s) {
  return digester::of(byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()));
}

std::string blob_file(const std::string& layout, const digest& d) { return layout + "/" + d.blob_path(); }

layout_writer open_or_die(const std::string& path, bool create = true) {
  auto w = layout_writer::open(path, create);
  if (!w) throw std::runtime_error(w.error().message());
  return std::move(*w);
}

// The layout at `path` is one any reader accepts: oci-layout, an index.json
// that parses, and every blob under its final name hashing to that name.
void expect_valid_layout(const std::string& path) {
  EXPECT_EQ(read_bytes(path + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  auto idx = parse_image_index(read_bytes(path + "/index.json"));
  EXPECT_TRUE(idx) << (idx ? "" : idx.error().message());
  for (const auto& name : names_in(path + "/blobs/sha256")) {
    const auto bytes = read_bytes(path + "/blobs/sha256/" + name);
    EXPECT_EQ("sha256:" + name, sha256_of(bytes).str()) << "blob with wrong content under its final name";
  }
}

TEST(LayoutWriter, CreateMakesEmptyLayoutWithMissingParents) {
  temp_dir t;
  const auto path = t.sub("a/b/layout");
  {
    auto w = open_or_die(path);
    EXPECT_EQ(w.path(), path);
    EXPECT_TRUE(path_exists(path + "/blobs/sha256"));
    EXPECT_EQ(read_bytes(path + "/index.json"), R"({"schemaVersion":2,"manifests":[]})");
    auto idx = w.read_index();
    ASSERT_TRUE(idx);
    EXPECT_TRUE(parse_image_index(*idx));
    auto r = w.reader();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->read_file("oci-layout"));
  }
  expect_valid_layout(path);
  // The ingest directory goes with the writer; the lock file stays (unlinking
  // it would race with a waiter).
  EXPECT_EQ(names_in(path), (std::vector<std::string>{".ocipipe-lock", "blobs", "index.json", "oci-layout"}));
}

TEST(LayoutWriter, OpenMissingWithoutCreateIsNotFound) {
  temp_dir t;
  auto w = layout_writer::open(t.sub("none"), false);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::not_found);
  EXPECT_FALSE(path_exists(t.sub("none")));
}

TEST(LayoutWriter, RefusesNonEmptyDirectoryThatIsNoLayout) {
  temp_dir t;
  write_bytes(t.sub("notes.txt"), "mine");
  auto w = layout_writer::open(t.path(), true);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(w.error().message(), "not an image layout")) << w.error().message();
  // Not even the lock file was dropped there.
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"notes.txt"});
}

TEST(LayoutWriter, EmptyDirectoryBecomesLayoutOnlyWithCreate) {
  temp_dir t;
  auto no = layout_writer::open(t.path(), false);
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().code(), errc::invalid_argument);
  EXPECT_TRUE(names_in(t.path()).empty());
  auto yes = layout_writer::open(t.path(), true);
  ASSERT_TRUE(yes) << yes.error().message();
  EXPECT_TRUE(path_exists(t.sub("oci-layout")));
}

TEST(LayoutWriter, HalfInitializedLayoutIsCompletedByNextOpen) {
  // What a run killed inside init leaves: blobs/sha256/, the empty index.json, the lock.
  temp_dir t;
  ASSERT_EQ(::mkdir(t.sub("blobs").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(t.sub("blobs/sha256").c_str(), 0755), 0);
  write_bytes(t.sub("index.json"), R"({"schemaVersion":2,"manifests":[]})");
  write_bytes(t.sub(".ocipipe-lock"), "");
  auto w = layout_writer::open(t.path(), true);
  ASSERT_TRUE(w) << w.error().message();
  expect_valid_layout(t.path());
}

TEST(LayoutWriter, ExistingLayoutIsOpenedWithoutChange) {
  temp_dir t;
  { auto w = open_or_die(t.path()); ASSERT_TRUE(w.write_index(R"({"schemaVersion":2,"manifests":[],"x":1})")); }
  auto w = layout_writer::open(t.path(), false);
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(*w->read_index(), R"({"schemaVersion":2,"manifests":[],"x":1})");
}

TEST(LayoutWriter, BlobIsVisibleOnlyAfterCommit) {
  temp_dir t;
  auto w = open_or_die(t.path());
  const std::string content(300000, 'x');
  const auto d = sha256_of(content);
  auto in = w.begin_blob();
  ASSERT_TRUE(in) << in.error().message();
  ASSERT_TRUE(in->write(std::string_view(content).substr(0, 1000)));
  ASSERT_TRUE(in->write(std::string_view(content).substr(1000)));
  EXPECT_EQ(in->size(), content.size());
  EXPECT_FALSE(w.has_blob(d));
  EXPECT_TRUE(names_in(t.sub("blobs/sha256")).empty());
  ASSERT_TRUE(in->commit(d));
  EXPECT_TRUE(w.has_blob(d));
  EXPECT_EQ(read_bytes(blob_file(t.path(), d)), content);
  EXPECT_EQ(*w.blob_size(d), content.size());
  EXPECT_TRUE(S_ISREG(lstat_of(blob_file(t.path(), d)).st_mode));
  // A second commit, a write after commit: refused.
  EXPECT_FALSE(in->commit(d));
  EXPECT_FALSE(in->write(std::string_view("more")));
}

TEST(LayoutWriter, UncommittedIngestLeavesNothing) {
  temp_dir t;
  {
    auto w = open_or_die(t.path());
    auto in = w.begin_blob();
    ASSERT_TRUE(in);
    ASSERT_TRUE(in->write(std::string_view("abandoned")));
  }
  EXPECT_TRUE(names_in(t.sub("blobs/sha256")).empty());
  EXPECT_FALSE(path_exists(t.sub(".ocipipe-ingest")));
}

// The path taken where the filesystem has no O_TMPFILE (NFS): a named
// temporary in .ocipipe-ingest/, renamed into blobs/ on commit.
TEST(LayoutWriter, NamedTempFileIngestCommitsAndDiscards) {
  temp_dir t;
  auto w = open_or_die(t.path());
  w.use_named_temp_files(true);
  const std::string content = "through a named temporary";
  const auto d = sha256_of(content);
  {
    auto in = w.begin_blob();
    ASSERT_TRUE(in) << in.error().message();
    ASSERT_TRUE(in->write(std::string_view(content)));
    EXPECT_EQ(names_in(t.sub(".ocipipe-ingest")).size(), 1u);
    EXPECT_FALSE(w.has_blob(d));
    ASSERT_TRUE(in->commit(d));
  }
  EXPECT_EQ(read_bytes(blob_file(t.path(), d)), content);
  EXPECT_TRUE(names_in(t.sub(".ocipipe-ingest")).empty());
  {
    auto in = w.begin_blob();
    ASSERT_TRUE(in);
    ASSERT_TRUE(in->write(std::string_view("dropped")));
  }
  EXPECT_TRUE(names_in(t.sub(".ocipipe-ingest")).empty()) << "an uncommitted named temporary is unlinked";
  // Committing a digest that is stored already keeps the stored file.
  const auto ino = lstat_of(blob_file(t.path(), d)).st_ino;
  auto again = w.begin_blob();
  ASSERT_TRUE(again->write(std::string_view(content)));
  ASSERT_TRUE(again->commit(d));
  EXPECT_EQ(lstat_of(blob_file(t.path(), d)).st_ino, ino);
  EXPECT_TRUE(names_in(t.sub(".ocipipe-ingest")).empty());
  EXPECT_EQ(names_in(t.sub("blobs/sha256")).size(), 1u);
}

TEST(LayoutWriter, CommitOfExistingDigestKeepsTheStoredBlob) {
  temp_dir t;
  auto w = open_or_die(t.path());
  const auto d = sha256_of("same");
  ASSERT_TRUE(w.put_blob(d, "same"));
  const auto ino = lstat_of(blob_file(t.path(), d)).st_ino;
  auto in = w.begin_blob();
  ASSERT_TRUE(in->write(std::string_view("same")));
  ASSERT_TRUE(in->commit(d)) << "an existing blob of the digest is success (idempotent)";
  EXPECT_EQ(lstat_of(blob_file(t.path(), d)).st_ino, ino);
  ASSERT_TRUE(w.put_blob(d, "same"));
  EXPECT_EQ(names_in(t.sub("blobs/sha256")).size(), 1u);
}

TEST(LayoutWriter, CommitRefusesAnotherAlgorithm) {
  temp_dir t;
  auto w = open_or_die(t.path());
  auto in = w.begin_blob(digest_algorithm::sha256);
  ASSERT_TRUE(in->write(std::string_view("x")));
  const auto d512 = digester::of(byte_view(reinterpret_cast<const std::byte*>("x"), 1), digest_algorithm::sha512);
  auto r = in->commit(d512);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_FALSE(w.begin_blob(digest_algorithm::unregistered));
}

TEST(LayoutWriter, Sha512BlobsGoUnderTheirOwnDirectory) {
  temp_dir t;
  auto w = open_or_die(t.path());
  const std::string s = "five-twelve";
  const auto d = digester::of(byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()),
                              digest_algorithm::sha512);
  ASSERT_TRUE(w.put_blob(d, s));
  EXPECT_EQ(read_bytes(t.sub("blobs/sha512/" + std::string(d.encoded()))), s);
}

TEST(LayoutWriter, ListBlobsIsSortedAndSkipsForeignNames) {
  temp_dir t;
  auto w = open_or_die(t.path());
  std::vector<std::string> want;
  for (const char* s : {"a", "b", "c"}) {
    const auto d = sha256_of(s);
    ASSERT_TRUE(w.put_blob(d, s));
    want.push_back(d.str());
  }
  std::sort(want.begin(), want.end());
  write_bytes(t.sub("blobs/sha256/not-a-digest"), "junk");
  write_bytes(t.sub("blobs/README"), "junk");
  ASSERT_EQ(::mkdir(t.sub("blobs/sha256/" + std::string(64, 'd')).c_str(), 0755), 0);
  auto got = w.list_blobs();
  ASSERT_TRUE(got) << got.error().message();
  std::vector<std::string> names;
  for (const auto& d : *got) names.push_back(d.str());
  EXPECT_EQ(names, want);
}

TEST(LayoutWriter, RemoveBlobUnlinksAndMissingIsNotFound) {
  temp_dir t;
  auto w = open_or_die(t.path());
  const auto d = sha256_of("gone");
  ASSERT_TRUE(w.put_blob(d, "gone"));
  ASSERT_TRUE(w.remove_blob(d));
  ASSERT_TRUE(w.sync());
  EXPECT_FALSE(w.has_blob(d));
  auto again = w.remove_blob(d);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::not_found);
  auto size = w.blob_size(d);
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().code(), errc::not_found);
}

TEST(LayoutWriter, SymlinkedBlobDirectoryIsRefused) {
  temp_dir t;
  temp_dir outside;
  {
    auto w = open_or_die(t.path());
  }
  ASSERT_EQ(::rmdir(t.sub("blobs/sha256").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), t.sub("blobs/sha256").c_str()), 0);
  auto w = open_or_die(t.path(), false);
  auto r = w.put_blob(sha256_of("x"), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsafe_path) << r.error().message();
  EXPECT_TRUE(names_in(outside.path()).empty());
}

TEST(LayoutWriter, WriteIndexReplacesWholeDocument) {
  temp_dir t;
  auto w = open_or_die(t.path());
  const auto before = lstat_of(t.sub("index.json")).st_ino;
  ASSERT_TRUE(w.write_index(R"({"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}})"));
  EXPECT_EQ(*w.read_index(), R"({"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}})");
  EXPECT_NE(lstat_of(t.sub("index.json")).st_ino, before) << "replaced by rename, not rewritten in place";
  EXPECT_TRUE(names_in(t.sub(".ocipipe-ingest")).empty());
}

TEST(LayoutWriter, StaleIngestFilesAreListedAndRemoved) {
  temp_dir t;
  auto w = open_or_die(t.path());
  ASSERT_TRUE(::mkdir(t.sub(".ocipipe-ingest").c_str(), 0755) == 0 || errno == EEXIST);
  write_bytes(t.sub(".ocipipe-ingest/blob-123-0-abc"), std::string(42, 'z'));
  auto stale = w.stale_ingest();
  ASSERT_TRUE(stale);
  ASSERT_EQ(stale->size(), 1u);
  EXPECT_EQ((*stale)[0].name, "blob-123-0-abc");
  EXPECT_EQ((*stale)[0].size, 42u);
  ASSERT_TRUE(w.remove_stale_ingest());
  EXPECT_TRUE(w.stale_ingest()->empty());
}

TEST(LayoutWriter, ParallelIngestsFromThreads) {
  temp_dir t;
  auto w = open_or_die(t.path());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      const std::string s(1000 + i, static_cast<char>('a' + i));
      auto in = w.begin_blob();
      if (!in || !in->write(std::string_view(s)) || !in->commit(sha256_of(s))) ++failures;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(names_in(t.sub("blobs/sha256")).size(), 8u);
  expect_valid_layout(t.path());
}

// ---- processes -------------------------------------------------------------

// Waits for a child and returns its exit status (-signal when killed).
int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

TEST(LayoutWriter, KilledWriterLeavesValidLayout) {
  temp_dir t;
  const std::string committed = "complete blob";
  {
    auto w = open_or_die(t.path());
    ASSERT_TRUE(w.put_blob(sha256_of(committed), committed));
  }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child ingests one blob forever and rewrites index.json forever;
    // it is killed somewhere in the middle of either.
    auto w = layout_writer::open(t.path(), false);
    if (!w) ::_exit(3);
    auto in = w->begin_blob();
    if (!in) ::_exit(4);
    const std::string chunk(1 << 16, 'q');
    std::string idx = R"({"schemaVersion":2,"manifests":[],"annotations":{"pad":")" + std::string(1 << 16, 'p') + "\"}}";
    if (!in->write(std::string_view(chunk))) ::_exit(5);
    if (::write(ready[1], "r", 1) != 1) ::_exit(6);
    for (;;) {
      if (!in->write(std::string_view(chunk))) ::_exit(7);
      if (!w->write_index(idx)) ::_exit(8);
    }
  }
  ::close(ready[1]);
  ASSERT_TRUE(readable_within(ready[0], 10000)) << "child never started writing";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_child(pid), -SIGKILL);
  ::close(ready[0]);

  // The lock died with the child; the layout is whole, only the complete blob is named.
  expect_valid_layout(t.path());
  EXPECT_EQ(names_in(t.sub("blobs/sha256")), std::vector<std::string>{std::string(sha256_of(committed).encoded())});
  auto w = layout_writer::open(t.path(), false);
  ASSERT_TRUE(w) << w.error().message();
  // A named temporary of index.json may be left in the ingest dir: gc's to remove.
  ASSERT_TRUE(w->remove_stale_ingest());
  EXPECT_TRUE(w->stale_ingest()->empty());
}

TEST(LayoutWriter, ChildExitingMidWriteLeavesNothingNamed) {
  temp_dir t;
  { auto w = open_or_die(t.path()); }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = layout_writer::open(t.path(), false);
    if (!w) ::_exit(3);
    auto in = w->begin_blob();
    if (!in || !in->write(std::string_view("half of a blob"))) ::_exit(4);
    ::_exit(0);  // no destructors: as if the process died here
  }
  EXPECT_EQ(wait_child(pid), 0);
  expect_valid_layout(t.path());
  EXPECT_TRUE(names_in(t.sub("blobs/sha256")).empty());
}

TEST(LayoutWriter, LockMakesSecondWriterWait) {
  temp_dir t;
  { auto w = open_or_die(t.path()); }
  // Fork first: a child forked while the writer is open would share its
  // lock's open file description, and so the lock itself.
  int go[2], got[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(got), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(go[1]);
    ::close(got[0]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    auto w2 = layout_writer::open(t.path(), false);
    if (!w2) ::_exit(3);
    if (::write(got[1], "l", 1) != 1) ::_exit(4);
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(got[1]);
  auto w = std::make_optional(open_or_die(t.path(), false));
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  EXPECT_FALSE(readable_within(got[0], 500)) << "second writer got the lock while the first held it";
  w.reset();
  EXPECT_TRUE(readable_within(got[0], 10000)) << "second writer never got the lock";
  EXPECT_EQ(wait_child(pid), 0);
  ::close(go[1]);
  ::close(got[0]);
}

// Two processes each do read-modify-write of index.json under the lock; no
// update is lost.
TEST(LayoutWriter, LockSerializesReadModifyWriteOfIndex) {
  temp_dir t;
  {
    auto w = open_or_die(t.path());
    ASSERT_TRUE(w.write_index(R"({"schemaVersion":2,"manifests":[],"annotations":{"n":"0"}})"));
  }
  constexpr int rounds = 40;
  auto bump = [&] {
    for (int i = 0; i < rounds; ++i) {
      auto w = layout_writer::open(t.path(), false);
      if (!w) return false;
      auto j = nlohmann::json::parse(*w->read_index());
      const int n = std::stoi(j["annotations"]["n"].get<std::string>());
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // widen the race window
      j["annotations"]["n"] = std::to_string(n + 1);
      if (!w->write_index(j.dump())) return false;
    }
    return true;
  };
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(bump() ? 0 : 1);
  EXPECT_TRUE(bump());
  EXPECT_EQ(wait_child(pid), 0);
  auto j = nlohmann::json::parse(read_bytes(t.sub("index.json")));
  EXPECT_EQ(j["annotations"]["n"], std::to_string(2 * rounds));
}

// A reader never sees a missing, empty or mixed index.json while a writer
// replaces it over and over.
TEST(LayoutWriter, IndexIsReplacedAtomicallyForReaders) {
  temp_dir t;
  const std::string a = R"({"schemaVersion":2,"manifests":[],"annotations":{"v":")" + std::string(200000, 'a') + "\"}}";
  const std::string b = R"({"schemaVersion":2,"manifests":[],"annotations":{"v":")" + std::string(100000, 'b') + "\"}}";
  {
    auto w = open_or_die(t.path());
    ASSERT_TRUE(w.write_index(a));
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = layout_writer::open(t.path(), false);
    if (!w) ::_exit(3);
    for (int i = 0; i < 200; ++i)
      if (!w->write_index(i % 2 ? a : b)) ::_exit(4);
    ::_exit(0);
  }
  int bad = 0, reads = 0;
  for (;;) {
    int st = 0;
    const bool done = ::waitpid(pid, &st, WNOHANG) == pid;
    const auto got = read_bytes(t.sub("index.json"));
    ++reads;
    if (got != a && got != b) ++bad;
    if (done) {
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
      break;
    }
  }
  EXPECT_EQ(bad, 0) << "of " << reads << " reads";
}

// A dangling symlink named as the layout: mkdir says it exists, stat that it does not, and
// open() used to start over 64 times and then blame a concurrent removal.
TEST(LayoutWriter, ADanglingSymlinkIsRefusedAsOne) {
  temp_dir t;
  ASSERT_EQ(::symlink("missing", t.sub("l").c_str()), 0);
  auto w = layout_writer::open(t.sub("l"), true);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::invalid_argument);
  EXPECT_NE(w.error().message().find("symbolic link to a directory that does not exist"), std::string::npos)
      << w.error().message();
  EXPECT_FALSE(path_exists(t.sub("missing")));
}

// Readers take no lock, and writers rename a new index.json over the old one: a reader
// whose type check and open land on either side of a rename must look again, never fail
// ("replaced while being opened" made ls, inspect and validate --all fail now and then).
TEST(LayoutWriter, IndexReadersNeverFailWhileItIsReplaced) {
  temp_dir t;
  const std::string a = R"({"schemaVersion":2,"manifests":[]})";
  const std::string b = R"({"schemaVersion":2,"manifests":[],"annotations":{"v":"b"}})";
  write_bytes(t.sub("index.json"), a);
  std::atomic<bool> done{false};
  std::thread replacer([&] {
    for (int i = 0; !done.load(); ++i) {
      write_bytes(t.sub("next"), i % 2 ? a : b);
      ::rename(t.sub("next").c_str(), t.sub("index.json").c_str());
    }
  });
  io::unique_fd dir(::open(t.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  std::string failure;
  int reads = 0;
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
       std::chrono::steady_clock::now() < until && failure.empty(); ++reads) {
    auto got = io::read_small_file(dir.get(), "index.json", 4096);
    if (!got) failure = got.error().message();
    else if (*got != a && *got != b) failure = "read " + *got;
  }
  done = true;
  replacer.join();
  EXPECT_EQ(failure, "") << "after " << reads << " reads";
}

}  // namespace
}  // namespace ocipipe::testing
