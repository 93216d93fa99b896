#pragma once
// Deterministic benchmark inputs: compressible bytes that look like a rootfs
// (text, repeated runs, some noise), the same on every machine. The generator
// lives in stages/synthetic_tree.h, shared with `ocipipe bench`.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stages/synthetic_tree.h"

namespace ocipipe::bench {

inline std::vector<std::byte> rootfs_like_bytes(std::size_t n, std::uint64_t seed = 42) {
  return ocipipe::rootfs_like_bytes(n, seed);
}

}  // namespace ocipipe::bench
