#pragma once
// What a layer does to the paths of the layers below it, from its tar headers
// alone (image-spec layer.md "Whiteouts", "Changeset over existing files").
// The apply stage asks it whether a regular file it is about to write will be
// removed by a later layer anyway (write avoidance, issue 9 item 5; design in
// pipeline/README.md "Write avoidance").

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "stages/oci/tar_entry.h"

namespace ocipipe {

/// The changes of one layer, by cleaned spelled paths (relative to the
/// rootfs, as classify_entry makes them). Pure value; not thread-safe while
/// being filled, read-only afterwards.
class layer_changes {
 public:
  /// An entry of the layer: `path` cleaned; `link_target` the cleaned target
  /// of a hardlink (empty otherwise).
  void add_entry(std::string_view path, entry_type type, std::string_view link_target);
  /// A whiteout hiding lower `path`; an opaque whiteout emptying lower `dir`
  /// ("" for the rootfs).
  void add_whiteout(std::string_view path);
  void add_opaque(std::string_view dir);

  /// What this layer does to a regular file at `path` that a lower layer wrote.
  enum class effect {
    none,     ///< nothing: the file lives on through this layer
    removes,  ///< a whiteout of it or an ancestor, an opaque ancestor, an entry
              ///< at it, or a non-directory entry at an ancestor: nothing of it
              ///< survives this layer
    needs,    ///< a hardlink to it or below it, or an entry below it: this layer
              ///< may need it, so it must be written
  };
  [[nodiscard]] effect on_lower_file(std::string_view path) const;

 private:
  // Looked up by string_view: a query per lower file must not allocate.
  struct path_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using path_set = std::unordered_set<std::string, path_hash, std::equal_to<>>;
  path_set entries_, non_dirs_, whiteouts_, opaques_;
  path_set link_targets_;
  path_set entry_ancestors_;  ///< every proper ancestor of an entry or link target
};

/// Whether a regular file a layer writes at `path` is dead: `later` are the
/// changes of the layers above it in order (complete ones only; the list ends
/// at the first layer not known yet), and one of them removes the file before
/// any needs it. A path whose layers above are not all known up to the one
/// that removes it is not dead (the caller writes it).
[[nodiscard]] bool dead_in_later_layers(std::span<const layer_changes> later, std::string_view path);

}  // namespace ocipipe
