// The changes between a recorded rootfs and the rootfs now (stages/rootfs_diff.h).
#include "stages/rootfs_diff.h"

namespace ocipipe {
namespace {

constexpr std::uint32_t type_mask = 0170000;  // S_IFMT; stages/ includes no system headers
constexpr std::uint32_t type_dir = 0040000;
constexpr std::uint32_t type_regular = 0100000;

bool is_dir(const path_record& r) { return (r.mode & type_mask) == type_dir; }

// True when `path` lies strictly below directory `dir`.
bool below(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path[dir.size()] == '/' && path.compare(0, dir.size(), dir) == 0;
}

// Another inode than the one recorded: a different number, or the same
// number handed out again (a different birth time, where there is one).
bool other_inode(const path_record& was, const path_record& is) {
  if (was.ino != is.ino) return true;
  const bool both_btime = (was.btime_sec != 0 || was.btime_nsec != 0) && (is.btime_sec != 0 || is.btime_nsec != 0);
  return both_btime && (was.btime_sec != is.btime_sec || was.btime_nsec != is.btime_nsec);
}

bool same_metadata(const path_record& was, const path_record& is) {
  return was.mode == is.mode && was.uid == is.uid && was.gid == is.gid && was.size == is.size &&
         was.mtime_sec == is.mtime_sec && was.mtime_nsec == is.mtime_nsec && was.ctime_sec == is.ctime_sec &&
         was.ctime_nsec == is.ctime_nsec && !other_inode(was, is) && was.link_target == is.link_target;
}

result<void> check_sorted(const std::vector<path_record>& list, std::string_view which) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].path.empty())
      return fail(errc::invalid_argument, std::string(which) + "[" + std::to_string(i) + "]: empty path");
    if (i > 0 && !rootfs_path_less(list[i - 1].path, list[i].path))
      return fail(errc::invalid_argument, std::string(which) + ": " + quote(list[i - 1].path) + " and " +
                                              quote(list[i].path) + " out of order");
  }
  return {};
}

}  // namespace

result<std::vector<rootfs_change>> rootfs_diff(const std::vector<path_record>& recorded,
                                               const std::vector<path_record>& now) {
  OCIPIPE_TRY(check_sorted(recorded, "recorded"));
  OCIPIPE_TRY(check_sorted(now, "now"));
  std::vector<rootfs_change> out;
  auto add = [&](std::size_t j, std::size_t rec) {
    rootfs_change c;
    c.what = rootfs_change::kind::add;
    c.path = now[j].path;
    c.current = j;
    c.recorded = rec;
    out.push_back(std::move(c));
  };
  auto hide = [&](rootfs_change::kind k, const std::string& path) {
    rootfs_change c;
    c.what = k;
    c.path = path;
    out.push_back(std::move(c));
  };
  // Skips the records below `dir` (deleted with it, or hidden by its opaque whiteout).
  auto skip_recorded_below = [&](std::size_t& i, const std::string& dir) {
    while (i < recorded.size() && below(recorded[i].path, dir)) ++i;
  };

  std::size_t i = 0, j = 0;
  while (i < recorded.size() || j < now.size()) {
    const bool have_rec = i < recorded.size(), have_now = j < now.size();
    if (have_now && (!have_rec || rootfs_path_less(now[j].path, recorded[i].path))) {
      add(j++, rootfs_change::npos);  // new
      continue;
    }
    if (have_rec && (!have_now || rootfs_path_less(recorded[i].path, now[j].path))) {
      // Deleted: one whiteout hides it and everything below it.
      const std::string gone = recorded[i++].path;
      hide(rootfs_change::kind::whiteout, gone);
      skip_recorded_below(i, gone);
      continue;
    }
    // The same path on both sides.
    const path_record& was = recorded[i];
    const path_record& is = now[j];
    const bool was_dir = is_dir(was), is_a_dir = is_dir(is);
    if (is_a_dir && (!was_dir || other_inode(was, is))) {
      // Replaced as a whole (rm -rf d; mkdir d), or a file became a
      // directory: nothing lower below it survives, whatever it is named.
      const std::string dir = is.path;
      add(j++, rootfs_change::npos);
      hide(rootfs_change::kind::opaque_whiteout, dir);
      ++i;
      skip_recorded_below(i, dir);
      while (j < now.size() && below(now[j].path, dir)) add(j++, rootfs_change::npos);
      continue;
    }
    if ((was.mode & type_mask) != (is.mode & type_mask)) {
      // Another type; a directory that became something else takes its
      // recorded children with it (the applier removes it recursively).
      add(j++, rootfs_change::npos);
      ++i;
      if (was_dir) skip_recorded_below(i, was.path);
      continue;
    }
    if (!same_metadata(was, is)) {
      add(j, i);
    } else if ((is.mode & type_mask) == type_regular && was.content) {
      add(j, i);
      out.back().check_content = true;
    }
    ++i;
    ++j;
  }
  return out;
}

}  // namespace ocipipe
