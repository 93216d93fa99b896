#include "stages/oci/digest.h"

namespace ocipipe {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_separator(char c) { return c == '+' || c == '.' || c == '_' || c == '-'; }
bool is_encoded_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '=' || c == '_' || c == '-';
}
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

result<digest> digest::parse(std::string_view s) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos)
    return fail(errc::malformed, "digest " + quote(s) + ": missing \":\"");
  const auto alg = s.substr(0, colon);
  const auto enc = s.substr(colon + 1);
  // Components are non-empty and separators sit between them.
  if (alg.empty() || !is_lower_alnum(alg.front()) || !is_lower_alnum(alg.back()))
    return fail(errc::malformed, "digest " + quote(s) + ": malformed algorithm");
  for (std::size_t i = 0; i < alg.size(); ++i) {
    const char c = alg[i];
    if (is_lower_alnum(c)) continue;
    if (!is_separator(c) || is_separator(alg[i + 1]))
      return fail(errc::malformed, "digest " + quote(s) + ": malformed algorithm");
  }
  if (enc.empty())
    return fail(errc::malformed, "digest " + quote(s) + ": empty encoded part");
  for (char c : enc)
    if (!is_encoded_char(c))
      return fail(errc::malformed, "digest " + quote(s) + ": invalid character in encoded part");

  digest d;
  d.text_ = std::string(s);
  d.colon_ = colon;
  std::size_t want = 0;
  if (alg == "sha256") {
    d.alg_ = digest_algorithm::sha256;
    want = 64;
  } else if (alg == "sha512") {
    d.alg_ = digest_algorithm::sha512;
    want = 128;
  }
  if (want != 0) {
    // descriptor.md: registered algorithms MUST use lowercase hex of the exact length.
    if (enc.size() != want)
      return fail(errc::malformed, "digest " + quote(s) + ": " + std::string(alg) + " needs " +
                                       std::to_string(want) + " hex characters");
    for (char c : enc)
      if (!is_lower_hex(c))
        return fail(errc::malformed,
                    "digest " + quote(s) + ": " + std::string(alg) + " needs lowercase hex");
  }
  return d;
}

digest digest::from_bytes(digest_algorithm alg, const unsigned char* bytes, std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  digest d;
  d.alg_ = alg;
  d.text_ = alg == digest_algorithm::sha512 ? "sha512:" : "sha256:";
  d.colon_ = d.text_.size() - 1;
  d.text_.reserve(d.text_.size() + 2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    d.text_.push_back(hex[bytes[i] >> 4]);
    d.text_.push_back(hex[bytes[i] & 0xf]);
  }
  return d;
}

std::string digest::blob_path() const {
  std::string p = "blobs/";
  p.append(algorithm_name()).push_back('/');
  p.append(encoded());
  return p;
}

}  // namespace ocipipe
