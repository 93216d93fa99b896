// io/process_heap: on a small host, chunk buffers that any thread allocates
// come from heap memory advised MADV_HUGEPAGE (one fault per 2 MiB instead
// of per 4 KiB); on a many-core host glibc keeps an arena per thread. Each
// check runs in a child process, whose allocator it may retune freely; the
// first in a fresh one (this binary run again), where, as in ocipipe's main,
// no thread has made an arena yet.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/process_heap.h"

extern char** environ;

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

// Runs `check` in a child process and returns its exit status.
template <typename Check>
int in_child(Check check) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(check());
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// The probe, run in this binary's fresh child before main: tunes the heap as
// for a 2-CPU host, has a new thread allocate eight 256 KiB buffers, exits 0
// when all lie in MADV_HUGEPAGE memory, 1 when not, `skipped` when there is
// no glibc heap to tune (sanitizer builds) or the kernel refused the advice.
int probe_chunk_buffers() {
  const auto t = ocipipe::io::tune_process_heap(2);
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
  if (std::getenv(probe_variable) != nullptr) ::_exit(probe_chunk_buffers());
  return false;
}();

TEST(ProcessHeap, OnASmallHostEveryThreadsChunkBuffersComeFromHugePageAdvisedMemory) {
  std::string probe(probe_variable);
  probe.append("=1");
  std::vector<char*> envp{probe.data()};
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, self, nullptr, nullptr, argv, envp.data()), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  const int rc = WEXITSTATUS(status);
  if (rc == skipped) GTEST_SKIP() << "no glibc heap to tune here (sanitizer build) or madvise refused";
  EXPECT_EQ(rc, 0) << "a thread's 256 KiB buffers did not land in MADV_HUGEPAGE memory";
}

TEST(ProcessHeap, OnAHostOfManyCpusThreadsKeepAnArenaEach) {
  const int rc = in_child([] {
    const auto t = ocipipe::io::tune_process_heap(64);
    return !t.one_arena && t.huge_page_bytes == 0 ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
