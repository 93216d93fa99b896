// stages/cosign_signature: cosign's signature manifests (tag form and OCI
// 1.1 referrer form) built and parsed back; payload layers read strictly,
// other layers skipped.

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/cosign_signature.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

digest sha256_of(const std::string& s) { return digester::of(std::as_bytes(std::span(s.data(), s.size()))); }

cosign_signature_layer sig_layer(const std::string& payload, const std::string& sig) {
  cosign_signature_layer l;
  l.payload.media_type = std::string(cosign_payload_media_type);
  l.payload.digest = sha256_of(payload);
  l.payload.size = static_cast<std::int64_t>(payload.size());
  l.signature_base64 = sig;
  return l;
}

descriptor subject_desc() {
  descriptor d;
  d.media_type = std::string(media_type::image_manifest);
  d.digest = sha256_of("the image manifest");
  d.size = 18;
  d.annotations["org.opencontainers.image.ref.name"] = "v1";  // an index.json entry's own
  return d;
}

// A manifest whose layers are `layers`, as text.
std::string manifest_with(const json& layers) {
  json m = json::object();
  m["schemaVersion"] = 2;
  m["mediaType"] = media_type::image_manifest;
  m["config"] = {{"mediaType", media_type::image_config}, {"size", 2}, {"digest", sha256_of("{}").str()}};
  m["layers"] = layers;
  return m.dump();
}

json payload_layer_json(const std::string& payload, const std::optional<std::string>& sig) {
  json l = {{"mediaType", cosign_payload_media_type}, {"size", payload.size()}, {"digest", sha256_of(payload).str()}};
  if (sig) l["annotations"] = {{std::string(cosign_signature_annotation), *sig}};
  return l;
}

TEST(CosignSignature, TagIsDigestWithDashThenSig) {
  const digest d = *digest::parse("sha256:" + std::string(64, 'a'));
  EXPECT_EQ(cosign_signature_tag(d), "sha256-" + std::string(64, 'a') + ".sig");
}

TEST(CosignSignature, TagFormRoundTripsAndMatchesCosignLayout) {
  const std::vector<cosign_signature_layer> layers = {sig_layer("payload one", "MEUCIQ=="),
                                                      sig_layer("payload two", "MEYCIQ==")};
  const signature_manifest sm = make_signature_manifest(layers, std::nullopt);

  // cosign's config: empty platform, the payload digests as diff_ids.
  EXPECT_EQ(sm.config_json, R"({"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[")" +
                                sha256_of("payload one").str() + R"(",")" + sha256_of("payload two").str() +
                                R"("]},"config":{}})");
  EXPECT_EQ(sm.config.media_type, media_type::image_config);
  EXPECT_EQ(sm.config.digest, sha256_of(sm.config_json));
  EXPECT_EQ(sm.config.size, static_cast<std::int64_t>(sm.config_json.size()));

  auto m = parse_manifest(sm.manifest_json);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->media_type, media_type::image_manifest);
  EXPECT_FALSE(m->subject);
  EXPECT_TRUE(m->artifact_type.empty());
  EXPECT_EQ(m->config.digest, sm.config.digest);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].media_type, cosign_payload_media_type);
  EXPECT_EQ(m->layers[0].annotations.at(std::string(cosign_signature_annotation)), "MEUCIQ==");
  // go-containerregistry's key order, as cosign writes it.
  EXPECT_NE(sm.manifest_json.find(R"({"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":11,)"),
            std::string::npos)
      << sm.manifest_json;

  auto back = parse_signature_manifest(sm.manifest_json);
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*back)[i].payload.digest, layers[i].payload.digest);
    EXPECT_EQ((*back)[i].payload.size, layers[i].payload.size);
    EXPECT_EQ((*back)[i].signature_base64, layers[i].signature_base64);
    EXPECT_TRUE((*back)[i].payload.annotations.empty());
  }
  // Deterministic: the same signatures give the same manifest digest.
  EXPECT_EQ(make_signature_manifest(layers, std::nullopt).manifest_json, sm.manifest_json);
}

TEST(CosignSignature, OtherLayerAnnotationsSurviveRoundTrip) {
  auto layer = sig_layer("p", "c2ln");
  layer.payload.annotations["dev.sigstore.cosign/bundle"] = "{}";
  const auto sm = make_signature_manifest({layer}, std::nullopt);
  auto back = parse_signature_manifest(sm.manifest_json);
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].payload.annotations.at("dev.sigstore.cosign/bundle"), "{}");
  EXPECT_EQ((*back)[0].signature_base64, "c2ln");
}

TEST(CosignSignature, ReferrerFormHasSubjectArtifactTypeAndEmptyConfig) {
  const descriptor subject = subject_desc();
  const auto sm = make_signature_manifest({sig_layer("payload", "c2ln")}, subject);
  EXPECT_EQ(sm.config_json, "{}");
  EXPECT_EQ(sm.config.media_type, media_type::empty_json);
  EXPECT_EQ(sm.config.digest.str(), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(sm.config.size, 2);

  auto m = parse_manifest(sm.manifest_json);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->artifact_type, cosign_signature_artifact_type);
  EXPECT_EQ(m->config.media_type, media_type::empty_json);
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->digest, subject.digest);
  EXPECT_EQ(m->subject->size, subject.size);
  EXPECT_EQ(m->subject->media_type, subject.media_type);
  EXPECT_TRUE(m->subject->annotations.empty()) << "the index.json entry's ref.name is not the subject's";

  auto back = parse_signature_manifest(sm.manifest_json);
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].signature_base64, "c2ln");
}

TEST(CosignSignature, PayloadLayerWithoutAnnotationIsMalformedNamingIt) {
  json layers = json::array();
  layers.push_back(
      {{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"size", 1}, {"digest", sha256_of("x").str()}});
  layers.push_back(payload_layer_json("payload", std::nullopt));
  auto r = parse_signature_manifest(manifest_with(layers));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find("layers[1]"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(std::string(cosign_signature_annotation)), std::string::npos)
      << r.error().message();

  // An empty signature annotation is no signature either.
  layers[1] = payload_layer_json("payload", std::string());
  r = parse_signature_manifest(manifest_with(layers));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layers[1]"), std::string::npos) << r.error().message();
}

TEST(CosignSignature, PayloadLayerDescriptorIsCheckedStrictly) {
  json bad_digest = payload_layer_json("payload", "c2ln");
  bad_digest["digest"] = "sha256:NOTHEX";
  auto r = parse_signature_manifest(manifest_with(json::array({bad_digest})));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_NE(r.error().message().find("layers[0].digest"), std::string::npos) << r.error().message();

  json negative = payload_layer_json("payload", "c2ln");
  negative["size"] = -1;
  r = parse_signature_manifest(manifest_with(json::array({negative})));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layers[0]"), std::string::npos) << r.error().message();

  json fraction = payload_layer_json("payload", "c2ln");
  fraction["size"] = 1.5;
  EXPECT_FALSE(parse_signature_manifest(manifest_with(json::array({fraction}))));

  json number_sig = payload_layer_json("payload", "c2ln");
  number_sig["annotations"][std::string(cosign_signature_annotation)] = 7;
  EXPECT_FALSE(parse_signature_manifest(manifest_with(json::array({number_sig}))));
}

TEST(CosignSignature, ForeignLayersAreSkipped) {
  json layers = json::array();
  layers.push_back({{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"}, {"size", 3},
                    {"digest", sha256_of("abc").str()}});
  layers.push_back("not even an object");
  layers.push_back({{"mediaType", "application/vnd.example+json"}, {"digest", "bogus"}, {"size", -5}});
  layers.push_back(payload_layer_json("the payload", "c2ln"));
  layers.push_back({{"size", 1}});  // no mediaType
  auto r = parse_signature_manifest(manifest_with(layers));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].payload.digest, sha256_of("the payload"));
  EXPECT_EQ((*r)[0].payload.media_type, cosign_payload_media_type);

  // A manifest of no signatures at all is an empty list, not an error.
  r = parse_signature_manifest(manifest_with(json::array()));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->empty());
}

TEST(CosignSignature, NotAManifestIsMalformed) {
  const std::vector<std::string> texts = {
      "not json",
      "[]",
      R"({"schemaVersion":2,"manifests":[]})",
      R"({"schemaVersion":2,"layers":{}})",
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]})",
  };
  for (const auto& text : texts) {
    auto r = parse_signature_manifest(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), errc::malformed) << text;
  }
}

}  // namespace
}  // namespace ocipipe
