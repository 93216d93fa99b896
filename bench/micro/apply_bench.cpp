// The apply stage's file creation (io/rootfs_writer): small files, the shape
// of a rootfs layer, into a directory under $TMPDIR (tmpfs where it is one);
// one iteration writes `files` files into a fresh rootfs. Checked first: every
// file is there with its size and mode.
#include <sys/stat.h>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/micro/bench_data.h"
#include "io/rootfs_writer.h"

namespace {

constexpr int files = 2000;

std::string scratch_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string t = (tmp && *tmp ? tmp : "/tmp") + std::string("/ocipipe-apply-bench-XXXXXX");
  return ::mkdtemp(t.data()) ? t : std::string();
}

bool apply_files(const std::string& rootfs, std::size_t file_bytes) {
  static const auto content = ocipipe::bench::rootfs_like_bytes(1 << 20);
  auto w = ocipipe::io::rootfs_writer::open(rootfs);
  if (!w) return false;
  ocipipe::tar_entry dir;
  dir.type = ocipipe::entry_type::directory;
  dir.mode = 0755;
  if (!w->begin_entry(dir, "usr")) return false;
  for (int i = 0; i < files; ++i) {
    ocipipe::tar_entry e;
    e.type = ocipipe::entry_type::regular;
    e.mode = i % 7 == 0 ? 0755 : 0644;
    e.size = file_bytes;
    if (!w->begin_entry(e, "usr/f" + std::to_string(i))) return false;
    if (!w->write_content(0, ocipipe::byte_view(content.data(), file_bytes))) return false;
    if (!w->end_entry()) return false;
  }
  return static_cast<bool>(w->finish());
}

void BM_ApplySmallFiles(benchmark::State& state) {
  const auto file_bytes = static_cast<std::size_t>(state.range(0));
  const std::string base = scratch_dir();
  if (base.empty()) return state.SkipWithError("no scratch directory");
  int run = 0;
  {
    const std::string check = base + "/check";
    std::filesystem::create_directory(check);
    struct stat st{};
    if (!apply_files(check, file_bytes) || ::stat((check + "/usr/f7").c_str(), &st) != 0 ||
        st.st_size != static_cast<off_t>(file_bytes) || (st.st_mode & 07777) != 0755) {
      std::filesystem::remove_all(base);
      return state.SkipWithError("applied files do not match their entries");
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    const std::string rootfs = base + "/r" + std::to_string(run++);
    std::filesystem::create_directory(rootfs);
    state.ResumeTiming();
    if (!apply_files(rootfs, file_bytes)) {
      state.SkipWithError("apply failed");
      break;
    }
    state.PauseTiming();
    std::filesystem::remove_all(rootfs);
    state.ResumeTiming();
  }
  std::filesystem::remove_all(base);
  state.SetItemsProcessed(state.iterations() * files);
  state.SetBytesProcessed(state.iterations() * files * static_cast<std::int64_t>(file_bytes));
}
BENCHMARK(BM_ApplySmallFiles)->Arg(512)->Arg(4096)->Arg(65536)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
