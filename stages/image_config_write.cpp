// The image config of a packed image, edited as ordered JSON.
#include "stages/image_config_write.h"

#include <nlohmann/json.hpp>

#include "stages/config_edits.h"  // env_name

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

// An object member that must be an object (created when absent or null).
result<json*> object_member(json& parent, const char* key, std::string_view where) {
  json& m = parent[key];
  if (m.is_null()) m = json::object();
  if (!m.is_object())
    return fail(errc::malformed, "image config: " + std::string(where) + ": not a JSON object");
  return &m;
}

// An array member that must be an array (created when absent or null).
result<json*> array_member(json& parent, const char* key, std::string_view where) {
  json& m = parent[key];
  if (m.is_null()) m = json::array();
  if (!m.is_array())
    return fail(errc::malformed, "image config: " + std::string(where) + ": not a JSON array");
  return &m;
}

result<void> apply_env(json& config, const std::vector<std::string>& env) {
  if (env.empty()) return {};
  OCIPIPE_ASSIGN_OR_RETURN(json* list, array_member(config, "Env", "config.Env"));
  for (const auto& entry : env) {
    const auto name = env_name(entry);
    if (!name)
      return fail(errc::invalid_argument, "--env " + quote(entry) + ": not NAME=value with a non-empty NAME");
    bool replaced = false;
    for (auto& existing : *list) {
      if (!existing.is_string()) continue;
      const auto& text = existing.get_ref<const std::string&>();
      if (env_name(text) == name) {
        existing = entry;
        replaced = true;
      }
    }
    if (!replaced) list->push_back(entry);
  }
  return {};
}

}  // namespace

result<std::string> write_image_config(std::optional<std::string_view> base,
                                       const image_config_changes& c) {
  json doc;
  if (base) {
    doc = json::parse(base->begin(), base->end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return fail(errc::malformed, "image config: not valid JSON");
    if (!doc.is_object()) return fail(errc::malformed, "image config: not a JSON object");
  } else {
    if (!c.os || !c.architecture || c.os->empty() || c.architecture->empty())
      return fail(errc::invalid_argument, "image config: os and architecture are required for an image without a base");
    // config.md's field order, so a config from scratch reads naturally.
    doc["created"] = c.created;
    if (c.author) doc["author"] = *c.author;
    doc["architecture"] = *c.architecture;
    doc["os"] = *c.os;
    doc["config"] = json::object();
    doc["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    doc["history"] = json::array();
  }

  if (!c.created.empty()) doc["created"] = c.created;
  if (c.author) doc["author"] = *c.author;
  if (c.architecture) doc["architecture"] = *c.architecture;
  if (c.os) doc["os"] = *c.os;
  if (c.variant) {
    if (c.variant->empty()) doc.erase("variant");
    else doc["variant"] = *c.variant;
  }

  OCIPIPE_ASSIGN_OR_RETURN(json* config, object_member(doc, "config", "config"));
  if (c.entrypoint) (*config)["Entrypoint"] = *c.entrypoint;
  if (c.cmd) (*config)["Cmd"] = *c.cmd;
  OCIPIPE_TRY(apply_env(*config, c.env));
  if (c.working_dir) (*config)["WorkingDir"] = *c.working_dir;
  if (c.user) (*config)["User"] = *c.user;
  if (!c.labels.empty()) {
    OCIPIPE_ASSIGN_OR_RETURN(json* labels, object_member(*config, "Labels", "config.Labels"));
    for (const auto& [k, v] : c.labels) (*labels)[k] = v;
  }

  OCIPIPE_ASSIGN_OR_RETURN(json* rootfs, object_member(doc, "rootfs", "rootfs"));
  if (!rootfs->contains("type")) (*rootfs)["type"] = "layers";
  OCIPIPE_ASSIGN_OR_RETURN(json* diff_ids, array_member(*rootfs, "diff_ids", "rootfs.diff_ids"));
  if (!c.empty_layer) diff_ids->push_back(c.diff_id.str());

  OCIPIPE_ASSIGN_OR_RETURN(json* history, array_member(doc, "history", "history"));
  json h = json::object();
  if (!c.created.empty()) h["created"] = c.created;
  if (!c.created_by.empty()) h["created_by"] = c.created_by;
  if (c.author) h["author"] = *c.author;
  if (!c.comment.empty()) h["comment"] = c.comment;
  if (c.empty_layer) h["empty_layer"] = true;
  history->push_back(std::move(h));

  // replace: a base carrying invalid UTF-8 must not throw here; its bytes
  // were refused by nothing else, so keep going with U+FFFD.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ocipipe
