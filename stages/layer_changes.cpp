#include "stages/layer_changes.h"

namespace ocipipe {
namespace {

// Calls f on each proper ancestor of `path` ("a/b/c": "a/b", "a", ""), until f says stop.
template <typename F>
bool any_ancestor(std::string_view path, F&& f) {
  for (auto slash = path.rfind('/'); slash != std::string_view::npos; slash = path.rfind('/')) {
    path = path.substr(0, slash);
    if (f(path)) return true;
  }
  return f(std::string_view());
}

template <typename Set>
bool has(const Set& s, std::string_view p) {
  return s.find(p) != s.end();
}

}  // namespace

void layer_changes::add_entry(std::string_view path, entry_type type, std::string_view link_target) {
  entries_.emplace(path);
  if (type != entry_type::directory) non_dirs_.emplace(path);
  any_ancestor(path, [&](std::string_view a) { return !entry_ancestors_.emplace(a).second; });
  if (type == entry_type::hardlink && !link_target.empty()) {
    link_targets_.emplace(link_target);
    any_ancestor(link_target, [&](std::string_view a) { return !entry_ancestors_.emplace(a).second; });
  }
}

void layer_changes::add_whiteout(std::string_view path) { whiteouts_.emplace(path); }

void layer_changes::add_opaque(std::string_view dir) { opaques_.emplace(dir); }

layer_changes::effect layer_changes::on_lower_file(std::string_view path) const {
  // "Needs" first: a layer that links to the file before hiding it still
  // wants its bytes.
  if (has(link_targets_, path) || has(entry_ancestors_, path)) return effect::needs;
  if (has(whiteouts_, path) || has(entries_, path)) return effect::removes;
  const bool hidden = any_ancestor(path, [&](std::string_view a) {
    return has(opaques_, a) || (!a.empty() && (has(whiteouts_, a) || has(non_dirs_, a)));
  });
  return hidden ? effect::removes : effect::none;
}

bool dead_in_later_layers(std::span<const layer_changes> later, std::string_view path) {
  for (const auto& l : later) {
    switch (l.on_lower_file(path)) {
      case layer_changes::effect::removes:
        return true;
      case layer_changes::effect::needs:
        return false;
      case layer_changes::effect::none:
        break;
    }
  }
  return false;
}

}  // namespace ocipipe
