// pipeline/sigstore_attachments on image layouts: key signatures appended
// to the "sha256-<hex>.sig" manifest, attached as OCI 1.1 referrers (an
// untagged index.json entry naming the subject), read back in order from
// layouts and oci-archives, and a corrupted payload, a malformed layer or a
// signature manifest that is none each an entry with its problem, hiding
// no other.

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/image_layout.h"
#include "pipeline/sigstore_attachments.h"
#include "stages/base64.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

class SigstoreAttachments : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = build_layout(tmp_.sub("layout"), "v1", {layer({file("etc/hostname", "signed\n")})});
    subject_.media_type = std::string(media_type::image_manifest);
    subject_.digest = img_.manifest_digest;
    subject_.size = img_.manifest_size;
    subject_.annotations["org.opencontainers.image.ref.name"] = "v1";
  }

  nlohmann::json index_json() const { return nlohmann::json::parse(read_bytes(img_.dir + "/index.json")); }

  // Every entry, problems included.
  std::vector<pipeline::attached_signature> read_all() {
    auto store = io::image_layout::open(img_.dir);
    EXPECT_TRUE(store) << store.error().message();
    if (!store) return {};
    auto sigs = pipeline::read_attached_signatures(img_.ref(), *store, subject_.digest, nullptr);
    EXPECT_TRUE(sigs) << sigs.error().message();
    return sigs ? *sigs : std::vector<pipeline::attached_signature>{};
  }
  // The signatures, every entry with a problem appended to `problems` ("SOURCE: PROBLEM").
  std::vector<pipeline::attached_signature> read_back(std::vector<std::string>* problems = nullptr) {
    std::vector<pipeline::attached_signature> out;
    for (auto& s : read_all()) {
      if (s.problem.empty()) {
        out.push_back(std::move(s));
      } else {
        EXPECT_NE(problems, nullptr) << "unexpected problem: " << s.source << ": " << s.problem;
        if (problems) problems->push_back(s.source + ": " + s.problem);
      }
    }
    return out;
  }
  // Edits the .sig manifest's layers in place (blobs as they are) and retags it.
  template <typename Edit>
  void layout_sig_layers_edit(Edit edit) {
    auto index = index_json();
    for (auto& e : index["manifests"]) {
      if (!e.contains("annotations") || e["annotations"].value("org.opencontainers.image.ref.name", "") != tag())
        continue;
      auto m = nlohmann::json::parse(read_bytes(img_.blob_path(*digest::parse(e["digest"].get<std::string>()))));
      edit(m["layers"]);
      const std::string text = m.dump();
      const auto d = sha256_of(text);
      write_bytes(img_.blob_path(d), text);
      e["digest"] = d.str();
      e["size"] = text.size();
    }
    write_bytes(img_.dir + "/index.json", index.dump());
  }

  pipeline::attached_write attach(const std::string& payload, const std::string& der, bool referrer) {
    auto w = pipeline::attach_signature(img_.ref(), subject_, payload, der, referrer, nullptr);
    EXPECT_TRUE(w) << w.error().message();
    return w ? *w : pipeline::attached_write{};
  }

  std::string tag() const { return cosign_signature_tag(img_.manifest_digest); }

  temp_dir tmp_;
  built_image img_;
  descriptor subject_;
};

TEST_F(SigstoreAttachments, AttachingTwiceAppendsToOneTaggedManifest) {
  const auto first = attach("payload one", "der one", false);
  EXPECT_EQ(first.stored_at, tag());
  const auto second = attach("payload two", "der two", false);
  EXPECT_EQ(second.stored_at, tag());
  EXPECT_FALSE(first.manifest.digest == second.manifest.digest);

  // index.json: the image's own tag, and one .sig entry naming the newer manifest.
  const auto index = index_json();
  ASSERT_EQ(index["manifests"].size(), 2u) << index.dump();
  int sig_entries = 0;
  for (const auto& e : index["manifests"]) {
    const std::string name = e["annotations"].value("org.opencontainers.image.ref.name", "");
    if (name == tag()) {
      ++sig_entries;
      EXPECT_EQ(e["digest"], second.manifest.digest.str());
    } else {
      EXPECT_EQ(name, "v1");
    }
  }
  EXPECT_EQ(sig_entries, 1);

  auto m = parse_manifest(read_bytes(img_.blob_path(second.manifest.digest)));
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->config.media_type, media_type::image_config);

  const auto sigs = read_back();
  ASSERT_EQ(sigs.size(), 2u);
  EXPECT_EQ(sigs[0].payload, "payload one");
  EXPECT_EQ(sigs[0].signature_base64, base64_encode("der one"));
  EXPECT_EQ(sigs[0].source, tag() + " layers[0]");
  EXPECT_EQ(sigs[1].payload, "payload two");
  EXPECT_EQ(sigs[1].source, tag() + " layers[1]");
}

TEST_F(SigstoreAttachments, TheSameSignatureIsNotAddedTwice) {
  const auto first = attach("payload", "der", false);
  const auto again = attach("payload", "der", false);
  EXPECT_EQ(again.manifest.digest, first.manifest.digest);
  EXPECT_EQ(read_back().size(), 1u);
}

TEST_F(SigstoreAttachments, ReferrerIsAnUntaggedEntryNamingTheSubject) {
  const auto w = attach("referrer payload", "referrer der", true);
  EXPECT_EQ(w.stored_at, "referrer " + w.manifest.digest.str());

  const auto index = index_json();
  ASSERT_EQ(index["manifests"].size(), 2u) << index.dump();
  const auto& entry = index["manifests"][1];
  EXPECT_EQ(entry["digest"], w.manifest.digest.str());
  EXPECT_FALSE(entry.contains("annotations")) << entry.dump();
  EXPECT_EQ(entry.value("artifactType", ""), cosign_signature_artifact_type);

  auto m = parse_manifest(read_bytes(img_.blob_path(w.manifest.digest)));
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->digest, img_.manifest_digest);
  EXPECT_EQ(m->subject->size, img_.manifest_size);
  EXPECT_EQ(m->artifact_type, cosign_signature_artifact_type);
  EXPECT_EQ(m->config.media_type, media_type::empty_json);
  EXPECT_EQ(read_bytes(img_.blob_path(m->config.digest)), "{}");

  // Attached again: the same manifest, no second entry.
  const auto again = attach("referrer payload", "referrer der", true);
  EXPECT_EQ(again.manifest.digest, w.manifest.digest);
  EXPECT_EQ(index_json()["manifests"].size(), 2u);

  const auto sigs = read_back();
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].payload, "referrer payload");
  EXPECT_EQ(sigs[0].signature_base64, base64_encode("referrer der"));
  EXPECT_EQ(sigs[0].source, "referrer " + w.manifest.digest.str() + " layers[0]");
}

TEST_F(SigstoreAttachments, BothFormsAreReadTagFirst) {
  attach("by referrer", "r", true);
  attach("by tag", "t", false);
  const auto sigs = read_back();
  ASSERT_EQ(sigs.size(), 2u);
  EXPECT_EQ(sigs[0].payload, "by tag");
  EXPECT_EQ(sigs[1].payload, "by referrer");
  // The image itself is untouched and still found by its tag.
  EXPECT_EQ(read_bytes(img_.dir + "/blobs/sha256/" + std::string(img_.manifest_digest.encoded())).size(),
            static_cast<std::size_t>(img_.manifest_size));
}

TEST_F(SigstoreAttachments, CorruptedPayloadIsSkippedWithItsProblem) {
  attach("payload one", "der one", false);
  attach("payload two", "der two", false);
  // Rewrite the first payload's blob in place: same length, other bytes.
  const std::string path = img_.blob_path(sha256_of("payload one"));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  write_bytes(path, "PAYLOAD ONE");

  std::vector<std::string> problems;
  const auto sigs = read_back(&problems);
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].payload, "payload two");
  EXPECT_EQ(sigs[0].source, tag() + " layers[1]");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(tag() + " layers[0]"), std::string::npos) << problems[0];

  // A missing payload blob too.
  ASSERT_EQ(::unlink(img_.blob_path(sha256_of("payload two")).c_str()), 0);
  problems.clear();
  EXPECT_TRUE(read_back(&problems).empty());
  EXPECT_EQ(problems.size(), 2u);
}

TEST_F(SigstoreAttachments, NoSignaturesIsAnEmptyList) {
  std::vector<std::string> problems;
  EXPECT_TRUE(read_back(&problems).empty());
  EXPECT_TRUE(problems.empty());
}

TEST_F(SigstoreAttachments, MalformedLayerIsAnEntryOfItsOwnAndTheOthersAreStillRead) {
  attach("payload one", "der one", false);
  attach("payload two", "der two", false);
  layout_sig_layers_edit(
      [](nlohmann::json& layers) { layers[0]["annotations"].erase(std::string(cosign_signature_annotation)); });
  const auto all = read_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source, tag() + " layers[0]");
  EXPECT_EQ(all[0].problem, "no " + std::string(cosign_signature_annotation) + " annotation");
  EXPECT_TRUE(all[1].problem.empty()) << all[1].problem;
  EXPECT_EQ(all[1].payload, "payload two");
  EXPECT_EQ(all[1].source, tag() + " layers[1]");
}

TEST_F(SigstoreAttachments, SourceNamesTheLayersPlaceInTheManifestPastForeignLayers) {
  attach("payload", "der", false);
  layout_sig_layers_edit([](nlohmann::json& layers) {
    layers.insert(layers.begin(), nlohmann::json{{"mediaType", "application/vnd.example+json"},
                                                 {"size", 1},
                                                 {"digest", sha256_of("x").str()}});
  });
  const auto sigs = read_back();
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].source, tag() + " layers[1]");
}

TEST_F(SigstoreAttachments, AppendingKeepsAMalformedLayerAsItIs) {
  attach("payload one", "der one", false);
  nlohmann::json odd;
  layout_sig_layers_edit([&odd](nlohmann::json& layers) {
    layers[0]["annotations"][std::string(cosign_signature_annotation)] = "";
    odd = layers[0];
  });
  const auto w = attach("payload two", "der two", false);
  EXPECT_EQ(w.stored_at, tag());
  const auto m = nlohmann::json::parse(read_bytes(img_.blob_path(w.manifest.digest)));
  ASSERT_EQ(m["layers"].size(), 2u) << m.dump();
  EXPECT_EQ(m["layers"][0], odd);
  const auto all = read_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_FALSE(all[0].problem.empty());
  EXPECT_EQ(all[1].payload, "payload two");
}

TEST_F(SigstoreAttachments, SignatureManifestThatIsNoneIsOneProblemAndReferrersAreStillRead) {
  attach("by tag", "t", false);
  attach("by referrer", "r", true);
  // The .sig tag now names a blob of JSON that is no manifest.
  auto index = index_json();
  const std::string junk = R"({"manifests":[]})";
  const auto d = sha256_of(junk);
  write_bytes(img_.blob_path(d), junk);
  for (auto& e : index["manifests"])
    if (e.contains("annotations") && e["annotations"].value("org.opencontainers.image.ref.name", "") == tag()) {
      e["digest"] = d.str();
      e["size"] = junk.size();
    }
  write_bytes(img_.dir + "/index.json", index.dump());
  const auto all = read_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source, tag());
  EXPECT_NE(all[0].problem.find("image index"), std::string::npos) << all[0].problem;
  EXPECT_EQ(all[1].payload, "by referrer");
}

TEST_F(SigstoreAttachments, OciArchiveSignaturesAreReadButNotWritten) {
  attach("by tag", "t", false);
  attach("by referrer", "r", true);
  const std::string archive = tmp_.sub("image.tar");
  write_oci_archive(img_, archive);
  auto ref = parse_reference("oci-archive:" + archive);
  ASSERT_TRUE(ref) << ref.error().message();
  auto store = io::image_layout::open_archive(archive);
  ASSERT_TRUE(store) << store.error().message();
  auto sigs = pipeline::read_attached_signatures(*ref, *store, subject_.digest, nullptr);
  ASSERT_TRUE(sigs) << sigs.error().message();
  ASSERT_EQ(sigs->size(), 2u);
  EXPECT_EQ((*sigs)[0].payload, "by tag");
  EXPECT_EQ((*sigs)[1].payload, "by referrer");
  auto w = pipeline::attach_signature(*ref, subject_, "p", "d", false, nullptr);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::unsupported);
}

TEST_F(SigstoreAttachments, DockerArchiveKeepsNoSignaturesAndSaysSo) {
  auto ref = parse_reference("docker-archive:" + tmp_.sub("image.tar"));
  ASSERT_TRUE(ref) << ref.error().message();
  auto store = io::image_layout::open(img_.dir);
  ASSERT_TRUE(store);
  auto sigs = pipeline::read_attached_signatures(*ref, *store, subject_.digest, nullptr);
  ASSERT_FALSE(sigs);
  EXPECT_EQ(sigs.error().code(), errc::unsupported);
  EXPECT_NE(sigs.error().message().find("not kept in docker-archive: images"), std::string::npos)
      << sigs.error().message();
}

}  // namespace
}  // namespace ocipipe::testing
