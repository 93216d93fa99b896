#include "stages/docker_reference.h"

namespace ocipipe {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

bool is_docker_domain(std::string_view d) noexcept {
  if (!d.empty() && d.front() == '[') {
    const auto close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1))
      if (!is_hex(c) && c != ':') return false;
    d = d.substr(close + 1);
  } else {
    const auto colon = d.find(':');
    std::string_view host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view() : d.substr(colon);
    if (host.empty()) return false;
    while (true) {
      const auto dot = host.find('.');
      const auto label = host.substr(0, dot);
      if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
      for (char c : label)
        if (!is_alnum(c) && c != '-') return false;
      if (dot == std::string_view::npos) break;
      host = host.substr(dot + 1);
    }
  }
  if (d.empty()) return true;
  if (d.front() != ':' || d.size() == 1) return false;
  for (char c : d.substr(1))
    if (!is_digit(c)) return false;
  return true;
}

namespace {

// distribution's tag grammar: [\w][\w.-]{0,127}.
bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (!is_alnum(c) && c != '_' && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

// A bare 64-hex string looks like an image ID, which Docker refuses as a name.
bool is_image_id(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

tl::unexpected<error> bad(std::string_view text, std::string cause) {
  return fail(errc::invalid_argument, "docker reference " + quote(text) + ": " + std::move(cause));
}

}  // namespace

std::string docker_reference::name() const { return domain + "/" + path; }

std::string docker_reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (manifest_digest) out += "@" + manifest_digest->str();
  return out;
}

result<docker_reference> parse_docker_reference(std::string_view text) {
  if (text.empty()) return bad(text, "empty");
  if (text.substr(0, 9) == "docker://")
    return bad(text, "a docker reference has no transport prefix; drop \"docker://\"");
  if (is_image_id(text)) return bad(text, "a 64-byte hexadecimal string is an image ID, not a repository name");

  // Docker's splitDockerDomain: the first component is a domain when it has
  // '.' or ':', is "localhost", or has uppercase (never a Docker Hub
  // namespace); otherwise the name is Docker Hub's.
  docker_reference out;
  std::string_view remainder;
  const auto slash = text.find('/');
  const auto first = text.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || lowercase(first) != first)) {
    out.domain = std::string(first);
    remainder = text.substr(slash + 1);
  } else {
    out.domain = "docker.io";
    remainder = text;
  }
  if (out.domain == "index.docker.io") out.domain = "docker.io";

  std::string_view path = remainder;
  if (const auto at = path.find('@'); at != std::string_view::npos) {
    auto d = digest::parse(path.substr(at + 1));
    if (!d) return bad(text, d.error().message());
    if (d->algorithm() == digest_algorithm::unregistered)
      return bad(text, "digest algorithm " + quote(d->algorithm_name()) + " is not supported");
    out.manifest_digest = std::move(*d);
    path = path.substr(0, at);
  }
  if (const auto colon = path.find(':'); colon != std::string_view::npos) {
    out.tag = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
    if (!valid_tag(out.tag))
      return bad(text, "invalid tag " + quote(out.tag) + " (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
  }
  if (lowercase(path) != path) return bad(text, "repository name " + quote(path) + " must be lowercase");
  if (!is_docker_domain(out.domain)) return bad(text, "invalid domain " + quote(out.domain));
  out.path = std::string(path);
  if (out.domain == "docker.io" && out.path.find('/') == std::string::npos) out.path = "library/" + out.path;
  // parse_registry_path holds distribution's repository grammar; a host it
  // keeps as given stands in for ours, checked above.
  if (auto r = parse_registry_path("localhost/" + out.path); !r) return bad(text, r.error().message());
  if (out.name().size() > 255) return bad(text, "name longer than 255 bytes");
  return out;
}

std::optional<docker_reference> docker_reference_of(const image_reference& ref) {
  if (ref.kind != transport::docker) return std::nullopt;
  std::string text = ref.path;
  if (ref.manifest_digest) text += "@" + ref.manifest_digest->str();
  else if (!ref.tag.empty()) text += ":" + ref.tag;
  auto parsed = parse_docker_reference(text);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

}  // namespace ocipipe
