#pragma once
// Lexical handling of layer entry paths: cleaning, and whiteout names
// (image-spec layer.md "Whiteouts", "Opaque Whiteout").

#include <string>
#include <string_view>

#include "stages/oci/error.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe {

/// Cleans an entry path to a relative path under the rootfs: drops leading
/// "/" and "./", empty and "." components; ".." removes the previous
/// component. "" is the rootfs itself. A ".." that would climb above the
/// rootfs is `unsafe_path` (never clamped silently: such an entry is hostile).
[[nodiscard]] result<std::string> clean_entry_path(std::string_view raw);

/// What a cleaned path names with respect to whiteouts.
enum class whiteout_kind {
  none,     ///< an ordinary entry
  whiteout, ///< ".wh.<name>": hides <name> of lower layers
  opaque,   ///< ".wh..wh..opq": hides every lower child of its directory
  reserved, ///< other ".wh..wh." names (AUFS metadata such as ".wh..wh.plnk"): skipped
};

/// A classified path: for whiteouts, `target` is the path they hide (for an
/// opaque whiteout, the directory whose lower children it hides).
struct whiteout_name {
  whiteout_kind kind = whiteout_kind::none;
  std::string target;
};

/// Classifies a cleaned path. Errors (`unsafe_path`): ".wh." with an empty
/// name (image-spec#1301: it must not act as an opaque whiteout), and ".wh.."
/// / ".wh...", which would name the directory itself or its parent.
[[nodiscard]] result<whiteout_name> classify_whiteout(std::string_view cleaned);

/// One tar entry as the apply stage sees it: a whiteout (target = hidden
/// path), an opaque whiteout (target = directory), an entry to create (target
/// = cleaned path, link_target of hardlinks cleaned too), or reserved (skip).
struct entry_action {
  whiteout_kind kind = whiteout_kind::none;
  std::string target;
};

/// Decides what `entry` does, rewriting its hardlink target to the cleaned
/// form. The rules unpack applies and validate reports are this one function.
/// Errors (`unsafe_path`, `malformed`), with the raw entry name in context:
/// paths escaping the rootfs, bad whiteout names, the rootfs itself as a
/// non-directory, a hardlink to the rootfs, a symlink with an empty target.
[[nodiscard]] result<entry_action> classify_entry(tar_entry& entry);

/// Splits "a/b/c" into {"a/b", "c"}; "c" into {"", "c"}.
std::pair<std::string_view, std::string_view> split_parent(std::string_view cleaned);

}  // namespace ocipipe
