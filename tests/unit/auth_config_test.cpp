// stages/auth_config: Docker's config.json and containers' auth.json, --creds, and the
// output of docker-credential-* helpers.
#include <gtest/gtest.h>

#include "stages/auth_config.h"

namespace ocipipe {
namespace {

TEST(ParseAuthConfig, AuthFieldIsBase64UserColonPassword) {
  // "alice:pa:ss" — a password may hold ':'.
  auto c = parse_auth_config(R"({"auths": {"registry.example:5000": {"auth": "YWxpY2U6cGE6c3M="}}})");
  ASSERT_TRUE(c) << c.error().message();
  const auto& e = c->auths.at("registry.example:5000");
  EXPECT_EQ(e.username, "alice");
  EXPECT_EQ(e.password, "pa:ss");
  EXPECT_TRUE(e.identity_token.empty());
}

TEST(ParseAuthConfig, UnpaddedBase64IsAccepted) {
  auto c = parse_auth_config(R"({"auths": {"h": {"auth": "YWxpY2U6cGE6c3M"}}})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->auths.at("h").password, "pa:ss");
}

TEST(ParseAuthConfig, UsernamePasswordFieldsIdentityTokenHelpersAndUnknownFields) {
  auto c = parse_auth_config(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "", "identitytoken": "refresh-xyz"},
      "quay.io": {"username": "bob", "password": "pw", "email": "ignored"},
      "ghcr.io": {}
    },
    "credsStore": "desktop",
    "credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
    "HttpHeaders": {"User-Agent": "x"},
    "psFormat": "table"
  })");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->auths.at("https://index.docker.io/v1/").identity_token, "refresh-xyz");
  EXPECT_EQ(c->auths.at("quay.io").username, "bob");
  EXPECT_EQ(c->auths.at("quay.io").password, "pw");
  EXPECT_TRUE(c->auths.at("ghcr.io").empty());
  EXPECT_EQ(c->creds_store, "desktop");
  EXPECT_EQ(c->cred_helpers.at("123.dkr.ecr.us-east-1.amazonaws.com"), "ecr-login");
}

TEST(ParseAuthConfig, EmptyObjectAndNoAuths) {
  auto c = parse_auth_config("{}");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->auths.empty());
  EXPECT_TRUE(c->creds_store.empty());
}

TEST(ParseAuthConfig, BrokenFilesAreMalformedWithTheJsonPath) {
  const struct {
    const char* json;
    const char* where;
  } cases[] = {
      {"not json", "JSON"},
      {"[]", "object"},
      {R"({"auths": []})", "auths"},
      {R"({"auths": {"h": "x"}})", "auths.\"h\""},
      {R"({"auths": {"h": {"auth": "!!!"}}})", "auths.\"h\".auth"},
      {R"({"auths": {"h": {"auth": "YWxpY2U="}}})", "auths.\"h\".auth"},  // "alice": no ':'
      {R"({"auths": {"h": {"username": 5}}})", "auths.\"h\".username"},
      {R"({"credsStore": 1})", "credsStore"},
      {R"({"credHelpers": {"h": 1}})", "credHelpers.\"h\""},
  };
  for (const auto& t : cases) {
    auto c = parse_auth_config(t.json);
    ASSERT_FALSE(c) << t.json;
    EXPECT_EQ(c.error().code(), errc::malformed) << t.json;
    EXPECT_NE(c.error().message().find(t.where), std::string::npos) << c.error().message();
  }
}

TEST(RegistryAuthKey, DropsSchemePathAndNormalizesDockerHub) {
  EXPECT_EQ(registry_auth_key("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(registry_auth_key("docker.io"), "docker.io");
  EXPECT_EQ(registry_auth_key("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(registry_auth_key("index.docker.io"), "docker.io");
  EXPECT_EQ(registry_auth_key("http://Registry.Example:5000/v2/"), "registry.example:5000");
  EXPECT_EQ(registry_auth_key("quay.io/namespace/repo"), "quay.io");
  EXPECT_EQ(registry_auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_NE(registry_auth_key("registry.example:5000"), registry_auth_key("registry.example"));
}

TEST(AuthKeyMatch, PathKeysMatchAtComponentBoundariesAndRankBySpecificity) {
  EXPECT_EQ(auth_key_match("reg.example/sec", "reg.example", "sec/slim"), 4u);
  EXPECT_EQ(auth_key_match("reg.example/sec", "reg.example", "sec"), 4u);
  EXPECT_EQ(auth_key_match("reg.example/sec/slim", "reg.example", "sec/slim"), 6u);
  EXPECT_EQ(auth_key_match("reg.example/sec", "reg.example", "secret/x"), 0u);
  EXPECT_EQ(auth_key_match("reg.example/sec/slim", "reg.example", "sec"), 0u);
  EXPECT_EQ(auth_key_match("reg.example/other", "reg.example", "sec/slim"), 0u);
  EXPECT_EQ(auth_key_match("reg.example/sec", "reg.example", ""), 0u);  // "" takes host-only keys
  EXPECT_EQ(auth_key_match("reg.example/sec", "other.example", "sec/slim"), 0u);
  EXPECT_EQ(auth_key_match("reg.example", "reg.example", "sec/slim"), 2u);
  EXPECT_EQ(auth_key_match("reg.example", "reg.example", ""), 2u);
  EXPECT_EQ(auth_key_match("https://reg.example/v1/", "reg.example", "sec/slim"), 1u);  // legacy: host only
  EXPECT_EQ(auth_key_match("docker.io/library", "docker.io", "library/debian"), 4u);
  EXPECT_EQ(auth_key_match("127.0.0.1:5000/sec", "127.0.0.1:5000", "sec/slim"), 4u);
  EXPECT_EQ(auth_key_match("127.0.0.1:5000/sec", "127.0.0.1:5001", "sec/slim"), 0u);
}

TEST(AuthKeyMatch, BestAuthsEntryPrefersTheMostSpecificNonEmptyKey) {
  auto cfg = parse_auth_config(R"({"auths": {
    "reg.example": {"username": "host", "password": "h"},
    "reg.example/sec": {"username": "sec", "password": "s"},
    "reg.example/sec/slim": {},
    "reg.example/other": {"username": "other", "password": "o"}}})");
  ASSERT_TRUE(cfg) << cfg.error().message();
  const auto* e = best_auths_entry(*cfg, "reg.example", "sec/slim");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->second.username, "sec");  // the empty "sec/slim" entry is skipped
  e = best_auths_entry(*cfg, "reg.example", "library/x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->second.username, "host");
  EXPECT_FALSE(best_auths_entry(*cfg, "other.example", "sec/slim"));
}

TEST(SameCredentials, ComparesIdentityNotSource) {
  registry_credentials a{"u", "p", "", "--creds"};
  registry_credentials b{"u", "p", "", "\"f\" auths.\"h\""};
  EXPECT_TRUE(same_credentials(a, b));
  b.password = "q";
  EXPECT_FALSE(same_credentials(a, b));
  EXPECT_FALSE(same_credentials(a, std::nullopt));
  EXPECT_TRUE(same_credentials(std::nullopt, std::nullopt));
}

TEST(ParseCredsFlag, UserAndPasswordSplitAtFirstColon) {
  auto c = parse_creds_flag("alice:pa:ss");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_EQ(c->source, "--creds");
  auto u = parse_creds_flag("bob");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->username, "bob");
  EXPECT_EQ(u->password, "");
  for (const char* bad : {"", ":pw"}) {
    auto r = parse_creds_flag(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
  }
}

TEST(ParseHelperOutput, UsernameSecretOrIdentityToken) {
  auto c = parse_helper_output(R"({"ServerURL":"h","Username":"alice","Secret":"pw"})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "pw");
  auto t = parse_helper_output(R"({"ServerURL":"h","Username":"<token>","Secret":"refresh-xyz"})");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_TRUE(t->username.empty());
  EXPECT_EQ(t->identity_token, "refresh-xyz");
  for (const char* bad : {"", "credentials not found in native keychain", R"({"Username":"a"})", R"({"Secret":5})"}) {
    auto r = parse_helper_output(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::malformed);
  }
}

}  // namespace
}  // namespace ocipipe
