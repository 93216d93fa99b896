// stages/cosign_signature: cosign's signature manifests (tag form and OCI
// 1.1 referrer form) built and parsed back; payload layers read strictly,
// each on its own (a malformed one is that layer's problem), other layers
// skipped; signatures appended with the layers there kept as they are.

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
    EXPECT_EQ((*back)[i].index, i);
    ASSERT_TRUE((*back)[i].layer) << (*back)[i].layer.error().message();
    EXPECT_EQ((*back)[i].layer->payload.digest, layers[i].payload.digest);
    EXPECT_EQ((*back)[i].layer->payload.size, layers[i].payload.size);
    EXPECT_EQ((*back)[i].layer->signature_base64, layers[i].signature_base64);
    EXPECT_TRUE((*back)[i].layer->payload.annotations.empty());
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
  ASSERT_TRUE((*back)[0].layer);
  EXPECT_EQ((*back)[0].layer->payload.annotations.at("dev.sigstore.cosign/bundle"), "{}");
  EXPECT_EQ((*back)[0].layer->signature_base64, "c2ln");
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
  ASSERT_TRUE((*back)[0].layer);
  EXPECT_EQ((*back)[0].layer->signature_base64, "c2ln");
}

// The layer's own problem, for a manifest whose only payload layer is `layer`.
std::string layer_problem(const json& layer) {
  auto r = parse_signature_manifest(manifest_with(json::array({layer})));
  EXPECT_TRUE(r) << r.error().message();
  if (!r || r->size() != 1) return "(no entry)";
  EXPECT_FALSE((*r)[0].layer) << "parsed as a signature: " << layer.dump();
  if ((*r)[0].layer) return "(valid)";
  EXPECT_EQ((*r)[0].layer.error().code(), errc::malformed);
  return (*r)[0].layer.error().message();
}

TEST(CosignSignature, LayerWithoutOrWithEmptyAnnotationIsMalformedAndTheOthersStillParse) {
  json layers = json::array();
  layers.push_back(
      {{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"size", 1}, {"digest", sha256_of("x").str()}});
  layers.push_back(payload_layer_json("payload", std::nullopt));
  layers.push_back(payload_layer_json("empty", std::string()));
  layers.push_back(payload_layer_json("good", "c2ln"));
  auto r = parse_signature_manifest(manifest_with(layers));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 3u);
  // Each entry says where it stands in the manifest's layers.
  EXPECT_EQ((*r)[0].index, 1u);
  EXPECT_EQ((*r)[1].index, 2u);
  EXPECT_EQ((*r)[2].index, 3u);
  ASSERT_FALSE((*r)[0].layer);
  EXPECT_EQ((*r)[0].layer.error().code(), errc::malformed);
  EXPECT_EQ((*r)[0].layer.error().message(), "no " + std::string(cosign_signature_annotation) + " annotation");
  ASSERT_FALSE((*r)[1].layer);
  EXPECT_EQ((*r)[1].layer.error().message(), "empty " + std::string(cosign_signature_annotation) + " annotation");
  ASSERT_TRUE((*r)[2].layer) << (*r)[2].layer.error().message();
  EXPECT_EQ((*r)[2].layer->signature_base64, "c2ln");
  EXPECT_EQ((*r)[2].layer->payload.digest, sha256_of("good"));
}

TEST(CosignSignature, EveryKindOfBadPayloadDescriptorIsThatLayersProblemOnly) {
  json bad_digest = payload_layer_json("payload", "c2ln");
  bad_digest["digest"] = "sha256:NOTHEX";
  EXPECT_NE(layer_problem(bad_digest).find("digest"), std::string::npos);

  json negative = payload_layer_json("payload", "c2ln");
  negative["size"] = -1;
  EXPECT_EQ(layer_problem(negative), "size: negative");

  json fraction = payload_layer_json("payload", "c2ln");
  fraction["size"] = 1.5;
  EXPECT_EQ(layer_problem(fraction), "size: missing or not an integer");

  json number_sig = payload_layer_json("payload", "c2ln");
  number_sig["annotations"][std::string(cosign_signature_annotation)] = 7;
  EXPECT_NE(layer_problem(number_sig).find("not a string"), std::string::npos);

  json no_annotations = payload_layer_json("payload", std::nullopt);
  EXPECT_EQ(layer_problem(no_annotations), "no " + std::string(cosign_signature_annotation) + " annotation");

  json annotations_array = payload_layer_json("payload", "c2ln");
  annotations_array["annotations"] = json::array();
  EXPECT_EQ(layer_problem(annotations_array), "annotations: not an object");

  // None of them hides a good layer after it.
  auto r = parse_signature_manifest(
      manifest_with(json::array({bad_digest, negative, fraction, number_sig, payload_layer_json("ok", "c2ln")})));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_FALSE((*r)[i].layer) << i;
  EXPECT_TRUE((*r)[4].layer);
}

TEST(CosignSignature, AppendKeepsAMalformedLayerAsItIsAndRebuildsTheConfig) {
  json layers = json::array();
  json odd = payload_layer_json("old payload", std::nullopt);
  odd["annotations"] = {{"org.example.note", "kept"}};
  layers.push_back(odd);
  layers.push_back(payload_layer_json("good", "c2ln"));
  json doc = json::parse(manifest_with(layers));
  doc["annotations"] = {{"org.example.manifest", "kept too"}};

  auto added = append_signature_layer(doc.dump(), sig_layer("new payload", "bmV3"));
  ASSERT_TRUE(added) << added.error().message();
  ASSERT_TRUE(added->has_value());
  const auto& sm = **added;
  const json m = json::parse(sm.manifest_json);
  ASSERT_EQ(m["layers"].size(), 3u) << m.dump();
  EXPECT_EQ(m["layers"][0], odd) << "the malformed layer is kept byte for byte as JSON";
  EXPECT_EQ(m["layers"][1], layers[1]);
  EXPECT_EQ(m["layers"][2]["digest"], sha256_of("new payload").str());
  EXPECT_EQ(m["layers"][2]["annotations"][std::string(cosign_signature_annotation)], "bmV3");
  EXPECT_EQ(m["annotations"]["org.example.manifest"], "kept too");
  // The config names every layer, as cosign's does.
  EXPECT_EQ(m["config"]["digest"], sm.config.digest.str());
  const json config = json::parse(sm.config_json);
  EXPECT_EQ(config["rootfs"]["diff_ids"],
            json::array({sha256_of("old payload").str(), sha256_of("good").str(), sha256_of("new payload").str()}));

  // Parsed back: the malformed layer is still one, the others signatures.
  auto back = parse_signature_manifest(sm.manifest_json);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 3u);
  EXPECT_FALSE((*back)[0].layer);
  EXPECT_TRUE((*back)[1].layer);
  EXPECT_TRUE((*back)[2].layer);

  // The same signature again: nothing to store.
  auto again = append_signature_layer(sm.manifest_json, sig_layer("new payload", "bmV3"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_FALSE(again->has_value());
}

TEST(CosignSignature, AppendRefusesWhatItCannotRewriteFaithfully) {
  json layers = json::array();
  layers.push_back(
      {{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"size", 1}, {"digest", sha256_of("x").str()}});
  auto foreign = append_signature_layer(manifest_with(layers), sig_layer("p", "c2ln"));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code(), errc::unsupported);
  EXPECT_NE(foreign.error().message().find("layers[0]"), std::string::npos) << foreign.error().message();

  const auto referrer = make_signature_manifest({sig_layer("p", "c2ln")}, subject_desc());
  auto with_subject = append_signature_layer(referrer.manifest_json, sig_layer("q", "c2ln"));
  ASSERT_FALSE(with_subject);
  EXPECT_EQ(with_subject.error().code(), errc::unsupported);

  auto junk = append_signature_layer("not json", sig_layer("q", "c2ln"));
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code(), errc::malformed);
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
  EXPECT_EQ((*r)[0].index, 3u);
  ASSERT_TRUE((*r)[0].layer);
  EXPECT_EQ((*r)[0].layer->payload.digest, sha256_of("the payload"));
  EXPECT_EQ((*r)[0].layer->payload.media_type, cosign_payload_media_type);

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
