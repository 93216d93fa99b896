// stages/layout_index: tags in index.json (set, move, remove) and the
// children of documents that gc and rm --blobs follow.

#include <string>

#include <gtest/gtest.h>

#include "stages/image_json_write.h"
#include "stages/layout_index.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

digest dg(char c) { return *digest::parse("sha256:" + std::string(64, c)); }

descriptor manifest_desc(char c, std::string tag = {}) {
  descriptor d;
  d.media_type = std::string(media_type::image_manifest);
  d.digest = dg(c);
  d.size = 100;
  if (!tag.empty()) d.annotations[std::string(ref_name_annotation)] = tag;
  return d;
}

std::vector<std::string> tags_of(const image_index& i) {
  std::vector<std::string> out;
  for (const auto& d : i.manifests) out.push_back(d.ref_name() + "@" + std::string(1, d.digest.encoded()[0]));
  return out;
}

TEST(LayoutIndex, RefNameGrammar) {
  for (const char* ok : {"latest", "v1.2.3", "a-b", "a--b", "a_b", "a:b", "a@b", "a+b", "repo/name:tag", "1", "A9"})
    EXPECT_TRUE(valid_ref_name(ok)) << ok;
  for (const char* bad : {"", "-a", "a-", "a..b", "a---b", "/a", "a/", "a//b", "a b", "a\nb", ".", "a/-b", "é"})
    EXPECT_FALSE(valid_ref_name(bad)) << bad;
}

TEST(LayoutIndex, SetTagAddsEntryForAnotherTagOfSameManifest) {
  image_index i;
  i.manifests = {manifest_desc('a', "one")};
  auto c = set_tag(i, i.manifests[0], "two");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->changed);
  EXPECT_EQ(tags_of(i), (std::vector<std::string>{"one@a", "two@a"}));
}

TEST(LayoutIndex, SetTagMovesTagAndDropsEntryThatOnlyCarriedIt) {
  image_index i;
  i.manifests = {manifest_desc('a', "one"), manifest_desc('b', "two")};
  auto c = set_tag(i, i.manifests[0], "two");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->moved_from.size(), 1u);
  EXPECT_EQ(c->moved_from[0].digest, dg('b'));
  ASSERT_EQ(c->dropped.size(), 1u);
  EXPECT_EQ(tags_of(i), (std::vector<std::string>{"one@a", "two@a"}));
}

TEST(LayoutIndex, SetTagKeepsUntaggedEntryWithOtherAnnotations) {
  image_index i;
  auto b = manifest_desc('b', "two");
  b.annotations["org.example.keep"] = "yes";
  i.manifests = {manifest_desc('a', "one"), b};
  auto c = set_tag(i, i.manifests[0], "two");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->dropped.empty());
  EXPECT_EQ(tags_of(i), (std::vector<std::string>{"one@a", "@b", "two@a"}));
  EXPECT_EQ(i.manifests[1].annotations.count("org.example.keep"), 1u);
}

TEST(LayoutIndex, SetTagReusesUntaggedEntryOfSameDigest) {
  image_index i;
  auto untagged = manifest_desc('a');
  untagged.platform = platform{"amd64", "linux", "", {}, ""};
  i.manifests = {untagged};
  auto c = set_tag(i, untagged, "v1");
  ASSERT_TRUE(c);
  ASSERT_EQ(i.manifests.size(), 1u);
  EXPECT_EQ(i.manifests[0].ref_name(), "v1");
  EXPECT_TRUE(i.manifests[0].platform.has_value());
}

TEST(LayoutIndex, SetTagAlreadyThereChangesNothing) {
  image_index i;
  i.manifests = {manifest_desc('a', "one")};
  const auto before = image_index_json(i);
  auto c = set_tag(i, i.manifests[0], "one");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->changed);
  EXPECT_EQ(image_index_json(i), before);
}

TEST(LayoutIndex, SetTagRefusesInvalidName) {
  image_index i;
  auto c = set_tag(i, manifest_desc('a'), "bad tag");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::invalid_argument);
}

TEST(LayoutIndex, RemoveTagRemovesWholeEntries) {
  image_index i;
  i.manifests = {manifest_desc('a', "one"), manifest_desc('a', "two"), manifest_desc('b', "three")};
  auto r = remove_tag(i, "two");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(tags_of(i), (std::vector<std::string>{"one@a", "three@b"}));
  auto missing = remove_tag(i, "two");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::not_found);
}

TEST(LayoutIndex, RemoveDigestRemovesEveryEntryOfIt) {
  image_index i;
  i.manifests = {manifest_desc('a', "one"), manifest_desc('a', "two"), manifest_desc('b', "three")};
  auto r = remove_digest(i, dg('a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(tags_of(i), (std::vector<std::string>{"three@b"}));
  EXPECT_FALSE(remove_digest(i, dg('c')));
}

TEST(LayoutIndex, ManifestChildrenAreConfigLayersAndSubject) {
  manifest m;
  m.config = manifest_desc('c');
  m.config.media_type = std::string(media_type::image_config);
  m.layers = {manifest_desc('d'), manifest_desc('e')};
  m.subject = manifest_desc('f');
  auto kids = document_children(manifest_desc('a'), manifest_json(m));
  ASSERT_TRUE(kids) << kids.error().message();
  std::vector<std::string> got;
  for (const auto& k : *kids) got.push_back(std::string(1, k.digest.encoded()[0]));
  EXPECT_EQ(got, (std::vector<std::string>{"c", "d", "e", "f"}));
  auto subject = document_subject(manifest_desc('a'), manifest_json(m));
  ASSERT_TRUE(subject && *subject);
  EXPECT_EQ((*subject)->digest, dg('f'));
}

TEST(LayoutIndex, IndexChildrenAreManifestsAndSubject) {
  image_index i;
  i.manifests = {manifest_desc('b'), manifest_desc('c')};
  descriptor d = manifest_desc('a');
  d.media_type = std::string(media_type::image_index);
  auto kids = document_children(d, image_index_json(i));
  ASSERT_TRUE(kids);
  EXPECT_EQ(kids->size(), 2u);
}

TEST(LayoutIndex, UnknownMediaTypeIsTriedAsBoth) {
  image_index i;
  i.manifests = {manifest_desc('b')};
  descriptor d = manifest_desc('a');
  d.media_type = "application/vnd.example.thing+json";
  EXPECT_TRUE(is_document(d));
  auto kids = document_children(d, image_index_json(i));
  ASSERT_TRUE(kids);
  EXPECT_EQ(kids->size(), 1u);
  auto none = document_children(d, "not json at all");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::malformed);
}

TEST(LayoutIndex, LayersAndConfigsAreLeaves) {
  descriptor d = manifest_desc('a');
  for (auto mt : {media_type::layer_tar_gzip, media_type::layer_tar, media_type::image_config,
                  media_type::empty_json, media_type::docker_layer_gzip}) {
    d.media_type = std::string(mt);
    EXPECT_FALSE(is_document(d)) << mt;
  }
}

}  // namespace
}  // namespace ocipipe
