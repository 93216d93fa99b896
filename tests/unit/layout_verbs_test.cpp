// The layout verbs ls, inspect, tag, rm and gc, through the API (pipeline/api.h)
// and the real binary: tags moved and removed, rm --blobs keeping what another
// tag shares, gc keeping nested indexes and referrers (manifests whose subject
// is reachable), gc --dry-run deleting nothing, and the --json records.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

image_reference ref_of(const std::string& text) {
  auto r = parse_reference(text);
  if (!r) throw std::runtime_error(r.error().message());
  return *r;
}

ordered_json desc_json(const std::string& mt, const digest& d, std::size_t size) {
  return ordered_json{{"mediaType", mt}, {"digest", d.str()}, {"size", size}};
}

ordered_json tagged(ordered_json d, const std::string& tag) {
  d["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
  return d;
}

// Two images in one layout: "one" = layers {shared, only-one}, "two" = layers
// {shared, only-two}; the shared layer is one blob.
struct two_images {
  built_image one, two;
  std::string dir;
};

two_images make_two_images(const std::string& dir) {
  two_images t;
  t.dir = dir;
  const auto shared = layer({file("shared.txt", "shared by both")});
  t.one = build_layout(dir, "one", {shared, layer({file("one.txt", "only in one")})});
  config_overrides c2;
  c2.architecture = "arm64";
  t.two = build_layout(dir, "two", {shared, layer({file("two.txt", "only in two")})}, c2);
  const ordered_json index{
      {"schemaVersion", 2},
      {"manifests",
       {tagged(desc_json(std::string(media_type::image_manifest), t.one.manifest_digest, t.one.manifest_size), "one"),
        tagged(desc_json(std::string(media_type::image_manifest), t.two.manifest_digest, t.two.manifest_size), "two")}}};
  write_bytes(dir + "/index.json", index.dump());
  return t;
}

bool blob_exists(const std::string& dir, const digest& d) { return path_exists(dir + "/" + d.blob_path()); }

std::vector<std::string> index_tags(const std::string& dir) {
  auto idx = parse_image_index(read_bytes(dir + "/index.json"));
  EXPECT_TRUE(idx);
  std::vector<std::string> out;
  if (idx)
    for (const auto& d : idx->manifests) out.push_back(d.ref_name());
  return out;
}

std::vector<ordered_json> json_records(const std::string& out) {
  std::vector<ordered_json> recs;
  for (const auto& line : lines_of(out)) recs.push_back(ordered_json::parse(line));
  return recs;
}

// ---- ls ----

TEST(LayoutVerbs, LsListsTagsDigestsPlatformsAndSizes) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto r = list_layout(ref_of(t.path()));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->entries.size(), 2u);
  const auto& e = r->entries[0];
  EXPECT_EQ(e.tag, "one");
  EXPECT_EQ(e.manifest.digest, imgs.one.manifest_digest);
  EXPECT_EQ(e.platforms, std::vector<std::string>{"linux/amd64"});
  EXPECT_EQ(r->entries[1].platforms, std::vector<std::string>{"linux/arm64"});
  std::uint64_t want = static_cast<std::uint64_t>(imgs.one.manifest_size) + read_bytes(imgs.one.blob_path(imgs.one.config_digest)).size();
  for (const auto& l : imgs.one.layers) want += static_cast<std::uint64_t>(l.size);
  EXPECT_EQ(e.total_size, want);
  EXPECT_TRUE(e.problem.empty()) << e.problem;
}

TEST(LayoutVerbs, LsCliPrintsTableAndJsonRecords) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto human = run_ocipipe({"ls", "oci:" + t.path()});
  ASSERT_TRUE(human.ok()) << human.describe();
  auto lines = lines_of(human.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].starts_with("TAG")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "DIGEST") && contains(lines[0], "MEDIA TYPE") && contains(lines[0], "PLATFORMS") &&
              contains(lines[0], "SIZE"));
  EXPECT_TRUE(lines[1].starts_with("one ")) << lines[1];
  EXPECT_TRUE(contains(lines[1], imgs.one.manifest_digest.short_str()));
  EXPECT_TRUE(contains(lines[2], "linux/arm64"));

  auto js = run_ocipipe({"ls", "--json", t.path()});
  ASSERT_TRUE(js.ok()) << js.describe();
  auto recs = json_records(js.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["type"], "tag");
  EXPECT_EQ(recs[0]["schema"], 1);
  EXPECT_EQ(recs[0]["data"]["tag"], "one");
  EXPECT_EQ(recs[0]["data"]["digest"], imgs.one.manifest_digest.str());
  EXPECT_EQ(recs[0]["data"]["media_type"], media_type::image_manifest);
  EXPECT_EQ(recs[0]["data"]["platforms"], ordered_json::array({"linux/amd64"}));
  EXPECT_GT(recs[0]["data"]["total_size"].get<std::uint64_t>(), 0u);
}

TEST(LayoutVerbs, LsShowsPlatformsOfNestedIndexButNotAttestations) {
  temp_dir t;
  auto img = build_layout(t.path(), "multi", {layer({file("a", "a")})});
  nest_in_index(img);
  auto r = list_layout(ref_of(t.path()));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->entries[0].tag, "multi");
  EXPECT_EQ(r->entries[0].manifest.media_type, media_type::image_index);
  EXPECT_EQ(r->entries[0].platforms, std::vector<std::string>{"linux/amd64"});
  EXPECT_TRUE(r->entries[0].problem.empty()) << r->entries[0].problem;
}

TEST(LayoutVerbs, LsReadsOciArchive) {
  temp_dir t;
  auto img = build_layout(t.sub("layout"), "arch", {layer({file("a", "a")})});
  write_oci_archive(img, t.sub("img.tar"));
  auto out = run_ocipipe({"ls", "-q", "oci-archive:" + t.sub("img.tar")});
  ASSERT_TRUE(out.ok()) << out.describe();
  EXPECT_EQ(lines_of(out.out), std::vector<std::string>{"arch"});
}

TEST(LayoutVerbs, LsOfMissingLayoutFailsWithExit2AndJsonError) {
  temp_dir t;
  auto out = run_ocipipe({"ls", "--json", t.sub("nope")});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  auto recs = json_records(out.out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["type"], "error");
  EXPECT_EQ(recs[0]["data"]["code"], "not_found");
  EXPECT_TRUE(contains(out.err, "ocipipe: "));
}

// ---- inspect ----

TEST(LayoutVerbs, InspectShowsManifestConfigAndLayers) {
  temp_dir t;
  config_overrides c;
  c.env = {"PATH=/bin", "A=b"};
  c.cmd = std::vector<std::string>{"/bin/sh"};
  auto img = build_layout(t.path(), "x", {layer({file("a", "a")}), layer({file("b", "b")})}, c);
  auto r = inspect(img.ref());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->image.manifest_descriptor.digest, img.manifest_digest);
  EXPECT_EQ(r->image.manifest.layers.size(), 2u);
  EXPECT_EQ(r->manifest_json, read_bytes(img.blob_path(img.manifest_digest)));

  auto human = run_ocipipe({"inspect", img.ref_text()});
  ASSERT_TRUE(human.ok()) << human.describe();
  EXPECT_TRUE(contains(human.out, img.manifest_digest.str()));
  EXPECT_TRUE(contains(human.out, "Layers:"));
  EXPECT_TRUE(contains(human.out, img.layers[1].digest.str()));
  EXPECT_TRUE(contains(human.out, "PATH=/bin"));
  EXPECT_TRUE(contains(human.out, "linux/amd64"));

  auto js = run_ocipipe({"inspect", "--json", img.ref_text()});
  ASSERT_TRUE(js.ok()) << js.describe();
  auto recs = json_records(js.out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["type"], "inspect");
  const auto& d = recs[0]["data"];
  EXPECT_EQ(d["descriptor"]["digest"], img.manifest_digest.str());
  EXPECT_EQ(d["manifest"]["layers"].size(), 2u);
  EXPECT_EQ(d["config"]["config"]["Env"][1], "A=b");
  EXPECT_EQ(d["config_descriptor"]["digest"], img.config_digest.str());
}

TEST(LayoutVerbs, InspectReadsArchives) {
  temp_dir t;
  auto img = build_layout(t.sub("layout"), "x", {layer({file("a", "a")})});
  write_oci_archive(img, t.sub("oci.tar"));
  write_docker_archive(img, t.sub("docker.tar"));
  for (const auto& ref : {"oci-archive:" + t.sub("oci.tar"), "docker-archive:" + t.sub("docker.tar")}) {
    auto out = run_ocipipe({"inspect", "--json", ref});
    ASSERT_TRUE(out.ok()) << ref << ": " << out.describe();
    auto recs = json_records(out.out);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0]["data"]["manifest"]["layers"].size(), 1u) << ref;
  }
}

TEST(LayoutVerbs, InspectMissingTagIsExit2) {
  temp_dir t;
  auto img = build_layout(t.path(), "x", {layer({file("a", "a")})});
  auto out = run_ocipipe({"inspect", "oci:" + t.path() + ":nope"});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_TRUE(contains(out.err, "nope"));
}

// ---- tag ----

TEST(LayoutVerbs, TagAddsSecondTagOfSameManifest) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto r = tag_image(ref_of("oci:" + t.path() + ":one"), "latest");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->target.digest, imgs.one.manifest_digest);
  EXPECT_EQ(index_tags(t.path()), (std::vector<std::string>{"one", "two", "latest"}));
  auto resolved = resolve_image(ref_of("oci:" + t.path() + ":latest"));
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, imgs.one.manifest_digest);
}

TEST(LayoutVerbs, TagMovesTagFromAnotherImage) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto out = run_ocipipe({"tag", "--json", "oci:" + t.path() + ":one", "two"});
  ASSERT_TRUE(out.ok()) << out.describe();
  auto recs = json_records(out.out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["type"], "tagged");
  EXPECT_EQ(recs[0]["data"]["digest"], imgs.one.manifest_digest.str());
  EXPECT_EQ(recs[0]["data"]["moved_from"], ordered_json::array({imgs.two.manifest_digest.str()}));
  EXPECT_EQ(recs[0]["data"]["dropped"], ordered_json::array({imgs.two.manifest_digest.str()}));
  EXPECT_EQ(index_tags(t.path()), (std::vector<std::string>{"one", "two"}));
  auto resolved = resolve_image(ref_of("oci:" + t.path() + ":two"));
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->manifest_descriptor.digest, imgs.one.manifest_digest);
  // Tagging again changes nothing.
  auto again = tag_image(ref_of("oci:" + t.path() + ":one"), "two");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
}

TEST(LayoutVerbs, TagByDigestOfManifestInsideIndex) {
  temp_dir t;
  auto img = build_layout(t.path(), "multi", {layer({file("a", "a")})});
  nest_in_index(img);
  auto r = tag_image(ref_of("oci:" + t.path() + "@" + img.manifest_digest.str()), "amd64");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->target.media_type, media_type::image_manifest);
  auto resolved = resolve_image(ref_of("oci:" + t.path() + ":amd64"));
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, img.manifest_digest);
}

TEST(LayoutVerbs, TagRefusesInvalidTagAndArchives) {
  temp_dir t;
  auto img = build_layout(t.sub("l"), "x", {layer({file("a", "a")})});
  const auto before = read_bytes(t.sub("l/index.json"));
  auto bad = run_ocipipe({"tag", img.ref_text(), "no spaces"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
  EXPECT_EQ(read_bytes(t.sub("l/index.json")), before);
  write_oci_archive(img, t.sub("a.tar"));
  auto arch = run_ocipipe({"tag", "oci-archive:" + t.sub("a.tar") + ":x", "y"});
  EXPECT_EQ(arch.exit_code, 2) << arch.describe();
  EXPECT_TRUE(contains(arch.err, "oci:")) << arch.err;
  auto missing = run_ocipipe({"tag", "oci:" + t.sub("l") + ":nope", "y"});
  EXPECT_EQ(missing.exit_code, 2);
}

// ---- rm ----

TEST(LayoutVerbs, RmRemovesTagAndKeepsBlobsWithoutFlag) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto out = run_ocipipe({"rm", "oci:" + t.path() + ":two"});
  ASSERT_TRUE(out.ok()) << out.describe();
  EXPECT_TRUE(contains(out.out, "removed tag two"));
  EXPECT_EQ(index_tags(t.path()), std::vector<std::string>{"one"});
  EXPECT_TRUE(blob_exists(t.path(), imgs.two.manifest_digest));
  EXPECT_TRUE(blob_exists(t.path(), imgs.two.layers[1].digest));
}

TEST(LayoutVerbs, RmBlobsKeepsBlobsSharedWithAnotherTag) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  const auto garbage = write_blob(imgs.one, "garbage that was there before");
  auto r = remove_image(ref_of("oci:" + t.path() + ":two"), rm_options{.blobs = true});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->removed.size(), 1u);
  // two's manifest, config and own layer go; the shared layer stays.
  EXPECT_EQ(r->blobs.size(), 3u);
  EXPECT_FALSE(blob_exists(t.path(), imgs.two.manifest_digest));
  EXPECT_FALSE(blob_exists(t.path(), imgs.two.config_digest));
  EXPECT_FALSE(blob_exists(t.path(), imgs.two.layers[1].digest));
  EXPECT_TRUE(blob_exists(t.path(), imgs.two.layers[0].digest));
  EXPECT_TRUE(blob_exists(t.path(), garbage)) << "rm --blobs leaves older garbage to gc";
  // "one" is whole: it unpacks.
  temp_dir out;
  auto u = run_ocipipe({"unpack", "oci:" + t.path() + ":one", out.sub("rootfs")});
  EXPECT_TRUE(u.ok()) << u.describe();
  EXPECT_EQ(read_bytes(out.sub("rootfs/shared.txt")), "shared by both");
}

TEST(LayoutVerbs, RmBlobsJsonRecords) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  auto out = run_ocipipe({"rm", "--blobs", "--json", "oci:" + t.path() + ":one"});
  ASSERT_TRUE(out.ok()) << out.describe();
  auto recs = json_records(out.out);
  ASSERT_EQ(recs.size(), 5u);  // untagged, 3 removed, summary
  EXPECT_EQ(recs[0]["type"], "untagged");
  EXPECT_EQ(recs[0]["data"]["tag"], "one");
  EXPECT_EQ(recs[1]["type"], "removed");
  EXPECT_EQ(recs[4]["type"], "summary");
  EXPECT_EQ(recs[4]["data"]["blobs"], 3);
}

TEST(LayoutVerbs, RmMissingTagIsExit2AndChangesNothing) {
  temp_dir t;
  make_two_images(t.path());
  const auto before = read_bytes(t.sub("index.json"));
  auto out = run_ocipipe({"rm", "oci:" + t.path() + ":three"});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_EQ(read_bytes(t.sub("index.json")), before);
  auto untargeted = run_ocipipe({"rm", "oci:" + t.path()});
  EXPECT_EQ(untargeted.exit_code, 2) << untargeted.describe();
}

TEST(LayoutVerbs, RmByDigestRemovesEveryEntryOfIt) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  ASSERT_TRUE(tag_image(ref_of("oci:" + t.path() + ":one"), "again"));
  auto r = remove_image(ref_of("oci:" + t.path() + "@" + imgs.one.manifest_digest.str()), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->removed.size(), 2u);
  EXPECT_EQ(index_tags(t.path()), std::vector<std::string>{"two"});
}

// ---- gc ----

TEST(LayoutVerbs, GcDryRunDeletesNothingThenGcDeletesGarbage) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  const auto garbage = write_blob(imgs.one, "unreferenced");
  const auto names_before = names_in(t.sub("blobs/sha256"));
  auto dry = run_ocipipe({"gc", "--dry-run", t.path()});
  ASSERT_TRUE(dry.ok()) << dry.describe();
  EXPECT_TRUE(contains(dry.out, "would remove " + garbage.blob_path())) << dry.out;
  EXPECT_TRUE(contains(dry.out, "would remove 1 blob, 12 B")) << dry.out;
  EXPECT_EQ(names_in(t.sub("blobs/sha256")), names_before);

  auto js = run_ocipipe({"gc", "--dry-run", "--json", t.path()});
  ASSERT_TRUE(js.ok());
  auto recs = json_records(js.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["type"], "removed");
  EXPECT_EQ(recs[0]["data"]["digest"], garbage.str());
  EXPECT_EQ(recs[0]["data"]["size"], 12);
  EXPECT_EQ(recs[0]["data"]["dry_run"], true);
  EXPECT_EQ(recs[1]["type"], "summary");
  EXPECT_EQ(recs[1]["data"]["kept"], 7);  // 2 manifests, 2 configs, 3 layers
  EXPECT_EQ(names_in(t.sub("blobs/sha256")), names_before);

  auto r = gc(ref_of(t.path()), {});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->removed.size(), 1u);
  EXPECT_FALSE(blob_exists(t.path(), garbage));
  EXPECT_EQ(names_in(t.sub("blobs/sha256")).size(), 7u);
}

TEST(LayoutVerbs, GcAfterTagMoveReclaimsTheOldImage) {
  temp_dir t;
  auto imgs = make_two_images(t.path());
  ASSERT_TRUE(tag_image(ref_of("oci:" + t.path() + ":one"), "two"));
  auto r = gc(ref_of(t.path()), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->removed.size(), 3u);
  EXPECT_FALSE(blob_exists(t.path(), imgs.two.manifest_digest));
  EXPECT_TRUE(blob_exists(t.path(), imgs.two.layers[0].digest));
}

TEST(LayoutVerbs, GcKeepsNestedIndexesAndWhatTheyReach) {
  temp_dir t;
  auto img = build_layout(t.path(), "multi", {layer({file("a", "a")})});
  const auto nested = nest_in_index(img);
  const auto garbage = write_blob(img, "garbage");
  const auto before = names_in(t.sub("blobs/sha256")).size();
  auto r = gc(ref_of(t.path()), {});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->removed.size(), 1u);
  EXPECT_EQ(r->removed[0].blob, garbage);
  EXPECT_EQ(names_in(t.sub("blobs/sha256")).size(), before - 1);
  EXPECT_TRUE(blob_exists(t.path(), nested));
  EXPECT_TRUE(blob_exists(t.path(), img.manifest_digest));
  EXPECT_TRUE(blob_exists(t.path(), img.layers[0].digest));
  temp_dir out;
  // nest_in_index's image is linux/amd64, whatever the host.
  auto u = run_ocipipe({"unpack", "--platform", "linux/amd64", "oci:" + t.path() + ":multi", out.sub("rootfs")});
  EXPECT_TRUE(u.ok()) << u.describe();
}

// A referrer (image-spec manifest.md "subject"): an artifact manifest whose
// subject is the image, reachable only through that subject; and a referrer
// of the referrer (a signature of an SBOM). A referrer of a blob nothing
// reaches is garbage.
TEST(LayoutVerbs, GcKeepsReferrersOfReachableManifestsToAFixpoint) {
  temp_dir t;
  auto img = build_layout(t.path(), "x", {layer({file("a", "a")})});
  const std::string empty = "{}";
  const auto empty_digest = write_blob(img, empty);
  auto referrer = [&](const digest& subject, std::size_t subject_size, const std::string& payload) {
    const auto payload_digest = write_blob(img, payload);
    const ordered_json m{{"schemaVersion", 2},
                         {"mediaType", media_type::image_manifest},
                         {"artifactType", "application/vnd.example.sbom"},
                         {"config", desc_json(std::string(media_type::empty_json), empty_digest, 2)},
                         {"layers", {desc_json("application/vnd.example.sbom+json", payload_digest, payload.size())}},
                         {"subject", desc_json(std::string(media_type::image_manifest), subject, subject_size)}};
    const auto bytes = m.dump();
    return std::make_tuple(write_blob(img, bytes), bytes.size(), payload_digest);
  };
  auto [sbom, sbom_size, sbom_payload] = referrer(img.manifest_digest, img.manifest_size, R"({"sbom":1})");
  auto [sig, sig_size, sig_payload] = referrer(sbom, sbom_size, R"({"signature":1})");
  const auto orphan_subject = write_blob(img, "not reachable");
  auto [orphan, orphan_size, orphan_payload] = referrer(orphan_subject, 13, R"({"orphan":1})");
  (void)sig_size;
  (void)orphan_size;

  auto r = gc(ref_of(t.path()), {});
  ASSERT_TRUE(r) << r.error().message();
  for (const auto& d : {sbom, sbom_payload, sig, sig_payload, empty_digest, img.manifest_digest, img.config_digest})
    EXPECT_TRUE(blob_exists(t.path(), d)) << d.str();
  for (const auto& d : {orphan_subject, orphan, orphan_payload}) EXPECT_FALSE(blob_exists(t.path(), d)) << d.str();
  EXPECT_EQ(r->removed.size(), 3u);
}

TEST(LayoutVerbs, GcStopsBeforeDeletingWhenReachableManifestIsUnreadable) {
  temp_dir t;
  auto img = build_layout(t.path(), "x", {layer({file("a", "a")})});
  const auto garbage = write_blob(img, "garbage");
  const auto broken = write_blob(img, "this is no manifest");
  const ordered_json index{
      {"schemaVersion", 2},
      {"manifests",
       {tagged(desc_json(std::string(media_type::image_manifest), img.manifest_digest, img.manifest_size), "x"),
        tagged(desc_json(std::string(media_type::image_manifest), broken, 19), "broken")}}};
  write_bytes(t.sub("index.json"), index.dump());
  auto out = run_ocipipe({"gc", t.path()});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_TRUE(contains(out.err, broken.str())) << out.err;
  EXPECT_TRUE(blob_exists(t.path(), garbage));
}

// Fresh-user report: a manifest of an image index deleted by hand made gc
// delete that image's config and layers (exit 0), which restoring the one
// manifest would have brought back.
TEST(LayoutVerbs, GcStopsBeforeDeletingWhenReachableManifestIsMissing) {
  temp_dir t;
  auto img = build_layout(t.path(), "multi", {layer({file("a", "a")})});
  nest_in_index(img);
  const auto garbage = write_blob(img, "garbage");
  ASSERT_EQ(::unlink(t.sub(img.manifest_digest.blob_path()).c_str()), 0);
  auto out = run_ocipipe({"gc", t.path()});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_TRUE(contains(out.err, img.manifest_digest.str())) << out.err;
  EXPECT_TRUE(contains(out.err, "missing")) << out.err;
  EXPECT_TRUE(blob_exists(t.path(), garbage));
  EXPECT_TRUE(blob_exists(t.path(), img.config_digest));
  EXPECT_TRUE(blob_exists(t.path(), img.layers[0].digest));
}

TEST(LayoutVerbs, GcRemovesStaleIngestFiles) {
  temp_dir t;
  build_layout(t.path(), "x", {layer({file("a", "a")})});
  ASSERT_EQ(::mkdir(t.sub(".ocipipe-ingest").c_str(), 0755), 0);
  write_bytes(t.sub(".ocipipe-ingest/blob-1-2-3"), "half a blob");
  auto dry = run_ocipipe({"gc", "-n", "--json", t.path()});
  ASSERT_TRUE(dry.ok()) << dry.describe();
  auto recs = json_records(dry.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["data"]["path"], ".ocipipe-ingest/blob-1-2-3");
  EXPECT_TRUE(path_exists(t.sub(".ocipipe-ingest/blob-1-2-3")));
  auto out = run_ocipipe({"gc", t.path()});
  ASSERT_TRUE(out.ok()) << out.describe();
  EXPECT_FALSE(path_exists(t.sub(".ocipipe-ingest/blob-1-2-3")));
}

TEST(LayoutVerbs, GcRefusesArchivesAndNonLayouts) {
  temp_dir t;
  auto img = build_layout(t.sub("l"), "x", {layer({file("a", "a")})});
  write_oci_archive(img, t.sub("a.tar"));
  EXPECT_EQ(run_ocipipe({"gc", "oci-archive:" + t.sub("a.tar")}).exit_code, 2);
  ASSERT_EQ(::mkdir(t.sub("plain").c_str(), 0755), 0);
  write_bytes(t.sub("plain/file"), "x");
  auto out = run_ocipipe({"gc", t.sub("plain")});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_EQ(names_in(t.sub("plain")), std::vector<std::string>{"file"});
}

}  // namespace
}  // namespace ocipipe::testing
