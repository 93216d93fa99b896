// validate()'s bulk mode: across all references of one call, each distinct stored blob (the
// same file by dev:ino, e.g. hardlinked between layouts, or the same archive member) is read
// once, and validate_totals counts it once; what depends on who names a blob (the diff_id
// an image config claims) is still checked per use. Layouts are made in the test
// (tests/support/image_builder.h); totals.tar_bytes, which only layers contribute, says
// exactly which layers were read.

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

// A base layer worth sharing, and a small top layer of each image's own.
layer_spec base_layer() {
  return layer({dir("usr/"), file("usr/lib.so", std::string(40000, 'L')), file("etc-release", "base 1")});
}
layer_spec top_layer(const std::string& name) { return layer({file(name, "top of " + name)}); }

std::string describe_all(const std::vector<image_validation>& vs) {
  std::string s;
  for (const auto& v : vs) s += v.ref + ":\n" + describe(v) + "\n";
  return s;
}

ino_t inode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// Two layouts with the same base layer and their own top layers.
struct two_layouts {
  temp_dir tmp;
  built_image a = build_layout(tmp.sub("a"), "a", {base_layer(), top_layer("a")});
  built_image b = build_layout(tmp.sub("b"), "b", {base_layer(), top_layer("b")});

  void link_base() {
    hardlink_blob(a, b, a.layers[0].digest);
    ASSERT_EQ(inode_of(a.layer_blob_path(0)), inode_of(b.layer_blob_path(0)));
  }
  [[nodiscard]] std::uint64_t tar_once() const {
    return a.layers[0].tar.size() + a.layers[1].tar.size() + b.layers[1].tar.size();
  }
};

TEST(ValidateBulk, SingleImageTotalsMatchItsOwnCounts) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {base_layer(), top_layer("x")});
  validate_totals totals;
  const auto out = validate({img.ref()}, {}, &totals);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].valid()) << describe(out[0]);
  EXPECT_EQ(out[0].blobs, 4u);  // manifest, config, two layers
  EXPECT_EQ(totals.tar_bytes, out[0].tar_bytes);
  EXPECT_EQ(totals.tar_bytes, img.layers[0].tar.size() + img.layers[1].tar.size());
  // One image alone: the run read what the image read.
  EXPECT_EQ(totals.blobs, out[0].blobs) << "totals.blobs should count every distinct blob the run checked, "
                                           "documents included, as image_validation::blobs does";
  EXPECT_EQ(totals.blob_bytes, out[0].blob_bytes);
  EXPECT_GT(totals.seconds, 0.0);
}

TEST(ValidateBulk, BaseLayerHardlinkedBetweenLayoutsIsReadOnce) {
  two_layouts s;
  s.link_base();
  validate_totals totals;
  std::vector<progress_update> updates;  // the meter never calls twice at once
  validate_options opts;
  opts.progress = [&](const progress_update& u) { updates.push_back(u); };
  const auto out = validate({s.a.ref(), s.b.ref()}, opts, &totals);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].valid()) << describe_all(out);
  EXPECT_TRUE(out[1].valid()) << describe_all(out);
  EXPECT_EQ(totals.tar_bytes, s.tar_once()) << "the shared base layer should be digested once";
  // Each image still counts the blobs it names.
  EXPECT_EQ(out[0].tar_bytes, s.a.layers[0].tar.size() + s.a.layers[1].tar.size());
  EXPECT_EQ(out[1].tar_bytes, s.b.layers[0].tar.size() + s.b.layers[1].tar.size());
  // Progress counts each distinct layer blob once, in bytes as stored: one
  // finished update per blob, never going backwards, ending at the total.
  const std::uint64_t distinct_bytes = static_cast<std::uint64_t>(
      s.a.layers[0].size + s.a.layers[1].size + s.b.layers[1].size);
  const auto finished = std::count_if(updates.begin(), updates.end(), [](const auto& u) { return u.finished_one; });
  EXPECT_EQ(finished, 3) << "progress should mark each distinct layer blob finished once";
  ASSERT_FALSE(updates.empty());
  for (std::size_t i = 1; i < updates.size(); ++i) EXPECT_GE(updates[i].done_bytes, updates[i - 1].done_bytes);
  EXPECT_EQ(updates.back().total_bytes, distinct_bytes);
  EXPECT_EQ(updates.back().done_bytes, distinct_bytes);
  EXPECT_NE(updates.back().current.find("blob 3 of 3"), std::string::npos) << updates.back().current;

  // The same layouts with the base layer copied, not linked: read twice.
  two_layouts copies;
  ASSERT_NE(inode_of(copies.a.layer_blob_path(0)), inode_of(copies.b.layer_blob_path(0)));
  validate_totals copied;
  const auto out2 = validate({copies.a.ref(), copies.b.ref()}, {}, &copied);
  EXPECT_TRUE(out2[0].valid() && out2[1].valid()) << describe_all(out2);
  EXPECT_EQ(copied.tar_bytes, s.tar_once() + s.a.layers[0].tar.size());
  EXPECT_EQ(copied.blobs, totals.blobs + 1) << "only the base layer differs between the two runs";
  EXPECT_EQ(copied.blob_bytes, totals.blob_bytes + static_cast<std::uint64_t>(s.a.layers[0].size));
}

TEST(ValidateBulk, SameReferenceTwiceIsReadOnce) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {base_layer(), top_layer("x")});
  write_oci_archive(img, tmp.sub("image.tar"));
  image_reference archive_ref;
  archive_ref.kind = transport::oci_archive;
  archive_ref.path = tmp.sub("image.tar");
  for (const auto& ref : {img.ref(), archive_ref}) {
    SCOPED_TRACE(ref.str());
    validate_totals once;
    validate_totals twice;
    (void)validate({ref}, {}, &once);
    const auto out = validate({ref, ref}, {}, &twice);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[0].valid() && out[1].valid()) << describe_all(out);
    EXPECT_EQ(twice.tar_bytes, once.tar_bytes);
    EXPECT_EQ(once.tar_bytes, img.layers[0].tar.size() + img.layers[1].tar.size());
  }
}

// One damaged file named by two layouts: both images are told.
TEST(ValidateBulk, CorruptedHardlinkedBlobFailsBothImages) {
  two_layouts s;
  s.link_base();
  corrupt_layer_byte(s.a, 0);
  ASSERT_EQ(inode_of(s.a.layer_blob_path(0)), inode_of(s.b.layer_blob_path(0)));
  validate_totals totals;
  const auto out = validate({s.a.ref(), s.b.ref()}, {}, &totals);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& v : out) {
    SCOPED_TRACE(v.ref);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "blob.digest");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_EQ(found[0].descriptor_path, "manifests[0].layers[0]") << found[0].location;
    EXPECT_EQ(found[0].digest, s.a.layers[0].digest.str());
  }
}

// Two images of one layout (two tags) sharing their base layer: one file, read once.
TEST(ValidateBulk, TwoImagesOfOneLayoutShareLayers) {
  temp_dir tmp;
  const auto one = build_layout(tmp.sub("layout"), "one", {base_layer(), top_layer("one")});
  const auto two = build_layout(tmp.sub("layout"), "two", {base_layer(), top_layer("two")});
  write_shared_index({one, two});
  const std::uint64_t tar_once = one.layers[0].tar.size() + one.layers[1].tar.size() + two.layers[1].tar.size();

  validate_totals totals;
  const auto out = validate({one.ref(), two.ref()}, {}, &totals);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].valid() && out[1].valid()) << describe_all(out);
  EXPECT_EQ(totals.tar_bytes, tar_once);

  // The same through --all on the untagged layout: one reference, both manifests.
  image_reference untagged = one.ref();
  untagged.tag.clear();
  validate_options all;
  all.all = true;
  validate_totals all_totals;
  const auto everything = validate({untagged}, all, &all_totals);
  ASSERT_EQ(everything.size(), 1u);
  EXPECT_TRUE(everything[0].valid()) << describe(everything[0]);
  EXPECT_EQ(all_totals.tar_bytes, tar_once);
  EXPECT_EQ(everything[0].tar_bytes, tar_once);
  EXPECT_EQ(all_totals.blobs, totals.blobs);

  // Without --all and without a tag, the layout is ambiguous: an operational failure
  // listing the tags.
  const auto ambiguous = validate({untagged}, {});
  ASSERT_EQ(ambiguous.size(), 1u);
  ASSERT_TRUE(ambiguous[0].failure) << describe(ambiguous[0]);
  EXPECT_NE(ambiguous[0].failure->message().find("\"one\""), std::string::npos) << ambiguous[0].failure->message();
}

// The diff_id is a property of the use, not of the blob: two images share a layer blob, one
// config claims the wrong diff_id for it. Only that image is told, although the blob is
// read once.
TEST(ValidateBulk, DiffIdIsCheckedPerUse) {
  temp_dir tmp;
  const auto good = build_layout(tmp.sub("layout"), "good", {base_layer(), top_layer("good")});
  auto bad = build_layout(tmp.sub("layout"), "bad", {base_layer(), top_layer("bad")});
  const std::string wrong = sha256_of("not the base layer").str();
  set_wrong_diff_id(bad, 0, wrong);
  write_shared_index({good, bad});

  for (const bool bad_first : {false, true}) {
    SCOPED_TRACE(bad_first ? "bad image first" : "good image first");
    validate_totals totals;
    const auto out = bad_first ? validate({bad.ref(), good.ref()}, {}, &totals)
                               : validate({good.ref(), bad.ref()}, {}, &totals);
    ASSERT_EQ(out.size(), 2u);
    const auto& g = bad_first ? out[1] : out[0];
    const auto& b = bad_first ? out[0] : out[1];
    EXPECT_TRUE(g.valid()) << describe(g);
    EXPECT_TRUE(with_rule(g, "layer.diff_id").empty()) << describe(g);
    EXPECT_FALSE(b.valid());
    const auto found = with_rule(b, "layer.diff_id");
    ASSERT_EQ(found.size(), 1u) << describe(b);
    // "bad" is the second entry of index.json.
    EXPECT_EQ(found[0].descriptor_path, "manifests[1].layers[0]") << found[0].location;
    EXPECT_NE(found[0].message.find(wrong), std::string::npos) << found[0].message;
    EXPECT_NE(found[0].message.find(good.layers[0].diff_id.str()), std::string::npos) << found[0].message;
    EXPECT_EQ(b.findings.size(), 1u) << describe(b);
    EXPECT_EQ(totals.tar_bytes, good.layers[0].tar.size() + good.layers[1].tar.size() + bad.layers[1].tar.size());
  }
}

// The same across two layouts sharing the blob by hardlink, and across an archive with two
// images.
TEST(ValidateBulk, DiffIdIsCheckedPerUseAcrossLayoutsAndInDockerArchive) {
  two_layouts s;
  s.link_base();
  set_wrong_diff_id(s.b, 0);
  const auto out = validate({s.a.ref(), s.b.ref()}, {});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].valid()) << describe(out[0]);
  EXPECT_EQ(with_rule(out[1], "layer.diff_id").size(), 1u) << describe(out[1]);

  // docker-archive: two images of one archive naming the same base member, each read
  // through its own reference: the member is read once.
  temp_dir tmp;
  const auto one = build_layout(tmp.sub("one"), "t",
                                {layer({file("base", "b")}, layer_compression::none),
                                 layer({file("one", "1")}, layer_compression::none)});
  const auto two = build_layout(tmp.sub("two"), "t",
                                {layer({file("base", "b")}, layer_compression::none),
                                 layer({file("two", "2")}, layer_compression::none)});
  docker_archive_options o;
  o.repo_tags = {"example.com/one:1"};
  o.more_images = {{&two, {"example.com/two:2"}}};
  write_docker_archive(one, tmp.sub("saved.tar"), o);
  image_reference r1;
  r1.kind = transport::docker_archive;
  r1.path = tmp.sub("saved.tar");
  r1.tag = "example.com/one:1";
  image_reference r2 = r1;
  r2.tag = "example.com/two:2";
  validate_totals totals;
  const auto both = validate({r1, r2}, {}, &totals);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_TRUE(both[0].valid()) << describe(both[0]);
  EXPECT_TRUE(both[1].valid()) << describe(both[1]);
  EXPECT_EQ(totals.tar_bytes, one.layers[0].tar.size() + one.layers[1].tar.size() + two.layers[1].tar.size())
      << "the archive member both images name should be read once";
}

// Two images of one docker-archive whose configs claim the same diff_id for layers held in
// different members: the first names the right bytes, the second other bytes. Each image's
// layer is read from the member its own entry names, so only the second is wrong, whether
// the images are validated together (--all) or one by one.
TEST(ValidateBulk, DockerArchiveImagesClaimingOneDiffIdInDifferentMembers) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("base", "b")}, layer_compression::none)});
  const std::string config = std::string(img.config_digest.encoded()) + ".json";
  const std::string right = std::string(img.layers[0].diff_id.encoded()) + ".tar";
  const std::string other = std::string(sha256_of(make_tar({file("extra0", "extra")})).encoded()) + ".tar";
  docker_archive_options o;
  o.extra_layers = 1;  // writes `other`
  o.manifest_json = nlohmann::json::array(
                        {{{"Config", config}, {"RepoTags", {"example.com/right:1"}}, {"Layers", {right}}},
                         {{"Config", config}, {"RepoTags", {"example.com/other:1"}}, {"Layers", {other}}}})
                        .dump();
  const std::string archive = tmp.sub("saved.tar");
  write_docker_archive(img, archive, o);

  image_reference untagged;
  untagged.kind = transport::docker_archive;
  untagged.path = archive;
  validate_options all;
  all.all = true;
  const auto together = validate({untagged}, all);
  ASSERT_EQ(together.size(), 1u);
  const auto found = with_rule(together[0], "layer.diff_id");
  ASSERT_EQ(found.size(), 1u) << describe(together[0]);
  EXPECT_NE(found[0].descriptor_path.find("[1].Layers[0]"), std::string::npos) << found[0].location;

  image_reference first = untagged;
  first.tag = "@0";
  image_reference second = untagged;
  second.tag = "@1";
  const auto apart = validate({first, second}, {});
  ASSERT_EQ(apart.size(), 2u);
  EXPECT_TRUE(apart[0].valid()) << describe(apart[0]);
  EXPECT_EQ(with_rule(apart[1], "layer.diff_id").size(), 1u) << describe(apart[1]);
}

// The CLI's summary is the run's distinct counts; each `end` the image's own.
TEST(ValidateBulk, CliSummaryCountsSharedBlobOnce) {
  two_layouts s;
  s.link_base();
  const auto r = run_ocipipe({"--json", "validate", s.a.ref_text(), s.b.ref_text()});
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  nlohmann::json summary;
  std::uint64_t end_tar = 0;
  int ends = 0;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    const auto nl = r.out.find('\n', pos);
    const std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? r.out.size() : nl + 1;
    if (line.empty()) continue;
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(rec.is_discarded()) << line;
    if (rec["type"] == "summary") summary = rec["data"];
    if (rec["type"] == "end") {
      ++ends;
      EXPECT_EQ(rec["data"]["status"], "valid") << line;
      end_tar += rec["data"]["tar_bytes"].get<std::uint64_t>();
    }
    EXPECT_NE(rec["type"], "diagnostic") << line;
  }
  EXPECT_EQ(ends, 2);
  ASSERT_TRUE(summary.is_object()) << r.out;
  EXPECT_EQ(summary["images"], 2);
  EXPECT_EQ(summary["valid"], 2);
  EXPECT_EQ(summary["invalid"], 0);
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["tar_bytes"].get<std::uint64_t>(), s.tar_once());
  EXPECT_EQ(end_tar, s.tar_once() + s.a.layers[0].tar.size()) << "each image counts the base layer it names";
}

}  // namespace
}  // namespace ocipipe::testing
