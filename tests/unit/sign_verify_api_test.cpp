// The sign/verify API (pipeline/api.h "sign and verify") on image layouts
// built in the test, with key signatures only (no GnuPG, no network): what
// is accepted and refused, what each refusal is called, and the policy
// enforcement verbs call first.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/base64.h"
#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr const char* kIdentity = "registry.example.com/team/app:1";
constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr const char* kSignatureAnnotation = "dev.cosignproject.cosign/signature";

class SignVerifyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("img"), "app", {layer({file("etc/hello", "api\n")})});
    auto id = generate_key_files(tmp_.sub("k"), "", false);
    ASSERT_TRUE(id) << id.error().message();
    key_id_ = *id;
  }

  result<sign_report> sign(const std::string& identity = kIdentity) {
    sign_options o;
    o.private_key_file = tmp_.sub("k.key");
    o.identity = identity;
    return sign_image(img_.ref(), o);
  }
  result<verify_report> verify(const std::string& identity = kIdentity) {
    verify_options o;
    o.public_keys = {tmp_.sub("k.pub")};
    o.identity = identity;
    return verify_image(img_.ref(), o);
  }
  // A policy for this layout's scope (its absolute path), `requirement` as JSON.
  std::string policy(const std::string& requirement) {
    const auto path = tmp_.sub("policy.json");
    write_bytes(path, R"({"default":[{"type":"reject"}],"transports":{"oci":{")" + img_.dir + R"(":[)" + requirement +
                          "]}}}");
    return path;
  }

  result<sign_report> sign_with(const std::string& key_prefix, const std::string& identity) {
    sign_options o;
    o.private_key_file = tmp_.sub(key_prefix + ".key");
    o.identity = identity;
    return sign_image(img_.ref(), o);
  }
  std::string tag() const { return "sha256-" + std::string(img_.manifest_digest.encoded()) + ".sig"; }
  std::string blob_path(const std::string& digest_text) const {
    return img_.dir + "/blobs/sha256/" + digest_text.substr(7);
  }
  // The index.json entry of the .sig tag.
  nlohmann::ordered_json sig_entry() const {
    const auto index = nlohmann::ordered_json::parse(read_bytes(img_.dir + "/index.json"));
    for (const auto& e : index["manifests"])
      if (e.contains("annotations") && e["annotations"].value(kRefName, "") == tag()) return e;
    return nullptr;
  }
  // Rewrites the .sig manifest's layers with `edit`, as cosign or an attacker could.
  template <typename Edit>
  void edit_sig_layers(Edit edit) {
    auto index = nlohmann::ordered_json::parse(read_bytes(img_.dir + "/index.json"));
    for (auto& e : index["manifests"]) {
      if (!e.contains("annotations") || e["annotations"].value(kRefName, "") != tag()) continue;
      auto m = nlohmann::ordered_json::parse(read_bytes(blob_path(e["digest"])));
      edit(m["layers"]);
      const std::string text = m.dump();
      const auto d = sha256_of(text);
      write_bytes(blob_path(d.str()), text);
      e["digest"] = d.str();
      e["size"] = text.size();
    }
    write_bytes(img_.dir + "/index.json", index.dump());
  }
  // A payload layer whose blob is stored but that carries no signature annotation.
  nlohmann::ordered_json unsigned_layer(const std::string& payload) const {
    const auto d = sha256_of(payload);
    write_bytes(blob_path(d.str()), payload);
    return {{"mediaType", "application/vnd.dev.cosign.simplesigning.v1+json"}, {"size", payload.size()},
            {"digest", d.str()}};
  }

  temp_dir tmp_;
  built_image img_;
  std::string key_id_;
};

TEST_F(SignVerifyApiTest, KeySignatureSignsTheStoredManifestDigestAndVerifies) {
  auto s = sign();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->format, "sigstore");
  EXPECT_EQ(s->manifest.digest, img_.manifest_digest);
  EXPECT_EQ(s->key, key_id_);
  EXPECT_EQ(s->stored_at, "sha256-" + std::string(img_.manifest_digest.encoded()) + ".sig");
  ASSERT_TRUE(s->signature_manifest);

  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->accepted) << v->reason;
  ASSERT_EQ(v->signatures.size(), 1u);
  EXPECT_EQ(v->signatures[0].status, signature_status::valid);
  EXPECT_EQ(v->signatures[0].key, key_id_);
  EXPECT_EQ(v->signatures[0].identity, kIdentity);
  EXPECT_EQ(v->manifest.digest, img_.manifest_digest);
}

TEST_F(SignVerifyApiTest, UnsignedImageIsNotAcceptedWithNoSignatureAsTheReason) {
  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->reason, "no signature");
  EXPECT_TRUE(v->signatures.empty());
}

TEST_F(SignVerifyApiTest, IdentityIsComparedAfterNormalization) {
  ASSERT_TRUE(sign("docker.io/library/busybox:1"));
  EXPECT_TRUE(verify("busybox:1")->accepted);
  auto other = verify("busybox:2");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->accepted);
  EXPECT_EQ(other->signatures.at(0).status, signature_status::identity_differs);
  EXPECT_EQ(other->reason, "identity differs: signed \"docker.io/library/busybox:1\", expected "
                           "\"docker.io/library/busybox:2\"");
}

TEST_F(SignVerifyApiTest, AnotherKeyDoesNotVerify) {
  ASSERT_TRUE(sign());
  ASSERT_TRUE(generate_key_files(tmp_.sub("other"), "", false));
  verify_options o;
  o.public_keys = {tmp_.sub("other.pub")};
  auto v = verify_image(img_.ref(), o);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->signatures.at(0).status, signature_status::bad_signature);
}

TEST_F(SignVerifyApiTest, MisuseIsAnInvalidArgument) {
  sign_options both;
  both.private_key_file = tmp_.sub("k.key");
  both.gpg_key = "0123";
  both.identity = kIdentity;
  EXPECT_EQ(sign_image(img_.ref(), both).error().code(), errc::invalid_argument);
  sign_options no_identity;
  no_identity.private_key_file = tmp_.sub("k.key");
  EXPECT_EQ(sign_image(img_.ref(), no_identity).error().code(), errc::invalid_argument);
  EXPECT_EQ(verify_image(img_.ref(), verify_options{}).error().code(), errc::invalid_argument);
  EXPECT_EQ(generate_key_files(tmp_.sub("k"), "", false).error().code(), errc::invalid_argument);
  EXPECT_TRUE(generate_key_files(tmp_.sub("k"), "", true));
}

TEST_F(SignVerifyApiTest, EnforcePolicyReturnsTheAcceptedRootOrRefusesWithPermissionDenied) {
  policy_options none;
  auto open = enforce_policy(img_.ref(), none, {});
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->has_value());

  policy_options p;
  p.policy_file = policy(R"({"type":"sigstoreSigned","keyPath":")" + tmp_.sub("k.pub") +
                         R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity + R"("}})");
  auto unsigned_ = enforce_policy(img_.ref(), p, {});
  ASSERT_FALSE(unsigned_);
  EXPECT_EQ(unsigned_.error().code(), errc::permission_denied);
  EXPECT_NE(unsigned_.error().message().find("no signature"), std::string::npos) << unsigned_.error().message();

  ASSERT_TRUE(sign());
  auto accepted = enforce_policy(img_.ref(), p, {});
  ASSERT_TRUE(accepted) << accepted.error().message();
  ASSERT_TRUE(accepted->has_value());
  EXPECT_EQ((*accepted)->digest, img_.manifest_digest);

  // The default (reject) applies to another layout; nothing is read for it.
  auto elsewhere = build_layout(tmp_.sub("elsewhere"), "app", {layer({file("x", "y")})});
  auto rejected = enforce_policy(elsewhere.ref(), p, {});
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message().find("policy rejects"), std::string::npos) << rejected.error().message();
}

TEST_F(SignVerifyApiTest, UnpackWithAPolicyWritesNothingForARefusedImage) {
  unpack_options o;
  o.policy.policy_file = policy(R"({"type":"reject"})");
  auto r = unpack(img_.ref(), tmp_.sub("rootfs"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::permission_denied);
  EXPECT_FALSE(path_exists(tmp_.sub("rootfs")));
}

TEST_F(SignVerifyApiTest, StatusNamesAreStable) {
  EXPECT_EQ(signature_status_name(signature_status::valid), "valid");
  EXPECT_EQ(signature_status_name(signature_status::unknown_key), "unknown_key");
  EXPECT_EQ(signature_status_name(signature_status::bad_signature), "bad_signature");
  EXPECT_EQ(signature_status_name(signature_status::malformed), "malformed");
  EXPECT_EQ(signature_status_name(signature_status::digest_differs), "digest_differs");
  EXPECT_EQ(signature_status_name(signature_status::identity_differs), "identity_differs");
}

// cosign's signature manifests name an image config with empty os and
// architecture; a signed layout must still validate (validate --all reaches
// the .sig tag and the referrer).
TEST_F(SignVerifyApiTest, SignedLayoutStillValidatesWithAllItsSignatureManifests) {
  ASSERT_TRUE(sign());
  sign_options o;
  o.private_key_file = tmp_.sub("k.key");
  o.identity = kIdentity;
  o.referrer = true;
  ASSERT_TRUE(sign_image(img_.ref(), o));
  validate_options all;
  all.all = true;
  auto layout = parse_reference("oci:" + img_.dir);
  ASSERT_TRUE(layout);
  const auto results = validate({*layout}, all);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].valid());
  for (const auto& f : results[0].findings)
    EXPECT_FALSE(f.error) << f.rule << " at " << f.location << ": " << f.message;
}

TEST_F(SignVerifyApiTest, MalformedSignatureLayerIsReportedAndAValidOneStillPasses) {
  ASSERT_TRUE(sign());
  // A payload layer without its annotation, and one with an empty one, before the valid one.
  edit_sig_layers([this](nlohmann::ordered_json& layers) {
    auto empty = unsigned_layer("empty");
    empty["annotations"] = {{kSignatureAnnotation, ""}};
    layers.insert(layers.begin(), empty);
    layers.insert(layers.begin(), unsigned_layer("no annotation"));
  });
  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->accepted) << v->reason;
  ASSERT_EQ(v->signatures.size(), 3u);
  EXPECT_EQ(v->signatures[0].status, signature_status::malformed);
  EXPECT_EQ(v->signatures[0].source, tag() + " layers[0]");
  EXPECT_EQ(v->signatures[0].message, std::string("no ") + kSignatureAnnotation + " annotation");
  EXPECT_EQ(v->signatures[1].status, signature_status::malformed);
  EXPECT_EQ(v->signatures[1].source, tag() + " layers[1]");
  EXPECT_EQ(v->signatures[2].status, signature_status::valid);
  EXPECT_EQ(v->signatures[2].source, tag() + " layers[2]");

  // Signing again appends, the malformed layers kept as they are.
  const auto before = nlohmann::ordered_json::parse(read_bytes(blob_path(sig_entry()["digest"])))["layers"];
  auto again = sign("registry.example.com/team/app:2");
  ASSERT_TRUE(again) << again.error().message();
  const auto after = nlohmann::ordered_json::parse(read_bytes(blob_path(sig_entry()["digest"])))["layers"];
  ASSERT_EQ(after.size(), 4u) << after.dump();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(after[i], before[i]) << i;
  auto both = verify("registry.example.com/team/app:2");
  ASSERT_TRUE(both) << both.error().message();
  EXPECT_TRUE(both->accepted) << both->reason;

  // Alone, a malformed layer is a negative answer, not a failure to run.
  edit_sig_layers([this](nlohmann::ordered_json& layers) {
    layers = nlohmann::ordered_json::array({unsigned_layer("no annotation")});
  });
  auto alone = verify();
  ASSERT_TRUE(alone) << alone.error().message();
  EXPECT_FALSE(alone->accepted);
  EXPECT_EQ(alone->reason, std::string("no ") + kSignatureAnnotation + " annotation");
}

TEST_F(SignVerifyApiTest, ReasonIsTheMostUsefulProblemNotTheFirst) {
  ASSERT_TRUE(generate_key_files(tmp_.sub("other"), "", false));
  ASSERT_TRUE(sign_with("other", kIdentity));          // layers[0]: another key
  ASSERT_TRUE(sign("registry.example.com/team/app:9"));  // layers[1]: our key, another identity
  edit_sig_layers([this](nlohmann::ordered_json& layers) { layers.insert(layers.begin(), unsigned_layer("x")); });

  auto v = verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  ASSERT_EQ(v->signatures.size(), 3u);
  EXPECT_EQ(v->signatures[0].status, signature_status::malformed);
  EXPECT_EQ(v->signatures[1].status, signature_status::bad_signature);
  EXPECT_EQ(v->signatures[2].status, signature_status::identity_differs);
  EXPECT_EQ(v->reason, "identity differs: signed \"registry.example.com/team/app:9\", expected \"" +
                           std::string(kIdentity) + "\"");

  // The same in policy mode.
  policy_options p;
  p.policy_file = policy(R"({"type":"sigstoreSigned","keyPath":")" + tmp_.sub("k.pub") +
                         R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity + R"("}})");
  auto refused = enforce_policy(img_.ref(), p, {});
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message(), "identity differs")) << refused.error().message();

  // Without the identity mismatch: another key's signature beats the malformed layer.
  edit_sig_layers([](nlohmann::ordered_json& layers) { layers.erase(2); });
  auto w = verify();
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_TRUE(contains(w->reason, "signature does not match its payload")) << w->reason;
  auto refused_again = enforce_policy(img_.ref(), p, {});
  ASSERT_FALSE(refused_again);
  EXPECT_TRUE(contains(refused_again.error().message(), "signature does not match its payload"))
      << refused_again.error().message();
}

TEST_F(SignVerifyApiTest, KeySignaturesAreReadFromOciArchivesAndStaticLayouts) {
  ASSERT_TRUE(sign());
  write_oci_archive(img_, tmp_.sub("img.tar"));
  verify_options o;
  o.public_keys = {tmp_.sub("k.pub")};
  o.identity = kIdentity;
  auto archive = parse_reference("oci-archive:" + tmp_.sub("img.tar") + ":app");
  ASSERT_TRUE(archive) << archive.error().message();
  auto from_archive = verify_image(*archive, o);
  ASSERT_TRUE(from_archive) << from_archive.error().message();
  EXPECT_TRUE(from_archive->accepted) << from_archive->reason;
  ASSERT_EQ(from_archive->signatures.size(), 1u);
  EXPECT_EQ(from_archive->signatures[0].source, tag() + " layers[0]");

  auto web = test::static_http_server::start(tmp_.path());
  ASSERT_TRUE(web);
  auto served = parse_reference("oci+" + web->url() + "/img:app");
  ASSERT_TRUE(served) << served.error().message();
  auto from_web = verify_image(*served, o);
  ASSERT_TRUE(from_web) << from_web.error().message();
  EXPECT_TRUE(from_web->accepted) << from_web->reason;
}

TEST_F(SignVerifyApiTest, DockerArchiveReasonSaysKeySignaturesAreNotKeptThere) {
  write_docker_archive(img_, tmp_.sub("docker.tar"));
  auto ref = parse_reference("docker-archive:" + tmp_.sub("docker.tar"));
  ASSERT_TRUE(ref) << ref.error().message();
  verify_options o;
  o.public_keys = {tmp_.sub("k.pub")};
  o.identity = kIdentity;
  auto v = verify_image(*ref, o);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->reason, "key signatures are not kept in docker-archive: images");

  // A policy's sigstoreSigned says the same.
  const auto path = tmp_.sub("archive-policy.json");
  write_bytes(path, R"({"default":[{"type":"sigstoreSigned","keyPath":")" + tmp_.sub("k.pub") +
                        R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity + R"("}}]})");
  verify_options by_policy;
  by_policy.policy_file = path;
  auto pv = verify_image(*ref, by_policy);
  ASSERT_TRUE(pv) << pv.error().message();
  EXPECT_FALSE(pv->accepted);
  EXPECT_EQ(pv->reason, "key signatures are not kept in docker-archive: images");
}

TEST_F(SignVerifyApiTest, OptionsThatDoNotApplyAreRefusedNotIgnored) {
  auto refused = [](const auto& r, const std::string& says) {
    ASSERT_FALSE(r) << "accepted; expected a refusal saying " << says;
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
    EXPECT_TRUE(contains(r.error().message(), says)) << r.error().message();
  };
  ASSERT_TRUE(sign());

  verify_options policy_and_identity;
  policy_and_identity.policy_file = policy(R"({"type":"insecureAcceptAnything"})");
  policy_and_identity.identity = kIdentity;
  refused(verify_image(img_.ref(), policy_and_identity), "--identity does not apply with --policy");

  for (const std::string flag : {"--lookaside", "--registries.d", "--signature"}) {
    verify_options o;
    o.public_keys = {tmp_.sub("k.pub")};
    if (flag == "--lookaside") o.store.lookaside = tmp_.sub("store");
    if (flag == "--registries.d") o.store.registries_d = tmp_.sub("registries.d");
    if (flag == "--signature") o.signature_files = {tmp_.sub("x.sig")};
    refused(verify_image(img_.ref(), o), flag + " finds simple signatures");
  }

  auto key_sign = [this] {
    sign_options o;
    o.private_key_file = tmp_.sub("k.key");
    o.identity = kIdentity;
    return o;
  };
  auto with_lookaside = key_sign();
  with_lookaside.store.lookaside = tmp_.sub("store");
  refused(sign_image(img_.ref(), with_lookaside), "--lookaside applies to simple signatures");
  auto with_registries_d = key_sign();
  with_registries_d.store.registries_d = tmp_.sub("registries.d");
  refused(sign_image(img_.ref(), with_registries_d), "--registries.d applies to simple signatures");
  auto with_home = key_sign();
  with_home.gnupg_home = tmp_.sub("gnupg");
  refused(sign_image(img_.ref(), with_home), "--gnupg-home applies to simple signatures");
  auto with_force = key_sign();
  with_force.force = true;
  refused(sign_image(img_.ref(), with_force), "--force applies to an existing -o FILE");

  sign_options gpg_referrer;
  gpg_referrer.gpg_key = "0123456789ABCDEF0123456789ABCDEF01234567";
  gpg_referrer.identity = kIdentity;
  gpg_referrer.referrer = true;
  refused(sign_image(img_.ref(), gpg_referrer), "--referrer applies to key signatures");
  sign_options two_places = gpg_referrer;
  two_places.referrer = false;
  two_places.output_file = tmp_.sub("out.sig");
  two_places.store.lookaside = tmp_.sub("store");
  refused(sign_image(img_.ref(), two_places), "-o and --lookaside both say where the signature goes");

  policy_options store_without_policy;
  store_without_policy.store.lookaside = tmp_.sub("store");
  refused(enforce_policy(img_.ref(), store_without_policy, {}), "--lookaside applies with --policy");
}

TEST_F(SignVerifyApiTest, EveryPublicKeyInAKeyFileIsUsed) {
  ASSERT_TRUE(generate_key_files(tmp_.sub("other"), "", false));
  ASSERT_TRUE(sign());
  // Our key second, after another key and some text, as a bundle of keys would have it.
  const std::string both = "keys we trust\n" + read_bytes(tmp_.sub("other.pub")) + read_bytes(tmp_.sub("k.pub"));
  write_bytes(tmp_.sub("both.pub"), both);
  verify_options o;
  o.public_keys = {tmp_.sub("both.pub")};
  o.identity = kIdentity;
  auto v = verify_image(img_.ref(), o);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->accepted) << v->reason;
  EXPECT_EQ(v->signatures.at(0).key, key_id_);

  // A policy's keyPath and keyData the same.
  policy_options by_path;
  by_path.policy_file = policy(R"({"type":"sigstoreSigned","keyPath":")" + tmp_.sub("both.pub") +
                               R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity +
                               R"("}})");
  EXPECT_TRUE(enforce_policy(img_.ref(), by_path, {})) << "keyPath with two keys";
  policy_options by_data;
  by_data.policy_file = policy(R"({"type":"sigstoreSigned","keyData":")" + base64_encode(both) +
                               R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity +
                               R"("}})");
  EXPECT_TRUE(enforce_policy(img_.ref(), by_data, {})) << "keyData with two keys";

  // A file of no public key at all is refused, naming it.
  write_bytes(tmp_.sub("none.pub"), "not a key\n");
  o.public_keys = {tmp_.sub("none.pub")};
  auto none = verify_image(img_.ref(), o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::malformed);
  EXPECT_TRUE(contains(none.error().message(), "--key \"" + tmp_.sub("none.pub") + "\": holds no \"PUBLIC KEY\""))
      << none.error().message();
  // So is one whose second block is broken, naming the block.
  write_bytes(tmp_.sub("broken.pub"), read_bytes(tmp_.sub("k.pub")) +
                                          "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  o.public_keys = {tmp_.sub("broken.pub")};
  auto broken = verify_image(img_.ref(), o);
  ASSERT_FALSE(broken);
  EXPECT_TRUE(contains(broken.error().message(), "PUBLIC KEY block 2")) << broken.error().message();
}

TEST_F(SignVerifyApiTest, KeyFileErrorsNameTheFileNotItsPosition) {
  // A keyring of no key, checked against a signature file (the keyring is read when a signature is there).
  write_bytes(tmp_.sub("junk.gpg"), "this is no OpenPGP keyring\n");
  write_bytes(tmp_.sub("x.sig"), "not a signature either");
  verify_options o;
  o.gpg_keyrings = {tmp_.sub("junk.gpg")};
  o.signature_files = {tmp_.sub("x.sig")};
  o.identity = kIdentity;
  auto r = verify_image(img_.ref(), o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "--key-file \"" + tmp_.sub("junk.gpg") + "\"")) << r.error().message();
  EXPECT_FALSE(contains(r.error().message(), "keyring 1")) << r.error().message();

  // In a policy: the keyPath's file.
  verify_options by_policy;
  by_policy.policy_file = policy(R"({"type":"signedBy","keyType":"GPGKeys","keyPath":")" + tmp_.sub("junk.gpg") +
                                 R"(","signedIdentity":{"type":"exactReference","dockerReference":")" + kIdentity +
                                 R"("}})");
  by_policy.signature_files = {tmp_.sub("x.sig")};
  auto p = verify_image(img_.ref(), by_policy);
  ASSERT_FALSE(p);
  EXPECT_TRUE(contains(p.error().message(), "policy keyPath \"" + tmp_.sub("junk.gpg") + "\""))
      << p.error().message();
}

}  // namespace
}  // namespace ocipipe::testing
