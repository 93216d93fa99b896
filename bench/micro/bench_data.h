#pragma once
// Deterministic benchmark inputs: compressible bytes that look like a rootfs
// (text, repeated runs, some noise), the same on every machine.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ocipipe::bench {

inline std::vector<std::byte> rootfs_like_bytes(std::size_t n, std::uint64_t seed = 42) {
  static const char* words[] = {"usr", "lib", "share", "doc", "bin", "etc", "python3", "debian",
                                "x86_64-linux-gnu", "copyright", "changelog", "#include", "return",
                                "\n", " ", "\t", "0x7f", "ELF", "{", "}", ";"};
  std::vector<std::byte> out;
  out.reserve(n);
  std::uint64_t x = seed;
  while (out.size() < n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if ((x & 7) == 0) {
      out.push_back(static_cast<std::byte>(x >> 24));  // noise
    } else {
      const std::string w = words[(x >> 8) % (sizeof words / sizeof *words)];
      for (char c : w) out.push_back(static_cast<std::byte>(c));
    }
  }
  out.resize(n);
  return out;
}

}  // namespace ocipipe::bench
