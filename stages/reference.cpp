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

// distribution-spec's tag grammar.
bool valid_registry_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

// docker:// and oci+http(s)://: the path holds ':' (a port, a scheme), so the
// tag is after the last ':' that follows the last '/'.
result<image_reference> parse_slash_reference(std::string_view text, std::string_view rest, transport kind) {
  image_reference ref;
  ref.kind = kind;
  // oci+http(s)://: a tag follows the path, never the "scheme://host:port"
  // part ("oci+https://host:8443" has a port, not a tag).
  std::size_t path_start = 0;
  if (kind == transport::oci_url) {
    const auto authority = rest.find("://") + 3;
    path_start = rest.find('/', authority);
    if (path_start == std::string_view::npos) path_start = rest.size();
    if (path_start == authority || rest.substr(authority, path_start - authority).find('@') != std::string_view::npos)
      return fail(errc::invalid_argument, "reference " + quote(text) + ": want oci+https://HOST[:PORT]/PATH");
  }
  if (const auto at = rest.find('@', path_start); at != std::string_view::npos) {
    auto d = digest::parse(rest.substr(at + 1));
    if (!d) return fail(errc::invalid_argument, "reference " + quote(text) + ": " + d.error().message());
    ref.manifest_digest = std::move(*d);
    rest = rest.substr(0, at);
    const auto slash = rest.rfind('/');
    const auto colon = rest.rfind(':');
    // docker's NAME:TAG@DIGEST: the registry is asked by digest alone, so a
    // tag beside it would be silently ignored (skopeo refuses it too).
    if (kind == transport::docker && colon != std::string_view::npos &&
        (slash == std::string_view::npos || colon > slash))
      return fail(errc::invalid_argument, "reference " + quote(text) + ": names both a tag and a digest; give one");
  } else {
    const auto slash = rest.rfind('/');
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash) &&
        !(kind == transport::oci_url && colon < path_start)) {
      ref.tag = std::string(rest.substr(colon + 1));
      rest = rest.substr(0, colon);
      if (!(kind == transport::docker ? valid_registry_tag(ref.tag) : valid_tag(ref.tag)))
        return fail(errc::invalid_argument, "reference " + quote(text) + ": invalid tag " + quote(ref.tag));
    } else if (kind == transport::docker) {
      ref.tag = "latest";
    }
  }
  if (rest.empty())
    return fail(errc::invalid_argument, "reference " + quote(text) + ": empty path");
  ref.path = std::string(rest);
  if (kind == transport::docker) {
    if (auto r = parse_registry_path(ref.path); !r)
      return fail(errc::invalid_argument, "reference " + quote(text) + ": " + r.error().message());
  }
  return ref;
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component of a repository name (distribution-spec grammar):
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
bool valid_repository_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (lower_alnum(c[i])) {
      ++i;
      continue;
    }
    // One separator, then an alphanumeric (the last character is one, so
    // the index stays in range).
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      i += c[i + 1] == '_' ? 2 : 1;
    } else if (c[i] == '-') {
      while (c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!lower_alnum(c[i])) return false;
  }
  return true;
}

}  // namespace

result<registry_repository> parse_registry_path(std::string_view path) {
  registry_repository out;
  const auto slash = path.find('/');
  const auto first = path.substr(0, slash);
  if (slash == std::string_view::npos ||
      (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos && first != "localhost")) {
    out.host = "docker.io";
    out.repository = std::string(path);
    if (out.repository.find('/') == std::string::npos) out.repository = "library/" + out.repository;
  } else {
    out.host = std::string(first);
    out.repository = std::string(path.substr(slash + 1));
    // Docker's normalization: Docker Hub's names, and its official images
    // under library/ ("docker.io/debian" is "docker.io/library/debian").
    if (out.host == "index.docker.io" || out.host == "registry-1.docker.io") out.host = "docker.io";
    if (out.host == "docker.io" && out.repository.find('/') == std::string::npos)
      out.repository = "library/" + out.repository;
  }
  if (out.host.empty() || out.host.front() == ':')
    return fail(errc::invalid_argument, "registry path " + quote(path) + ": empty host");
  if (out.repository.size() > 255)
    return fail(errc::invalid_argument, "repository " + quote(out.repository) + ": longer than 255 bytes");
  std::string_view repo = out.repository;
  while (true) {
    const auto s = repo.find('/');
    if (!valid_repository_component(repo.substr(0, s)))
      return fail(errc::invalid_argument, "repository " + quote(out.repository) +
                                              ": not a valid repository name (distribution-spec: "
                                              "lowercase [a-z0-9] components joined by '.', '_', '__', '-' or '/')");
    if (s == std::string_view::npos) break;
    repo = repo.substr(s + 1);
  }
  return out;
}

std::string image_reference::str() const {
  std::string out;
  switch (kind) {
    case transport::oci: out = "oci:"; break;
    case transport::oci_archive: out = "oci-archive:"; break;
    case transport::docker_archive: out = "docker-archive:"; break;
    case transport::docker: out = "docker://"; break;
    case transport::oci_url: out = "oci+"; break;
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
  if (rest = strip_prefix(text, "docker://", hit); hit) return parse_slash_reference(text, rest, transport::docker);
  for (std::string_view scheme : {"oci+https://", "oci+http://"})
    if (text.substr(0, scheme.size()) == scheme)
      return parse_slash_reference(text, text.substr(4), transport::oci_url);
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
