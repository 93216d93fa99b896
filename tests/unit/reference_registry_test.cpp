// stages/reference for servers: docker:// in docker's own syntax (tag after
// the last ':' past the last '/', "latest" by default, Docker Hub's
// normalization, distribution-spec's repository and tag grammars) and
// oci+http(s):// for image layouts published as static files.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "stages/reference.h"

namespace ocipipe {
namespace {

const char* const sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

image_reference parsed(const std::string& text) {
  auto r = parse_reference(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message());
  return r ? *r : image_reference{};
}

TEST(ParseDockerReference, HostPortRepoAndTag) {
  const auto r = parsed("docker://localhost:5000/team/app:v1.2");
  EXPECT_EQ(r.kind, transport::docker);
  EXPECT_EQ(r.path, "localhost:5000/team/app");
  EXPECT_EQ(r.tag, "v1.2");
  EXPECT_FALSE(r.manifest_digest);
  EXPECT_EQ(r.str(), "docker://localhost:5000/team/app:v1.2");
}

TEST(ParseDockerReference, PortIsNotATag) {
  const auto r = parsed("docker://localhost:5000/app");
  EXPECT_EQ(r.path, "localhost:5000/app");
  EXPECT_EQ(r.tag, "latest");
}

TEST(ParseDockerReference, DefaultTagIsLatest) {
  const auto r = parsed("docker://registry.example.com/debian");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.str(), "docker://registry.example.com/debian:latest");
}

TEST(ParseDockerReference, DigestWithoutTag) {
  const auto r = parsed(std::string("docker://127.0.0.1:5000/app@") + sha);
  EXPECT_EQ(r.path, "127.0.0.1:5000/app");
  ASSERT_TRUE(r.manifest_digest);
  EXPECT_EQ(r.manifest_digest->str(), sha);
  EXPECT_TRUE(r.tag.empty());
  EXPECT_EQ(r.str(), std::string("docker://127.0.0.1:5000/app@") + sha);
}

TEST(ParseDockerReference, TagAndDigestTogetherRefused) {
  auto r = parse_reference(std::string("docker://localhost:5000/app:v1@") + sha);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().message().find("both a tag and a digest"), std::string::npos) << r.error().message();
}

TEST(ParseDockerReference, BadDigestRefused) {
  auto r = parse_reference("docker://localhost:5000/app@sha256:xyz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(ParseDockerReference, TagGrammar) {
  // distribution-spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
  EXPECT_TRUE(parse_reference("docker://h.example/app:_x.Y-1"));
  EXPECT_TRUE(parse_reference("docker://h.example/app:" + std::string(128, 'a')));
  for (const std::string& bad : std::vector<std::string>{"docker://h.example/app:", "docker://h.example/app:.x", "docker://h.example/app:-x",
                                "docker://h.example/app:a+b", "docker://h.example/app:" + std::string(129, 'a')}) {
    auto r = parse_reference(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
}

TEST(ParseDockerReference, EmptyPathRefused) {
  EXPECT_FALSE(parse_reference("docker://"));
  EXPECT_FALSE(parse_reference(std::string("docker://@") + sha));
}

TEST(ParseDockerReference, RepositoryGrammarChecked) {
  for (const char* bad : {"docker://h.example/App", "docker://h.example/a//b", "docker://h.example/a/",
                          "docker://h.example/-a", "docker://h.example/a-", "docker://h.example/a..b",
                          "docker://h.example/a___b", "docker://h.example/a-.b", "docker://h.example/a._b",
                          "docker://h.example/a_-b", "docker://h.example/a b"}) {
    auto r = parse_reference(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
  for (const char* good : {"docker://h.example/a.b", "docker://h.example/a_b", "docker://h.example/a__b",
                           "docker://h.example/a-b", "docker://h.example/a---b", "docker://h.example/a0/b1/c2"})
    EXPECT_TRUE(parse_reference(good)) << good;
}

TEST(ParseRegistryPath, HostWithDotPortOrLocalhost) {
  for (const auto& [path, host, repo] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"registry.example.com/team/app", "registry.example.com", "team/app"},
           {"myhost:5000/app", "myhost:5000", "app"},
           {"localhost/app", "localhost", "app"},
           {"127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c"},
       }) {
    auto r = parse_registry_path(path);
    ASSERT_TRUE(r) << path << ": " << r.error().message();
    EXPECT_EQ(r->host, host) << path;
    EXPECT_EQ(r->repository, repo) << path;
  }
}

TEST(ParseRegistryPath, DockerHubNormalization) {
  // Docker's rules: a first component without '.' or ':' (and not
  // "localhost") is a Docker Hub repository; one-component names are
  // official images under library/, whichever way Docker Hub is named.
  for (const auto& [path, repo] : std::vector<std::pair<std::string, std::string>>{
           {"debian", "library/debian"},
           {"team/app", "team/app"},
           {"docker.io/debian", "library/debian"},
           {"index.docker.io/debian", "library/debian"},
           {"registry-1.docker.io/team/app", "team/app"},
       }) {
    auto r = parse_registry_path(path);
    ASSERT_TRUE(r) << path << ": " << r.error().message();
    EXPECT_EQ(r->host, "docker.io") << path;
    EXPECT_EQ(r->repository, repo) << path;
  }
}

TEST(ParseRegistryPath, RepositoryLengthLimit) {
  EXPECT_TRUE(parse_registry_path("h.example/" + std::string(255, 'a')));
  auto r = parse_registry_path("h.example/" + std::string(256, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(ParseRegistryPath, EmptyHostRefused) {
  EXPECT_FALSE(parse_registry_path(":5000/app"));
}

TEST(ParseOciUrlReference, HttpsBaseUrlAndTag) {
  const auto r = parsed("oci+https://cdn.example.com/images/debian:12");
  EXPECT_EQ(r.kind, transport::oci_url);
  EXPECT_EQ(r.path, "https://cdn.example.com/images/debian");
  EXPECT_EQ(r.tag, "12");
  EXPECT_EQ(r.str(), "oci+https://cdn.example.com/images/debian:12");
}

TEST(ParseOciUrlReference, NoTagMeansTheOnlyManifest) {
  // As oci:, not docker://: no "latest" default.
  const auto r = parsed("oci+http://127.0.0.1:8080/layout");
  EXPECT_EQ(r.path, "http://127.0.0.1:8080/layout");
  EXPECT_TRUE(r.tag.empty());
}

TEST(ParseOciUrlReference, PortWithoutPathIsNotATag) {
  const auto r = parsed("oci+https://cdn.example.com:8443");
  EXPECT_EQ(r.path, "https://cdn.example.com:8443");
  EXPECT_TRUE(r.tag.empty());
  const auto slash = parsed("oci+https://cdn.example.com:8443/");
  EXPECT_EQ(slash.path, "https://cdn.example.com:8443/");
  EXPECT_TRUE(slash.tag.empty());
}

TEST(ParseOciUrlReference, PortAndTag) {
  const auto r = parsed("oci+http://localhost:8080/a/b:v1");
  EXPECT_EQ(r.path, "http://localhost:8080/a/b");
  EXPECT_EQ(r.tag, "v1");
}

TEST(ParseOciUrlReference, Digest) {
  const auto r = parsed(std::string("oci+https://cdn.example.com/img@") + sha);
  EXPECT_EQ(r.path, "https://cdn.example.com/img");
  ASSERT_TRUE(r.manifest_digest);
  EXPECT_EQ(r.manifest_digest->str(), sha);
}

TEST(ParseOciUrlReference, EmptyHostOrUserinfoRefused) {
  for (const char* bad : {"oci+https://", "oci+https:///path", "oci+https://user:pw@host/path"}) {
    auto r = parse_reference(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
}

TEST(ParseOciUrlReference, OtherSchemesAreNotOciUrls) {
  // "oci+ftp://…" is no transport of ours: it parses as an oci: directory
  // (and fails as one later), never as a URL.
  auto r = parse_reference("oci+ftp://host/x");
  if (r) EXPECT_NE(r->kind, transport::oci_url);
}

}  // namespace
}  // namespace ocipipe
