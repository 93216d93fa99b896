#include "stages/schema_rules.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include <simdjson.h>

#include "stages/base64.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/oci/digest.h"
#include "stages/oci/error.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;
using members = std::map<std::string_view, element>;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// defs-descriptor.json "mediaType": RFC 6838 §4.2 restricted names, each of
// type and subtype 1 to 127 characters:
//   ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$
bool is_media_type_part(std::string_view p) {
  constexpr std::string_view extra = "!#$&^_.+-";
  if (p.empty() || p.size() > 127 || !is_alnum(p.front())) return false;
  for (char c : p.substr(1))
    if (!is_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  return true;
}

bool is_media_type(std::string_view s) {
  const auto slash = s.find('/');
  return slash != std::string_view::npos && is_media_type_part(s.substr(0, slash)) &&
         is_media_type_part(s.substr(slash + 1));
}

// defs-descriptor.json "urls" items have format "uri": an absolute RFC 3986
// URI, scheme first. The reference (gojsonschema) requires a scheme and no
// backslash; we also refuse what RFC 3986 has no place for (spaces, controls,
// non-ASCII, "<>{}|^`\"", stray '%'), since descriptor.md says urls MUST
// conform to RFC 3986.
bool is_uri(std::string_view s) {
  const auto colon = s.find(':');
  if (colon == 0 || colon == std::string_view::npos || !is_alpha(s.front())) return false;
  for (char c : s.substr(0, colon))
    if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return false;
  constexpr std::string_view allowed = "-._~:/?#[]@!$&'()*+,;=";
  for (std::size_t i = colon + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_alnum(c) && allowed.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Decodes `data` as the reference does: Go's encoding/json reads []byte with
// base64.StdEncoding, which skips '\r' and '\n' and otherwise wants padded
// standard base64. nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text)
    if (c != '\r' && c != '\n') s.push_back(c);
  return base64_decode(s);
}

// config-schema.json "created" has format "date-time", which the reference
// checks with Go's time.Parse(time.RFC3339, …):
//   YYYY-MM-DD "T" hh:mm:ss [.fraction] ("Z" | ("+"|"-") hh:mm)
// with the calendar checked (no February 30th, no second 60).
bool is_rfc3339(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (!is_digit(s[i])) return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!num(0, 4, year) || s.size() < 20 || s[4] != '-' || !num(5, 2, month) || s[7] != '-' ||
      !num(8, 2, day) || s[10] != 'T' || !num(11, 2, hour) || s[13] != ':' || !num(14, 2, minute) ||
      s[16] != ':' || !num(17, 2, second))
    return false;
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > days[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
  }
  if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
  int zh, zm;
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && num(i + 1, 2, zh) &&
         s[i + 3] == ':' && num(i + 4, 2, zm) && zh <= 23 && zm <= 59;
}

// validator.go checks every Env entry against `^[^=]+=.*$`: a non-empty name
// without '=', then '='. Go's '.' does not match '\n', so the reference also
// refuses a newline in the value; we agree with it.
bool is_env_form(std::string_view s) {
  const auto eq = s.find('=');
  return eq != 0 && eq != std::string_view::npos && s.find('\n', eq) == std::string_view::npos;
}

// The encoded part of descriptor.md's digest grammar: [a-zA-Z0-9=_-]+.
bool is_encoded_grammar(std::string_view enc) {
  if (enc.empty()) return false;
  for (char c : enc)
    if (!is_alnum(c) && c != '=' && c != '_' && c != '-') return false;
  return true;
}

// config.md "ExposedPorts": keys are `port/tcp`, `port/udp` or `port` (tcp
// implied); `port/sctp` too, which Docker writes and runtimes accept. A port
// is a decimal number 1..65535; ranges are expanded by builders, never stored.
bool is_exposed_port(std::string_view key) {
  const auto slash = key.find('/');
  const std::string_view port = key.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view proto = key.substr(slash + 1);
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return false;
  }
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

// config.md "Volumes": directories in the container, so absolute paths: `/…`,
// or on Windows also `C:\…` / `C:/…`. A relative path has no directory to be
// relative to.
bool is_volume_path(std::string_view key, bool windows) {
  if (!key.empty() && key.front() == '/') return true;
  return windows && key.size() >= 3 && is_alpha(key[0]) && key[1] == ':' &&
         (key[2] == '\\' || key[2] == '/');
}

bool is_known_layer_type(std::string_view mt) {
  return mt == media_type::layer_tar || mt == media_type::layer_tar_gzip ||
         mt == media_type::layer_tar_zstd || mt == media_type::layer_nondistributable_tar ||
         mt == media_type::layer_nondistributable_tar_gzip ||
         mt == media_type::layer_nondistributable_tar_zstd || mt == media_type::empty_json;
}

// The os/architecture/variant pairs validator.go's checkPlatform and
// checkArchitecture know, widened by the Go ports images commonly carry now
// (linux riscv64 and loong64, windows and darwin arm64). Only a pair the
// table contradicts is reported; an os or architecture it does not list is
// left alone, since config.md defers to Go's open-ended GOOS/GOARCH lists.
struct os_arches {
  std::string_view os;
  std::string_view arches;  // space-separated
};
constexpr std::array<os_arches, 10> known_os_arches{{
    {"android", "arm arm64 386 amd64"},
    {"darwin", "386 amd64 arm arm64"},
    {"dragonfly", "amd64"},
    {"freebsd", "386 amd64 arm arm64 riscv64"},
    {"linux",
     "386 amd64 arm arm64 ppc64 ppc64le mips mipsle mips64 mips64le s390x riscv64 loong64"},
    {"netbsd", "386 amd64 arm arm64"},
    {"openbsd", "386 amd64 arm arm64"},
    {"plan9", "386 amd64 arm"},
    {"solaris", "amd64"},
    {"windows", "386 amd64 arm arm64"},
}};
struct arch_variants {
  std::string_view arch;
  std::string_view variants;  // space-separated; "-" stands for no variant
};
constexpr std::array<arch_variants, 9> known_arch_variants{{
    {"arm", "- v5 v6 v7 v8"},
    {"arm64",
     "- v8 v8.0 v8.1 v8.2 v8.3 v8.4 v8.5 v8.6 v8.7 v8.8 v8.9 v9 v9.0 v9.1 v9.2 v9.3 v9.4 v9.5"},
    {"386", "-"},
    {"amd64", "- v1 v2 v3 v4"},
    {"ppc64", "-"},
    {"ppc64le", "-"},
    {"mips64", "-"},
    {"mips64le", "-"},
    {"s390x", "-"},
}};

bool in_word_list(std::string_view list, std::string_view word) {
  while (!list.empty()) {
    const auto sp = list.find(' ');
    if (list.substr(0, sp) == word) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

// Walks one document and collects findings. Holds only the output vector;
// elements point into the parser owned by check_document's frame.
class checker {
 public:
  explicit checker(std::vector<diagnostic>& out) : out_(out) {}

  void error(std::string_view rule, std::string path, std::string message) {
    out_.push_back({std::string(rule), severity::error, std::move(path), std::move(message)});
  }
  void warning(std::string_view rule, std::string path, std::string message) {
    out_.push_back({std::string(rule), severity::warning, std::move(path), std::move(message)});
  }

  void check_manifest(element root);
  void check_index(element root);
  void check_config(element root);
  void check_layout(element root);
  /// Returns the descriptor's mediaType when it is a well-formed string.
  std::optional<std::string_view> check_descriptor(element e, const std::string& path);

 private:
  std::optional<members> object_members(element e, const std::string& path,
                                        std::string_view type_rule, std::string_view what);
  std::optional<std::string_view> string_field(const members& m, const std::string& parent,
                                               std::string_view key, std::string_view rule_base,
                                               bool required);
  template <typename Each>
  void string_array(element e, const std::string& path, std::string_view rule_base, Each each);
  void string_array(element e, const std::string& path, std::string_view rule_base) {
    string_array(e, path, rule_base, [](std::string_view, const std::string&) {});
  }
  void string_array_field(const members& m, const std::string& parent, std::string_view key,
                          std::string_view rule_base, bool nullable);
  void bool_field(const members& m, const std::string& parent, std::string_view key,
                  std::string_view rule_base);
  void date_time_field(const members& m, const std::string& parent, std::string_view key,
                       std::string_view rule_base);
  /// The map's members when it is an object, for checks of its keys.
  std::optional<members> map_field(const members& m, const std::string& parent,
                                   std::string_view key, std::string_view rule_base,
                                   bool values_are_objects, bool nullable);
  void media_type_field(const members& m, const std::string& parent, std::string_view key,
                        std::string_view rule_base, bool required);
  std::optional<digest> check_digest(element e, const std::string& path,
                                     std::string_view rule_base);
  std::optional<std::int64_t> check_size(element e, const std::string& path);
  void check_data(element e, const std::string& path, std::optional<std::int64_t> size,
                  const std::optional<digest>& dg);
  void check_annotations(element e, const std::string& path);
  void check_empty_descriptor(const members& m, const std::string& path,
                              std::optional<std::int64_t> size, const std::optional<digest>& dg);
  void check_platform(element e, const std::string& path);
  void check_platform_combination(std::string_view os, std::string_view arch,
                                  std::string_view variant, const std::string& path);
  void check_schema_version(const members& m, std::string_view rule);
  void check_document_media_type(const members& m, std::string_view rule_base,
                                 std::string_view expected);

  std::vector<diagnostic>& out_;
};

std::optional<members> checker::object_members(element e, const std::string& path,
                                               std::string_view type_rule, std::string_view what) {
  object obj;
  if (e.get(obj) != simdjson::SUCCESS) {
    error(type_rule, path, std::string(what) + " must be a JSON object");
    return std::nullopt;
  }
  members m;
  for (auto kv : obj)
    if (!m.emplace(kv.key, kv.value).second)
      // RFC 8259 leaves duplicates to the reader; readers differ (simdjson keeps
      // the first, Go the last), so one blob would mean two things.
      error("json.duplicate_key", json_member_path(path, kv.key),
            "duplicate key " + quote(kv.key) + ": readers disagree on which value counts");
  return m;
}

std::optional<std::string_view> checker::string_field(const members& m, const std::string& parent,
                                                      std::string_view key,
                                                      std::string_view rule_base, bool required) {
  auto it = m.find(key);
  if (it == m.end()) {
    if (required)
      error(std::string(rule_base) + ".required", json_member_path(parent, key),
            "required property " + quote(key) + " is missing");
    return std::nullopt;
  }
  std::string_view s;
  if (it->second.get(s) != simdjson::SUCCESS) {
    error(std::string(rule_base) + ".type", json_member_path(parent, key),
          quote(key) + " must be a string");
    return std::nullopt;
  }
  return s;
}

// An array of strings; `each(value, path)` sees every string entry.
template <typename Each>
void checker::string_array(element e, const std::string& path, std::string_view rule_base,
                           Each each) {
  array arr;
  if (e.get(arr) != simdjson::SUCCESS) {
    error(std::string(rule_base) + ".type", path, "must be an array of strings");
    return;
  }
  std::size_t i = 0;
  for (element item : arr) {
    const std::string item_path = json_index_path(path, i++);
    std::string_view s;
    if (item.get(s) != simdjson::SUCCESS)
      error(std::string(rule_base) + ".type", item_path, "must be a string");
    else
      each(s, item_path);
  }
}

void checker::string_array_field(const members& m, const std::string& parent, std::string_view key,
                                 std::string_view rule_base, bool nullable) {
  auto it = m.find(key);
  if (it == m.end() || (nullable && it->second.is_null())) return;
  string_array(it->second, json_member_path(parent, key), rule_base);
}

void checker::bool_field(const members& m, const std::string& parent, std::string_view key,
                         std::string_view rule_base) {
  auto it = m.find(key);
  if (it != m.end() && !it->second.is_bool())
    error(std::string(rule_base) + ".type", json_member_path(parent, key),
          quote(key) + " must be a boolean");
}

void checker::date_time_field(const members& m, const std::string& parent, std::string_view key,
                              std::string_view rule_base) {
  if (auto s = string_field(m, parent, key, rule_base, false); s && !is_rfc3339(*s))
    error(std::string(rule_base) + ".format", json_member_path(parent, key),
          quote(*s) + " is not an RFC 3339 date-time");
}

// defs.json mapStringString / mapStringObject, optionally `null` (config-schema's
// oneOf for Labels and Volumes).
std::optional<members> checker::map_field(const members& m, const std::string& parent,
                                          std::string_view key, std::string_view rule_base,
                                          bool values_are_objects, bool nullable) {
  auto it = m.find(key);
  if (it == m.end() || (nullable && it->second.is_null())) return std::nullopt;
  const std::string path = json_member_path(parent, key);
  const std::string rule = std::string(rule_base) + ".type";
  auto mm = object_members(it->second, path, rule, quote(key));
  if (!mm) return std::nullopt;
  for (const auto& [k, v] : *mm) {
    if (values_are_objects ? !v.is_object() : !v.is_string())
      error(rule, json_member_path(path, k),
            values_are_objects ? "must be an object" : "must be a string");
  }
  return mm;
}

void checker::media_type_field(const members& m, const std::string& parent, std::string_view key,
                               std::string_view rule_base, bool required) {
  if (auto s = string_field(m, parent, key, rule_base, required); s && !is_media_type(*s))
    error(std::string(rule_base) + ".format", json_member_path(parent, key),
          quote(*s) + " is not an RFC 6838 media type (type/subtype, each 1-127 characters)");
}

std::optional<digest> checker::check_digest(element e, const std::string& path,
                                            std::string_view rule_base) {
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) {
    error(std::string(rule_base) + ".type", path, "digest must be a string");
    return std::nullopt;
  }
  const auto colon = s.find(':');
  const std::string_view alg = s.substr(0, colon);
  auto d = digest::parse(s);
  if (!d) {
    // digest::parse checks the grammar for every algorithm and the encoding for
    // the registered ones; tell the two apart for the rule id.
    const bool registered = alg == "sha256" || alg == "sha512";
    const bool grammar_ok =
        colon != std::string_view::npos && is_encoded_grammar(s.substr(colon + 1));
    error(registered && grammar_ok ? "digest.encoding" : "digest.format", path,
          d.error().message());
    return std::nullopt;
  }
  if (alg == "sha384") {
    // go-digest, the reference's digest package, registers sha384 too and
    // validates it like the others: 96 lowercase hex characters.
    const auto enc = d->encoded();
    bool ok = enc.size() == 96;
    for (char c : enc) ok = ok && is_lower_hex(c);
    if (!ok) {
      error("digest.encoding", path,
            "digest " + quote(s) + ": sha384 needs 96 lowercase hex characters");
      return std::nullopt;
    }
  }
  if (d->algorithm() == digest_algorithm::unregistered)
    // descriptor.md: an unregistered algorithm is allowed; a reader that does
    // not know it cannot verify the content, which is worth saying.
    warning("digest.algorithm", path,
            "digest algorithm " + quote(alg) +
                " is not registered (sha256, sha512); content cannot be verified");
  return std::move(*d);
}

std::optional<std::int64_t> checker::check_size(element e, const std::string& path) {
  switch (e.type()) {
    case element_type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v < 0) {
        // descriptor.md (main): size MUST NOT be negative (image-spec#1285).
        error("descriptor.size.value", path, "size " + std::to_string(v) + " is negative");
        return std::nullopt;
      }
      return v;
    }
    case element_type::UINT64:
      error("descriptor.size.value", path, "size is beyond the int64 range");
      return std::nullopt;
    case element_type::DOUBLE:
      // gojsonschema would take 7682.0 as an integer, Go's int64 decoding
      // does not, so the reference refuses it.
      error("descriptor.size.type", path, "size must be an integer without fraction or exponent");
      return std::nullopt;
    default:
      error("descriptor.size.type", path, "size must be an integer");
      return std::nullopt;
  }
}

// descriptor.md "data": base64 of the content itself, which MUST then match
// size and digest.
void checker::check_data(element e, const std::string& path, std::optional<std::int64_t> size,
                         const std::optional<digest>& dg) {
  std::string_view text;
  if (e.get(text) != simdjson::SUCCESS) {
    error("descriptor.data.type", path, "data must be a base64 string");
    return;
  }
  auto bytes = decode_base64(text);
  if (!bytes) {
    error("descriptor.data.base64", path, "data is not valid base64 (RFC 4648 §4, padded)");
    return;
  }
  if (size && static_cast<std::uint64_t>(*size) != bytes->size()) {
    error("descriptor.data.size", path,
          "data decodes to " + std::to_string(bytes->size()) + " bytes but size is " +
              std::to_string(*size));
    return;
  }
  if (!dg || dg->algorithm() == digest_algorithm::unregistered) return;
  const digest actual =
      digester::of(std::as_bytes(std::span(bytes->data(), bytes->size())), dg->algorithm());
  if (!(actual == *dg))
    error("descriptor.data.digest", path,
          "data hashes to " + actual.str() + ", not to the descriptor's digest");
}

// manifest.md "Guidance for an Empty Descriptor": the empty media type names
// the blob `{}`, so its descriptor has size 2, the digest of `{}`
// (sha256:44136fa3…) and, when embedded, data "e30=". Otherwise the type lies
// about the content, or the content is not there. Checked per field; a field
// already reported malformed is not reported again.
void checker::check_empty_descriptor(const members& m, const std::string& path,
                                     std::optional<std::int64_t> size,
                                     const std::optional<digest>& dg) {
  constexpr std::string_view empty_blob = "{}";
  const std::string mt = quote(media_type::empty_json);
  if (size && *size != 2)
    error("descriptor.empty.value", json_member_path(path, "size"),
          "size " + std::to_string(*size) + " of an " + mt +
              " descriptor must be 2, the length of {}");
  if (dg && dg->algorithm() != digest_algorithm::unregistered) {
    const digest want = digester::of(
        std::as_bytes(std::span(empty_blob.data(), empty_blob.size())), dg->algorithm());
    if (!(*dg == want))
      error("descriptor.empty.value", json_member_path(path, "digest"),
            "digest " + dg->str() + " of an " + mt + " descriptor must be " + want.str() +
                ", the digest of {}");
  }
  std::string_view data;
  if (auto it = m.find("data"); it != m.end() && it->second.get(data) == simdjson::SUCCESS &&
                                 data != "e30=")
    error("descriptor.empty.value", json_member_path(path, "data"),
          "data of an " + mt + " descriptor must be \"e30=\", the base64 of {}");
}

void checker::check_annotations(element e, const std::string& path) {
  // annotations.md: keys and values MUST be strings.
  auto m = object_members(e, path, "annotations.type", "annotations");
  if (!m) return;
  for (const auto& [k, v] : *m)
    if (!v.is_string())
      error("annotations.value.type", json_member_path(path, k),
            "annotation " + quote(k) + " must have a string value");
}

void checker::check_platform_combination(std::string_view os, std::string_view arch,
                                         std::string_view variant, const std::string& path) {
  for (const auto& entry : known_os_arches)
    if (entry.os == os && !in_word_list(entry.arches, arch))
      warning(
          "platform.combination", path,
          "os " + quote(os) + " with architecture " + quote(arch) + " is not a known combination");
  for (const auto& entry : known_arch_variants)
    if (entry.arch == arch && !in_word_list(entry.variants, variant.empty() ? "-" : variant))
      warning("platform.combination", path,
              "architecture " + quote(arch) + " with variant " + quote(variant) +
                  " is not a known combination");
}

// image-index-schema.json "platform": architecture and os REQUIRED strings.
void checker::check_platform(element e, const std::string& path) {
  auto m = object_members(e, path, "platform.type", "platform");
  if (!m) return;
  auto arch = string_field(*m, path, "architecture", "platform.architecture", true);
  auto os = string_field(*m, path, "os", "platform.os", true);
  string_field(*m, path, "os.version", "platform.osVersion", false);
  string_array_field(*m, path, "os.features", "platform.osFeatures", false);
  auto variant = string_field(*m, path, "variant", "platform.variant", false);
  if (arch && os) check_platform_combination(*os, *arch, variant.value_or(""), path);
}

// content-descriptor.json, defs-descriptor.json, plus what Go's decoding of
// v1.Descriptor and go-digest's Validate add.
std::optional<std::string_view> checker::check_descriptor(element e, const std::string& path) {
  auto m = object_members(e, path, "descriptor.type", "descriptor");
  if (!m) return std::nullopt;
  std::optional<std::string_view> media;
  if (auto s = string_field(*m, path, "mediaType", "descriptor.mediaType", true)) {
    if (is_media_type(*s))
      media = s;
    else
      error("descriptor.mediaType.format", json_member_path(path, "mediaType"),
            quote(*s) + " is not an RFC 6838 media type (type/subtype, each 1-127 characters)");
  }
  std::optional<std::int64_t> size;
  if (auto it = m->find("size"); it == m->end())
    error("descriptor.size.required", json_member_path(path, "size"),
          "required property \"size\" is missing");
  else
    size = check_size(it->second, json_member_path(path, "size"));
  std::optional<digest> dg;
  if (auto it = m->find("digest"); it == m->end())
    error("descriptor.digest.required", json_member_path(path, "digest"),
          "required property \"digest\" is missing");
  else
    dg = check_digest(it->second, json_member_path(path, "digest"), "descriptor.digest");
  if (auto it = m->find("urls"); it != m->end())
    string_array(it->second, json_member_path(path, "urls"), "descriptor.urls",
                 [&](std::string_view url, const std::string& url_path) {
                   if (!is_uri(url))
                     error("descriptor.urls.format", url_path,
                           quote(url) + " is not an absolute RFC 3986 URI");
                 });
  if (auto it = m->find("data"); it != m->end())
    check_data(it->second, json_member_path(path, "data"), size, dg);
  if (media == media_type::empty_json) check_empty_descriptor(*m, path, size, dg);
  media_type_field(*m, path, "artifactType", "descriptor.artifactType", false);
  if (auto it = m->find("annotations"); it != m->end())
    check_annotations(it->second, json_member_path(path, "annotations"));
  if (auto it = m->find("platform"); it != m->end())
    check_platform(it->second, json_member_path(path, "platform"));
  return media;
}

void checker::check_schema_version(const members& m, std::string_view rule) {
  // manifest.md / image-index.md: REQUIRED, MUST be 2. Go decodes it into an
  // int, so 2.0 is refused as well.
  auto it = m.find("schemaVersion");
  if (it == m.end()) {
    error(rule, "schemaVersion", "required property \"schemaVersion\" is missing");
    return;
  }
  std::int64_t v = 0;
  if (it->second.type() != element_type::INT64 || it->second.get(v) != simdjson::SUCCESS)
    error(rule, "schemaVersion", "schemaVersion must be the integer 2");
  else if (v != 2)
    error(rule, "schemaVersion", "schemaVersion is " + std::to_string(v) + ", must be 2");
}

// manifest.md / image-index.md "mediaType": when present it MUST be the
// document's own media type. GHSA-77vh-xpmg-72qh: without this a blob can be
// read as a manifest by one tool and as an index by another.
void checker::check_document_media_type(const members& m, std::string_view rule_base,
                                        std::string_view expected) {
  auto s = string_field(m, "", "mediaType", rule_base, false);
  if (!s) return;
  if (!is_media_type(*s))
    error(std::string(rule_base) + ".format", "mediaType",
          quote(*s) + " is not an RFC 6838 media type");
  else if (*s != expected)
    error(rule_base, "mediaType", "mediaType " + quote(*s) + " must be " + quote(expected));
}

void checker::check_manifest(element root) {
  auto m = object_members(root, "", "manifest.type", "an image manifest");
  if (!m) return;
  check_schema_version(*m, "manifest.schemaVersion");
  check_document_media_type(*m, "manifest.mediaType", media_type::image_manifest);
  media_type_field(*m, "", "artifactType", "manifest.artifactType", false);
  if (m->count("manifests") != 0)
    error("manifest.manifests.forbidden", "manifests",
          "an image manifest must not carry \"manifests\" (GHSA-77vh-xpmg-72qh)");

  if (auto it = m->find("config"); it == m->end()) {
    error("manifest.config.required", "config", "required property \"config\" is missing");
  } else if (auto mt = check_descriptor(it->second, "config")) {
    // validator.go warns; manifest.md lets artifacts use any config type, and
    // readers MUST NOT parse one they do not know.
    if (*mt != media_type::image_config && *mt != media_type::empty_json)
      warning("manifest.config.mediaType.unknown", "config.mediaType",
              "config media type " + quote(*mt) + " is not an image config; it will not be parsed");
    // manifest.md: artifactType MUST be set when config is the empty descriptor.
    // The reference does not check it, so neither does the verdict.
    if (*mt == media_type::empty_json && m->count("artifactType") == 0)
      warning(
          "manifest.artifactType.required", "artifactType",
          "artifactType should be set when config.mediaType is " + quote(media_type::empty_json));
  }

  if (auto it = m->find("layers"); it == m->end()) {
    error("manifest.layers.required", "layers", "required property \"layers\" is missing");
  } else if (array arr; it->second.get(arr) != simdjson::SUCCESS) {
    error("manifest.layers.type", "layers", "layers must be an array of descriptors");
  } else {
    // image-manifest-schema.json has minItems 1 (manifest.md: SHOULD have one).
    if (arr.size() == 0)
      error("manifest.layers.empty", "layers", "layers must hold at least one descriptor");
    std::size_t i = 0;
    for (element layer : arr) {
      const std::string path = json_index_path("layers", i++);
      if (auto mt = check_descriptor(layer, path); mt && !is_known_layer_type(*mt))
        warning("manifest.layers.mediaType.unknown", json_member_path(path, "mediaType"),
                "layer media type " + quote(*mt) + " is not an OCI layer type; " +
                    (media_type::compression_of(*mt) != media_type::layer_compression::unknown
                         ? "ocipipe applies this Docker type, readers that know only OCI types cannot"
                         : "it cannot be applied"));
    }
  }
  if (auto it = m->find("subject"); it != m->end()) check_descriptor(it->second, "subject");
  if (auto it = m->find("annotations"); it != m->end())
    check_annotations(it->second, "annotations");
}

void checker::check_index(element root) {
  auto m = object_members(root, "", "index.type", "an image index");
  if (!m) return;
  check_schema_version(*m, "index.schemaVersion");
  check_document_media_type(*m, "index.mediaType", media_type::image_index);
  media_type_field(*m, "", "artifactType", "index.artifactType", false);
  for (std::string_view key : {"config", "layers"})
    if (m->count(key) != 0)
      error(std::string("index.") + std::string(key) + ".forbidden", std::string(key),
            "an image index must not carry " + quote(key) + " (GHSA-77vh-xpmg-72qh)");

  if (auto it = m->find("manifests"); it == m->end()) {
    error("index.manifests.required", "manifests", "required property \"manifests\" is missing");
  } else if (array arr; it->second.get(arr) != simdjson::SUCCESS) {
    error("index.manifests.type", "manifests", "manifests must be an array of descriptors");
  } else {
    std::size_t i = 0;
    for (element entry : arr) {
      const std::string path = json_index_path("manifests", i++);
      // image-index.md: readers MUST NOT error on an unknown mediaType
      // (layouts carry e.g. application/xml entries); validator.go warns.
      if (auto mt = check_descriptor(entry, path);
          mt && *mt != media_type::image_manifest && *mt != media_type::image_index)
        warning("index.manifests.mediaType.unknown", json_member_path(path, "mediaType"),
                "entry media type " + quote(*mt) + " is neither an OCI image manifest nor an OCI index" +
                    (media_type::is_image_manifest(*mt) || media_type::is_image_index(*mt)
                         ? "; ocipipe reads this Docker type, readers that know only OCI types skip it"
                         : ""));
    }
  }
  if (auto it = m->find("subject"); it != m->end()) check_descriptor(it->second, "subject");
  if (auto it = m->find("annotations"); it != m->end())
    check_annotations(it->second, "annotations");
}

// config-schema.json plus validator.go's Env rule and platform warnings.
void checker::check_config(element root) {
  auto m = object_members(root, "", "config.type", "an image config");
  if (!m) return;
  date_time_field(*m, "", "created", "config.created");
  string_field(*m, "", "author", "config.author", false);
  auto arch = string_field(*m, "", "architecture", "config.architecture", true);
  auto os = string_field(*m, "", "os", "config.os", true);
  // config.md: architecture and os are REQUIRED and name a GOARCH / GOOS
  // value; an empty string names no platform, so no reader can pick it.
  if (arch && arch->empty())
    error("config.architecture.value", "architecture",
          "architecture is empty; config.md wants a GOARCH value such as \"amd64\"");
  if (os && os->empty())
    error("config.os.value", "os", "os is empty; config.md wants a GOOS value such as \"linux\"");
  string_field(*m, "", "os.version", "config.osVersion", false);
  string_array_field(*m, "", "os.features", "config.osFeatures", false);
  auto variant = string_field(*m, "", "variant", "config.variant", false);
  if (arch && os && !arch->empty() && !os->empty())
    check_platform_combination(*os, *arch, variant.value_or(""), "");

  if (auto it = m->find("config"); it != m->end()) {
    if (auto c = object_members(it->second, "config", "config.config.type", "config")) {
      string_field(*c, "config", "User", "config.user", false);
      if (auto ports = map_field(*c, "config", "ExposedPorts", "config.exposedPorts", true, false))
        for (const auto& [key, value] : *ports)
          if (!is_exposed_port(key))
            error("config.exposedPorts.format", json_member_path("config.ExposedPorts", key),
                  "exposed port " + quote(key) +
                      " is not port, port/tcp, port/udp or port/sctp with a port 1-65535");
      if (auto env = c->find("Env"); env != c->end())
        string_array(env->second, "config.Env", "config.env",
                     [&](std::string_view entry, const std::string& entry_path) {
                       if (!is_env_form(entry))
                         error("config.env.form", entry_path,
                               "env entry " + quote(entry) + " is not of the form NAME=value");
                     });
      string_array_field(*c, "config", "Entrypoint", "config.entrypoint", true);
      string_array_field(*c, "config", "Cmd", "config.cmd", true);
      if (auto volumes = map_field(*c, "config", "Volumes", "config.volumes", true, true))
        for (const auto& [key, value] : *volumes)
          if (!is_volume_path(key, os && *os == "windows"))
            error("config.volumes.format", json_member_path("config.Volumes", key),
                  "volume " + quote(key) + " is not an absolute path; a volume is a directory " +
                      "of the container's filesystem");
      string_field(*c, "config", "WorkingDir", "config.workingDir", false);
      map_field(*c, "config", "Labels", "config.labels", false, true);
      string_field(*c, "config", "StopSignal", "config.stopSignal", false);
      bool_field(*c, "config", "ArgsEscaped", "config.argsEscaped");
    }
  }

  std::optional<std::size_t> diff_ids;  // entries, when rootfs.diff_ids is an array
  if (auto it = m->find("rootfs"); it == m->end()) {
    error("config.rootfs.required", "rootfs", "required property \"rootfs\" is missing");
  } else if (auto r = object_members(it->second, "rootfs", "config.rootfs.type", "rootfs")) {
    if (auto type = string_field(*r, "rootfs", "type", "config.rootfs.type", true);
        type && *type != "layers")
      error("config.rootfs.type.value", "rootfs.type",
            "rootfs.type " + quote(*type) + " must be \"layers\"");
    if (auto d = r->find("diff_ids"); d == r->end()) {
      error("config.rootfs.diff_ids.required", "rootfs.diff_ids",
            "required property \"diff_ids\" is missing");
    } else if (array arr; d->second.get(arr) != simdjson::SUCCESS) {
      error("config.rootfs.diff_ids.type", "rootfs.diff_ids",
            "diff_ids must be an array of digests");
    } else {
      // config.md: DiffIDs are digests; the schema only says string, but a
      // malformed one can never match a layer.
      std::size_t i = 0;
      for (element e : arr)
        check_digest(e, json_index_path("rootfs.diff_ids", i++), "config.rootfs.diff_ids");
      diff_ids = i;
    }
  }

  if (auto it = m->find("history"); it != m->end()) {
    array arr;
    if (it->second.get(arr) != simdjson::SUCCESS) {
      error("config.history.type", "history", "history must be an array");
    } else {
      std::size_t i = 0;
      std::size_t layers = 0;  // entries that made a filesystem diff
      bool all_objects = true;
      for (element e : arr) {
        const std::string path = json_index_path("history", i++);
        auto h = object_members(e, path, "config.history.type", "history entry");
        if (!h) {
          all_objects = false;
          continue;
        }
        date_time_field(*h, path, "created", "config.history.created");
        string_field(*h, path, "author", "config.history.author", false);
        string_field(*h, path, "created_by", "config.history.createdBy", false);
        string_field(*h, path, "comment", "config.history.comment", false);
        bool_field(*h, path, "empty_layer", "config.history.emptyLayer");
        const auto el = h->find("empty_layer");
        if (el == h->end() || !el->second.is_bool() || !el->second.get_bool().value_unsafe())
          ++layers;
      }
      // config.md "history": empty_layer marks entries that made no filesystem
      // diff, so the others stand one each for rootfs.diff_ids. A warning: the
      // reference does not check it and config.md's own example (two diff_ids,
      // one non-empty entry) would fail.
      if (all_objects && diff_ids && layers != *diff_ids)
        warning("config.history.layers.count", "history",
                "history has " + std::to_string(layers) +
                    " entries without \"empty_layer\": true but rootfs.diff_ids has " +
                    std::to_string(*diff_ids) + "; each such entry should stand for one layer");
    }
  }
}

// image-layout-schema.json: imageLayoutVersion REQUIRED, the string "1.0.0".
void checker::check_layout(element root) {
  auto m = object_members(root, "", "layout.type", "the oci-layout file");
  if (!m) return;
  if (auto v = string_field(*m, "", "imageLayoutVersion", "layout.imageLayoutVersion", true);
      v && *v != "1.0.0")
    error("layout.imageLayoutVersion.value", "imageLayoutVersion",
          "imageLayoutVersion " + quote(*v) + " must be \"1.0.0\"");
}

}  // namespace

std::vector<diagnostic> check_document(std::string_view rules, std::string_view json) {
  std::vector<diagnostic> out;
  checker c(out);
  void (checker::*check)(element) = nullptr;
  if (rules == media_type::image_manifest)
    check = &checker::check_manifest;
  else if (rules == media_type::image_index)
    check = &checker::check_index;
  else if (rules == media_type::image_config)
    check = &checker::check_config;
  else if (rules == media_type::oci_layout_header)
    check = &checker::check_layout;
  else if (rules != media_type::descriptor) {
    c.error("document.mediaType", "", "no rules for media type " + quote(rules));
    return out;
  }

  const simdjson::padded_string padded(json);
  simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    c.error("json.syntax", "", std::string("not JSON: ") + simdjson::error_message(err));
    return out;
  }
  if (check)
    (c.*check)(root);
  else
    c.check_descriptor(root, "");
  return out;
}

bool has_errors(const std::vector<diagnostic>& findings) noexcept {
  for (const auto& d : findings)
    if (d.level == severity::error) return true;
  return false;
}

}  // namespace ocipipe
