// -j far above the cores (pipeline/graph_arena.h): a run makes no thread that no task of it
// can use. Each graph arena raised oneTBB's process-wide worker limit to -j, and idle workers
// spin looking for tasks, so on 2 cores debian-slim `unpack -j4096` took 3 to 16 s and
// 28 CPU-s (0.5 s at -j2), `validate -j4096` 5 s, and `pack -j4096` of one 200 MB file 51 s
// and 463 MB; the walk after unpack also started one thread per job.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "pipeline/graph_arena.h"
#include "pipeline/validate_run.h"
#include "stages/reference.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

int threads_now() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// The most threads this process had while `run` ran, sampled every 100 us.
template <typename F>
int peak_threads_during(F&& run) {
  std::atomic<bool> done{false};
  std::atomic<int> peak{threads_now()};
  std::thread poller([&] {
    while (!done.load()) {
      peak = std::max(peak.load(), threads_now());
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  run();
  done = true;
  poller.join();
  return peak.load();
}

// Far below the 4096 asked for, far above what the runs need (TBB workers, three threads
// per layer, the walk's helpers, and what earlier tests in this process left running).
constexpr int kFewThreads = 200;
constexpr int kJobs = 4096;

TEST(GraphArena, HasNoMoreThreadsThanTasksCanRun) {
  EXPECT_EQ(pipeline::graph_arena(kJobs, 1, 5).threads(), 5);
  EXPECT_EQ(pipeline::graph_arena(kJobs, 2, 0).threads(), 2);
  EXPECT_EQ(pipeline::graph_arena(3, 1, 100).threads(), 3);
  EXPECT_EQ(pipeline::graph_arena(3, 1).threads(), 3);
}

built_image three_layers(const std::string& at) {
  std::vector<layer_spec> layers;
  for (int i = 0; i < 3; ++i) {
    std::vector<tar_spec_entry> entries{dir("d" + std::to_string(i) + "/")};
    for (int f = 0; f < 50; ++f)
      entries.push_back(file("d" + std::to_string(i) + "/f" + std::to_string(f), std::string(3000, static_cast<char>('a' + f % 26))));
    layers.push_back(layer(std::move(entries)));
  }
  return build_layout(at, "t", layers);
}

TEST(JobsAboveCores, UnpackWithItsStateMakesNoThreadPerJob) {
  temp_dir t;
  const auto img = three_layers(t.sub("layout"));
  unpack_options o;
  o.jobs = kJobs;
  o.record_state = true;  // the walk after unpack has threads of its own
  result<unpack_report> r;
  const int peak = peak_threads_during([&] { r = unpack(img.ref(), t.sub("rootfs"), o); });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_LT(peak, kFewThreads);
}

TEST(JobsAboveCores, ValidateMakesNoThreadPerJob) {
  temp_dir t;
  const auto img = three_layers(t.sub("layout"));
  validate_options o;
  o.jobs = kJobs;
  std::vector<image_validation> v;
  const int peak = peak_threads_during([&] { v = validate({img.ref()}, o); });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].valid());
  EXPECT_LT(peak, kFewThreads);
}

// Local blobs are checked on at most the cores; a registry's wait on the network, so there
// -j is honoured, up to the blobs there are.
TEST(JobsAboveCores, ValidateChecksLocalBlobsOnAtMostTheCores) {
  using pipeline::blobs_checked_at_once;
  EXPECT_EQ(blobs_checked_at_once(64, 230, false, 2), 2);
  EXPECT_EQ(blobs_checked_at_once(64, 230, true, 2), 64);
  EXPECT_EQ(blobs_checked_at_once(64, 5, true, 2), 5);
  EXPECT_EQ(blobs_checked_at_once(0, 230, false, 16), 16);
  EXPECT_EQ(blobs_checked_at_once(0, 230, true, 16), 16);
  EXPECT_EQ(blobs_checked_at_once(1, 230, true, 16), 1);
  EXPECT_EQ(blobs_checked_at_once(8, 0, false, 16), 1);
}

TEST(JobsAboveCores, PackMakesNoThreadPerJob) {
  temp_dir t;
  ASSERT_EQ(::mkdir(t.sub("tree").c_str(), 0755), 0);
  write_bytes(t.sub("tree/big"), std::string(6 << 20, 'b'));  // several gzip chunks
  auto dest = parse_reference("oci:" + t.sub("out") + ":x");
  ASSERT_TRUE(dest);
  pack_options o;
  o.jobs = kJobs;
  result<pack_report> r;
  const int peak = peak_threads_during([&] { r = pack(t.sub("tree"), *dest, o); });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_LT(peak, kFewThreads);
}

}  // namespace
}  // namespace ocipipe::testing
