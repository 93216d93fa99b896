#include "stages/docker_manifest.h"

#include <nlohmann/json.hpp>

#include "stages/image_json.h"

namespace ocipipe {
namespace {

// distribution/reference: a name (lowercase components, optional registry
// host[:port] first) and a tag of [\w][\w.-]{0,127}.
bool valid_name_tag(std::string_view s) {
  const auto slash = s.rfind('/');
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) return false;
  const auto tag = s.substr(colon + 1);
  if (tag.empty() || tag.size() > 128) return false;
  for (std::size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  const auto name = s.substr(0, colon);
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  for (char c : name)
    if (c == ' ' || c == '@' || static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
      return false;
  return true;
}

std::string normalize(std::string_view ref) {
  std::string s(ref);
  const auto slash = s.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + s;
  const auto first = s.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return "docker.io/" + s;
  return s;
}

}  // namespace

docker_manifest_report parse_docker_manifest(std::string_view json) {
  docker_manifest_report out;
  auto problem = [&](std::string rule, std::string path, std::string message) {
    out.problems.push_back({std::move(rule), severity::error, std::move(path), std::move(message)});
  };
  const auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded()) {
    problem("docker.manifest", "", "manifest.json is not JSON");
    return out;
  }
  if (!doc.is_array()) {
    problem("docker.manifest", "", "manifest.json must be an array of image entries");
    return out;
  }
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto at = json_index_path("", i);
    const auto& e = doc[i];
    if (!e.is_object()) {
      problem("docker.manifest", at, "image entry must be an object");
      continue;
    }
    docker_archive_image img;
    bool usable = true;
    if (auto c = e.find("Config"); c == e.end() || !c->is_string() || c->get<std::string>().empty()) {
      problem("docker.manifest", json_member_path(at, "Config"), "Config must name the image config member");
      usable = false;
    } else {
      img.config = c->get<std::string>();
    }
    if (auto l = e.find("Layers"); l == e.end() || !l->is_array()) {
      problem("docker.manifest", json_member_path(at, "Layers"), "Layers must be an array of layer members");
      usable = false;
    } else {
      for (std::size_t j = 0; j < l->size(); ++j) {
        const auto& m = (*l)[j];
        if (!m.is_string() || m.get<std::string>().empty()) {
          problem("docker.manifest", json_index_path(json_member_path(at, "Layers"), j),
                  "a layer must be named by a non-empty string");
          usable = false;
        } else {
          img.layers.push_back(m.get<std::string>());
        }
      }
    }
    if (auto t = e.find("RepoTags"); t != e.end() && !t->is_null()) {
      if (!t->is_array()) {
        problem("docker.repoTags", json_member_path(at, "RepoTags"), "RepoTags must be an array of NAME:TAG strings");
      } else {
        for (std::size_t j = 0; j < t->size(); ++j) {
          const auto& v = (*t)[j];
          if (!v.is_string() || !valid_name_tag(v.get<std::string>()))
            problem("docker.repoTags", json_index_path(json_member_path(at, "RepoTags"), j),
                    "RepoTags entry " + (v.is_string() ? quote(v.get<std::string>()) : std::string("")) +
                        " is not a NAME:TAG reference");
          else
            img.repo_tags.push_back(v.get<std::string>());
        }
      }
    }
    if (usable) out.images.push_back(std::move(img));
  }
  return out;
}

std::optional<digest> digest_from_member_name(std::string_view name) {
  std::string_view hex;
  if (name.starts_with("blobs/sha256/")) {
    hex = name.substr(13);
  } else if (name.find('/') == std::string_view::npos) {
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos) return std::nullopt;
    hex = name.substr(0, dot);
  }
  // digest::parse holds sha256 to 64 lowercase hex digits.
  auto d = digest::parse("sha256:" + std::string(hex));
  if (!d) return std::nullopt;
  return *d;
}

bool docker_tag_matches(std::string_view repo_tag, std::string_view wanted) {
  return repo_tag == wanted || normalize(repo_tag) == normalize(wanted);
}

}  // namespace ocipipe
