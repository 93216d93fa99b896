#pragma once
// The paths one layer has written so far. Whiteouts and opaque whiteouts hide
// lower layers only, wherever they stand in their own layer's tar stream
// (image-spec layer.md "Whiteouts"; umoci#232, moby#17766): whatever this
// layer wrote, before or after its whiteouts, survives them.

#include <string>
#include <string_view>
#include <unordered_set>

namespace ocipipe {

/// Set of cleaned paths written by the current layer, plus their ancestors.
/// Pure value; not thread-safe.
class layer_paths {
 public:
  /// Records that this layer wrote `path` (cleaned, relative to the rootfs).
  void add(std::string_view path);
  /// True when this layer wrote `path` itself.
  [[nodiscard]] bool wrote(std::string_view path) const;
  /// True when this layer wrote `path` or something below it: such a path must
  /// be descended into, not removed whole, when lower content is hidden.
  [[nodiscard]] bool wrote_at_or_below(std::string_view path) const;
  void clear();

 private:
  std::unordered_set<std::string> written_;
  std::unordered_set<std::string> ancestors_;
};

}  // namespace ocipipe
