#include "stages/cosign_signature.h"

#include <cstdint>
#include <span>

#include <nlohmann/json.hpp>

#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

// ordered_json keeps insertion order: the key order below is the output's.
using json = nlohmann::ordered_json;

// Invalid UTF-8 in an annotation would make dump() throw; stages throw
// nothing (DESIGN.md §5), so such bytes become U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Descriptors in go-containerregistry's field order (mediaType, size,
// digest, annotations), which is what cosign's manifests carry.
json descriptor_value(const descriptor& d) {
  json out = json::object();
  out["mediaType"] = d.media_type;
  out["size"] = d.size;
  out["digest"] = d.digest.str();
  if (!d.annotations.empty()) {
    json a = json::object();
    for (const auto& [k, v] : d.annotations) a[k] = v;  // std::map: sorted, as Go writes maps
    out["annotations"] = std::move(a);
  }
  return out;
}

descriptor blob_descriptor(std::string_view media_type, const std::string& bytes) {
  descriptor d;
  d.media_type = std::string(media_type);
  d.digest = digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())));
  d.size = static_cast<std::int64_t>(bytes.size());
  return d;
}

// cosign's config (go-containerregistry's empty image with the payloads
// appended): no platform, no dates, one diff_id per layer. cosign versions
// after 1.x add "created" and "history" stamped with the signing time; that
// would make the same signatures give different manifests, and stages read
// no clocks, so the older, deterministic form is written.
std::string tag_form_config(const std::vector<std::string>& payload_digests) {
  json diff_ids = json::array();
  for (const auto& d : payload_digests) diff_ids.push_back(d);
  json rootfs = json::object();
  rootfs["type"] = "layers";
  rootfs["diff_ids"] = std::move(diff_ids);
  json out = json::object();
  out["architecture"] = "";
  out["os"] = "";
  out["rootfs"] = std::move(rootfs);
  out["config"] = json::object();
  return dump(out);
}

// One payload layer; errors say what is wrong with it, not which it is.
result<cosign_signature_layer> parse_payload_layer(const json& layer) {
  auto bad = [](std::string_view what) { return fail(errc::malformed, std::string(what)); };
  cosign_signature_layer out;
  descriptor& d = out.payload;
  d.media_type = std::string(cosign_payload_media_type);
  const auto dg = layer.find("digest");
  if (dg == layer.end() || !dg->is_string()) return bad("digest: missing or not a string");
  auto parsed = digest::parse(dg->get_ref<const std::string&>());
  if (!parsed) return tl::unexpected(std::move(parsed).error().context("digest"));
  d.digest = std::move(*parsed);
  const auto sz = layer.find("size");
  if (sz == layer.end() || !sz->is_number_integer()) return bad("size: missing or not an integer");
  if (sz->is_number_unsigned()) {
    const auto v = sz->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return bad("size: too large");
    d.size = static_cast<std::int64_t>(v);
  } else {
    d.size = sz->get<std::int64_t>();
    if (d.size < 0) return bad("size: negative");
  }
  const auto ann = layer.find("annotations");
  if (ann == layer.end() || ann->is_null())
    return bad("no " + std::string(cosign_signature_annotation) + " annotation");
  if (!ann->is_object()) return bad("annotations: not an object");
  bool found = false;
  for (auto it = ann->begin(); it != ann->end(); ++it) {
    if (!it->is_string()) return bad("annotations[" + quote(it.key()) + "]: not a string");
    if (it.key() == cosign_signature_annotation) {
      out.signature_base64 = it->get<std::string>();
      found = true;
    } else {
      d.annotations[it.key()] = it->get<std::string>();
    }
  }
  if (!found) return bad("no " + std::string(cosign_signature_annotation) + " annotation");
  if (out.signature_base64.empty()) return bad("empty " + std::string(cosign_signature_annotation) + " annotation");
  return out;
}

bool is_payload_layer(const json& layer) {
  if (!layer.is_object()) return false;
  const auto mt = layer.find("mediaType");
  return mt != layer.end() && mt->is_string() && mt->get_ref<const std::string&>() == cosign_payload_media_type;
}

// The document checks both readers share; returns its layers array.
result<const json*> manifest_layers(const json& doc) {
  if (doc.is_discarded() || !doc.is_object())
    return fail(errc::malformed, "signature manifest: not a JSON object");
  if (doc.contains("manifests"))
    return fail(errc::malformed, "signature manifest: an image index, not an image manifest");
  if (const auto mt = doc.find("mediaType");
      mt != doc.end() && (!mt->is_string() || !media_type::is_image_manifest(mt->get_ref<const std::string&>())))
    return fail(errc::malformed, "signature manifest: mediaType is not an image manifest's");
  const auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array())
    return fail(errc::malformed, "signature manifest: layers: missing or not an array");
  return &*layers;
}

}  // namespace

std::string cosign_signature_tag(const digest& d) {
  // cosign: the digest with ':' turned into '-', then ".sig".
  return std::string(d.algorithm_name()) + "-" + std::string(d.encoded()) + ".sig";
}

signature_manifest make_signature_manifest(const std::vector<cosign_signature_layer>& layers,
                                           const std::optional<descriptor>& subject) {
  signature_manifest out;
  if (subject) {
    out.config_json = "{}";
    out.config = blob_descriptor(media_type::empty_json, out.config_json);
  } else {
    std::vector<std::string> digests;
    for (const auto& l : layers) digests.push_back(l.payload.digest.str());
    out.config_json = tag_form_config(digests);
    out.config = blob_descriptor(media_type::image_config, out.config_json);
  }
  json layer_array = json::array();
  for (const auto& l : layers) {
    descriptor d = l.payload;
    d.media_type = std::string(cosign_payload_media_type);
    d.annotations[std::string(cosign_signature_annotation)] = l.signature_base64;
    layer_array.push_back(descriptor_value(d));
  }
  // image-spec manifest.md's property order.
  json m = json::object();
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::image_manifest;
  if (subject) m["artifactType"] = cosign_signature_artifact_type;
  m["config"] = descriptor_value(out.config);
  m["layers"] = std::move(layer_array);
  if (subject) {
    descriptor s;  // what names the subject, nothing more (no ref.name, no platform)
    s.media_type = subject->media_type;
    s.digest = subject->digest;
    s.size = subject->size;
    m["subject"] = descriptor_value(s);
  }
  out.manifest_json = dump(m);
  return out;
}

result<std::vector<signature_layer_entry>> parse_signature_manifest(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  OCIPIPE_ASSIGN_OR_RETURN(const json* layers, manifest_layers(doc));
  std::vector<signature_layer_entry> out;
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const json& layer = (*layers)[i];
    if (!is_payload_layer(layer)) continue;
    out.push_back(signature_layer_entry{i, parse_payload_layer(layer)});
  }
  return out;
}

result<std::optional<signature_manifest>> append_signature_layer(std::string_view existing,
                                                                 const cosign_signature_layer& layer) {
  json doc = json::parse(existing, nullptr, false);
  OCIPIPE_ASSIGN_OR_RETURN(const json* have, manifest_layers(doc));
  if (doc.contains("subject"))
    return fail(errc::unsupported,
                "signature manifest: has a subject (a referrer, not cosign's tag form); not rewritten");
  std::vector<std::string> digests;
  for (std::size_t i = 0; i < have->size(); ++i) {
    const json& l = (*have)[i];
    if (!is_payload_layer(l))
      return fail(errc::unsupported, "signature manifest: " + json_index_path("layers", i) +
                                         " is no cosign signature layer; holds more than cosign signatures, not "
                                         "rewritten");
    if (auto parsed = parse_payload_layer(l);
        parsed && parsed->payload.digest == layer.payload.digest && parsed->signature_base64 == layer.signature_base64)
      return std::optional<signature_manifest>{};
    if (const auto dg = l.find("digest"); dg != l.end() && dg->is_string()) digests.push_back(dg->get<std::string>());
  }
  descriptor added = layer.payload;
  added.media_type = std::string(cosign_payload_media_type);
  added.annotations[std::string(cosign_signature_annotation)] = layer.signature_base64;
  digests.push_back(added.digest.str());

  signature_manifest out;
  out.config_json = tag_form_config(digests);
  out.config = blob_descriptor(media_type::image_config, out.config_json);
  doc["config"] = descriptor_value(out.config);
  doc["layers"].push_back(descriptor_value(added));
  out.manifest_json = dump(doc);
  return std::optional<signature_manifest>(std::move(out));
}

}  // namespace ocipipe
