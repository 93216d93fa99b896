// tar parsing (stages/tar_reader over libarchive) of many small files, the
// shape of a rootfs layer; entry count and content bytes checked first.
#include <archive.h>
#include <archive_entry.h>
#include <benchmark/benchmark.h>

#include "bench/micro/bench_data.h"
#include "stages/tar_reader.h"

namespace {

constexpr int files = 20000;
constexpr std::size_t file_bytes = 2048;

std::vector<std::byte> make_tar() {
  const auto content = ocipipe::bench::rootfs_like_bytes(file_bytes);
  std::vector<std::byte> buf(64u << 20);
  std::size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  archive_entry* e = archive_entry_new();
  for (int i = 0; i < files; ++i) {
    archive_entry_clear(e);
    const std::string name = "usr/share/file" + std::to_string(i);
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, file_bytes);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  buf.resize(used);
  return buf;
}

void BM_TarReaderSmallFiles(benchmark::State& state) {
  static const auto tar = make_tar();
  auto parse = [&](std::size_t& entries, std::size_t& bytes) {
    ocipipe::memory_source src(tar);
    ocipipe::tar_reader r(src);
    entries = bytes = 0;
    for (;;) {
      auto e = r.next_entry();
      if (!e || !*e) return static_cast<bool>(e);
      ++entries;
      auto ok = r.read_content([&](std::uint64_t, ocipipe::byte_view b) -> ocipipe::result<void> {
        bytes += b.size();
        return {};
      });
      if (!ok) return false;
    }
  };
  std::size_t entries = 0, bytes = 0;
  if (!parse(entries, bytes) || entries != files || bytes != files * file_bytes) {
    state.SkipWithError("tar parse does not match what was written");
    return;
  }
  for (auto _ : state) {
    parse(entries, bytes);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * tar.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * files));
}
BENCHMARK(BM_TarReaderSmallFiles)->Unit(benchmark::kMillisecond);

}  // namespace
