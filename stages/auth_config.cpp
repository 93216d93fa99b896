#include "stages/auth_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "stages/base64.h"

namespace ocipipe {
namespace {

using json = nlohmann::json;

// Docker writes "auth" as padded standard base64; the '=' padding is tolerated
// missing (or in excess), whitespace and other alphabets refused.
std::optional<std::string> decode_auth(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string padded(in);
  padded.append((4 - padded.size() % 4) % 4, '=');
  return base64_decode(padded);
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The string member `name` of object `o`, "" when absent; an error naming `path` when it
// is there and not a string.
result<std::string> string_member(const json& o, const char* name, const std::string& path) {
  const auto it = o.find(name);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) return fail(errc::malformed, (path.empty() ? "" : path + ".") + name + ": not a string");
  return it->get<std::string>();
}

result<registry_credentials> parse_auth_entry(const json& entry, const std::string& path) {
  if (!entry.is_object()) return fail(errc::malformed, path + ": not an object");
  registry_credentials c;
  OCIPIPE_ASSIGN_OR_RETURN(auto auth, string_member(entry, "auth", path));
  if (!auth.empty()) {
    auto decoded = decode_auth(auth);
    if (!decoded) return fail(errc::malformed, path + ".auth: not base64");
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return fail(errc::malformed, path + ".auth: not \"user:password\"");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
  } else {
    OCIPIPE_ASSIGN_OR_RETURN(c.username, string_member(entry, "username", path));
    OCIPIPE_ASSIGN_OR_RETURN(c.password, string_member(entry, "password", path));
  }
  OCIPIPE_ASSIGN_OR_RETURN(c.identity_token, string_member(entry, "identitytoken", path));
  return c;
}

}  // namespace

result<auth_config> parse_auth_config(std::string_view text) {
  // nlohmann throws on bad input; the non-throwing overload reports it as discarded.
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(errc::malformed, "not JSON");
  if (!doc.is_object()) return fail(errc::malformed, "not a JSON object");
  auth_config cfg;
  if (const auto it = doc.find("auths"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return fail(errc::malformed, "auths: not an object");
    for (const auto& [key, entry] : it->items()) {
      OCIPIPE_ASSIGN_OR_RETURN(auto c, parse_auth_entry(entry, "auths." + quote(key)));
      cfg.auths.emplace(key, std::move(c));
    }
  }
  OCIPIPE_ASSIGN_OR_RETURN(cfg.creds_store, string_member(doc, "credsStore", ""));
  if (const auto it = doc.find("credHelpers"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return fail(errc::malformed, "credHelpers: not an object");
    for (const auto& [key, helper] : it->items()) {
      if (!helper.is_string()) return fail(errc::malformed, "credHelpers." + quote(key) + ": not a string");
      cfg.cred_helpers.emplace(key, helper.get<std::string>());
    }
  }
  return cfg;
}

std::string registry_auth_key(std::string_view key) {
  std::string_view k = key;
  if (const auto sep = k.find("://"); sep != std::string_view::npos) k.remove_prefix(sep + 3);
  k = k.substr(0, k.find('/'));
  std::string host = lowercase(k);
  // Docker Hub has three names; `docker login` writes "https://index.docker.io/v1/".
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
  return host;
}

std::size_t auth_key_match(std::string_view key, std::string_view host, std::string_view repository) {
  const std::string want = registry_auth_key(host);
  if (registry_auth_key(key) != want) return 0;
  // Keys with a scheme are the legacy form: the host alone (containers-auth.json(5)).
  if (key.find("://") != std::string_view::npos) return 1;
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return 2;
  std::string_view path = key.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return 1;
  if (repository.size() < path.size() || repository.substr(0, path.size()) != path) return 0;
  if (repository.size() > path.size() && repository[path.size()] != '/') return 0;
  const auto components = static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')) + 1;
  return 2 + 2 * components;
}

const std::pair<const std::string, registry_credentials>* best_auths_entry(const auth_config& cfg,
                                                                           std::string_view host,
                                                                           std::string_view repository) {
  const std::pair<const std::string, registry_credentials>* best = nullptr;
  std::size_t best_score = 0;
  for (const auto& entry : cfg.auths) {
    if (entry.second.empty()) continue;
    const std::size_t score = auth_key_match(entry.first, host, repository);
    if (score > best_score) {
      best = &entry;
      best_score = score;
    }
  }
  return best;
}

bool same_credentials(const std::optional<registry_credentials>& a,
                      const std::optional<registry_credentials>& b) noexcept {
  if (!a || !b) return !a && !b;
  return a->username == b->username && a->password == b->password && a->identity_token == b->identity_token;
}

result<registry_credentials> parse_creds_flag(std::string_view text) {
  const auto colon = text.find(':');
  registry_credentials c;
  c.source = "--creds";
  c.username = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) c.password = std::string(text.substr(colon + 1));
  if (c.username.empty()) return fail(errc::invalid_argument, "--creds: empty user name (expected USER[:PASSWORD])");
  return c;
}

result<registry_credentials> parse_helper_output(std::string_view text) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail(errc::malformed, "credential helper output: not a JSON object");
  OCIPIPE_ASSIGN_OR_RETURN(auto user, string_member(doc, "Username", "credential helper output"));
  OCIPIPE_ASSIGN_OR_RETURN(auto secret, string_member(doc, "Secret", "credential helper output"));
  if (secret.empty()) return fail(errc::malformed, "credential helper output: no Secret");
  registry_credentials c;
  // Docker's convention: an identity token travels as the secret of the user "<token>".
  if (user == "<token>") {
    c.identity_token = std::move(secret);
  } else {
    c.username = std::move(user);
    c.password = std::move(secret);
  }
  return c;
}

}  // namespace ocipipe
