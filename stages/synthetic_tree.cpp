#include "stages/synthetic_tree.h"

#include <cmath>

namespace ocipipe {

namespace {
std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}
}  // namespace

std::vector<std::byte> rootfs_like_bytes(std::size_t n, std::uint64_t seed) {
  static const char* words[] = {"usr", "lib", "share", "doc", "bin", "etc", "python3", "debian",
                                "x86_64-linux-gnu", "copyright", "changelog", "#include", "return",
                                "\n", " ", "\t", "0x7f", "ELF", "{", "}", ";"};
  std::vector<std::byte> out;
  out.reserve(n + 32);
  std::uint64_t x = seed ? seed : 42;  // xorshift has a fixed point at 0
  while (out.size() < n) {
    xorshift(x);
    if ((x & 7) == 0) {
      out.push_back(static_cast<std::byte>(x >> 24));  // noise
    } else {
      for (const char* c = words[(x >> 8) % (sizeof words / sizeof *words)]; *c; ++c)
        out.push_back(static_cast<std::byte>(*c));
    }
  }
  out.resize(n);
  return out;
}

synthetic_tree make_synthetic_tree(std::uint64_t total_bytes, std::uint64_t seed) {
  static const char* tops[] = {"usr/bin", "usr/lib/x86_64-linux-gnu", "usr/share/doc", "usr/share/locale",
                               "usr/share/man/man1", "etc", "var/lib/dpkg/info", "usr/lib/python3/dist-packages"};
  static const char* exts[] = {"", ".so", ".txt", ".py", ".gz", ".conf", ".list", ".mo"};
  synthetic_tree t;
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  // Parents first: every prefix of every top directory, once.
  for (const char* top : tops) {
    const std::string p = top;
    for (std::size_t i = 0; i <= p.size(); ++i)
      if (i == p.size() || p[i] == '/') {
        const std::string d = p.substr(0, i);
        bool seen = false;
        for (const auto& have : t.directories) seen = seen || have == d;
        if (!seen) t.directories.push_back(d);
      }
  }
  std::string dir;
  int pkg = 0;
  while (t.files.empty() || t.file_bytes < total_bytes) {
    // A new package directory every 8 to 39 files, as dpkg lays them out.
    if (dir.empty() || xorshift(x) % 24 == 0) {
      dir = std::string(tops[xorshift(x) % (sizeof tops / sizeof *tops)]) + "/pkg" + std::to_string(pkg++);
      t.directories.push_back(dir);
    }
    std::uint64_t size;
    if (xorshift(x) % 128 == 0) {
      size = (256u << 10) + xorshift(x) % ((4u << 20) - (256u << 10));
    } else {
      // log-uniform in [64, 32 KiB]: 2^(6 + 9u), u uniform in [0, 1)
      const double u = static_cast<double>(xorshift(x) % 1000000) / 1e6;
      size = static_cast<std::uint64_t>(std::exp2(6.0 + 9.0 * u));
    }
    synthetic_file f;
    f.path = dir + "/f" + std::to_string(t.files.size()) + exts[xorshift(x) % (sizeof exts / sizeof *exts)];
    f.size = size;
    f.seed = xorshift(x) | 1;
    t.file_bytes += size;
    t.files.push_back(std::move(f));
  }
  return t;
}

}  // namespace ocipipe
