// pipeline/sigstore_attachments against Debian's docker-registry (2.8: no
// referrers API): debian-slim pushed with `ocipipe push`, key signatures
// attached in cosign's tag form and as OCI 1.1 referrers (the "sha256-<hex>"
// tag-schema index kept by us), read back, and the stored documents checked
// with skopeo as the independent reader.

#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/sigstore_attachments.h"
#include "stages/base64.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "tests/support/dataset_image.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using test::registry_auth;
using test::registry_server;

constexpr const char* kSlim = "debian-slim";
// debian-slim as its layout holds it (dataset_image.h: its digests follow Debian's packages).
const dataset_image& slim() {
  static const dataset_image image = read_dataset_image(kSlim);
  return image;
}

std::string sha256_hex(const std::string& s) {
  return std::string(digester::of(std::as_bytes(std::span(s.data(), s.size()))).encoded());
}

class SigstoreRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OCIPIPE_REQUIRE_DATASET(kSlim);
    ASSERT_EQ(slim().error, "");
    reg_ = registry_server::start(registry_auth::none);
    ASSERT_TRUE(reg_);
    const auto pushed = run_ocipipe({"push", dataset_ref(kSlim), reg_->ref("slim:v1")});
    ASSERT_TRUE(pushed.ok()) << pushed.describe();
    auto ref = parse_reference(reg_->ref("slim:v1"));
    ASSERT_TRUE(ref) << ref.error().message();
    ref_ = *ref;
    subject_.media_type = std::string(media_type::image_manifest);
    subject_.digest = *digest::parse(slim().manifest_digest);
    subject_.size = static_cast<std::int64_t>(slim().manifest_size);
  }

  pipeline::attached_write attach(const std::string& payload, const std::string& der, bool referrer) {
    auto w = pipeline::attach_signature(ref_, subject_, payload, der, referrer, &session_);
    EXPECT_TRUE(w) << w.error().message();
    return w ? *w : pipeline::attached_write{};
  }

  std::vector<pipeline::attached_signature> read_back(std::vector<std::string>& problems) {
    auto store = pipeline::open_store(ref_, &session_);
    EXPECT_TRUE(store) << store.error().message();
    if (!store) return {};
    auto sigs = pipeline::read_attached_signatures(ref_, *store, subject_.digest, &session_);
    EXPECT_TRUE(sigs) << sigs.error().message();
    if (!sigs) return {};
    // Entries with a problem are reported apart, as "SOURCE: PROBLEM".
    std::vector<pipeline::attached_signature> out;
    for (auto& s : *sigs) {
      if (s.problem.empty()) out.push_back(std::move(s));
      else problems.push_back(s.source + ": " + s.problem);
    }
    return out;
  }

  // The document a tag names, as skopeo reads it from the registry.
  nlohmann::json skopeo_raw(const std::string& tag) {
    const auto r = run_command({"skopeo", "inspect", "--raw", "--tls-verify=false", reg_->ref("slim:" + tag)});
    EXPECT_TRUE(r.ok()) << r.describe();
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  std::string sig_tag() const { return cosign_signature_tag(subject_.digest); }

  std::unique_ptr<registry_server> reg_;
  image_reference ref_;
  descriptor subject_;
  pipeline::remote_session session_{remote_options{}};
};

TEST_F(SigstoreRegistryTest, TagFormAndReferrerSignaturesRoundTripAndSkopeoSeesCosignsLayout) {
  std::vector<std::string> problems;
  EXPECT_TRUE(read_back(problems).empty()) << "nothing signed yet";

  EXPECT_EQ(attach("payload A", "der A", false).stored_at, sig_tag());
  EXPECT_EQ(attach("payload B", "der B", false).stored_at, sig_tag());
  const auto referrer = attach("payload R", "der R", true);
  EXPECT_EQ(referrer.stored_at, "referrer " + referrer.manifest.digest.str());
  // The same referrer again: the registry has it, the tag-schema index lists it once.
  attach("payload R", "der R", true);

  problems.clear();
  const auto sigs = read_back(problems);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  ASSERT_EQ(sigs.size(), 3u);
  EXPECT_EQ(sigs[0].payload, "payload A");
  EXPECT_EQ(sigs[0].signature_base64, base64_encode("der A"));
  EXPECT_EQ(sigs[0].source, sig_tag() + " layers[0]");
  EXPECT_EQ(sigs[1].payload, "payload B");
  EXPECT_EQ(sigs[2].payload, "payload R");
  EXPECT_EQ(sigs[2].source, "referrer " + referrer.manifest.digest.str() + " layers[0]");

  // skopeo reads cosign's tag: an OCI manifest of two simple-signing layers.
  const auto sig_manifest = skopeo_raw(sig_tag());
  ASSERT_TRUE(sig_manifest.is_object());
  EXPECT_EQ(sig_manifest["mediaType"], media_type::image_manifest);
  EXPECT_EQ(sig_manifest["config"]["mediaType"], media_type::image_config);
  ASSERT_EQ(sig_manifest["layers"].size(), 2u) << sig_manifest.dump();
  EXPECT_EQ(sig_manifest["layers"][0]["mediaType"], cosign_payload_media_type);
  EXPECT_EQ(sig_manifest["layers"][0]["annotations"][std::string(cosign_signature_annotation)],
            base64_encode("der A"));
  EXPECT_EQ(sig_manifest["layers"][1]["annotations"][std::string(cosign_signature_annotation)],
            base64_encode("der B"));

  // docker-registry 2.8 has no referrers API: the "sha256-<hex>" index lists the referrer once.
  const auto referrers = skopeo_raw("sha256-" + std::string(subject_.digest.encoded()));
  ASSERT_TRUE(referrers.is_object());
  EXPECT_EQ(referrers["mediaType"], media_type::image_index);
  ASSERT_EQ(referrers["manifests"].size(), 1u) << referrers.dump();
  EXPECT_EQ(referrers["manifests"][0]["digest"], referrer.manifest.digest.str());
  EXPECT_EQ(referrers["manifests"][0]["artifactType"], cosign_signature_artifact_type);

  // The referrer manifest itself names the image.
  const auto r = run_command({"skopeo", "inspect", "--raw", "--tls-verify=false",
                              reg_->ref("slim@" + referrer.manifest.digest.str())});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rm = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(rm["subject"]["digest"], slim().manifest_digest);
  EXPECT_EQ(rm["artifactType"], cosign_signature_artifact_type);

  // A payload altered in the registry's storage (same length) is skipped,
  // its problem named, and the other signatures still read.
  const std::string hex = sha256_hex("payload A");
  write_bytes(reg_->data_dir() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data",
              "PAYLOAD A");
  problems.clear();
  const auto after = read_back(problems);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].payload, "payload B");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(sig_tag() + " layers[0]"), std::string::npos) << problems[0];
}

// A payload layer without its signature annotation in the registry's .sig
// manifest (as a broken signer could leave it): read as that layer's
// problem, the valid one after it still read, and a new signature appended
// with the malformed layer kept as it is.
TEST_F(SigstoreRegistryTest, MalformedLayerInTheRegistryIsItsOwnProblemAndSigningStillAppends) {
  attach("payload A", "der A", false);
  auto where = parse_registry_path(ref_.path);
  ASSERT_TRUE(where) << where.error().message();
  auto client = session_.client(where->host);
  ASSERT_TRUE(client) << client.error().message();
  auto have = (*client)->get_manifest(where->repository, sig_tag());
  ASSERT_TRUE(have) << have.error().message();
  auto m = nlohmann::ordered_json::parse(have->bytes);
  auto odd = m["layers"][0];
  odd["annotations"].erase(std::string(cosign_signature_annotation));
  m["layers"].insert(m["layers"].begin(), odd);
  auto put = (*client)->put_manifest(where->repository, sig_tag(), m.dump(), std::string(media_type::image_manifest));
  ASSERT_TRUE(put) << put.error().message();

  std::vector<std::string> problems;
  auto sigs = read_back(problems);
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].source, sig_tag() + " layers[1]");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], sig_tag() + " layers[0]: no " + std::string(cosign_signature_annotation) + " annotation");

  attach("payload B", "der B", false);
  const auto after = skopeo_raw(sig_tag());
  ASSERT_EQ(after["layers"].size(), 3u) << after.dump();
  EXPECT_FALSE(after["layers"][0].contains("annotations") &&
               after["layers"][0]["annotations"].contains(std::string(cosign_signature_annotation)))
      << after.dump();
  problems.clear();
  sigs = read_back(problems);
  ASSERT_EQ(sigs.size(), 2u);
  EXPECT_EQ(sigs[1].payload, "payload B");
  EXPECT_EQ(problems.size(), 1u);
}

}  // namespace
}  // namespace ocipipe::testing
