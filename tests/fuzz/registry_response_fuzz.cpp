// Fuzzes what a registry (or anything posing as one) sends back, through the
// pure parsers the registry client (io/registry_client, io/registry_auth) feeds
// it to: WWW-Authenticate challenges, Link pagination and the URL resolution
// behind it, upload Range, Content-Type, JSON error bodies (stages/http_headers),
// and the credential documents of stages/auth_config (config.json/auth.json,
// a credential helper's output, --creds).
// Findings beyond crashes (abort):
// - a parsed URL whose origin + path does not parse back to the same origin and
//   path (credentials are scoped by origin: two readings of one URL could send
//   them to another host);
// - a Link target that resolves to something parse_url refuses, or to another
//   scheme than http(s);
// - challenge schemes or parameter names that are not lowercase (the client
//   looks them up as "bearer", "realm");
// - an upload Range end the client could not add 1 to.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stages/auth_config.h"
#include "stages/http_headers.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ocipipe;

namespace {

bool lowercase(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

void check_url(std::string_view text) {
  auto u = parse_url(text);
  if (!u) return;
  FUZZ_CHECK(u->scheme == "http" || u->scheme == "https", "scheme %s", u->scheme.c_str());
  FUZZ_CHECK(u->port > 0 && u->port < 65536, "port %d", u->port);
  FUZZ_CHECK(!u->path_and_query.empty() && u->path_and_query.front() == '/', "path %s",
             u->path_and_query.c_str());
  const std::string rebuilt = u->origin() + u->path_and_query;
  auto again = parse_url(rebuilt);
  FUZZ_CHECK(again.has_value(), "%s rebuilt as %s does not parse: %s", std::string(text).c_str(), rebuilt.c_str(),
             again.error().message().c_str());
  FUZZ_CHECK(again->origin() == u->origin() && again->path_and_query == u->path_and_query,
             "%s rebuilt as %s reads as %s%s", std::string(text).c_str(), rebuilt.c_str(), again->origin().c_str(),
             again->path_and_query.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto challenges = parse_www_authenticate(text)) {
    FUZZ_CHECK(!challenges->empty(), "no challenge, no error");
    for (const auto& c : *challenges) {
      FUZZ_CHECK(!c.scheme.empty() && lowercase(c.scheme), "scheme %s", c.scheme.c_str());
      for (const auto& [k, v] : c.params) FUZZ_CHECK(!k.empty() && lowercase(k), "parameter %s", k.c_str());
      if (auto realm = c.params.find("realm"); realm != c.params.end()) check_url(realm->second);
    }
  }

  check_url(text);
  if (auto next = link_next(text)) {
    for (std::string_view base : {"https://registry.example:5000/v2/library/debian/tags/list?n=10",
                                  "http://[::1]/v2/r/referrers/sha256:00"}) {
      auto resolved = resolve_url(base, *next);
      if (!resolved) continue;
      auto u = parse_url(*resolved);
      FUZZ_CHECK(u.has_value(), "link %s resolves to %s, which does not parse", next->c_str(), resolved->c_str());
      check_url(*resolved);
    }
  }
  (void)resolve_url(text, "/v2/");

  if (auto end = parse_upload_range(text)) FUZZ_CHECK(*end < UINT64_MAX, "range end %llu", (unsigned long long)*end);
  (void)content_media_type(text);

  const auto errors = parse_registry_errors(text);
  const std::string error_text = registry_error_text(text);
  FUZZ_CHECK(errors.empty() == error_text.empty(), "%zu errors, text %s", errors.size(), error_text.c_str());
  for (const auto& e : errors) FUZZ_CHECK(!e.code.empty() || !e.message.empty(), "an empty error kept");

  if (auto cfg = parse_auth_config(text)) {
    for (const auto& [key, creds] : cfg->auths) {
      (void)registry_auth_key(key);
      (void)auth_key_match(key, "registry.example:5000", "library/debian");
    }
    (void)best_auths_entry(*cfg, "docker.io", "library/debian");
  }
  (void)parse_helper_output(text);
  (void)parse_creds_flag(text);
  (void)registry_auth_key(text);
  (void)auth_key_match(text, "docker.io", "library/debian");
  (void)auth_key_match("docker.io", text, text);
  return 0;
}
