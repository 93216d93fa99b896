#include "stages/docker_save.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "stages/digester.h"

namespace ocipipe {
namespace {

using ojson = nlohmann::ordered_json;

// Go's encoding/json output for `v`: compact, and '<', '>', '&', U+2028 and
// U+2029 escaped (json.Marshal's HTML-safe default). Those characters only
// ever occur inside JSON strings, so escaping them in the whole text is
// exact. Keys are in the order `v` holds them; callers insert map keys
// sorted, as Go sorts a map's keys.
std::string go_json(const ojson& v) {
  const auto text = v.dump(-1, ' ', false, ojson::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
             (text[i + 2] == '\xa8' || text[i + 2] == '\xa9')) {
      out += text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// A Go map[string]any: keys sorted.
ojson sorted_object(const std::map<std::string, ojson>& m) {
  ojson o = ojson::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::string sha256_hex(std::string_view s) {
  const auto d = digester::of(std::as_bytes(std::span(s.data(), s.size())), digest_algorithm::sha256);
  return std::string(d.encoded());
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* (distribution/reference).
bool valid_path_component(std::string_view s) {
  if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  for (std::size_t i = 0; i < s.size();) {
    if (lower_alnum(s[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !lower_alnum(s[j])) ++j;
    const auto sep = s.substr(i, j - i);
    const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// domain: components of [A-Za-z0-9-] (not starting or ending with '-')
// joined by '.', then an optional :port.
bool valid_domain(std::string_view s) {
  if (const auto colon = s.find(':'); colon != std::string_view::npos) {
    const auto port = s.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    s = s.substr(0, colon);
  }
  if (s.empty()) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    const auto part = s.substr(start, dot - start);
    if (part.empty() || part.front() == '-' || part.back() == '-') return false;
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    start = dot + 1;
  }
  return true;
}

// tag: [\w][\w.-]{0,127}
bool valid_docker_tag(std::string_view t) {
  if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-') return false;
  for (char c : t)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

}  // namespace

result<docker_repo_tag> normalize_docker_repo_tag(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, "docker reference " + quote(text) + ": " + why);
  };
  if (text.find('@') != std::string_view::npos)
    return bad("a docker-archive names its image by NAME[:TAG], not by digest");
  std::string_view name = text;
  docker_repo_tag out;
  out.tag = "latest";
  const auto last_slash = text.rfind('/');
  if (const auto colon = text.rfind(':');
      colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    out.tag = std::string(text.substr(colon + 1));
    name = text.substr(0, colon);
    if (!valid_docker_tag(out.tag)) return bad("invalid tag " + quote(out.tag));
  }
  if (name.empty()) return bad("empty repository name");
  // splitDockerDomain: a first component without '.' or ':' (and not
  // "localhost", and lowercase) is a path on docker.io, not a host.
  std::string domain = "docker.io";
  std::string path(name);
  if (const auto slash = name.find('/'); slash != std::string_view::npos) {
    const auto first = name.substr(0, slash);
    const bool host = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                      first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
    if (host) {
      domain = std::string(first);
      path = std::string(name.substr(slash + 1));
    }
  }
  if (domain == "index.docker.io") domain = "docker.io";
  if (!valid_domain(domain)) return bad("invalid registry host " + quote(domain));
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const auto part = std::string_view(path).substr(start, slash - start);
    if (!valid_path_component(part))
      return bad(part.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos
                     ? "repository name must be lowercase"
                     : "invalid repository name component " + quote(part));
    start = slash + 1;
  }
  out.name = domain + "/" + path;
  if (out.name.size() > 255) return bad("repository name longer than 255 characters");
  return out;
}

result<docker_save_metadata> make_docker_save_metadata(std::string_view config_bytes, const digest& config_digest,
                                                       const std::vector<digest>& diff_ids,
                                                       const std::vector<docker_repo_tag>& tags) {
  const auto config = ojson::parse(config_bytes, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return fail(errc::malformed, "image config " + config_digest.str() + ": not a JSON object");
  docker_save_metadata out;
  out.config_member = std::string(config_digest.encoded()) + ".json";
  for (const auto& d : diff_ids) out.layer_members.push_back(std::string(d.encoded()) + ".tar");

  // writeLegacyMetadataLocked: a chain of legacy layer ids, each the digest
  // of its legacy config with the layer's chain id added; the top one
  // carries seven fields of the image config.
  std::string chain_id;
  std::string last_id;
  for (std::size_t i = 0; i < diff_ids.size(); ++i) {
    std::map<std::string, ojson> legacy;
    if (!last_id.empty()) legacy["parent"] = last_id;
    if (i + 1 == diff_ids.size())
      for (const char* attr : {"architecture", "config", "container", "container_config", "created",
                               "docker_version", "os"}) {
        const auto it = config.find(attr);
        legacy[attr] = it == config.end() ? ojson(nullptr) : *it;
      }
    chain_id = chain_id.empty() ? diff_ids[i].str() : "sha256:" + sha256_hex(chain_id + " " + diff_ids[i].str());
    legacy["layer_id"] = chain_id;
    const auto id = sha256_hex(go_json(sorted_object(legacy)));
    legacy.erase("layer_id");
    legacy["id"] = id;
    out.legacy_layers.push_back({id, go_json(sorted_object(legacy)), out.layer_members[i]});
    last_id = id;
  }

  ojson repo_tags = ojson::array();
  std::map<std::string, std::map<std::string, ojson>> repositories;
  for (const auto& t : tags) {
    const auto s = t.str();
    if (std::find(repo_tags.begin(), repo_tags.end(), ojson(s)) == repo_tags.end()) repo_tags.push_back(s);
    if (!last_id.empty()) repositories[t.name][t.tag] = last_id;
  }
  ojson item = ojson::object();
  item["Config"] = out.config_member;
  item["RepoTags"] = std::move(repo_tags);
  item["Layers"] = out.layer_members;
  out.manifest_json = go_json(ojson::array({std::move(item)}));
  std::map<std::string, ojson> repos;
  for (const auto& [name, by_tag] : repositories) repos[name] = sorted_object(by_tag);
  out.repositories = go_json(sorted_object(repos));
  return out;
}

}  // namespace ocipipe
