#include "stages/base64.h"

#include <array>
#include <cstdint>

namespace ocipipe {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of each byte, -1 for bytes outside the alphabet ('=' too).
constexpr std::array<std::int8_t, 256> decode_table = [] {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t q = 0; q < text.size(); q += 4) {
    const bool last = q + 4 == text.size();
    std::uint32_t acc = 0;
    int n = 4;  // data characters in this quantum
    for (int i = 0; i < 4; ++i) {
      const char c = text[q + i];
      if (c == '=') {
        // Padding only ends the last quantum, after at least two data characters.
        if (!last || i < 2) return std::nullopt;
        for (int j = i; j < 4; ++j)
          if (text[q + j] != '=') return std::nullopt;
        n = i;
        break;
      }
      const int v = decode_table[static_cast<unsigned char>(c)];
      if (v < 0) return std::nullopt;
      acc |= static_cast<std::uint32_t>(v) << (18 - 6 * i);
    }
    out.push_back(static_cast<char>(acc >> 16));
    if (n > 2) out.push_back(static_cast<char>((acc >> 8) & 0xff));
    if (n > 3) out.push_back(static_cast<char>(acc & 0xff));
  }
  return out;
}

}  // namespace ocipipe
