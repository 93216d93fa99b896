// stages/docker_reference: Docker's ParseNormalizedNamed, as signature
// identities and policy scopes use it (containers-signature(5),
// containers-policy.json(5)).
#include <gtest/gtest.h>

#include <string>

#include "stages/docker_reference.h"

namespace ocipipe {
namespace {

const std::string sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

docker_reference parse_ok(std::string_view text) {
  auto r = parse_docker_reference(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message());
  return r ? *r : docker_reference{};
}

void expect_refused(std::string_view text) {
  auto r = parse_docker_reference(text);
  ASSERT_FALSE(r) << text << " parsed as " << r->str();
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << text;
  EXPECT_NE(r.error().message().find("docker reference"), std::string::npos) << r.error().message();
}

TEST(DockerReference, SingleNameIsDockerHubOfficialImage) {
  const auto r = parse_ok("busybox");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/busybox");
  EXPECT_EQ(r.tag, "");
  EXPECT_FALSE(r.manifest_digest);
  EXPECT_EQ(r.name(), "docker.io/library/busybox");
  EXPECT_EQ(r.str(), "docker.io/library/busybox");
}

TEST(DockerReference, NoDefaultTagIsAdded) {
  EXPECT_EQ(parse_ok("docker.io/library/busybox").tag, "");
}

TEST(DockerReference, NamespacedNameIsDockerHub) {
  const auto r = parse_ok("openshift/origin:v3");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "openshift/origin");
  EXPECT_EQ(r.tag, "v3");
  EXPECT_EQ(r.str(), "docker.io/openshift/origin:v3");
}

TEST(DockerReference, DockerIoGetsLibraryPrefix) {
  EXPECT_EQ(parse_ok("docker.io/busybox:1").str(), "docker.io/library/busybox:1");
}

TEST(DockerReference, IndexDockerIoNormalizesToDockerIo) {
  EXPECT_EQ(parse_ok("index.docker.io/busybox").str(), "docker.io/library/busybox");
  EXPECT_EQ(parse_ok("index.docker.io/user/app:t").str(), "docker.io/user/app:t");
}

// Docker normalizes only index.docker.io: registry-1.docker.io is another domain.
TEST(DockerReference, RegistryOneDockerIoStaysAsWritten) {
  const auto r = parse_ok("registry-1.docker.io/library/busybox");
  EXPECT_EQ(r.domain, "registry-1.docker.io");
}

TEST(DockerReference, FirstComponentWithDotOrPortOrLocalhostIsDomain) {
  EXPECT_EQ(parse_ok("example.com/app").domain, "example.com");
  EXPECT_EQ(parse_ok("registry:5000/app").domain, "registry:5000");
  EXPECT_EQ(parse_ok("localhost/app").domain, "localhost");
  const auto r = parse_ok("localhost:5000/ns/app:v1");
  EXPECT_EQ(r.domain, "localhost:5000");
  EXPECT_EQ(r.path, "ns/app");
  EXPECT_EQ(r.tag, "v1");
  // A single component there stays: "library/" is Docker Hub's alone.
  EXPECT_EQ(parse_ok("example.com/app").path, "app");
}

TEST(DockerReference, UppercaseFirstComponentIsDomain) {
  const auto r = parse_ok("Example/app");
  EXPECT_EQ(r.domain, "Example");
  EXPECT_EQ(r.path, "app");
}

TEST(DockerReference, BracketedIpv6DomainWithPort) {
  const auto r = parse_ok("[::1]:5000/app:t");
  EXPECT_EQ(r.domain, "[::1]:5000");
  EXPECT_EQ(r.path, "app");
}

TEST(DockerReference, SingleNameWithPortLooksLikeTag) {
  // Docker's rule: no '/' means a Docker Hub name, so ":5000" is a tag.
  const auto r = parse_ok("localhost:5000");
  EXPECT_EQ(r.str(), "docker.io/library/localhost:5000");
}

TEST(DockerReference, DigestIsParsedAndKept) {
  const auto r = parse_ok("example.com/app@" + sha);
  ASSERT_TRUE(r.manifest_digest);
  EXPECT_EQ(r.manifest_digest->str(), sha);
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.str(), "example.com/app@" + sha);
}

TEST(DockerReference, TagAndDigestTogether) {
  const auto r = parse_ok("busybox:1.36@" + sha);
  EXPECT_EQ(r.tag, "1.36");
  ASSERT_TRUE(r.manifest_digest);
  EXPECT_EQ(r.str(), "docker.io/library/busybox:1.36@" + sha);
}

TEST(DockerReference, TagGrammar) {
  EXPECT_EQ(parse_ok("app:_x").tag, "_x");
  EXPECT_EQ(parse_ok("app:V1.2-rc_3").tag, "V1.2-rc_3");
  EXPECT_EQ(parse_ok("app:" + std::string(128, 'a')).tag.size(), 128u);
  expect_refused("app:" + std::string(129, 'a'));
  expect_refused("app:-x");
  expect_refused("app:.x");
  expect_refused("app:");
  expect_refused("app:a+b");
  expect_refused("app:a:b");
}

TEST(DockerReference, RepositoryGrammar) {
  EXPECT_EQ(parse_ok("example.com/a.b_c__d---e/f").path, "a.b_c__d---e/f");
  expect_refused("example.com/a..b");
  expect_refused("example.com/a___b");
  expect_refused("example.com/-a");
  expect_refused("example.com/a-");
  expect_refused("example.com/a//b");
  expect_refused("example.com/a/");
  expect_refused("example.com/");
  expect_refused("/app");
}

TEST(DockerReference, UppercaseRepositoryRefused) {
  expect_refused("Busybox");
  expect_refused("example.com/App");
  expect_refused("docker.io/library/Busybox:latest");
  auto r = parse_docker_reference("example.com/App");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("lowercase"), std::string::npos) << r.error().message();
}

TEST(DockerReference, DomainGrammar) {
  expect_refused("exa_mple.com/app");
  expect_refused("-example.com/app");
  expect_refused("example..com/app");
  expect_refused("example.com:/app");
  expect_refused("example.com:50a/app");
  expect_refused("[]/app");
  expect_refused("[::1/app");
}

TEST(DockerReference, MalformedDigestRefused) {
  expect_refused("app@sha256:abc");
  expect_refused("app@sha256:" + std::string(64, 'G'));
  expect_refused("app@");
}

TEST(DockerReference, UnsupportedDigestAlgorithmRefused) {
  expect_refused("app@md5:" + std::string(32, 'a'));
}

TEST(DockerReference, EmptyRefused) { expect_refused(""); }

TEST(DockerReference, TransportPrefixRefused) { expect_refused("docker://busybox:latest"); }

TEST(DockerReference, BareImageIdRefused) {
  expect_refused("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
}

TEST(DockerReference, NameLongerThan255Refused) {
  const std::string repo(250, 'a');
  EXPECT_TRUE(parse_docker_reference("ab.io/" + std::string(249, 'a')));  // 255 in all
  expect_refused("ab.io/" + repo);
}

TEST(DockerReference, IsDockerDomain) {
  EXPECT_TRUE(is_docker_domain("example.com"));
  EXPECT_TRUE(is_docker_domain("localhost:5000"));
  EXPECT_TRUE(is_docker_domain("Example"));
  EXPECT_TRUE(is_docker_domain("a-b.c"));
  EXPECT_TRUE(is_docker_domain("[fe80::1]:443"));
  EXPECT_FALSE(is_docker_domain(""));
  EXPECT_FALSE(is_docker_domain("a_b"));
  EXPECT_FALSE(is_docker_domain("a.-b"));
  EXPECT_FALSE(is_docker_domain("host:"));
  EXPECT_FALSE(is_docker_domain("host/ns"));
}

TEST(DockerReferenceOf, DockerTransportIsNormalized) {
  auto ref = parse_reference("docker://busybox");
  ASSERT_TRUE(ref);
  const auto r = docker_reference_of(*ref);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str(), "docker.io/library/busybox:latest");
}

TEST(DockerReferenceOf, DockerTransportKeepsHostAndDigest) {
  auto ref = parse_reference("docker://localhost:5000/ns/app@" + sha);
  ASSERT_TRUE(ref);
  const auto r = docker_reference_of(*ref);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->domain, "localhost:5000");
  EXPECT_EQ(r->path, "ns/app");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->str(), "localhost:5000/ns/app@" + sha);
}

TEST(DockerReferenceOf, OtherTransportsHaveNone) {
  for (const char* text : {"oci:/img:v1", "oci-archive:/a.tar:v1", "docker-archive:/d.tar", "oci+https://h/x:v"}) {
    auto ref = parse_reference(text);
    ASSERT_TRUE(ref) << text;
    EXPECT_FALSE(docker_reference_of(*ref)) << text;
  }
}

}  // namespace
}  // namespace ocipipe
