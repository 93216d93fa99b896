#pragma once
// Deterministic rootfs-like inputs for benchmarks (`ocipipe bench`,
// bench/micro): compressible bytes that look like a rootfs (text, repeated
// runs, some noise) and a tree of files of rootfs-like sizes, the same on
// every machine, so results need no dataset. Pure.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ocipipe {

/// `n` bytes of rootfs-like content from `seed` (xorshift64 over a word
/// list, one byte in eight noise): gzip -6 shrinks it to about a third, as it
/// does a Debian layer. The same (n, seed) gives the same bytes everywhere.
[[nodiscard]] std::vector<std::byte> rootfs_like_bytes(std::size_t n, std::uint64_t seed = 42);

/// One regular file of a synthetic tree: its content is
/// rootfs_like_bytes(size, seed).
struct synthetic_file {
  std::string path;  ///< relative, '/'-separated, its directories listed before it
  std::uint64_t size = 0;
  std::uint64_t seed = 0;
};

/// A tree of directories and regular files shaped like a Debian rootfs:
/// mostly small files (64 B to 32 KiB, log-uniform), one in 128 large
/// (256 KiB to 4 MiB), in package-like directories two to four levels deep.
struct synthetic_tree {
  std::vector<std::string> directories;  ///< relative paths, parents first
  std::vector<synthetic_file> files;     ///< in creation (and tar) order
  std::uint64_t file_bytes = 0;          ///< sum of the files' sizes
};

/// A tree whose files hold at least `total_bytes` (the last file ends past
/// it) and at least one file; about 2 900 files per 64 MiB. Deterministic in
/// (total_bytes, seed).
[[nodiscard]] synthetic_tree make_synthetic_tree(std::uint64_t total_bytes, std::uint64_t seed = 1);

}  // namespace ocipipe
