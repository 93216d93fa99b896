// cosign-style key signatures: made by `ocipipe sign --key`, stored as cosign
// stores them (the "sha256-<hex>.sig" tagged manifest, or a referrer) in an
// image layout and in the test registry, and checked with the openssl CLI as
// the independent judge (cosign's documented way to verify outside cosign);
// a payload signed by `openssl dgst -sha256 -sign` and attached by hand in
// cosign's layout verifies with `ocipipe verify --key`. Tampering with the
// manifest, the payload, the signature and the identity is caught, each in
// its own test.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using test::registry_auth;
using test::registry_server;

constexpr const char* kIdentity = "registry.example.com/team/app:1";
constexpr const char* kPayloadType = "application/vnd.dev.cosign.simplesigning.v1+json";
constexpr const char* kSignatureAnnotation = "dev.cosignproject.cosign/signature";
constexpr const char* kRefName = "org.opencontainers.image.ref.name";

std::vector<nlohmann::json> records_of(const command_result& r) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(r.out)) out.push_back(nlohmann::json::parse(line, nullptr, false));
  return out;
}

std::string sig_tag(const digest& d) { return "sha256-" + std::string(d.encoded()) + ".sig"; }

// An image layout edited as cosign (and an attacker) would: blobs by digest,
// index.json entries by tag.
class layout_files {
 public:
  explicit layout_files(std::string dir) : dir_(std::move(dir)) {}

  [[nodiscard]] std::string blob_path(const std::string& digest_text) const {
    return dir_ + "/blobs/sha256/" + digest_text.substr(7);
  }
  [[nodiscard]] std::string blob(const std::string& digest_text) const { return read_bytes(blob_path(digest_text)); }
  [[nodiscard]] nlohmann::json json_blob(const std::string& digest_text) const {
    return nlohmann::json::parse(blob(digest_text));
  }
  // Stores `bytes`; returns the descriptor of `media_type` naming them.
  nlohmann::json put(const std::string& bytes, const std::string& media_type) const {
    const auto d = sha256_of(bytes);
    write_bytes(blob_path(d.str()), bytes);
    return {{"mediaType", media_type}, {"digest", d.str()}, {"size", bytes.size()}};
  }
  [[nodiscard]] nlohmann::json index() const { return nlohmann::json::parse(read_bytes(dir_ + "/index.json")); }
  void set_index(const nlohmann::json& j) const { write_bytes(dir_ + "/index.json", j.dump()); }
  // The index.json entry tagged `tag` (null when none).
  [[nodiscard]] nlohmann::json entry(const std::string& tag) const {
    const auto j = index();
    for (const auto& m : j["manifests"])
      if (m.contains("annotations") && m["annotations"].value(kRefName, "") == tag) return m;
    return nullptr;
  }
  // Points tag `tag` at `desc` (added when missing).
  void tag(const std::string& tag, nlohmann::json desc) const {
    auto j = index();
    desc["annotations"] = {{kRefName, tag}};
    for (auto& m : j["manifests"])
      if (m.contains("annotations") && m["annotations"].value(kRefName, "") == tag) {
        m = desc;
        set_index(j);
        return;
      }
    j["manifests"].push_back(desc);
    set_index(j);
  }

 private:
  std::string dir_;
};

class SignVerifyKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("img"), "app", {layer({file("etc/hello", "signed content\n")})});
    pass_ = tmp_.sub("pass");
    write_bytes(pass_, "open sesame\n");
    const auto gen = run_ocipipe({"sign", "--generate-key", tmp_.sub("k"), "--passphrase-file", pass_});
    ASSERT_TRUE(gen.ok()) << gen.describe();
  }

  [[nodiscard]] std::string private_key() const { return tmp_.sub("k.key"); }
  [[nodiscard]] std::string public_key() const { return tmp_.sub("k.pub"); }

  command_result sign(const std::string& ref, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"sign", "--json", "--key", private_key(), "--passphrase-file", pass_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(ref);
    return run_ocipipe(argv);
  }
  command_result verify(const std::string& ref, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"verify", "--json", "--key", public_key()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(ref);
    return run_ocipipe(argv);
  }
  // Signs img_ with kIdentity and returns the signature manifest's layer 0.
  nlohmann::json sign_image() {
    const auto s = sign(img_.ref_text(), {"--identity", kIdentity});
    EXPECT_TRUE(s.ok()) << s.describe();
    layout_files lf(img_.dir);
    const auto e = lf.entry(sig_tag(img_.manifest_digest));
    EXPECT_FALSE(e.is_null()) << lf.index().dump();
    if (e.is_null()) return nullptr;
    return lf.json_blob(e["digest"])["layers"][0];
  }
  // The one signature record and the end record of a verify --json run.
  static std::pair<nlohmann::json, nlohmann::json> single(const command_result& r) {
    const auto recs = records_of(r);
    EXPECT_EQ(recs.size(), 2u) << r.out;
    if (recs.size() != 2) return {};
    return {recs[0]["data"], recs[1]["data"]};
  }

  temp_dir tmp_;
  built_image img_;
  std::string pass_;
};

TEST_F(SignVerifyKeyTest, RoundTripThroughALayoutCopyOfDebianSlimAndOpensslVerifiesWhatWasStored) {
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  const auto copy = run_ocipipe({"copy", dataset_ref("debian-slim"), "oci:" + tmp_.sub("slim") + ":slim"});
  ASSERT_TRUE(copy.ok()) << copy.describe();
  const std::string ref = "oci:" + tmp_.sub("slim") + ":slim";
  const auto s = sign(ref, {"--identity", "registry.example.com/debian:slim"});
  ASSERT_TRUE(s.ok()) << s.describe();
  const auto rec = records_of(s).at(0)["data"];
  EXPECT_EQ(rec["format"], "sigstore");
  const std::string manifest = rec["manifest_digest"];

  const auto v = verify(ref, {"--identity", "registry.example.com/debian:slim"});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  const auto [sig, end] = single(v);
  EXPECT_EQ(sig["status"], "valid");
  EXPECT_EQ(sig["key"], rec["key"]);
  EXPECT_EQ(end["status"], "pass");
  EXPECT_EQ(end["manifest_digest"], manifest);

  // cosign's layout, read without ocipipe: the tag, the payload layer, its annotation.
  layout_files lf(tmp_.sub("slim"));
  const auto e = lf.entry("sha256-" + manifest.substr(7) + ".sig");
  ASSERT_FALSE(e.is_null()) << lf.index().dump();
  const auto sm = lf.json_blob(e["digest"]);
  ASSERT_EQ(sm["layers"].size(), 1u);
  const auto& layer0 = sm["layers"][0];
  EXPECT_EQ(layer0["mediaType"], kPayloadType);
  const auto payload = lf.blob(layer0["digest"]);
  const auto claims = nlohmann::json::parse(payload);
  EXPECT_EQ(claims["critical"]["type"], "cosign container image signature");
  EXPECT_EQ(claims["critical"]["image"]["docker-manifest-digest"], manifest);
  EXPECT_EQ(claims["critical"]["identity"]["docker-reference"], "registry.example.com/debian:slim");

  // openssl judges: the base64 annotation decoded is a DER ECDSA signature over the payload.
  write_bytes(tmp_.sub("sig.b64"), layer0["annotations"][kSignatureAnnotation].get<std::string>());
  ASSERT_TRUE(run_command({"openssl", "base64", "-d", "-A", "-in", tmp_.sub("sig.b64"), "-out", tmp_.sub("sig.der")}).ok());
  write_bytes(tmp_.sub("payload.json"), payload);
  const auto judge = run_command({"openssl", "dgst", "-sha256", "-verify", public_key(), "-signature",
                                  tmp_.sub("sig.der"), tmp_.sub("payload.json")});
  EXPECT_TRUE(judge.ok()) << judge.describe();
  EXPECT_EQ(judge.out, "Verified OK\n");

  // The signed image is untouched: still valid, still the same digest.
  const auto valid = run_ocipipe({"validate", ref});
  EXPECT_TRUE(valid.ok()) << valid.describe();
}

TEST_F(SignVerifyKeyTest, PayloadSignedByOpensslAndAttachedInCosignsLayoutVerifies) {
  // Key pair and signature by the openssl CLI alone.
  ASSERT_TRUE(run_command({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp_.sub("ec.pem")}).ok());
  ASSERT_TRUE(run_command({"openssl", "pkey", "-in", tmp_.sub("ec.pem"), "-pubout", "-out", tmp_.sub("ec.pub")}).ok());
  const std::string payload =
      R"({"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},"image":{"docker-manifest-digest":")" +
      img_.manifest_digest.str() + R"("},"type":"cosign container image signature"},"optional":null})";
  write_bytes(tmp_.sub("payload.json"), payload);
  ASSERT_TRUE(run_command({"openssl", "dgst", "-sha256", "-sign", tmp_.sub("ec.pem"), "-out", tmp_.sub("sig.der"),
                           tmp_.sub("payload.json")})
                  .ok());
  const auto b64 = run_command({"openssl", "base64", "-A", "-in", tmp_.sub("sig.der")});
  ASSERT_TRUE(b64.ok()) << b64.describe();
  std::string signature = b64.out;
  while (!signature.empty() && (signature.back() == '\n' || signature.back() == '\r')) signature.pop_back();

  // cosign's layout by hand: payload layer with the annotation, cosign's config, the .sig tag.
  layout_files lf(img_.dir);
  auto layer = lf.put(payload, kPayloadType);
  layer["annotations"] = {{kSignatureAnnotation, signature}};
  const nlohmann::json config_doc = {{"architecture", ""},
                                     {"config", nlohmann::json::object()},
                                     {"created", "0001-01-01T00:00:00Z"},
                                     {"history", {{{"created", "0001-01-01T00:00:00Z"}}}},
                                     {"os", ""},
                                     {"rootfs", {{"type", "layers"}, {"diff_ids", {layer["digest"]}}}}};
  const auto config = lf.put(config_doc.dump(), "application/vnd.oci.image.config.v1+json");
  const nlohmann::json manifest = {{"schemaVersion", 2},
                                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                   {"config", config},
                                   {"layers", {layer}}};
  lf.tag(sig_tag(img_.manifest_digest), lf.put(manifest.dump(), "application/vnd.oci.image.manifest.v1+json"));

  const auto v = run_ocipipe({"verify", "--json", "--key", tmp_.sub("ec.pub"), "--identity",
                              "registry.example.com/team/app", img_.ref_text()});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  const auto [sig, end] = single(v);
  EXPECT_EQ(sig["status"], "valid") << v.out;
  EXPECT_EQ(sig["source"], sig_tag(img_.manifest_digest) + " layers[0]");
  EXPECT_EQ(end["status"], "pass");

  // Our own key is not the one that signed it.
  const auto wrong = verify(img_.ref_text());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.describe();
  EXPECT_EQ(single(wrong).first["status"], "bad_signature") << wrong.out;
}

TEST_F(SignVerifyKeyTest, ChangedManifestHasNoSignatureAndAMovedSignatureNamesBothDigests) {
  ASSERT_FALSE(sign_image().is_null());
  layout_files lf(img_.dir);
  const auto old_sig = lf.entry(sig_tag(img_.manifest_digest));
  // The tagged manifest changed (an annotation added): a new digest.
  auto m = lf.json_blob(img_.manifest_digest.str());
  m["annotations"] = {{"org.example.tampered", "yes"}};
  const auto changed = lf.put(m.dump(), "application/vnd.oci.image.manifest.v1+json");
  lf.tag("app", changed);

  const auto none = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(none.exit_code, 1) << none.describe();
  EXPECT_EQ(records_of(none).back()["data"]["reason"], "no signature") << none.out;

  // The old signature put under the new manifest's .sig tag: it signs the old digest.
  const std::string new_digest = changed["digest"];
  lf.tag("sha256-" + new_digest.substr(7) + ".sig", old_sig);
  const auto moved = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(moved.exit_code, 1) << moved.describe();
  const auto [sig, end] = single(moved);
  EXPECT_EQ(sig["status"], "digest_differs");
  EXPECT_EQ(end["reason"], "manifest digest differs: signed " + img_.manifest_digest.str() + ", image " + new_digest);
}

TEST_F(SignVerifyKeyTest, RewrittenPayloadWithItsDescriptorIsABadSignature) {
  auto layer = sign_image();
  ASSERT_FALSE(layer.is_null());
  layout_files lf(img_.dir);
  const auto e = lf.entry(sig_tag(img_.manifest_digest));
  auto sm = lf.json_blob(e["digest"]);
  // The payload now claims another repository; its descriptor is made to match it.
  std::string payload = lf.blob(layer["digest"]);
  const auto at = payload.find("team/app");
  ASSERT_NE(at, std::string::npos) << payload;
  payload.replace(at, 8, "evil/app");
  auto rewritten = lf.put(payload, kPayloadType);
  rewritten["annotations"] = layer["annotations"];
  sm["layers"][0] = rewritten;
  lf.tag(sig_tag(img_.manifest_digest), lf.put(sm.dump(), "application/vnd.oci.image.manifest.v1+json"));

  const auto v = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  const auto [sig, end] = single(v);
  EXPECT_EQ(sig["status"], "bad_signature") << v.out;
  EXPECT_TRUE(contains(end["reason"].get<std::string>(), "signature does not match its payload")) << v.out;

  // A payload rewritten without its descriptor is caught by the digest check.
  write_bytes(lf.blob_path(rewritten["digest"]), payload + " ");
  const auto raw = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(raw.exit_code, 1) << raw.describe();
  EXPECT_EQ(single(raw).first["status"], "malformed") << raw.out;
}

TEST_F(SignVerifyKeyTest, FlippedSignatureBase64IsCaught) {
  auto layer = sign_image();
  ASSERT_FALSE(layer.is_null());
  layout_files lf(img_.dir);
  const auto e = lf.entry(sig_tag(img_.manifest_digest));
  auto sm = lf.json_blob(e["digest"]);
  std::string b64 = layer["annotations"][kSignatureAnnotation];
  // A character in the middle of the DER (the r or s integer) changed.
  const std::size_t i = b64.size() / 2;
  b64[i] = b64[i] == 'A' ? 'B' : 'A';
  sm["layers"][0]["annotations"][kSignatureAnnotation] = b64;
  lf.tag(sig_tag(img_.manifest_digest), lf.put(sm.dump(), "application/vnd.oci.image.manifest.v1+json"));

  const auto v = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  const std::string status = single(v).first["status"];
  EXPECT_TRUE(status == "bad_signature" || status == "malformed") << v.out;

  // Not base64 at all.
  sm["layers"][0]["annotations"][kSignatureAnnotation] = "***";
  lf.tag(sig_tag(img_.manifest_digest), lf.put(sm.dump(), "application/vnd.oci.image.manifest.v1+json"));
  const auto junk = verify(img_.ref_text(), {"--identity", kIdentity});
  EXPECT_EQ(junk.exit_code, 1) << junk.describe();
  EXPECT_EQ(single(junk).first["status"], "malformed") << junk.out;
}

TEST_F(SignVerifyKeyTest, OtherIdentityIsAnIdentityMismatch) {
  ASSERT_FALSE(sign_image().is_null());
  const auto v = run_ocipipe({"verify", "--key", public_key(), "--identity", "registry.example.com/team/other:1",
                              img_.ref_text()});
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_EQ(v.out, "FAIL: " + img_.ref_text() + ": identity differs: signed \"" + kIdentity +
                       "\", expected \"registry.example.com/team/other:1\"\n");
  const auto ok = run_ocipipe({"verify", "--key", public_key(), "--identity", kIdentity, img_.ref_text()});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
}

TEST_F(SignVerifyKeyTest, RoundTripThroughTheTestRegistryAsTagAndAsReferrer) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  const auto ref = reg->ref("team/app:1");
  const auto push = run_ocipipe({"push", "--upload-state-dir", tmp_.sub("uploads"), img_.ref_text(), ref});
  ASSERT_TRUE(push.ok()) << push.describe();

  // No signature yet.
  const auto before = verify(ref);
  EXPECT_EQ(before.exit_code, 1) << before.describe();
  EXPECT_EQ(records_of(before).back()["data"]["reason"], "no signature");

  // The identity defaults to the image's own reference.
  const auto s = sign(ref);
  ASSERT_TRUE(s.ok()) << s.describe();
  EXPECT_EQ(records_of(s).at(0)["data"]["identity"], reg->host() + "/team/app:1");
  const auto v = verify(ref);
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_EQ(single(v).first["source"], sig_tag(img_.manifest_digest) + " layers[0]");

  // skopeo sees cosign's tag in the registry.
  const auto raw = run_command({"skopeo", "inspect", "--raw", "--tls-verify=false",
                                reg->ref("team/app:" + sig_tag(img_.manifest_digest))});
  ASSERT_TRUE(raw.ok()) << raw.describe();
  const auto sm = nlohmann::json::parse(raw.out);
  EXPECT_EQ(sm["layers"][0]["mediaType"], kPayloadType);
  EXPECT_TRUE(sm["layers"][0]["annotations"].contains(kSignatureAnnotation));

  // As an OCI 1.1 referrer too: both are found.
  const auto r = sign(ref, {"--referrer"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto both = verify(ref);
  EXPECT_EQ(both.exit_code, 0) << both.describe();
  const auto recs = records_of(both);
  ASSERT_EQ(recs.size(), 3u) << both.out;
  EXPECT_EQ(recs[0]["data"]["status"], "valid");
  EXPECT_EQ(recs[1]["data"]["status"], "valid");
  EXPECT_TRUE(contains(recs[1]["data"]["source"].get<std::string>(), "referrer sha256:")) << both.out;

  // Another repository's name is not this image's identity.
  const auto copy = run_ocipipe({"copy", ref, reg->ref("team/copy:1")});
  ASSERT_TRUE(copy.ok()) << copy.describe();
  const auto sign_copy_tag = run_ocipipe({"copy", reg->ref("team/app:" + sig_tag(img_.manifest_digest)),
                                          reg->ref("team/copy:" + sig_tag(img_.manifest_digest))});
  ASSERT_TRUE(sign_copy_tag.ok()) << sign_copy_tag.describe();
  const auto elsewhere = verify(reg->ref("team/copy:1"));
  EXPECT_EQ(elsewhere.exit_code, 1) << elsewhere.describe();
  EXPECT_EQ(records_of(elsewhere).at(0)["data"]["status"], "identity_differs") << elsewhere.out;
}

// (skopeo's --sign-by-sigstore-private-key would be the peer here, but Debian's
// skopeo 1.9 is built with sigstore signing disabled; the key comes from an
// independent writer of cosign's format instead.)
TEST_F(SignVerifyKeyTest, KeyInCosignsEncryptedFormatSignsAndOpensslAgrees) {
  const auto made = run_command({"/usr/bin/python3", source_dir() + "/tests/support/make_cosign_key.py",
                                 tmp_.sub("cosign.key"), tmp_.sub("cosign.pub"), "cosign pass"});
  ASSERT_TRUE(made.ok()) << made.describe();
  write_bytes(tmp_.sub("cosign-pass"), "cosign pass");
  const auto s = run_ocipipe({"sign", "--key", tmp_.sub("cosign.key"), "--passphrase-file", tmp_.sub("cosign-pass"),
                              "--identity", kIdentity, img_.ref_text()});
  ASSERT_TRUE(s.ok()) << s.describe();
  const auto v = run_ocipipe({"verify", "--json", "--key", tmp_.sub("cosign.pub"), "--identity", kIdentity,
                              img_.ref_text()});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_EQ(single(v).first["status"], "valid") << v.out;

  layout_files lf(img_.dir);
  const auto layer0 = lf.json_blob(lf.entry(sig_tag(img_.manifest_digest))["digest"])["layers"][0];
  write_bytes(tmp_.sub("payload.json"), lf.blob(layer0["digest"]));
  write_bytes(tmp_.sub("sig.b64"), layer0["annotations"][kSignatureAnnotation].get<std::string>());
  ASSERT_TRUE(run_command({"openssl", "base64", "-d", "-A", "-in", tmp_.sub("sig.b64"), "-out", tmp_.sub("sig.der")}).ok());
  const auto judge = run_command({"openssl", "dgst", "-sha256", "-verify", tmp_.sub("cosign.pub"), "-signature",
                                  tmp_.sub("sig.der"), tmp_.sub("payload.json")});
  EXPECT_EQ(judge.out, "Verified OK\n") << judge.describe();

  // The wrong passphrase is refused as such.
  write_bytes(tmp_.sub("cosign-wrong"), "not it");
  const auto wrong = run_ocipipe({"sign", "--key", tmp_.sub("cosign.key"), "--passphrase-file",
                                  tmp_.sub("cosign-wrong"), "--identity", kIdentity, img_.ref_text()});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.describe();
}

TEST_F(SignVerifyKeyTest, KeysAreRefusedWhereTheyCannotBeUsed) {
  // A wrong passphrase, a read-only transport, an existing key file.
  write_bytes(tmp_.sub("wrong"), "not it\n");
  const auto bad = run_ocipipe({"sign", "--key", private_key(), "--passphrase-file", tmp_.sub("wrong"), "--identity",
                                kIdentity, img_.ref_text()});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
  write_oci_archive(img_, tmp_.sub("img.tar"));
  const auto archive = sign("oci-archive:" + tmp_.sub("img.tar"), {"--identity", kIdentity});
  EXPECT_EQ(archive.exit_code, 2) << archive.describe();
  EXPECT_EQ(records_of(archive).at(0)["data"]["error"]["code"], "invalid_argument") << archive.out;
  const auto again = run_ocipipe({"sign", "--generate-key", tmp_.sub("k"), "--passphrase-file", pass_});
  EXPECT_EQ(again.exit_code, 2) << again.describe();
  EXPECT_TRUE(contains(again.err, "exists")) << again.err;
  // The private key is the owner's alone.
  EXPECT_EQ(lstat_of(private_key()).st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace ocipipe::testing
