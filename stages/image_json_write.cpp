#include "stages/image_json_write.h"

#include <nlohmann/json.hpp>

#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

// ordered_json keeps insertion order, so the order below is the output order.
using json = nlohmann::ordered_json;

// Never throws: every string came through our parsers or our own code, but
// invalid UTF-8 would make nlohmann::json::dump throw, and stages throw
// nothing (DESIGN.md §5), so bad bytes become U+FFFD instead.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json annotations_json(const annotations& a) {
  json out = json::object();
  for (const auto& [k, v] : a) out[k] = v;  // std::map: sorted keys, as Go's encoding/json writes maps
  return out;
}

json platform_json(const platform& p) {
  json out = json::object();
  out["architecture"] = p.architecture;
  out["os"] = p.os;
  if (!p.os_version.empty()) out["os.version"] = p.os_version;
  if (!p.os_features.empty()) out["os.features"] = p.os_features;
  if (!p.variant.empty()) out["variant"] = p.variant;
  return out;
}

json descriptor_value(const descriptor& d) {
  json out = json::object();
  out["mediaType"] = d.media_type;
  out["digest"] = d.digest.str();
  out["size"] = d.size;
  if (!d.urls.empty()) out["urls"] = d.urls;
  if (!d.annotations.empty()) out["annotations"] = annotations_json(d.annotations);
  if (d.data) out["data"] = *d.data;
  if (d.platform) out["platform"] = platform_json(*d.platform);
  if (!d.artifact_type.empty()) out["artifactType"] = d.artifact_type;
  return out;
}

json descriptor_array(const std::vector<descriptor>& ds) {
  json out = json::array();
  for (const auto& d : ds) out.push_back(descriptor_value(d));
  return out;
}

}  // namespace

std::string descriptor_json(const descriptor& d) { return dump(descriptor_value(d)); }

std::string manifest_json(const manifest& m) {
  json out = json::object();
  out["schemaVersion"] = 2;
  out["mediaType"] = m.media_type.empty() ? std::string(media_type::image_manifest) : m.media_type;
  if (!m.artifact_type.empty()) out["artifactType"] = m.artifact_type;
  out["config"] = descriptor_value(m.config);
  out["layers"] = descriptor_array(m.layers);
  if (m.subject) out["subject"] = descriptor_value(*m.subject);
  if (!m.annotations.empty()) out["annotations"] = annotations_json(m.annotations);
  return dump(out);
}

std::string image_index_json(const image_index& i) {
  json out = json::object();
  out["schemaVersion"] = 2;
  if (!i.media_type.empty()) out["mediaType"] = i.media_type;
  if (!i.artifact_type.empty()) out["artifactType"] = i.artifact_type;
  out["manifests"] = descriptor_array(i.manifests);
  if (i.subject) out["subject"] = descriptor_value(*i.subject);
  if (!i.annotations.empty()) out["annotations"] = annotations_json(i.annotations);
  return dump(out);
}

}  // namespace ocipipe
