#pragma once
// Applies layer entries to a rootfs directory, fd-relative, with every path
// resolved as if the rootfs were "/" (openat2 RESOLVE_IN_ROOT, or an
// O_NOFOLLOW component walk where the kernel lacks openat2): absolute
// symlinks, ".." and links planted by earlier entries or layers never lead
// outside (DESIGN.md §6; crun safe_openat; CVE-2021-29136, CVE-2021-32760).
//
// Semantics follow image-spec layer.md "Changeset", "Whiteouts" and umoci's
// tar_extract.go: replacing a path unlinks it first (other names of a
// hardlinked file keep their content); a directory entry over an existing
// directory merges; ownership is set before mode so setuid/setgid survive;
// directory mtimes are set last, after all their children.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/unique_fd.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/tar_entry.h"

namespace ocipipe::io {

struct rootfs_writer_options {
  /// Rootless unpack, as umoci's --rootless: no chown and no device nodes; an
  /// owner other than 0:0 is kept in the `user.rootlesscontainers` xattr of
  /// regular files and directories (stages/oci/rootless_owner.h); every
  /// directory stays u+rwx until finish(), so a lower layer's 0555 directory
  /// still takes the upper layers' changes. Forced on when not running as root.
  bool rootless = false;
};

/// Writes one rootfs. Not thread-safe: the apply stage is serial by design.
/// Every method returns `unsafe_path` for entries that would leave the
/// rootfs or change the rootfs itself into a non-directory, `malformed` for
/// entries that cannot apply (hardlink to a missing target, parent that is
/// not a directory), and `io`-family errors with errno otherwise.
class rootfs_writer {
 public:
  /// `rootfs` must exist and be a directory.
  static result<rootfs_writer> open(const std::string& rootfs, rootfs_writer_options opts = {});

  /// Decides, for a path of the lower layers, whether hiding must descend
  /// into it instead of removing it whole (the current layer wrote at or
  /// below it). Cleaned relative paths.
  using keep_predicate = std::function<bool(const std::string& path)>;

  /// Removes `path` as hidden by a whiteout: the whole subtree, except what
  /// `keep` says the current layer wrote. A missing path, or one below a
  /// non-directory, is a no-op (containerd#4659).
  [[nodiscard]] result<void> remove_lower(const std::string& path, const keep_predicate& keep);

  /// Applies an opaque whiteout: removes every lower child of directory
  /// `dir` (as remove_lower does); the directory itself stays.
  [[nodiscard]] result<void> clear_lower_children(const std::string& dir,
                                                  const keep_predicate& keep);

  /// Creates `path` (cleaned) from `entry`, replacing what is there. For a
  /// regular file, content follows through write_content() and the file is
  /// completed by end_entry(); other types are complete on return.
  [[nodiscard]] result<void> begin_entry(const tar_entry& entry, const std::string& path);
  /// For a regular file entry that a later layer removes (write avoidance,
  /// pipeline/README.md): removes what lower layers have at `path` (cleaned),
  /// as writing the entry would, and writes nothing. Returns false, having
  /// changed nothing, when the entry must be written after all: its parent
  /// does not exist yet (writing would create it), or is reached through a
  /// symlink (the later layer's spelling would not name the same file).
  /// Errors: those of begin_entry for an unsafe path, `io` from the removal.
  [[nodiscard]] result<bool> drop_entry(const std::string& path);
  /// Writes content of the regular file begun last, at byte `offset`.
  [[nodiscard]] result<void> write_content(std::uint64_t offset, byte_view bytes);
  /// Sets owner, mode, xattrs and mtime of the file begun last, and closes it.
  [[nodiscard]] result<void> end_entry();

  /// Sets every directory's recorded mtime; call once after the last layer.
  [[nodiscard]] result<void> finish();

  /// Warnings worth showing once (e.g. xattrs unsupported by the filesystem),
  /// as (rule id, message): `rootfs.unsupported` (what this host cannot
  /// create), `rootfs.owner` (owners this user namespace cannot map: kept in
  /// the `user.rootlesscontainers` xattr instead; complete after finish()).
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& warnings() const noexcept {
    return warnings_;
  }
  [[nodiscard]] bool rootless() const noexcept { return opts_.rootless; }

  /// The path the last begin_entry() wrote, with every symlink of its parent
  /// resolved inside the rootfs: what a whiteout's "written by this layer"
  /// check must compare with, since whiteouts resolve their parents too.
  [[nodiscard]] const std::string& last_entry_path() const noexcept { return last_entry_path_; }

 private:
  rootfs_writer() = default;
  result<int> parent_fd(const std::string& parent, bool create);
  result<void> remove_tree(int dirfd, const std::string& name);
  result<void> remove_existing(int dirfd, const std::string& name, const std::string& path);
  result<void> hide_children(int dirfd, const std::string& dir_path, const keep_predicate& keep);
  result<void> set_xattrs(int fd, const tar_entry& e, const std::string& path);
  // Owner, mode (rootless: u+rwx until finish()), xattrs of directory `fd`
  // from `e`, and what finish() sets on it later, kept under `key` (its
  // resolved path; "" for the rootfs).
  result<void> set_dir_metadata(int fd, const tar_entry& e, const std::string& key, const std::string& path);
  // Removes the xattrs of `fd` that entry `e` does not have.
  result<void> drop_other_xattrs(int fd, const tar_entry& e, const std::string& path);
  // Gives `path` the entry's owner: chown, or the rootless xattr where chown
  // is not ours to do. `fd` is the file itself (regular, directory) or -1 for
  // a name under `dirfd` (symlink, fifo, device: no user.* xattrs on those).
  result<void> set_owner(int fd, int dirfd, const std::string& base, const tar_entry& e,
                         const std::string& path);
  // Whether a file or symlink `e` just created in parent `pfd` (spelled
  // `parent`, just opened by parent_fd) already has the entry's owner, so
  // needs no chown: created by that uid, with the group it gets there (the
  // directory's under setgid, else ours). Never rootless, which records owners.
  result<bool> owner_right_at_creation(int pfd, const std::string& parent, const tar_entry& e);
  void warn_once(const std::string& key, const std::string& message);
  // The symlink-free path below the rootfs of directory `fd` ("" for the
  // rootfs itself), as the kernel names it; `spelled` when it cannot tell.
  std::string real_path_of(int fd, const std::string& spelled) const;

  unique_fd root_;
  rootfs_writer_options opts_;
  // One cached parent directory: tar streams list a directory's entries together.
  std::string cached_parent_;
  std::string cached_real_parent_;  // cached_parent_ with its symlinks resolved
  unique_fd cached_fd_;
  bool cache_valid_ = false;
  gid_t cached_new_file_gid_ = 0;  // the group a file created in cached_fd_ gets
  // Who creates files, and the umask they are created under (unknown when
  // /proc is not mounted: then every file is chmodded): a file whose owner
  // and mode come out right at creation needs no fchown or fchmod.
  uid_t euid_ = 0;
  gid_t egid_ = 0;
  std::optional<mode_t> umask_;
  // The regular file being written, and how far its content reaches.
  unique_fd file_;
  tar_entry file_entry_;
  std::string file_path_;
  std::uint64_t file_end_ = 0;
  bool file_owner_right_ = false;  // created with the entry's uid and gid
  // What finish() sets on each directory after its children: the mtime, and,
  // rootless, the mode (a 0555 directory would refuse its own children).
  // Keyed by the resolved path, so the last entry for a directory wins under
  // whatever name it came; the inode tells a directory replaced since apart.
  struct dir_final {
    std::int64_t mtime_sec = 0, mtime_nsec = 0;
    std::optional<std::uint32_t> mode;
    std::uint64_t dev = 0, ino = 0;
  };
  std::map<std::string, dir_final> dir_finals_;
  std::string root_real_;  // the rootfs's own path, as /proc/self/fd names it
  std::string last_entry_path_;
  std::vector<std::pair<std::string, std::string>> warnings_;
  std::vector<std::string> warned_keys_;
  // Owners chown refused with EINVAL (outside this user namespace's map, B37).
  struct unmapped_owners {
    std::uint64_t count = 0;
    std::string first_path;
    std::int64_t first_uid = 0, first_gid = 0;
  } unmapped_;
};

/// Opens `path` (cleaned, relative) under `root_fd` as if root_fd were "/",
/// with `flags` for the final open. Used to read files of a rootfs safely
/// (e.g. /etc/passwd for create). Errors: `not_found`, `unsafe_path`, `io`.
[[nodiscard]] result<unique_fd> open_in_root(int root_fd, const std::string& path, int flags);

}  // namespace ocipipe::io
