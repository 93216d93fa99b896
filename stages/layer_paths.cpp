#include "stages/layer_paths.h"

namespace ocipipe {

void layer_paths::add(std::string_view path) {
  written_.emplace(path);
  // Ancestors are shared by siblings: stop at the first one already known.
  for (auto slash = path.rfind('/'); slash != std::string_view::npos;
       slash = path.rfind('/', slash - 1)) {
    if (!ancestors_.emplace(path.substr(0, slash)).second) break;
    if (slash == 0) break;
  }
}

bool layer_paths::wrote(std::string_view path) const {
  return written_.find(std::string(path)) != written_.end();
}

bool layer_paths::wrote_at_or_below(std::string_view path) const {
  const std::string p(path);
  return written_.count(p) != 0 || ancestors_.count(p) != 0;
}

void layer_paths::clear() {
  written_.clear();
  ancestors_.clear();
}

}  // namespace ocipipe
