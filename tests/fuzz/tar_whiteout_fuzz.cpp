// Fuzzes a layer's tar stream into the operations unpack applies: entries from
// stages/tar_reader (libarchive), each classified by classify_entry
// (stages/tar_path: path cleaning, whiteouts, opaque whiteouts, hardlink
// targets) and recorded in stages/layer_paths, with validate's own header
// checks (stages/tar_header_check) on the same bytes.
// Findings beyond crashes (abort):
// - an operation whose target path, or a hardlink's target, could leave the
//   rootfs or name something other than one path below it: absolute, "..",
//   ".", empty components, a NUL byte, or empty where it must name an entry;
// - content blocks of a regular file outside [0, size) or going backwards: the
//   writer would write past what the header (and the size limit) allowed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stages/layer_paths.h"
#include "stages/oci/byte_source.h"
#include "stages/tar_header_check.h"
#include "stages/tar_path.h"
#include "stages/tar_reader.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ocipipe;

namespace {

// A path the rootfs writer may resolve below the root: relative components,
// none of them "", "." or "..", no NUL. "" (the root itself) only when allowed.
bool in_rootfs(std::string_view p, bool root_ok) {
  if (p.empty()) return root_ok;
  if (p.find('\0') != std::string_view::npos) return false;
  std::size_t i = 0;
  while (i <= p.size()) {
    auto j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const auto part = p.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return true;
}

void check_action(const tar_entry& e, const entry_action& a) {
  switch (a.kind) {
    case whiteout_kind::none:
      // The root itself may be (re)described by a directory entry only.
      FUZZ_CHECK(in_rootfs(a.target, e.type == entry_type::directory), "entry %s: target %s", e.path.c_str(),
                 a.target.c_str());
      if (e.type == entry_type::hardlink)
        FUZZ_CHECK(in_rootfs(e.link_target, false), "entry %s: hardlink target %s", e.path.c_str(),
                   e.link_target.c_str());
      if (e.type == entry_type::symlink) FUZZ_CHECK(!e.link_target.empty(), "entry %s: empty symlink", e.path.c_str());
      break;
    case whiteout_kind::whiteout:
      // Hides one entry: never the root, never a parent.
      FUZZ_CHECK(in_rootfs(a.target, false), "whiteout %s: target %s", e.path.c_str(), a.target.c_str());
      break;
    case whiteout_kind::opaque:
      FUZZ_CHECK(in_rootfs(a.target, true), "opaque whiteout %s: target %s", e.path.c_str(), a.target.c_str());
      break;
    case whiteout_kind::reserved:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_view bytes(reinterpret_cast<const std::byte*>(data), size);
  // Vary where chunks end (libarchive's read callback sees them) without
  // spending input bytes on it.
  static constexpr std::size_t chunks[] = {std::size_t{1} << 20, 511, 4096};
  memory_source src(bytes, chunks[size % 3]);
  tar_limits limits;
  limits.max_entry_size = 1 << 24;
  tar_reader reader(src, limits);
  layer_paths written;
  for (int n = 0; n < 10000; ++n) {
    auto next = reader.next_entry();
    if (!next || !*next) break;
    tar_entry e = std::move(**next);
    auto action = classify_entry(e);
    if (action) {
      check_action(e, *action);
      if (action->kind == whiteout_kind::none) {
        written.add(action->target);
        FUZZ_CHECK(written.wrote(action->target) && written.wrote_at_or_below(action->target), "layer_paths lost %s",
                   action->target.c_str());
      } else if (action->kind != whiteout_kind::reserved) {
        (void)written.wrote_at_or_below(action->target);
      }
    }
    if (e.type != entry_type::regular) continue;
    std::uint64_t end = 0;
    auto content = reader.read_content([&](std::uint64_t offset, byte_view block) -> result<void> {
      FUZZ_CHECK(offset >= end && offset + block.size() <= e.size,
                 "entry %s: block [%llu, +%zu) after %llu, size %llu", e.path.c_str(),
                 static_cast<unsigned long long>(offset), block.size(), static_cast<unsigned long long>(end),
                 static_cast<unsigned long long>(e.size));
      end = offset + block.size();
      return {};
    });
    if (!content) break;
  }

  tar_header_check check;
  check.feed(bytes.first(size / 2));
  check.feed(bytes.subspan(size / 2));
  (void)check.finish();
  return 0;
}
