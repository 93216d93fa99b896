#include "stages/image_json.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Members of one JSON object by key. Duplicate keys are refused: simdjson's
// lookup returns the first, Go's encoding/json keeps the last, so a document
// with duplicates means different things to different readers.
using members = std::map<std::string_view, element>;

tl::unexpected<error> malformed(std::string_view path, std::string_view cause) {
  std::string m;
  if (!path.empty()) m.append(path).append(": ");
  m.append(cause);
  return fail(errc::malformed, std::move(m));
}

result<members> members_of(element e, std::string_view path) {
  object obj;
  if (e.get(obj) != simdjson::SUCCESS) return malformed(path, "expected a JSON object");
  members m;
  for (auto kv : obj)
    if (!m.emplace(kv.key, kv.value).second)
      return malformed(json_member_path(path, kv.key), "duplicate key");
  return m;
}

// The member `key`, or nothing when it is absent or JSON null: Go's
// encoding/json, which wrote most images in the wild, treats null as absent.
std::optional<element> optional_member(const members& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end() || it->second.is_null()) return std::nullopt;
  return it->second;
}

result<element> required_member(const members& m, std::string_view parent, std::string_view key) {
  auto e = optional_member(m, key);
  if (!e) return malformed(json_member_path(parent, key), "required field missing");
  return *e;
}

result<std::string> as_string(element e, std::string_view path) {
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return malformed(path, "expected a string");
  return std::string(s);
}

result<std::string> optional_string(const members& m, std::string_view parent,
                                    std::string_view key) {
  auto e = optional_member(m, key);
  if (!e) return std::string();
  return as_string(*e, json_member_path(parent, key));
}

result<std::string> required_string(const members& m, std::string_view parent,
                                    std::string_view key) {
  OCIPIPE_ASSIGN_OR_RETURN(element e, required_member(m, parent, key));
  return as_string(e, json_member_path(parent, key));
}

result<std::vector<std::string>> as_string_array(element e, std::string_view path) {
  array arr;
  if (e.get(arr) != simdjson::SUCCESS) return malformed(path, "expected an array of strings");
  std::vector<std::string> out;
  std::size_t i = 0;
  for (element item : arr) {
    OCIPIPE_ASSIGN_OR_RETURN(std::string s, as_string(item, json_index_path(path, i)));
    out.push_back(std::move(s));
    ++i;
  }
  return out;
}

result<annotations> as_string_map(element e, std::string_view path) {
  OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(e, path));
  annotations out;
  for (const auto& [key, value] : m) {
    OCIPIPE_ASSIGN_OR_RETURN(std::string s, as_string(value, json_member_path(path, key)));
    out.emplace(std::string(key), std::move(s));
  }
  return out;
}

// Keys of a Go map[string]struct{} (ExposedPorts, Volumes): values must be objects.
result<std::vector<std::string>> as_key_set(element e, std::string_view path) {
  OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(e, path));
  std::vector<std::string> out;
  for (const auto& [key, value] : m) {
    if (!value.is_object()) return malformed(json_member_path(path, key), "expected an object");
    out.emplace_back(key);
  }
  return out;
}

// descriptor.md "size": an int64 that MUST NOT be negative. Fractions and
// exponents are refused as Go's int64 decoding refuses them.
result<std::int64_t> as_size(element e, std::string_view path) {
  switch (e.type()) {
    case element_type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v < 0) return malformed(path, "size " + std::to_string(v) + " is negative");
      return v;
    }
    case element_type::UINT64:
      return malformed(path, "size out of range");
    default:
      return malformed(path, "expected an integer");
  }
}

result<digest> as_digest(element e, std::string_view path) {
  OCIPIPE_ASSIGN_OR_RETURN(std::string s, as_string(e, path));
  auto d = digest::parse(s);
  if (!d) return tl::unexpected(std::move(d).error().context(path));
  return std::move(*d);
}

result<platform> as_platform(element e, std::string_view path) {
  OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(e, path));
  platform p;
  OCIPIPE_ASSIGN_OR_RETURN(p.architecture, optional_string(m, path, "architecture"));
  OCIPIPE_ASSIGN_OR_RETURN(p.os, optional_string(m, path, "os"));
  OCIPIPE_ASSIGN_OR_RETURN(p.os_version, optional_string(m, path, "os.version"));
  OCIPIPE_ASSIGN_OR_RETURN(p.variant, optional_string(m, path, "variant"));
  if (auto f = optional_member(m, "os.features")) {
    OCIPIPE_ASSIGN_OR_RETURN(p.os_features,
                             as_string_array(*f, json_member_path(path, "os.features")));
  }
  return p;
}

result<annotations> optional_annotations(const members& m, std::string_view parent) {
  auto e = optional_member(m, "annotations");
  if (!e) return annotations();
  return as_string_map(*e, json_member_path(parent, "annotations"));
}

result<descriptor> as_descriptor(element e, std::string_view path) {
  OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(e, path));
  descriptor d;
  OCIPIPE_ASSIGN_OR_RETURN(d.media_type, required_string(m, path, "mediaType"));
  OCIPIPE_ASSIGN_OR_RETURN(element dg, required_member(m, path, "digest"));
  OCIPIPE_ASSIGN_OR_RETURN(d.digest, as_digest(dg, json_member_path(path, "digest")));
  OCIPIPE_ASSIGN_OR_RETURN(element sz, required_member(m, path, "size"));
  OCIPIPE_ASSIGN_OR_RETURN(d.size, as_size(sz, json_member_path(path, "size")));
  if (auto u = optional_member(m, "urls")) {
    OCIPIPE_ASSIGN_OR_RETURN(d.urls, as_string_array(*u, json_member_path(path, "urls")));
  }
  OCIPIPE_ASSIGN_OR_RETURN(d.annotations, optional_annotations(m, path));
  if (auto data = optional_member(m, "data")) {
    OCIPIPE_ASSIGN_OR_RETURN(d.data, as_string(*data, json_member_path(path, "data")));
  }
  OCIPIPE_ASSIGN_OR_RETURN(d.artifact_type, optional_string(m, path, "artifactType"));
  if (auto p = optional_member(m, "platform")) {
    OCIPIPE_ASSIGN_OR_RETURN(d.platform, as_platform(*p, json_member_path(path, "platform")));
  }
  return d;
}

result<std::optional<descriptor>> optional_descriptor(const members& m, std::string_view parent,
                                                      std::string_view key) {
  auto e = optional_member(m, key);
  if (!e) return std::optional<descriptor>();
  OCIPIPE_ASSIGN_OR_RETURN(descriptor d, as_descriptor(*e, json_member_path(parent, key)));
  return std::optional<descriptor>(std::move(d));
}

result<std::vector<descriptor>> as_descriptor_array(element e, std::string_view path) {
  array arr;
  if (e.get(arr) != simdjson::SUCCESS) return malformed(path, "expected an array");
  std::vector<descriptor> out;
  std::size_t i = 0;
  for (element item : arr) {
    OCIPIPE_ASSIGN_OR_RETURN(descriptor d, as_descriptor(item, json_index_path(path, i)));
    out.push_back(std::move(d));
    ++i;
  }
  return out;
}

// manifest.md / image-index.md "schemaVersion": REQUIRED, MUST be 2. Anything
// else (Docker schema 1 says 1) is a different format we cannot act on.
result<void> check_schema_version(const members& m) {
  OCIPIPE_ASSIGN_OR_RETURN(element e, required_member(m, "", "schemaVersion"));
  std::int64_t v = 0;
  if (e.type() != element_type::INT64 || e.get(v) != simdjson::SUCCESS || v != 2)
    return malformed("schemaVersion", "must be the integer 2");
  return {};
}

// Parses `json` into a padded copy and hands the root element to `fn`. The
// parser lives on this frame, so no element outlives the call.
template <typename Fn>
auto with_root(std::string_view json, Fn&& fn) -> decltype(fn(std::declval<element>())) {
  const simdjson::padded_string padded(json);
  simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS)
    return fail(errc::malformed, std::string("json: ") + simdjson::error_message(err));
  return fn(root);
}

}  // namespace

std::string json_member_path(std::string_view parent, std::string_view key) {
  bool plain = !key.empty() && !(key.front() >= '0' && key.front() <= '9');
  for (char c : key)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_');
  std::string p(parent);
  if (plain) {
    if (!p.empty()) p.push_back('.');
    p.append(key);
  } else {
    p.append("[").append(quote(key)).append("]");
  }
  return p;
}

std::string json_index_path(std::string_view parent, std::size_t index) {
  std::string p(parent);
  p.append("[").append(std::to_string(index)).append("]");
  return p;
}

result<manifest> parse_manifest(std::string_view json) {
  return with_root(json, [](element root) -> result<manifest> {
    OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(root, ""));
    OCIPIPE_TRY(check_schema_version(m));
    manifest out;
    OCIPIPE_ASSIGN_OR_RETURN(out.media_type, optional_string(m, "", "mediaType"));
    if (!out.media_type.empty() && out.media_type != media_type::image_manifest &&
        out.media_type != media_type::docker_manifest)
      return malformed("mediaType", quote(out.media_type) + " is not an image manifest");
    // GHSA-77vh-xpmg-72qh: a blob that is also a valid index is ambiguous.
    if (m.count("manifests") != 0)
      return malformed("manifests", "an image manifest must not carry image index fields");
    OCIPIPE_ASSIGN_OR_RETURN(element config, required_member(m, "", "config"));
    OCIPIPE_ASSIGN_OR_RETURN(out.config, as_descriptor(config, "config"));
    OCIPIPE_ASSIGN_OR_RETURN(element layers, required_member(m, "", "layers"));
    OCIPIPE_ASSIGN_OR_RETURN(out.layers, as_descriptor_array(layers, "layers"));
    OCIPIPE_ASSIGN_OR_RETURN(out.subject, optional_descriptor(m, "", "subject"));
    OCIPIPE_ASSIGN_OR_RETURN(out.artifact_type, optional_string(m, "", "artifactType"));
    OCIPIPE_ASSIGN_OR_RETURN(out.annotations, optional_annotations(m, ""));
    return out;
  });
}

result<image_index> parse_image_index(std::string_view json) {
  return with_root(json, [](element root) -> result<image_index> {
    OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(root, ""));
    OCIPIPE_TRY(check_schema_version(m));
    image_index out;
    OCIPIPE_ASSIGN_OR_RETURN(out.media_type, optional_string(m, "", "mediaType"));
    if (!out.media_type.empty() && out.media_type != media_type::image_index &&
        out.media_type != media_type::docker_manifest_list)
      return malformed("mediaType", quote(out.media_type) + " is not an image index");
    // GHSA-77vh-xpmg-72qh, the other way round.
    for (std::string_view key : {"config", "layers"})
      if (m.count(key) != 0)
        return malformed(key, "an image index must not carry image manifest fields");
    OCIPIPE_ASSIGN_OR_RETURN(element manifests, required_member(m, "", "manifests"));
    OCIPIPE_ASSIGN_OR_RETURN(out.manifests, as_descriptor_array(manifests, "manifests"));
    OCIPIPE_ASSIGN_OR_RETURN(out.subject, optional_descriptor(m, "", "subject"));
    OCIPIPE_ASSIGN_OR_RETURN(out.artifact_type, optional_string(m, "", "artifactType"));
    OCIPIPE_ASSIGN_OR_RETURN(out.annotations, optional_annotations(m, ""));
    return out;
  });
}

result<image_config> parse_image_config(std::string_view json) {
  return with_root(json, [](element root) -> result<image_config> {
    OCIPIPE_ASSIGN_OR_RETURN(members m, members_of(root, ""));
    image_config out;
    OCIPIPE_ASSIGN_OR_RETURN(out.architecture, optional_string(m, "", "architecture"));
    OCIPIPE_ASSIGN_OR_RETURN(out.os, optional_string(m, "", "os"));
    OCIPIPE_ASSIGN_OR_RETURN(out.os_version, optional_string(m, "", "os.version"));
    if (auto f = optional_member(m, "os.features")) {
      OCIPIPE_ASSIGN_OR_RETURN(out.os_features, as_string_array(*f, "os.features"));
    }
    OCIPIPE_ASSIGN_OR_RETURN(out.variant, optional_string(m, "", "variant"));
    OCIPIPE_ASSIGN_OR_RETURN(out.created, optional_string(m, "", "created"));
    OCIPIPE_ASSIGN_OR_RETURN(out.author, optional_string(m, "", "author"));

    if (auto ce = optional_member(m, "config")) {
      OCIPIPE_ASSIGN_OR_RETURN(members c, members_of(*ce, "config"));
      container_config& cc = out.config;
      OCIPIPE_ASSIGN_OR_RETURN(cc.user, optional_string(c, "config", "User"));
      OCIPIPE_ASSIGN_OR_RETURN(cc.working_dir, optional_string(c, "config", "WorkingDir"));
      OCIPIPE_ASSIGN_OR_RETURN(cc.stop_signal, optional_string(c, "config", "StopSignal"));
      if (auto e = optional_member(c, "Env")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.env, as_string_array(*e, "config.Env"));
      }
      // conversion.md treats an absent Entrypoint/Cmd differently from an empty
      // one, so remember presence; null is Docker's spelling of absent.
      if (auto e = optional_member(c, "Entrypoint")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.entrypoint, as_string_array(*e, "config.Entrypoint"));
        cc.has_entrypoint = true;
      }
      if (auto e = optional_member(c, "Cmd")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.cmd, as_string_array(*e, "config.Cmd"));
        cc.has_cmd = true;
      }
      if (auto e = optional_member(c, "Volumes")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.volumes, as_key_set(*e, "config.Volumes"));
      }
      if (auto e = optional_member(c, "ExposedPorts")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.exposed_ports, as_key_set(*e, "config.ExposedPorts"));
      }
      if (auto e = optional_member(c, "Labels")) {
        OCIPIPE_ASSIGN_OR_RETURN(cc.labels, as_string_map(*e, "config.Labels"));
      }
    }

    // config.md "rootfs": REQUIRED; unpack checks every layer's DiffID against it.
    OCIPIPE_ASSIGN_OR_RETURN(element rootfs, required_member(m, "", "rootfs"));
    OCIPIPE_ASSIGN_OR_RETURN(members r, members_of(rootfs, "rootfs"));
    OCIPIPE_ASSIGN_OR_RETURN(out.rootfs_type, required_string(r, "rootfs", "type"));
    if (out.rootfs_type != "layers")
      return malformed("rootfs.type", quote(out.rootfs_type) + " is not \"layers\"");
    OCIPIPE_ASSIGN_OR_RETURN(element diff_ids, required_member(r, "rootfs", "diff_ids"));
    array arr;
    if (diff_ids.get(arr) != simdjson::SUCCESS)
      return malformed("rootfs.diff_ids", "expected an array of digests");
    std::size_t i = 0;
    for (element item : arr) {
      OCIPIPE_ASSIGN_OR_RETURN(digest d, as_digest(item, json_index_path("rootfs.diff_ids", i)));
      out.diff_ids.push_back(std::move(d));
      ++i;
    }
    return out;
  });
}

result<descriptor> parse_descriptor(std::string_view json) {
  return with_root(json, [](element root) { return as_descriptor(root, ""); });
}

result<void> check_media_type_matches(std::string_view own, const descriptor& d) {
  if (own.empty() || own == d.media_type) return {};
  return fail(errc::malformed, "document " + d.digest.str() + ": mediaType " + quote(own) +
                                   " differs from its descriptor's " + quote(d.media_type));
}

}  // namespace ocipipe
