// io/process_heap: on a small host, chunk buffers that any thread allocates
// come from heap memory advised MADV_HUGEPAGE (one fault per 2 MiB instead
// of per 4 KiB); on a many-core host glibc keeps an arena per thread. Each
// check runs in a fresh process (this binary run again, the probe below
// taking over before main), where, as in ocipipe's main, no thread has made
// an arena yet, and whose allocator it may retune freely.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "io/process_heap.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr int skipped = 3;
constexpr const char* probe_variable = "OCIPIPE_PROCESS_HEAP_PROBE";

// Whether `p` lies in a mapping whose VmFlags carry "hg" (MADV_HUGEPAGE).
bool in_huge_page_advised_mapping(const void* p) {
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
      inside = addr >= lo && addr < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      std::istringstream flags(line.substr(8));
      for (std::string f; flags >> f;)
        if (f == "hg") return true;
      return false;
    }
  }
  return false;
}

// The probe: tunes the heap as for a host of `cpus` CPUs and exits 0 when it
// did what such a host should get, 1 when not, `skipped` when a small host's
// tuning could not happen (no glibc heap in sanitizer builds, or the kernel
// refused the advice). A small host: a new thread's eight 256 KiB buffers all
// lie in MADV_HUGEPAGE memory. A many-core one: no single arena, no advice.
int probe(unsigned cpus) {
  const auto t = io::tune_process_heap(cpus);
  if (cpus > 4) return !t.one_arena && t.huge_page_bytes == 0 ? 0 : 1;
  if (!t.one_arena || t.huge_page_bytes == 0) return skipped;
  std::vector<std::vector<std::byte>> buffers;
  std::thread([&] {
    for (int i = 0; i < 8; ++i) buffers.emplace_back(std::size_t{256} << 10);
  }).join();
  int advised = 0;
  for (const auto& b : buffers) advised += in_huge_page_advised_mapping(b.data()) ? 1 : 0;
  return advised == 8 ? 0 : 1;
}

[[maybe_unused]] const bool probe_ran = [] {
  if (const char* cpus = std::getenv(probe_variable)) ::_exit(probe(static_cast<unsigned>(std::atoi(cpus))));
  return false;
}();

// Runs the probe for `cpus` in a fresh copy of this binary.
command_result run_probe(unsigned cpus) {
  const auto self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string assignment(probe_variable);
  assignment.append("=").append(std::to_string(cpus));
  return run_command({"env", assignment, self});
}

TEST(ProcessHeap, OnASmallHostEveryThreadsChunkBuffersComeFromHugePageAdvisedMemory) {
  const auto r = run_probe(2);
  if (r.exit_code == skipped) GTEST_SKIP() << "no glibc heap to tune here (sanitizer build) or madvise refused";
  EXPECT_TRUE(r.ok()) << "a thread's 256 KiB buffers did not land in MADV_HUGEPAGE memory: " << r.describe();
}

TEST(ProcessHeap, OnAHostOfManyCpusThreadsKeepAnArenaEach) {
  const auto r = run_probe(64);
  EXPECT_TRUE(r.ok()) << r.describe();
}

}  // namespace
}  // namespace ocipipe::testing
