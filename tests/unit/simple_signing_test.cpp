// stages/simple_signing: the signed payload of containers-signature(5)
// ("atomic container signature") and cosign ("cosign container image
// signature"), written as containers/image writes it and parsed as strictly.
#include <gtest/gtest.h>

#include <string>

#include "stages/simple_signing.h"

namespace ocipipe {
namespace {

const std::string sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

signature_claims claims(payload_type type = payload_type::simple_signing) {
  signature_claims c;
  c.type = type;
  c.docker_reference = "example.com/ns/app:v1";
  c.manifest_digest = *digest::parse(sha);
  return c;
}

// A payload with `critical` spliced in, and `optional` as given.
std::string payload(const std::string& critical, const std::string& optional = "{}") {
  return R"({"critical":)" + critical + R"(,"optional":)" + optional + "}";
}

std::string critical(const std::string& type = "atomic container signature",
                     const std::string& digest_value = "\"" + sha + "\"", const std::string& extra = "") {
  return R"({"identity":{"docker-reference":"example.com/ns/app:v1"},"image":{"docker-manifest-digest":)" +
         digest_value + R"(},"type":")" + type + "\"" + extra + "}";
}

void expect_malformed(std::string_view json, std::string_view path_in_message,
                      payload_type type = payload_type::simple_signing) {
  auto r = parse_signature_payload(json, type);
  ASSERT_FALSE(r) << json;
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find(path_in_message), std::string::npos)
      << r.error().message() << " lacks " << path_in_message;
}

TEST(SignaturePayload, TypeNames) {
  EXPECT_EQ(payload_type_name(payload_type::simple_signing), "atomic container signature");
  EXPECT_EQ(payload_type_name(payload_type::cosign), "cosign container image signature");
}

// Byte for byte what containers/image writes (Go's json.Marshal, sorted keys).
TEST(SignaturePayload, BuildsContainersImageKeyOrder) {
  auto c = claims();
  c.creator = "ocipipe 1.0";
  c.timestamp = 1700000000;
  EXPECT_EQ(make_signature_payload(c),
            R"({"critical":{"identity":{"docker-reference":"example.com/ns/app:v1"},)"
            R"("image":{"docker-manifest-digest":")" + sha + R"("},"type":"atomic container signature"},)"
            R"("optional":{"creator":"ocipipe 1.0","timestamp":1700000000}})");
}

// containers/image writes, and requires, "optional" even when it is empty.
TEST(SignaturePayload, SimpleSigningWithoutOptionalsWritesEmptyObject) {
  EXPECT_EQ(make_signature_payload(claims()), payload(critical(), "{}"));
}

TEST(SignaturePayload, CosignWithoutOptionalsWritesNull) {
  EXPECT_EQ(make_signature_payload(claims(payload_type::cosign)),
            payload(critical("cosign container image signature"), "null"));
}

TEST(SignaturePayload, RoundTripSimpleSigning) {
  auto c = claims();
  c.creator = "atomic 2.0.0";
  c.timestamp = -5;
  auto r = parse_signature_payload(make_signature_payload(c), payload_type::simple_signing);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->type, payload_type::simple_signing);
  EXPECT_EQ(r->docker_reference, c.docker_reference);
  EXPECT_EQ(r->manifest_digest, c.manifest_digest);
  EXPECT_EQ(r->creator, c.creator);
  EXPECT_EQ(r->timestamp, c.timestamp);
}

TEST(SignaturePayload, RoundTripCosignWithNullOptional) {
  auto r = parse_signature_payload(make_signature_payload(claims(payload_type::cosign)), payload_type::cosign);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->type, payload_type::cosign);
  EXPECT_EQ(r->creator, "");
  EXPECT_FALSE(r->timestamp);
}

// In the shape skopeo standalone-sign (containers/image v5) writes.
TEST(SignaturePayload, ParsesSkopeoPayload) {
  const std::string skopeo =
      R"({"critical":{"identity":{"docker-reference":"localhost:5000/app:v1"},"image":{"docker-manifest-digest":")" +
      sha + R"("},"type":"atomic container signature"},"optional":{"creator":"atomic 5.23.1","timestamp":1700000000}})";
  auto r = parse_signature_payload(skopeo, payload_type::simple_signing);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->docker_reference, "localhost:5000/app:v1");
  EXPECT_EQ(r->creator, "atomic 5.23.1");
  EXPECT_EQ(r->timestamp, 1700000000);
}

TEST(SignaturePayload, IgnoresUnknownOptionalKeys) {
  auto r = parse_signature_payload(payload(critical(), R"({"annotation":{"a":[1,2]},"creator":"x"})"),
                                   payload_type::simple_signing);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->creator, "x");
}

TEST(SignaturePayload, IntegralFloatTimestampAccepted) {
  auto r = parse_signature_payload(payload(critical(), R"({"timestamp":1.5e9})"), payload_type::simple_signing);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->timestamp, 1500000000);
}

TEST(SignaturePayload, UnknownCriticalKeyRefused) {
  expect_malformed(payload(critical("atomic container signature", "\"" + sha + "\"", R"(,"extra":1)")),
                   "critical: unknown key \"extra\"");
}

TEST(SignaturePayload, MissingCriticalKeyRefused) {
  expect_malformed(payload(R"({"image":{"docker-manifest-digest":")" + sha +
                           R"("},"type":"atomic container signature"})"),
                   "critical: missing key \"identity\"");
}

TEST(SignaturePayload, UnknownTopLevelKeyRefused) {
  expect_malformed(R"({"critical":)" + critical() + R"(,"optional":{},"more":true})", "unknown key \"more\"");
}

TEST(SignaturePayload, MissingOptionalRefused) {
  expect_malformed(R"({"critical":)" + critical() + "}", "missing key \"optional\"");
}

TEST(SignaturePayload, WrongTypeRefused) {
  expect_malformed(payload(critical("cosign container image signature")), "critical.type");
  expect_malformed(payload(critical()), "critical.type", payload_type::cosign);
}

TEST(SignaturePayload, TypeNotAStringRefused) {
  expect_malformed(payload(R"({"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":")" + sha +
                           R"("},"type":1})"),
                   "critical.type: not a string");
}

TEST(SignaturePayload, BadDigestRefused) {
  expect_malformed(payload(critical("atomic container signature", "\"sha256:abc\"")),
                   "critical.image.docker-manifest-digest");
  expect_malformed(payload(critical("atomic container signature", "\"" + sha.substr(0, 70) + "X\"")),
                   "critical.image.docker-manifest-digest");
  expect_malformed(payload(critical("atomic container signature", "42")), "critical.image.docker-manifest-digest");
}

TEST(SignaturePayload, UnsupportedDigestAlgorithmRefused) {
  expect_malformed(payload(critical("atomic container signature", "\"md5:0123456789abcdef0123456789abcdef\"")),
                   "critical.image.docker-manifest-digest");
}

TEST(SignaturePayload, ExtraImageKeyRefused) {
  expect_malformed(payload(R"({"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":")" + sha +
                           R"(","size":1},"type":"atomic container signature"})"),
                   "critical.image: unknown key \"size\"");
}

TEST(SignaturePayload, IdentityMustHoldExactlyDockerReference) {
  expect_malformed(payload(R"({"identity":{"docker-reference":"a","x":1},"image":{"docker-manifest-digest":")" + sha +
                           R"("},"type":"atomic container signature"})"),
                   "critical.identity: unknown key \"x\"");
  expect_malformed(payload(R"({"identity":{"docker-reference":null},"image":{"docker-manifest-digest":")" + sha +
                           R"("},"type":"atomic container signature"})"),
                   "critical.identity.docker-reference: not a string");
  expect_malformed(payload(R"({"identity":"a","image":{"docker-manifest-digest":")" + sha +
                           R"("},"type":"atomic container signature"})"),
                   "critical.identity: not a JSON object");
}

TEST(SignaturePayload, DuplicateKeyRefused) {
  // Two readers must never see two identities.
  const std::string dup = R"({"identity":{"docker-reference":"good/app:v1","docker-reference":"evil/app:v1"},)"
                          R"("image":{"docker-manifest-digest":")" + sha + R"("},"type":"atomic container signature"})";
  expect_malformed(payload(dup), "duplicate key \"docker-reference\"");
  expect_malformed(payload(critical() + R"(,"critical":)" + critical()), "duplicate key \"critical\"");
}

TEST(SignaturePayload, OptionalOfWrongTypeRefused) {
  expect_malformed(payload(critical(), "[]"), "optional: not a JSON object");
  expect_malformed(payload(critical(), R"({"creator":1})"), "optional.creator: not a string");
  expect_malformed(payload(critical(), R"({"timestamp":"now"})"), "optional.timestamp: not a number");
  expect_malformed(payload(critical(), R"({"timestamp":1.5})"), "optional.timestamp: not an integer");
}

TEST(SignaturePayload, NotJsonRefused) {
  expect_malformed("{", "not JSON");
  expect_malformed(payload(critical()) + "x", "not JSON");
  expect_malformed("[]", "not a JSON object");
}

}  // namespace
}  // namespace ocipipe
