// stages/http_headers: URLs and the header values of the registry protocol (RFC 7235
// challenges, RFC 8288 Link, upload ranges).
#include <gtest/gtest.h>

#include "stages/http_headers.h"

namespace ocipipe {
namespace {

TEST(ParseUrl, SplitsSchemeHostPortAndPath) {
  auto u = parse_url("HTTPS://Registry.Example:5000/v2/library/debian/manifests/latest?x=1#frag");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "registry.example");
  EXPECT_EQ(u->port, 5000);
  EXPECT_EQ(u->userinfo, "");
  EXPECT_EQ(u->path_and_query, "/v2/library/debian/manifests/latest?x=1");
  EXPECT_EQ(u->origin(), "https://registry.example:5000");
}

TEST(ParseUrl, DefaultPortsAndEmptyPath) {
  EXPECT_EQ(parse_url("https://h")->port, 443);
  EXPECT_EQ(parse_url("http://h")->port, 80);
  EXPECT_EQ(parse_url("http://h")->path_and_query, "/");
  EXPECT_EQ(parse_url("http://h?q=1")->path_and_query, "/?q=1");
  // An explicit default port is the same origin as none.
  EXPECT_EQ(parse_url("https://h:443/a")->origin(), parse_url("https://h/b")->origin());
}

TEST(ParseUrl, Ipv6LiteralAndUserinfo) {
  auto u = parse_url("http://user:pa:ss@[::1]:8080/x");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->userinfo, "user:pa:ss");
  EXPECT_EQ(u->origin(), "http://[::1]:8080");
}

TEST(ParseUrl, OriginsDifferByHostPortOrScheme) {
  const auto o = parse_url("https://a.example/x")->origin();
  EXPECT_NE(o, parse_url("http://a.example/x")->origin());
  EXPECT_NE(o, parse_url("https://a.example:8443/x")->origin());
  EXPECT_NE(o, parse_url("https://b.example/x")->origin());
}

TEST(ParseUrl, RefusesWhatIsNotAnHttpUrl) {
  for (const char* bad : {"ftp://h/x", "h/x", "//h/x", "http:/h", "https://", "http://:80/", "http://h:0/",
                          "http://h:65536/", "http://h:8x/", "http://h:/", "http://h /x", "http://h/x\ny",
                          "http://h\\@evil/", "http://[::1/", "http://[zz]/", "file:///etc/passwd"}) {
    auto u = parse_url(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_EQ(u.error().code(), errc::invalid_argument) << bad;
    }
  }
}

TEST(ResolveUrl, AbsoluteRootRelativeAndRelative) {
  const std::string base = "https://r.example:5000/v2/repo/blobs/uploads/abc?state=1";
  EXPECT_EQ(*resolve_url(base, "https://s3.example/bucket/obj?sig=x"), "https://s3.example/bucket/obj?sig=x");
  EXPECT_EQ(*resolve_url(base, "/v2/repo/blobs/uploads/def?_state=2"), "https://r.example:5000/v2/repo/blobs/uploads/def?_state=2");
  EXPECT_EQ(*resolve_url(base, "def"), "https://r.example:5000/v2/repo/blobs/uploads/def");
  EXPECT_EQ(*resolve_url(base, "../x"), "https://r.example:5000/v2/repo/blobs/x");
  EXPECT_EQ(*resolve_url(base, "?n=2"), "https://r.example:5000/v2/repo/blobs/uploads/abc?n=2");
  EXPECT_EQ(*resolve_url(base, "//cdn.example/p"), "https://cdn.example/p");
  EXPECT_EQ(*resolve_url("http://h/a/b", "/../../c"), "http://h/c");
  EXPECT_EQ(*resolve_url("https://h/", "/v2/_catalog?n=2&last=b"), "https://h/v2/_catalog?n=2&last=b");
}

TEST(ResolveUrl, RefusesOtherSchemes) {
  EXPECT_FALSE(resolve_url("https://h/", "file:///etc/passwd"));
  EXPECT_FALSE(resolve_url("https://h/", "gopher://h/"));
  EXPECT_FALSE(resolve_url("not a url", "/x"));
}

TEST(ParseWwwAuthenticate, DockerHubBearerChallenge) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].params.at("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*c)[0].params.at("service"), "registry.docker.io");
  EXPECT_EQ((*c)[0].params.at("scope"), "repository:samalba/my-app:pull,push");
}

TEST(ParseWwwAuthenticate, SeveralChallengesInOneValue) {
  auto c = parse_www_authenticate(R"(Basic realm="Registry Realm", Bearer realm="https://a/t", service=x, error="invalid_token")");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].params.at("realm"), "Registry Realm");
  EXPECT_EQ((*c)[1].scheme, "bearer");
  EXPECT_EQ((*c)[1].params.at("service"), "x");
  EXPECT_EQ((*c)[1].params.at("error"), "invalid_token");
}

TEST(ParseWwwAuthenticate, QuotedStringEscapesAndCaseOfNames) {
  auto c = parse_www_authenticate(R"(BEARER Realm="https://a/t?x=\"1\"",SCOPE = "a\\b")");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].params.at("realm"), "https://a/t?x=\"1\"");
  EXPECT_EQ((*c)[0].params.at("scope"), "a\\b");
}

TEST(ParseWwwAuthenticate, SchemeAloneAndToken68AreTolerated) {
  auto c = parse_www_authenticate("Negotiate abc+/def==, Basic, Bearer realm=\"https://a/t\"");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].scheme, "negotiate");
  EXPECT_TRUE((*c)[0].params.empty());
  EXPECT_EQ((*c)[1].scheme, "basic");
  EXPECT_EQ((*c)[2].params.at("realm"), "https://a/t");
}

TEST(ParseWwwAuthenticate, RefusesBrokenValues) {
  for (const char* bad : {"", "   ", R"(Bearer realm="unterminated)", R"(Bearer realm="a" service="b")", "=x",
                          R"(Bearer realm="a",,=b)"}) {
    auto c = parse_www_authenticate(bad);
    EXPECT_FALSE(c) << bad;
    if (!c) {
      EXPECT_EQ(c.error().code(), errc::malformed);
    }
  }
}

TEST(LinkNext, FindsTheNextRelation) {
  EXPECT_EQ(link_next(R"(</v2/_catalog?n=2&last=b>; rel="next")"), "/v2/_catalog?n=2&last=b");
  EXPECT_EQ(link_next(R"(<https://h/prev>; rel=prev, </v2/x/tags/list?n=10&last=v1,5>; rel="next")"),
            "/v2/x/tags/list?n=10&last=v1,5");
  EXPECT_EQ(link_next(R"(</a>; title="next"; rel="previous next")"), "/a");
  EXPECT_EQ(link_next(R"(</a>; REL=NEXT)"), "/a");
  EXPECT_EQ(link_next(R"(</a>; rel="prev")"), std::nullopt);
  EXPECT_EQ(link_next(""), std::nullopt);
  EXPECT_EQ(link_next("garbage"), std::nullopt);
}

// Found by tests/fuzz/registry_response_fuzz.cpp: "0-18446744073709551615" was
// accepted and the client resumed the upload at offset 0 (last + 1 wrapped).
TEST(ParseUploadRange, RefusesEndWithoutNextOffset) {
  for (const char* bad : {"0-18446744073709551615", "0-9223372036854775807", "bytes=0-18446744073709551614"}) {
    auto r = parse_upload_range(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::malformed);
  }
  EXPECT_EQ(*parse_upload_range("0-9223372036854775806"), 9223372036854775806u);
}

// The next offset is last + 1 only for a range from 0 (distribution-spec
// "Pushing a blob in chunks" answers 0-END).
TEST(ParseUploadRange, RefusesRangeNotFromZero) {
  for (const char* bad : {"5-10", "1-1", "bytes=00001-2"}) EXPECT_FALSE(parse_upload_range(bad)) << bad;
  EXPECT_EQ(*parse_upload_range("00-7"), 7u);
}

TEST(ParseUploadRange, InclusiveEndOffset) {
  EXPECT_EQ(*parse_upload_range("0-1234"), 1234u);
  EXPECT_EQ(*parse_upload_range("bytes=0-10485759"), 10485759u);
  EXPECT_EQ(*parse_upload_range(" 0-0 "), 0u);
  for (const char* bad : {"", "0-", "-5", "5-1", "0-x", "bytes 0-5", "0--5", "0-99999999999999999999999"}) {
    auto r = parse_upload_range(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), errc::malformed);
    }
  }
}

TEST(RegistryErrors, KeepsCodeAndMessageOfEachError) {
  const auto errors = parse_registry_errors(
      R"({"errors":[{"code":"DIGEST_INVALID","message":"digest did not match","detail":{"x":1}},)"
      R"({"code":"SIZE_INVALID"},{"message":"no code"},{},7,{"code":5}]})");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].code, "DIGEST_INVALID");
  EXPECT_EQ(errors[0].message, "digest did not match");
  EXPECT_EQ(errors[1].code, "SIZE_INVALID");
  EXPECT_EQ(errors[2].message, "no code");
  EXPECT_EQ(registry_error_text(R"({"errors":[{"code":"A","message":"m"},{"code":"B"},{"message":"c"}]})"),
            "A: m; B; c");
}

// Bodies come from any server: what is not an error body reads as none.
TEST(RegistryErrors, NotAnErrorBodyIsNone) {
  for (const char* body : {"", "not json", "[]", R"({"errors":{}})", R"({"errors":[null]})", "{\"errors\":[{"})
    EXPECT_TRUE(parse_registry_errors(body).empty()) << body;
  EXPECT_EQ(registry_error_text("<html>502</html>"), "");
}

TEST(ContentMediaType, DropsParametersAndCase) {
  EXPECT_EQ(content_media_type("application/vnd.OCI.image.manifest.v1+json; charset=utf-8"),
            "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(content_media_type(" text/plain "), "text/plain");
  EXPECT_EQ(content_media_type(""), "");
}

TEST(UrlEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(url_encode("repository:library/debian:pull,push"), "repository%3Alibrary%2Fdebian%3Apull%2Cpush");
  EXPECT_EQ(url_encode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(url_encode("a b&c=\xff"), "a%20b%26c%3D%FF");
}

}  // namespace
}  // namespace ocipipe
