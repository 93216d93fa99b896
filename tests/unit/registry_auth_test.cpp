// io/registry_auth: where credentials come from (real files under a temporary HOME and
// XDG_RUNTIME_DIR, a real docker-credential-ocitest script on PATH), where they may go
// (token realm rules, buglog B62), and the Docker token protocol against a real server
// (tests/support/http_echo_server.py).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/registry_auth.h"
#include "tests/support/echo_server.h"
#include "tests/support/test_env.h"

namespace ocipipe::io {
namespace {

using nlohmann::json;
using ocipipe::testing::echo_server;
using ocipipe::testing::temp_dir;
using ocipipe::testing::write_bytes;

// Sets environment variables for one test and puts the old values back.
class env_guard {
 public:
  ~env_guard() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else ::unsetenv(it->first.c_str());
    }
  }
  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }

 private:
  void save(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

void make_dirs(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
}

void write_file(const std::string& path, const std::string& text) {
  make_dirs(path.substr(0, path.rfind('/')));
  write_bytes(path, text);
}

std::string auths_json(const std::string& key, const std::string& user, const std::string& password) {
  return json{{"auths", {{key, {{"username", user}, {"password", password}}}}}}.dump();
}

// docker-credential-ocitest: the docker-credential-helpers protocol for a few servers.
const char* const helper_script = R"(#!/bin/sh
[ "$1" = get ] || { echo "unexpected verb $1" >&2; exit 2; }
read -r server || true
case "$server" in
  helper.example) echo '{"ServerURL":"helper.example","Username":"from-helper","Secret":"hpw"}' ;;
  store.example) echo '{"ServerURL":"store.example","Username":"from-store","Secret":"spw"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"refresh-hub"}' ;;
  fail.example) echo "keychain locked" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
)";

// A clean credential environment: HOME, XDG_RUNTIME_DIR and a bin dir with the helper,
// first on PATH; REGISTRY_AUTH_FILE and DOCKER_CONFIG unset.
class FindCredentials : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.set("HOME", dir_.sub("home"));
    env_.set("XDG_RUNTIME_DIR", dir_.sub("run"));
    env_.unset("REGISTRY_AUTH_FILE");
    env_.unset("DOCKER_CONFIG");
    const std::string bin = dir_.sub("bin");
    make_dirs(bin);
    write_bytes(bin + "/docker-credential-ocitest", helper_script);
    ::chmod((bin + "/docker-credential-ocitest").c_str(), 0755);
    const char* path = std::getenv("PATH");
    env_.set("PATH", bin + ":" + (path ? path : "/usr/bin:/bin"));
  }
  std::optional<registry_credentials> find(const std::string& host, const auth_sources& s = {},
                                           const std::string& repository = "") {
    auto r = find_credentials(host, repository, s);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::nullopt;
  }

  temp_dir dir_{"ocipipe-auth"};
  env_guard env_;
};

TEST_F(FindCredentials, NothingConfiguredIsAnonymous) { EXPECT_FALSE(find("registry.example")); }

TEST_F(FindCredentials, CredsFlagWinsOverFiles) {
  write_file(dir_.sub("home/.docker/config.json"), auths_json("registry.example", "file", "fpw"));
  auth_sources s;
  s.creds = registry_credentials{"flag", "xpw", ""};
  EXPECT_EQ(find("registry.example", s)->username, "flag");
}

TEST_F(FindCredentials, AuthFileFlagComesBeforeEnvironmentAndDefaults) {
  write_file(dir_.sub("flag.json"), auths_json("registry.example", "flag-file", "a"));
  write_file(dir_.sub("env.json"), auths_json("registry.example", "env-file", "b"));
  write_file(dir_.sub("run/containers/auth.json"), auths_json("registry.example", "xdg", "c"));
  env_.set("REGISTRY_AUTH_FILE", dir_.sub("env.json"));
  auth_sources s;
  s.auth_file = dir_.sub("flag.json");
  EXPECT_EQ(find("registry.example", s)->username, "flag-file");
  EXPECT_EQ(find("registry.example")->username, "env-file");
}

TEST_F(FindCredentials, XdgRuntimeDirThenHomeConfigThenDocker) {
  write_file(dir_.sub("run/containers/auth.json"), auths_json("a.example", "xdg", "1"));
  write_file(dir_.sub("home/.config/containers/auth.json"),
             json{{"auths", {{"a.example", {{"username", "home-config"}, {"password", "2"}}},
                             {"b.example", {{"username", "home-config"}, {"password", "2"}}}}}}
                 .dump());
  write_file(dir_.sub("home/.docker/config.json"),
             json{{"auths", {{"b.example", {{"username", "docker"}, {"password", "3"}}},
                             {"c.example", {{"username", "docker"}, {"password", "3"}}}}}}
                 .dump());
  EXPECT_EQ(find("a.example")->username, "xdg");
  EXPECT_EQ(find("b.example")->username, "home-config");
  EXPECT_EQ(find("c.example")->username, "docker");
  EXPECT_FALSE(find("d.example"));
}

TEST_F(FindCredentials, DockerConfigEnvironmentReplacesHomeDocker) {
  write_file(dir_.sub("home/.docker/config.json"), auths_json("registry.example", "home-docker", "1"));
  write_file(dir_.sub("dc/config.json"), auths_json("registry.example", "docker-config", "2"));
  env_.set("DOCKER_CONFIG", dir_.sub("dc"));
  EXPECT_EQ(find("registry.example")->username, "docker-config");
}

TEST_F(FindCredentials, KeysAreComparedAsRegistryHosts) {
  write_file(dir_.sub("home/.docker/config.json"), json{{"auths",
                                                         {{"https://index.docker.io/v1/", {{"auth", "aHViOmh1YnB3"}}},
                                                          {"http://registry.example:5000/v2/", {{"auth", "cG9ydDpwcA=="}}}}}}
                                                       .dump());
  auto hub = find("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "hubpw");
  EXPECT_EQ(find("registry.example:5000")->username, "port");
  EXPECT_FALSE(find("registry.example")) << "another port is another registry";
}

TEST_F(FindCredentials, CredHelpersComeFirstAndGetTheHostOnStdin) {
  write_file(dir_.sub("home/.docker/config.json"),
             json{{"auths", {{"helper.example", {{"username", "from-auths"}, {"password", "x"}}}}},
                  {"credHelpers", {{"helper.example", "ocitest"}}}}
                 .dump());
  auto c = find("helper.example");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "from-helper");
  EXPECT_EQ(c->password, "hpw");
}

TEST_F(FindCredentials, HelperWithoutAnEntryFallsThroughToAuths) {
  write_file(dir_.sub("home/.docker/config.json"),
             json{{"auths", {{"other.example", {{"username", "from-auths"}, {"password", "x"}}}}},
                  {"credHelpers", {{"other.example", "ocitest"}}}}
                 .dump());
  EXPECT_EQ(find("other.example")->username, "from-auths");
}

TEST_F(FindCredentials, CredsStoreAfterAuthsAndDockerHubAsItsUrl) {
  write_file(dir_.sub("home/.docker/config.json"),
             json{{"auths", {{"auths.example", {{"username", "from-auths"}, {"password", "x"}}}, {"store.example", json::object()}}},
                  {"credsStore", "ocitest"}}
                 .dump());
  EXPECT_EQ(find("auths.example")->username, "from-auths");
  EXPECT_EQ(find("store.example")->username, "from-store");
  auto hub = find("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->identity_token, "refresh-hub");
  EXPECT_FALSE(find("unknown.example"));
}

TEST_F(FindCredentials, PathScopedKeyMatchesAtComponentBoundaries) {
  write_file(dir_.sub("run/containers/auth.json"), auths_json("registry.example/sec", "sec", "spw"));
  auto c = find("registry.example", {}, "sec/slim");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "sec");
  EXPECT_NE(c->source.find("auths.\"registry.example/sec\""), std::string::npos) << c->source;
  EXPECT_NE(c->source.find("run/containers/auth.json"), std::string::npos) << c->source;
  EXPECT_EQ(find("registry.example", {}, "sec")->username, "sec");
  EXPECT_FALSE(find("registry.example", {}, "secret/x"));
  EXPECT_FALSE(find("registry.example", {}, ""));
}

TEST_F(FindCredentials, MostSpecificKeyWinsAndHostKeyIsTheFallback) {
  write_file(dir_.sub("run/containers/auth.json"),
             json{{"auths",
                   {{"registry.example", {{"username", "host"}, {"password", "h"}}},
                    {"registry.example/sec", {{"username", "sec"}, {"password", "s"}}},
                    {"registry.example/sec/slim", {{"username", "slim"}, {"password", "x"}}}}}}
                 .dump());
  EXPECT_EQ(find("registry.example", {}, "sec/slim")->username, "slim");
  EXPECT_EQ(find("registry.example", {}, "sec/other")->username, "sec");
  EXPECT_EQ(find("registry.example", {}, "library/debian")->username, "host");
  EXPECT_EQ(find("registry.example", {}, "")->username, "host");
}

TEST_F(FindCredentials, KeyOfAnotherNamespaceIsNeverUsed) {
  write_file(dir_.sub("run/containers/auth.json"), auths_json("registry.example/other", "other", "o"));
  // A later file's host key is reached: the other namespace's entry is no match at all.
  write_file(dir_.sub("home/.docker/config.json"), auths_json("registry.example", "docker-host", "d"));
  EXPECT_EQ(find("registry.example", {}, "sec/slim")->username, "docker-host");
  EXPECT_EQ(find("registry.example", {}, "other/x")->username, "other");
  ::unlink(dir_.sub("home/.docker/config.json").c_str());
  EXPECT_FALSE(find("registry.example", {}, "sec/slim"));
  EXPECT_FALSE(find("registry.example", {}, "otherx/y"));
}

TEST_F(FindCredentials, CredsFlagIsNamedAsTheSource) {
  auth_sources s;
  s.creds = registry_credentials{"flag", "xpw", ""};
  EXPECT_EQ(find("registry.example", s, "sec/slim")->source, "--creds");
}

TEST_F(FindCredentials, FailingHelperIsUnauthenticated) {
  write_file(dir_.sub("home/.docker/config.json"), json{{"credsStore", "ocitest"}}.dump());
  auto r = find_credentials("fail.example", "", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthenticated) << r.error().message();
  EXPECT_NE(r.error().message().find("keychain locked"), std::string::npos) << r.error().message();
}

TEST_F(FindCredentials, MissingHelperProgramIsNotFound) {
  write_file(dir_.sub("home/.docker/config.json"), json{{"credsStore", "no-such-helper-xyz"}}.dump());
  auto r = find_credentials("registry.example", "", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found) << r.error().message();
}

TEST_F(FindCredentials, BrokenFileIsMalformedNamingIt) {
  write_file(dir_.sub("run/containers/auth.json"), "{\"auths\": ");
  auto r = find_credentials("registry.example", "", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find("run/containers/auth.json"), std::string::npos) << r.error().message();
}

TEST_F(FindCredentials, RunCredentialHelperDirectly) {
  auto found = run_credential_helper("ocitest", "helper.example");
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->username, "from-helper");
  auto none = run_credential_helper("ocitest", "nobody.example");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(*none);
  EXPECT_FALSE(run_credential_helper("../../bin/sh", "x"));
}

// ---- realm rules (B62) ----

bool may(const std::string& registry, const std::string& realm) {
  return realm_may_receive_credentials(*parse_url(registry), *parse_url(realm));
}

TEST(RealmMayReceiveCredentials, HttpsRealmOnAnotherHostIsAllowed) {
  EXPECT_TRUE(may("https://registry-1.docker.io", "https://auth.docker.io/token"));
  EXPECT_TRUE(may("https://r.example", "https://r.example:8443/token"));
  EXPECT_TRUE(may("http://127.0.0.1:5000", "https://auth.example/token"));
}

TEST(RealmMayReceiveCredentials, PlainHttpOnlyForAPlainHttpRegistryOnTheSameHost) {
  EXPECT_FALSE(may("https://r.example", "http://r.example/token"));
  EXPECT_FALSE(may("https://r.example", "http://auth.example/token"));
  EXPECT_TRUE(may("http://127.0.0.1:5000", "http://127.0.0.1:5001/token"));
  EXPECT_FALSE(may("http://127.0.0.1:5000", "http://localhost:5001/token"));
  EXPECT_FALSE(may("http://r.example", "http://auth.example/token"));
}

TEST(RealmMayReceiveCredentials, UserinfoIsRefused) {
  EXPECT_FALSE(may("https://r.example", "https://attacker:x@auth.example/token"));
  EXPECT_FALSE(may("https://r.example", "https://auth.example@evil.example/token"));
}

TEST(RealmMayReceiveCredentials, LinkLocalAndUnspecifiedAddressesAreRefused) {
  for (const char* realm : {"https://169.254.169.254/latest/meta-data", "http://169.254.169.254/token",
                            "https://2852039166/token", "https://0xa9.0xfe.0xa9.0xfe/token", "https://0.0.0.0/token",
                            "https://[fe80::1]/token", "https://[::]/token", "https://[::ffff:169.254.169.254]/token"})
    EXPECT_FALSE(may("https://r.example", realm)) << realm;
  EXPECT_FALSE(may("http://169.254.169.254", "http://169.254.169.254/token"));
}

// ---- the token protocol against a real server ----

class RegistryAuthenticator : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = echo_server::start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(http_.send(http_request{.url = server_->a("/revoke")}));
  }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(server_->port_a()); }

  // GET `path` on the first listener with `auth`; the response.
  http_response get(const std::string& path, const std::string& auth = "") {
    http_request req;
    req.url = server_->a(path);
    req.authorization = auth;
    auto r = http_.send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : http_response{};
  }

  static std::vector<std::string> challenges(const http_response& r) {
    std::vector<std::string> out;
    for (auto [it, end] = r.headers.equal_range("www-authenticate"); it != end; ++it) out.push_back(it->second);
    return out;
  }

  // Requests the server logged since `from` (an index into its log).
  json log_since(std::size_t from) {
    auto r = http_.send(http_request{.url = server_->a("/log")});
    EXPECT_TRUE(r);
    const auto all = json::parse(r->body);
    json out = json::array();
    for (std::size_t i = from; i < all.size(); ++i) out.push_back(all[i]);
    return out;
  }
  std::size_t log_size() { return log_since(0).size(); }

  static json token_requests(const json& log) {
    json out = json::array();
    for (const auto& e : log)
      if (e["path"] == "/token") out.push_back(e);
    return out;
  }

  static echo_server* server_;
  http_client http_{tls_options{}};
};
echo_server* RegistryAuthenticator::server_ = nullptr;

const std::string scope = "repository:library/debian:pull";

TEST_F(RegistryAuthenticator, AnonymousTokenWithoutCredentials) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  EXPECT_EQ(auth.authorization(scope), "");
  const auto first = get("/v2/library/debian/manifests/latest");
  ASSERT_EQ(first.status, 401);
  const auto mark = log_size();
  auto c = auth.challenge(challenges(first), scope);
  ASSERT_TRUE(c) << c.error().message();
  const auto header = auth.authorization(scope);
  EXPECT_TRUE(header.starts_with("Bearer anon-")) << header;
  EXPECT_EQ(get("/v2/library/debian/manifests/latest", header).status, 200);
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["method"], "GET");
  EXPECT_EQ(tokens[0]["query"], "service=echo&scope=repository%3Alibrary%2Fdebian%3Apull");
  EXPECT_EQ(tokens[0]["authorization"], "");
}

TEST_F(RegistryAuthenticator, BasicCredentialsGoToTheTokenRealm) {
  registry_authenticator auth(http_, origin(), registry_credentials{"alice", "pa:ss", ""});
  EXPECT_TRUE(auth.has_credentials());
  const auto mark = log_size();
  ASSERT_TRUE(auth.challenge(challenges(get("/v2/")), scope));
  const auto header = auth.authorization(scope);
  EXPECT_TRUE(header.starts_with("Bearer user-")) << header;
  EXPECT_EQ(get("/v2/", header).status, 200);
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["authorization"], "Basic YWxpY2U6cGE6c3M=");
}

TEST_F(RegistryAuthenticator, RefusedCredentialsAreUnauthenticated) {
  registry_authenticator auth(http_, origin(), registry_credentials{"alice", "wrong", ""});
  auto c = auth.challenge(challenges(get("/v2/")), scope);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::unauthenticated) << c.error().message();
  EXPECT_NE(c.error().message().find("(credentials refused)"), std::string::npos) << c.error().message();

  registry_authenticator named(http_, origin(), registry_credentials{"alice", "wrong", "", "--creds"});
  auto n = named.challenge(challenges(get("/v2/")), scope);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find("(credentials refused; from --creds)"), std::string::npos) << n.error().message();
}

TEST_F(RegistryAuthenticator, IdentityTokenUsesTheOAuthRefreshGrant) {
  registry_authenticator auth(http_, origin(), registry_credentials{"", "", "refresh-xyz"});
  const auto mark = log_size();
  ASSERT_TRUE(auth.challenge(challenges(get("/v2/")), scope));
  const auto header = auth.authorization(scope);
  EXPECT_TRUE(header.starts_with("Bearer oauth-")) << header;
  EXPECT_EQ(get("/v2/", header).status, 200);
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["method"], "POST");
  EXPECT_EQ(tokens[0]["authorization"], "");
}

TEST_F(RegistryAuthenticator, TokensAreCachedPerScope) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  ASSERT_TRUE(auth.challenge(challenges(get("/v2/")), scope));
  const auto mark = log_size();
  const auto a1 = auth.authorization(scope);
  const auto a2 = auth.authorization(scope);
  EXPECT_EQ(a1, a2);
  EXPECT_TRUE(token_requests(log_since(mark)).empty());
  // Another scope: the known realm gives it its own token without a 401 first.
  const auto other = auth.authorization("repository:other:pull,push");
  EXPECT_TRUE(other.starts_with("Bearer anon-")) << other;
  EXPECT_NE(other, a1);
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["query"], "service=echo&scope=repository%3Aother%3Apull%2Cpush");
}

TEST_F(RegistryAuthenticator, RefusedTokenIsReplacedByTheNextChallenge) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  ASSERT_TRUE(auth.challenge(challenges(get("/v2/")), scope));
  const auto old_header = auth.authorization(scope);
  ASSERT_TRUE(http_.send(http_request{.url = server_->a("/revoke")}));
  const auto refused = get("/v2/", old_header);
  ASSERT_EQ(refused.status, 401);
  ASSERT_TRUE(auth.challenge(challenges(refused), scope));
  const auto fresh = auth.authorization(scope);
  EXPECT_NE(fresh, old_header);
  EXPECT_EQ(get("/v2/", fresh).status, 200);
}

TEST_F(RegistryAuthenticator, ChallengeScopeIsRequestedToo) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  const auto mark = log_size();
  ASSERT_TRUE(auth.challenge(challenges(get("/v2/?scope=repository:a:pull")), "repository:b:pull"));
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["query"], "service=echo&scope=repository%3Ab%3Apull&scope=repository%3Aa%3Apull");
}

// B62: a realm on another host over plain http never sees the credentials.
TEST_F(RegistryAuthenticator, PlainHttpRealmOnAnotherHostGetsNoCredentials) {
  const std::string realm = "http://localhost:" + std::to_string(server_->port_b()) + "/token";
  const auto mark = log_size();
  registry_authenticator with_creds(http_, origin(), registry_credentials{"alice", "pa:ss", ""});
  auto c = with_creds.challenge(challenges(get("/v2/?realm=" + realm)), scope);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::permission_denied) << c.error().message();
  EXPECT_NE(c.error().message().find(realm), std::string::npos) << c.error().message();
  EXPECT_TRUE(token_requests(log_since(mark)).empty());
  // Without credentials the same realm is fine: there is nothing to leak.
  registry_authenticator anonymous(http_, origin(), std::nullopt);
  ASSERT_TRUE(anonymous.challenge(challenges(get("/v2/?realm=" + realm)), scope));
  const auto tokens = token_requests(log_since(mark));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["port"], server_->port_b());
  EXPECT_EQ(tokens[0]["authorization"], "");
}

TEST_F(RegistryAuthenticator, TokenRequestDoesNotFollowRedirects) {
  const std::string realm = server_->a("/redirect?to=" + server_->b("/token"));
  registry_authenticator auth(http_, origin(), registry_credentials{"alice", "pa:ss", ""});
  const auto mark = log_size();
  auto c = auth.challenge({"Bearer realm=\"" + realm + "\",service=\"echo\""}, scope);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::unauthenticated) << c.error().message();
  EXPECT_TRUE(token_requests(log_since(mark)).empty());
}

TEST_F(RegistryAuthenticator, BasicChallengeSendsCredentialsToTheRegistry) {
  registry_authenticator auth(http_, origin(), registry_credentials{"alice", "pa:ss", ""});
  const auto first = get("/basic/v2/");
  ASSERT_EQ(first.status, 401);
  ASSERT_TRUE(auth.challenge(challenges(first), scope));
  const auto header = auth.authorization(scope);
  EXPECT_EQ(header, "Basic YWxpY2U6cGE6c3M=");
  EXPECT_EQ(get("/basic/v2/", header).status, 200);
  registry_authenticator anonymous(http_, origin(), std::nullopt);
  auto c = anonymous.challenge(challenges(first), scope);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::unauthenticated);
}

TEST_F(RegistryAuthenticator, UnusableChallengesAreUnauthenticated) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  for (const std::vector<std::string>& values :
       {std::vector<std::string>{}, {"Negotiate abc=="}, {"Bearer service=\"x\""}, {"Bearer realm=\"unterminated"}}) {
    auto c = auth.challenge(values, scope);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), errc::unauthenticated) << c.error().message();
  }
}

TEST_F(RegistryAuthenticator, TokenResponseWithoutTokenIsMalformed) {
  registry_authenticator auth(http_, origin(), std::nullopt);
  auto c = auth.challenge({"Bearer realm=\"" + server_->a("/echo") + "\""}, scope);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::malformed) << c.error().message();
}

}  // namespace
}  // namespace ocipipe::io
