// Regression tests for a fault the crash/concurrency work of issue 10 (items 3, 4) found: a
// pack that created a new layout and then failed (a missing --base, say) removed the whole
// directory (pipeline::created_layout_guard) without the layout lock, even when another
// process had opened that new layout meanwhile. The other pack then failed with ENOENT on
// every write ("create \"blobs\": No such file or directory") or, when it had finished
// first, lost its image and tag. Now the guard removes the layout only under the lock and
// only while index.json lists no image (io::layout_writer::remove_layout), and a writer
// that waited for the lock of a layout removed meanwhile starts over on a fresh directory
// (io::layout_writer::open).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/layout_writer.h"
#include "pipeline/pack_image.h"
#include "stages/digester.h"
#include "tests/support/image_builder.h"
#include "tests/support/layout_stress.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {
using io::layout_writer;

digest digest_of(std::string_view s) {
  return digester::of(byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()));
}

TEST(CreatedLayoutGuard, FailedRunKeepsTheImageAnotherRunTaggedIntoItsNewLayout) {
  temp_dir t;
  auto img = build_layout(t.sub("img"), "a", {layer({file("a", "a\n")})});
  const std::string fresh = t.sub("new");
  {
    pipeline::created_layout_guard created(fresh);  // the failing run: the layout is new
    { auto w = layout_writer::open(fresh, true); ASSERT_TRUE(w) << w.error().message(); }
    // Meanwhile another process tags its image into the layout this run created.
    const auto c = run_ocipipe({"copy", img.ref_text(), "oci:" + fresh + ":theirs"});
    ASSERT_TRUE(c.ok()) << c.describe();
  }  // the failing run ends without keep()
  ASSERT_TRUE(path_exists(fresh + "/oci-layout")) << "the failed run removed a layout holding another run's image";
  std::string err;
  const auto tags = layout_tags(fresh, &err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(tags.count("theirs"), 1u);
  const auto v = run_ocipipe({"validate", "--all", "oci:" + fresh});
  EXPECT_TRUE(v.ok()) << v.describe();
}

TEST(CreatedLayoutGuard, FailedRunStillRemovesTheEmptyLayoutItCreated) {
  temp_dir t;
  const std::string fresh = t.sub("new");
  {
    pipeline::created_layout_guard created(fresh);
    auto w = layout_writer::open(fresh, true);
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_TRUE(w->put_blob(digest_of("orphan"), "orphan"));  // blobs, but no tag
  }
  EXPECT_FALSE(path_exists(fresh));
}

// A failed run killed while its created_layout_guard removes the layout (a CI job's
// timeout, an OOM kill) used to leave a directory without oci-layout but with blobs, which
// every later pack, copy and gc refused as "not an image layout and not empty". Killed
// half way through the blobs, the removal must leave something the next writer opens.
TEST(CreatedLayoutGuard, RemovalKilledHalfWayLeavesWhatTheNextWriterOpens) {
  temp_dir t;
  // Enough blobs that the removal takes milliseconds; their names need only look like digests.
  constexpr int blobs = 4000;
  std::vector<std::string> names;
  for (int i = 0; i < blobs; ++i) names.emplace_back(digest_of(std::to_string(i)).encoded());
  // A loaded machine can let the removal finish before the kill lands: try again then.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string path = t.sub("l" + std::to_string(attempt));
    { auto w = layout_writer::open(path, true); ASSERT_TRUE(w) << w.error().message(); }
    for (const auto& n : names) write_bytes(path + "/blobs/sha256/" + n, "b");
    // Half gone, judged by 16 of them: cheap enough to look at often.
    const auto half_gone = [&] {
      int gone = 0;
      for (int i = 0; i < blobs; i += blobs / 16) gone += path_exists(path + "/blobs/sha256/" + names[i]) ? 0 : 1;
      return gone >= 8;
    };
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto w = layout_writer::open(path, false);
      ::_exit(w && w->remove_layout() ? 0 : 3);
    }
    while (!half_gone()) {
    }
    ::kill(pid, SIGKILL);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st)) {
      ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the removal failed; status " << st;
      continue;
    }
    auto w = layout_writer::open(path, true);
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_TRUE(path_exists(path + "/oci-layout"));
    return;
  }
  FAIL() << "the removal ended before the kill every time";
}

// A writer waiting for the lock of a layout that its holder removes gets a fresh layout,
// never a writer on the deleted directory.
TEST(LayoutWriter, WaiterOnARemovedLayoutStartsOverOnAFreshOne) {
  temp_dir t;
  const std::string path = t.sub("l");
  auto first = layout_writer::open(path, true);
  ASSERT_TRUE(first) << first.error().message();
  std::optional<result<void>> waiter_write;
  std::thread waiter([&] {
    auto w = layout_writer::open(path, true);  // waits: the lock is an OFD lock
    if (!w) {
      waiter_write = tl::unexpected(w.error());
      return;
    }
    waiter_write = w->put_blob(digest_of("mine"), "mine");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(first->remove_layout());
  first = fail(errc::cancelled, "closed");  // the writer (and its lock) goes
  waiter.join();
  ASSERT_TRUE(waiter_write.has_value());
  ASSERT_TRUE(*waiter_write) << waiter_write->error().message();
  EXPECT_EQ(read_bytes(path + "/blobs/sha256/" + std::string(digest_of("mine").encoded())), "mine");
  EXPECT_EQ(read_bytes(path + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
}

TEST(LayoutWriter, WaiterWithoutCreateOnARemovedLayoutIsNotFound) {
  temp_dir t;
  const std::string path = t.sub("l");
  auto first = layout_writer::open(path, true);
  ASSERT_TRUE(first) << first.error().message();
  std::optional<errc> waiter_error;
  std::thread waiter([&] {
    auto w = layout_writer::open(path, false);
    waiter_error = w ? errc::internal : w.error().code();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(first->remove_layout());
  first = fail(errc::cancelled, "closed");
  waiter.join();
  ASSERT_TRUE(waiter_error.has_value());
  EXPECT_EQ(*waiter_error, errc::not_found);
  EXPECT_FALSE(path_exists(path));
}

// CI found the window this closes: an opener listed the layout while a remover was still
// emptying it (not empty), then looked for the lock file after the remover had unlinked it
// (no lock), and so took a layout being removed for somebody's non-layout directory,
// refusing it. Here an opener starts 0 to 4.75 microseconds after each removal
// does, so that its look at the directory lands all over the removal; it must never be
// refused, only get the layout the removal left or a fresh one.
TEST(LayoutWriter, OpenDuringARemovalNeverCallsTheLayoutSomebodysDirectory) {
  temp_dir t;
  const std::string path = t.sub("l");
  // An index.json that lists an image: until it is unlinked, which remove_layout does just
  // before the lock file, the directory is not empty.
  const std::string index = R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" +
                            digest_of("theirs").str() + R"(","size":6}]})";
  constexpr int cycles = 120;
  std::atomic<int> removing{0}, opened{0};
  std::string remover_error;
  std::thread remover([&] {
    for (int cycle = 1; cycle <= cycles; ++cycle) {
      auto w = layout_writer::open(path, true);
      auto ok = w ? w->write_index(index) : result<void>(tl::unexpected(w.error()));
      if (ok) {
        removing.store(cycle);
        ok = w->remove_layout();
      }
      if (!ok) {
        remover_error = ok.error().message();
        removing.store(cycles + 1);
        return;
      }
      w = fail(errc::cancelled, "closed");
      while (opened.load() < cycle) std::this_thread::yield();
    }
  });
  std::string refusal;
  for (int cycle = 1; cycle <= cycles && refusal.empty(); ++cycle) {
    // Spinning, not yielding: a yielding opener soon shares the remover's core and then
    // only runs once the removal is over.
    while (removing.load() < cycle) {
    }
    const auto start = std::chrono::steady_clock::now() + std::chrono::nanoseconds(cycle % 20 * 250);
    while (std::chrono::steady_clock::now() < start) {
    }
    auto w = layout_writer::open(path, true);
    if (!w) refusal = "cycle " + std::to_string(cycle) + ": " + w.error().message();
    w = fail(errc::cancelled, "closed");  // the lock goes before the remover's next open
    opened.store(cycle);
  }
  opened.store(cycles);
  remover.join();
  EXPECT_EQ(remover_error, "");
  EXPECT_EQ(refusal, "");
}

// The race as users meet it: two packs into one layout that does not exist yet, one of
// them failing after it has opened the layout (its --base is missing). The good one must
// succeed and keep its tag, every time.
TEST(PackRace, FailedPackIntoANewLayoutNeverTakesAConcurrentPacksImage) {
  temp_dir t;
  const std::string dir = t.sub("dir");
  ::mkdir(dir.c_str(), 0755);
  write_bytes(dir + "/f", "packed\n");
  for (int i = 0; i < 12; ++i) {
    const std::string layout = t.sub("l" + std::to_string(i));
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t good = spawn_ocipipe({"pack", dir, "oci:" + layout + ":good"}, t.sub("good.log"));
    const pid_t bad = spawn_ocipipe({"pack", "--base", "oci:" + layout + ":missing", dir, "oci:" + layout + ":bad"},
                                    t.sub("bad.log"));
    const auto g = wait_child(good, t0);
    const auto b = wait_child(bad, t0);
    ASSERT_EQ(g.exit_code, 0) << "attempt " << i << ": " << read_bytes(t.sub("good.log"));
    EXPECT_EQ(b.exit_code, 2) << read_bytes(t.sub("bad.log"));
    std::string err;
    const auto tags = layout_tags(layout, &err);
    ASSERT_EQ(err, "") << "attempt " << i << ": the good pack's layout is gone";
    ASSERT_EQ(tags.count("good"), 1u) << "attempt " << i;
    EXPECT_EQ(tags.count("bad"), 0u);
  }
}

}  // namespace
}  // namespace ocipipe::testing
