#include "stages/tar_path.h"

#include <vector>

namespace ocipipe {

result<std::string> clean_entry_path(std::string_view raw) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i <= raw.size()) {
    auto j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    const auto part = raw.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty())
        return fail(errc::unsafe_path, "path " + quote(raw) + " escapes rootfs");
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back('/');
    out.append(p);
  }
  return out;
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view cleaned) {
  const auto slash = cleaned.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), cleaned};
  return {cleaned.substr(0, slash), cleaned.substr(slash + 1)};
}

result<whiteout_name> classify_whiteout(std::string_view cleaned) {
  constexpr std::string_view prefix = ".wh.";
  constexpr std::string_view opaque = ".wh..wh..opq";
  const auto [parent, base] = split_parent(cleaned);
  // AUFS keeps its metadata (".wh..wh.plnk/…", ".wh..wh.aufs") below reserved
  // names: such entries are no part of the rootfs, wherever they stand.
  const bool reserved_parent = parent.substr(0, 8) == ".wh..wh." ||
                              std::string_view(parent).find("/.wh..wh.") != std::string_view::npos;
  if (reserved_parent || (base.substr(0, 8) == ".wh..wh." && base != opaque))
    return whiteout_name{whiteout_kind::reserved, std::string(cleaned)};
  // A whiteout is a file: a path below a ".wh." name would create a directory
  // that is itself a whiteout marker, which readers disagree about.
  if (parent.substr(0, prefix.size()) == prefix ||
      std::string_view(parent).find("/.wh.") != std::string_view::npos)
    return fail(errc::unsafe_path, "entry " + quote(cleaned) + ": a whiteout name is used as a directory");
  if (base.substr(0, prefix.size()) != prefix) return whiteout_name{};
  if (base == opaque) return whiteout_name{whiteout_kind::opaque, std::string(parent)};
  const auto name = base.substr(prefix.size());
  if (name.empty())
    return fail(errc::unsafe_path, "whiteout " + quote(cleaned) + ": empty name");
  // ".wh.." and ".wh..." would hide the directory itself or its parent: a
  // whiteout names one sibling, never a path component.
  if (name == "." || name == "..")
    return fail(errc::unsafe_path, "whiteout " + quote(cleaned) + ": names " + quote(name) +
                                       ", not a file");
  std::string target(parent);
  if (!target.empty()) target.push_back('/');
  target.append(name);
  return whiteout_name{whiteout_kind::whiteout, std::move(target)};
}

result<entry_action> classify_entry(tar_entry& entry) {
  auto in_entry = [&](error e) { return tl::unexpected(std::move(e).context("entry " + quote(entry.path))); };
  auto path = clean_entry_path(entry.path);
  if (!path) return in_entry(std::move(path).error());
  // A whiteout is known by its name whatever its type flag (smolvm#401).
  auto wh = classify_whiteout(*path);
  if (!wh) return in_entry(std::move(wh).error());
  if (wh->kind != whiteout_kind::none) return entry_action{wh->kind, std::move(wh->target)};
  if (path->empty() && entry.type != entry_type::directory)
    return in_entry(error(errc::unsafe_path, "entry for the rootfs itself is not a directory"));
  if (entry.type == entry_type::hardlink) {
    auto target = clean_entry_path(entry.link_target);
    if (!target) return in_entry(std::move(target).error());
    if (target->empty()) return in_entry(error(errc::unsafe_path, "hardlink to the rootfs itself"));
    entry.link_target = std::move(*target);
  }
  if (entry.type == entry_type::symlink && entry.link_target.empty())
    return in_entry(error(errc::malformed, "symlink with an empty target"));
  return entry_action{whiteout_kind::none, std::move(*path)};
}

}  // namespace ocipipe
