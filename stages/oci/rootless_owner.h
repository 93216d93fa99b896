#pragma once
// The `user.rootlesscontainers` xattr (github.com/rootless-containers/proto,
// as umoci writes it): where a rootless unpack keeps the owner a file had in
// the image, since an unprivileged user cannot chown. Its value is the
// protobuf message `Resource { uint32 uid = 1; uint32 gid = 2; }`, with
// 4294967295 ("noop") standing for 0, so a file owned 0:0 needs no xattr.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ocipipe::rootless_owner {

inline constexpr const char* xattr_name = "user.rootlesscontainers";
inline constexpr std::uint32_t noop_id = 0xffffffffu;

/// The xattr value for owner `uid`:`gid`; "" for 0:0, which is stored as no
/// xattr at all (umoci's unmapHeader). Pure, thread-safe.
[[nodiscard]] inline std::string encode(std::uint32_t uid, std::uint32_t gid) {
  if (uid == 0 && gid == 0) return {};
  std::string out;
  auto varint_field = [&out](unsigned char tag, std::uint32_t v) {
    out.push_back(static_cast<char>(tag));
    do {
      const auto low = static_cast<unsigned char>(v & 0x7f);
      v >>= 7;
      out.push_back(static_cast<char>(v ? (low | 0x80) : low));
    } while (v);
  };
  varint_field(0x08, uid == 0 ? noop_id : uid);  // field 1, varint
  varint_field(0x10, gid == 0 ? noop_id : gid);  // field 2, varint
  return out;
}

struct owner {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

/// Reads a value written by encode() (or by umoci): nullopt when it is not
/// such a message (unknown field, bad varint, value over 32 bits). Fields
/// absent or "noop" read as 0. Pure, thread-safe.
[[nodiscard]] inline std::optional<owner> decode(std::string_view value) {
  owner o;
  std::size_t i = 0;
  while (i < value.size()) {
    const auto tag = static_cast<unsigned char>(value[i++]);
    if (tag != 0x08 && tag != 0x10) return std::nullopt;
    std::uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (i == value.size() || shift > 35) return std::nullopt;
      const auto b = static_cast<unsigned char>(value[i++]);
      v |= std::uint64_t{b & 0x7fu} << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (v > noop_id) return std::nullopt;
    const auto id = v == noop_id ? 0u : static_cast<std::uint32_t>(v);
    (tag == 0x08 ? o.uid : o.gid) = id;
  }
  return o;
}

}  // namespace ocipipe::rootless_owner
