#pragma once
// The read/write loops of io/, in one place: every write(2) and pwrite(2) of
// ocipipe goes on after a short write and retries EINTR, and every read(2)
// and pread(2) retries EINTR. A short write is normal, not an error: a signal
// that arrives after some bytes were written cuts the call short (the CLI's
// SIGINT/SIGTERM handlers are installed without SA_RESTART, so the cancel
// flag is seen promptly), and so do pipes, sockets and RLIMIT_FSIZE. A write
// that makes no progress without an error ends the loop with EIO instead of
// spinning. The functions return errno values, not `result`, so each caller
// names its own file in its message.

#include <sys/types.h>

#include <cstddef>

namespace ocipipe::io {

/// Writes all `n` bytes of `buf` to `fd`. Returns 0, or the errno of the call
/// that failed (EIO when a call wrote nothing and reported no error); bytes
/// before the failure stay written. Thread-safe as write(2) is.
[[nodiscard]] int write_fully(int fd, const void* buf, std::size_t n) noexcept;

/// pwrite(2) of all `n` bytes of `buf` at `offset`; as write_fully.
[[nodiscard]] int pwrite_fully(int fd, const void* buf, std::size_t n, off_t offset) noexcept;

/// One read(2) of at most `n` bytes, retried on EINTR: the bytes read (0 at
/// the end), or -1 with errno set. A short read is returned as it is.
[[nodiscard]] ssize_t read_retrying(int fd, void* buf, std::size_t n) noexcept;

/// One pread(2) at `offset`, retried on EINTR; as read_retrying.
[[nodiscard]] ssize_t pread_retrying(int fd, void* buf, std::size_t n, off_t offset) noexcept;

}  // namespace ocipipe::io
