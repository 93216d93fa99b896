#include "stages/reference.h"

namespace ocipipe {
namespace {

constexpr std::string_view strip_prefix(std::string_view s, std::string_view p, bool& hit) {
  hit = s.substr(0, p.size()) == p;
  return hit ? s.substr(p.size()) : s;
}

// A tag, as image-layout.md's ref.name grammar allows: components of
// [A-Za-z0-9]+ joined by separators [-._:@/+] or "--".
bool valid_tag(std::string_view t) {
  if (t.empty()) return false;
  for (char c : t) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.' && c != '_' && c != ':' && c != '@' && c != '/' && c != '+')
      return false;
  }
  return true;
}

}  // namespace

std::string image_reference::str() const {
  std::string out;
  switch (kind) {
    case transport::oci: out = "oci:"; break;
    case transport::oci_archive: out = "oci-archive:"; break;
    case transport::docker_archive: out = "docker-archive:"; break;
    case transport::docker: out = "docker://"; break;
  }
  out += path;
  if (manifest_digest) out += "@" + manifest_digest->str();
  else if (!tag.empty()) out += ":" + tag;
  return out;
}

result<image_reference> parse_reference(std::string_view text) {
  image_reference ref;
  bool hit = false;
  std::string_view rest = text;
  if (rest = strip_prefix(text, "docker://", hit); hit) {
    ref.kind = transport::docker;
    ref.path = std::string(rest);
    return ref;
  }
  if (rest = strip_prefix(text, "oci-archive:", hit); hit) ref.kind = transport::oci_archive;
  else if (rest = strip_prefix(text, "docker-archive:", hit); hit) ref.kind = transport::docker_archive;
  else rest = strip_prefix(text, "oci:", hit);

  if (const auto at = rest.find('@'); at != std::string_view::npos &&
                                      rest.find(':', at) != std::string_view::npos) {
    auto d = digest::parse(rest.substr(at + 1));
    if (!d) return fail(errc::invalid_argument,
                        "reference " + quote(text) + ": " + d.error().message());
    ref.manifest_digest = std::move(*d);
    rest = rest.substr(0, at);
  } else if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_tag(ref.tag))
      return fail(errc::invalid_argument, "reference " + quote(text) + ": invalid tag " +
                                              quote(ref.tag));
  }
  if (rest.empty()) return fail(errc::invalid_argument, "reference " + quote(text) + ": empty path");
  ref.path = std::string(rest);
  return ref;
}

}  // namespace ocipipe
