// Write avoidance's question per regular file (stages/layer_changes): is it
// removed by a later layer? Asked once per file of the lower layers, so it
// must cost far less than the write it saves. Answers checked first.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "stages/layer_changes.h"

namespace {

std::vector<std::string> lower_paths() {
  std::vector<std::string> p;
  for (int d = 0; d < 100; ++d)
    for (int f = 0; f < 50; ++f) p.push_back("usr/share/pkg" + std::to_string(d) + "/sub/file" + std::to_string(f));
  return p;
}

void BM_LayerChangesDeadQuery(benchmark::State& state) {
  ocipipe::layer_changes cleanup, other;
  for (int d = 0; d < 100; d += 2) cleanup.add_whiteout("usr/share/pkg" + std::to_string(d));
  for (int i = 0; i < 2000; ++i) other.add_entry("etc/conf" + std::to_string(i), ocipipe::entry_type::regular, "");
  const std::vector<ocipipe::layer_changes> later{other, cleanup};
  const auto paths = lower_paths();
  std::size_t dead = 0;
  for (const auto& p : paths) dead += ocipipe::dead_in_later_layers(later, p);
  if (dead != paths.size() / 2) return state.SkipWithError("dead answers do not match the whiteouts");
  for (auto _ : state)
    for (const auto& p : paths) benchmark::DoNotOptimize(ocipipe::dead_in_later_layers(later, p));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(paths.size()));
}
BENCHMARK(BM_LayerChangesDeadQuery);

}  // namespace
