#include "stages/registries_d.h"

#include <exception>
#include <set>

#include <yaml-cpp/yaml.h>

namespace ocipipe {
namespace {

// yaml-cpp reports lines from 0.
std::string at_line(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? std::string() : " (line " + std::to_string(m.line + 1) + ")";
}

// A string value; null and "" read as unset, as containers/image takes an
// empty URL for none.
result<std::optional<std::string>> string_value(const YAML::Node& n, const std::string& where) {
  if (!n || n.IsNull()) return std::optional<std::string>();
  if (!n.IsScalar()) return fail(errc::malformed, where + at_line(n) + ": not a string");
  std::string v = n.Scalar();
  if (v.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(v));
}

// YAML 1.2's core schema booleans (Go's yaml decoder), not yaml-cpp's wider
// set (yes/no/on/off), so a file means the same to us as to skopeo.
result<std::optional<bool>> bool_value(const YAML::Node& n, const std::string& where) {
  if (!n || n.IsNull()) return std::optional<bool>();
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    if (v == "true" || v == "True" || v == "TRUE") return std::optional<bool>(true);
    if (v == "false" || v == "False" || v == "FALSE") return std::optional<bool>(false);
  }
  return fail(errc::malformed, where + at_line(n) + ": not a boolean (true or false)");
}

// One scope's mapping. The legacy "sigstore" keys (containers/image before
// 5.22) fill in only what the new names leave unset, as containers/image
// prefers the new names when a file has both.
result<registries_d_entry> parse_entry(const YAML::Node& n, const std::string& where) {
  registries_d_entry e;
  if (!n || n.IsNull()) return e;
  if (!n.IsMap()) return fail(errc::malformed, where + at_line(n) + ": not a mapping");
  std::optional<std::string> legacy, legacy_staging;
  // yaml-cpp's iterators hand out proxies: each pair is copied, never
  // referred to through operator->.
  for (const auto& kv : n) {
    const YAML::Node key_node = kv.first;
    const YAML::Node value = kv.second;
    if (!key_node.IsScalar()) return fail(errc::malformed, where + at_line(key_node) + ": a key is not a string");
    const std::string key = key_node.Scalar();
    const std::string here = where + "." + key;
    if (key == "lookaside") {
      OCIPIPE_ASSIGN_OR_RETURN(e.lookaside, string_value(value, here));
    } else if (key == "lookaside-staging") {
      OCIPIPE_ASSIGN_OR_RETURN(e.lookaside_staging, string_value(value, here));
    } else if (key == "sigstore") {
      OCIPIPE_ASSIGN_OR_RETURN(legacy, string_value(value, here));
    } else if (key == "sigstore-staging") {
      OCIPIPE_ASSIGN_OR_RETURN(legacy_staging, string_value(value, here));
    } else if (key == "use-sigstore-attachments") {
      OCIPIPE_ASSIGN_OR_RETURN(e.use_sigstore_attachments, bool_value(value, here));
    }
    // Other keys are ignored, as containers/image's YAML decoder does.
  }
  if (!e.lookaside) e.lookaside = std::move(legacy);
  if (!e.lookaside_staging) e.lookaside_staging = std::move(legacy_staging);
  return e;
}

result<void> merge_document(registries_d_config& into, const YAML::Node& doc, const std::string& file) {
  if (!doc || doc.IsNull()) return {};  // an empty file
  if (!doc.IsMap()) return fail(errc::malformed, file + at_line(doc) + ": not a mapping");
  // Parsed whole before anything is merged, so a bad file changes nothing.
  std::optional<registries_d_entry> default_docker;
  std::vector<std::pair<std::string, registries_d_entry>> docker;
  bool saw_default = false;
  for (const auto& kv : doc) {
    const YAML::Node key_node = kv.first;
    const YAML::Node value = kv.second;
    if (!key_node.IsScalar()) return fail(errc::malformed, file + at_line(key_node) + ": a key is not a string");
    const std::string key = key_node.Scalar();
    if (key == "default-docker") {
      if (saw_default)
        return fail(errc::invalid_argument, file + at_line(key_node) + ": \"default-docker\" defined twice");
      saw_default = true;
      auto e = parse_entry(value, "default-docker");
      if (!e) return tl::unexpected(std::move(e).error().context(file));
      default_docker = std::move(*e);
    } else if (key == "docker") {
      const YAML::Node& scopes = value;
      if (!scopes || scopes.IsNull()) continue;
      if (!scopes.IsMap()) return fail(errc::malformed, file + ": docker" + at_line(scopes) + ": not a mapping");
      std::set<std::string> seen;
      for (const auto& s : scopes) {
        const YAML::Node scope_node = s.first;
        if (!scope_node.IsScalar() || scope_node.Scalar().empty())
          return fail(errc::malformed, file + ": docker" + at_line(scope_node) + ": a scope is not a non-empty string");
        const std::string scope = scope_node.Scalar();
        if (!seen.insert(scope).second)
          return fail(errc::invalid_argument, file + at_line(scope_node) + ": \"docker\" scope " + quote(scope) +
                                                  " defined twice");
        auto e = parse_entry(s.second, "docker[" + quote(scope) + "]");
        if (!e) return tl::unexpected(std::move(e).error().context(file));
        docker.emplace_back(scope, std::move(*e));
      }
    }
  }
  // containers/image refuses a scope that two files define, rather than
  // letting the order of file names decide.
  if (default_docker && into.default_docker)
    return fail(errc::invalid_argument, file + ": \"default-docker\" is already defined by another file");
  for (const auto& [scope, e] : docker)
    for (const auto& [have, unused] : into.docker)
      if (have == scope)
        return fail(errc::invalid_argument, file + ": \"docker\" scope " + quote(scope) +
                                                " is already defined by another file");
  if (default_docker) into.default_docker = std::move(default_docker);
  for (auto& p : docker) into.docker.push_back(std::move(p));
  return {};
}

const registries_d_entry* find_scope(const registries_d_config& config, std::string_view scope) {
  for (const auto& [name, e] : config.docker)
    if (name == scope) return &e;
  return nullptr;
}

}  // namespace

result<void> merge_registries_d(registries_d_config& into, std::string_view yaml, std::string_view file) {
  const std::string name = "registries.d " + quote(file);
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    const std::string where = e.mark.is_null() ? std::string()
                                               : " (line " + std::to_string(e.mark.line + 1) + ", column " +
                                                     std::to_string(e.mark.column + 1) + ")";
    return fail(errc::malformed, name + where + ": " + e.msg);
  } catch (const std::exception& e) {
    return fail(errc::malformed, name + ": " + e.what());
  }
  // Reading nodes can throw too (yaml-cpp's InvalidNode, BadConversion).
  try {
    return merge_document(into, doc, name);
  } catch (const std::exception& e) {
    return fail(errc::malformed, name + ": " + e.what());
  }
}

registries_d_entry registries_d_lookup(const registries_d_config& config, std::string_view name) {
  // The scopes that apply, most specific first: `name`, then each prefix
  // ending at a '/', then default-docker.
  std::vector<const registries_d_entry*> chain;
  std::string_view scope = name;
  while (!scope.empty()) {
    if (const auto* e = find_scope(config, scope)) chain.push_back(e);
    const auto slash = scope.rfind('/');
    if (slash == std::string_view::npos) break;
    scope = scope.substr(0, slash);
  }
  if (config.default_docker) chain.push_back(&*config.default_docker);

  registries_d_entry out;
  for (const auto* e : chain) {
    if (!out.lookaside && e->lookaside) out.lookaside = e->lookaside;
    if (!out.use_sigstore_attachments && e->use_sigstore_attachments)
      out.use_sigstore_attachments = e->use_sigstore_attachments;
  }
  // Writing goes where the first scope naming any store says
  // (containers/image signatureTopLevel with write=true): its staging
  // store, else its lookaside. So a scope with only "lookaside" stops the
  // search, and a less specific scope's staging store does not apply.
  for (const auto* e : chain) {
    if (e->lookaside_staging || e->lookaside) {
      out.lookaside_staging = e->lookaside_staging;
      break;
    }
  }
  return out;
}

std::string lookaside_signature_url(std::string_view base, std::string_view path, std::string_view digest_text,
                                    unsigned index) {
  while (base.size() > 1 && base.back() == '/') base.remove_suffix(1);
  std::string out(base);
  out += '/';
  out += path;
  out += '@';
  // "sha256:<hex>" becomes "sha256=<hex>": ':' is not allowed in every
  // file system and URL path.
  const auto colon = digest_text.find(':');
  if (colon == std::string_view::npos) {
    out += digest_text;
  } else {
    out += digest_text.substr(0, colon);
    out += '=';
    out += digest_text.substr(colon + 1);
  }
  out += "/signature-";
  out += std::to_string(index);
  return out;
}

}  // namespace ocipipe
