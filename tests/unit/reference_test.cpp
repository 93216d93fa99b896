// stages/reference and the platform selector: skopeo's transport syntax
// (DESIGN.md §3), and digests parsed before they become paths.
#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "stages/reference.h"

namespace ocipipe {
namespace {

const char* const sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ParseReference, OciWithTag) {
  auto r = parse_reference("oci:/images/debian:bookworm");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, transport::oci);
  EXPECT_EQ(r->path, "/images/debian");
  EXPECT_EQ(r->tag, "bookworm");
  EXPECT_EQ(r->str(), "oci:/images/debian:bookworm");
}

TEST(ParseReference, BareDirectoryIsOci) {
  auto r = parse_reference("images/debian");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, transport::oci);
  EXPECT_EQ(r->path, "images/debian");
  EXPECT_TRUE(r->tag.empty());
}

TEST(ParseReference, BareDirectoryWithTag) {
  auto r = parse_reference("images/debian:v1.2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "images/debian");
  EXPECT_EQ(r->tag, "v1.2");
}

TEST(ParseReference, OciWithDigest) {
  auto r = parse_reference(std::string("oci:/img@") + sha);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/img");
  ASSERT_TRUE(r->manifest_digest);
  EXPECT_EQ(r->manifest_digest->str(), sha);
}

// CVE-2024-3727: a digest is validated before it is used as a path.
TEST(ParseReference, DigestThatIsNotADigestIsRefused) {
  auto r = parse_reference("oci:/img@sha256:../../etc/passwd");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(ParseReference, EmptyPathIsRefused) {
  EXPECT_FALSE(parse_reference("oci:"));
  EXPECT_FALSE(parse_reference("oci::tag"));
}

TEST(ParseReference, InvalidTagIsRefused) { EXPECT_FALSE(parse_reference("oci:/img:bad tag")); }

TEST(ParseReference, OtherTransportsAreRecognised) {
  EXPECT_EQ(parse_reference("oci-archive:/a.tar:t")->kind, transport::oci_archive);
  EXPECT_EQ(parse_reference("docker-archive:/a.tar")->kind, transport::docker_archive);
  EXPECT_EQ(parse_reference("docker://localhost:5000/x:y")->kind, transport::docker);
}

TEST(ParsePlatform, OsArchVariant) {
  auto p = parse_platform("linux/arm64/v8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->os, "linux");
  EXPECT_EQ(p->architecture, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_FALSE(parse_platform("linux"));
  EXPECT_FALSE(parse_platform("linux/"));
  EXPECT_FALSE(parse_platform("a/b/c/d"));
}

struct digest_case {
  std::string text;
  bool ok;
};

class ParseDigest : public ::testing::TestWithParam<digest_case> {};

TEST_P(ParseDigest, FollowsDescriptorGrammar) {
  const auto& c = GetParam();
  EXPECT_EQ(static_cast<bool>(digest::parse(c.text)), c.ok) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseDigest,
    ::testing::Values(digest_case{sha, true}, digest_case{std::string(sha).substr(0, 70), false},
                      digest_case{"sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false},
                      digest_case{"sha512:" + std::string(128, 'a'), true},
                      digest_case{"sha512:" + std::string(64, 'a'), false},
                      digest_case{"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true},
                      digest_case{"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", true},
                      digest_case{"sha256:../../etc/passwd", false}, digest_case{"sha256", false},
                      digest_case{":abc", false}, digest_case{"Sha256:abc", false},
                      digest_case{"sha256:", false}, digest_case{"a++b:x", false}));

TEST(Digest, BlobPathIsUnderBlobs) {
  auto d = digest::parse(sha);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->blob_path(), std::string("blobs/sha256/") + (sha + 7));
}

}  // namespace
}  // namespace ocipipe
