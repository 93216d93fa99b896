#pragma once
// Files that ocipipe reads whole or streams (index.json, blobs, a rootfs's
// /etc/passwd) must be regular files: a FIFO would block the open or the read
// forever, a device node would read the host's device (an image can name
// /dev/kmsg or a watchdog by major:minor). The type is checked through an
// O_PATH descriptor, so a device's open never runs.

#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include "io/unique_fd.h"
#include "stages/oci/error.h"

namespace ocipipe::io {

/// Refuses anything but a regular file; `st` is the file's fstat. Errors:
/// `unsafe_path` for a symlink, `malformed` naming any other file type.
[[nodiscard]] inline result<void> check_regular(const struct stat& st, const std::string& what) {
  if (S_ISREG(st.st_mode)) return {};
  if (S_ISLNK(st.st_mode))
    return fail(errc::unsafe_path, what + ": is a symbolic link; a regular file is required", ELOOP);
  return fail(errc::malformed, what + ": not a regular file (" +
                                   (S_ISFIFO(st.st_mode) ? "a FIFO"
                                    : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device node"
                                    : S_ISDIR(st.st_mode) ? "a directory"
                                                          : "a special file") +
                                   ")");
}

/// Opens a file for reading after checking it is a regular file: `open_path`
/// opens it with O_PATH (no I/O open), `open_read` for reading; both must
/// reach the same inode. A file replaced in between (index.json, which
/// writers rename over while readers take no lock) is looked at again, up to
/// 8 times. Errors: those of the openers, check_regular's, `unsafe_path`
/// when the file was replaced every time.
template <typename OpenPath, typename OpenRead>
[[nodiscard]] result<unique_fd> open_checked_regular(OpenPath&& open_path, OpenRead&& open_read,
                                                     const std::string& what) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    OCIPIPE_ASSIGN_OR_RETURN(unique_fd probe, open_path());
    struct stat st{}, st2{};
    if (::fstat(probe.get(), &st) != 0) return fail_errno(what, errno);
    OCIPIPE_TRY(check_regular(st, what));
    OCIPIPE_ASSIGN_OR_RETURN(unique_fd fd, open_read());
    if (::fstat(fd.get(), &st2) != 0) return fail_errno(what, errno);
    if (st.st_dev == st2.st_dev && st.st_ino == st2.st_ino) return fd;
  }
  return fail(errc::unsafe_path, what + ": replaced again and again while being opened");
}

/// Opens `name` under `dirfd` for reading, never following a final symlink,
/// regular files only. Errors: `not_found`, `unsafe_path` (a symlink),
/// `malformed` (a FIFO, device node, directory), `io`.
[[nodiscard]] inline result<unique_fd> open_regular_file(int dirfd, const std::string& name,
                                                         const std::string& what) {
  auto opener = [&](int flags) -> result<unique_fd> {
    unique_fd fd(::openat(dirfd, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW));
    if (fd) return fd;
    if (errno == ELOOP)
      return fail(errc::unsafe_path, what + ": is a symbolic link; a regular file is required", ELOOP);
    return fail_errno(what, errno);
  };
  return open_checked_regular([&] { return opener(O_PATH); }, [&] { return opener(O_RDONLY); }, what);
}

}  // namespace ocipipe::io
