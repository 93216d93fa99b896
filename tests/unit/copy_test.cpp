// ocipipe::copy() between oci:, oci-archive: and docker-archive:, on images built in the
// test: every pair of transports gives an image that unpacks to the same tree, oci -> oci
// keeps digests, an image index is copied whole or by --platform, failures leave the
// destination as it was (layout valid, no new tag, no half blob; no archive file), an
// existing archive is refused without --force, and the CLI's --json record.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"
#include "stages/reference.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe {
namespace {

using testing::build_layout;
using testing::dir;
using testing::file;
using testing::hardlink;
using testing::layer;
using testing::symlink;
using testing::temp_dir;

image_reference ref_of(const std::string& text) {
  auto r = parse_reference(text);
  if (!r) throw std::runtime_error(r.error().message());
  return *r;
}

// A small two-layer image: gzip below, zstd above, with a whiteout, a symlink and a hardlink.
testing::built_image small_image(const std::string& layout, const std::string& tag = "v1") {
  return build_layout(layout, tag,
                      {layer({dir("etc"), file("etc/hostname", "box\n"), file("etc/motd", "hello\n"),
                              dir("usr"), dir("usr/bin"), file("usr/bin/tool", std::string(200000, 'x'), 0755)}),
                       layer({file("etc/.wh.motd"), file("etc/added", "new"), symlink("usr/bin/t", "tool"),
                              hardlink("usr/bin/tool2", "usr/bin/tool")},
                             testing::layer_compression::zstd)});
}

result<copy_report> copy_refs(const std::string& src, const std::string& dst, copy_options opts = {}) {
  return copy(ref_of(src), ref_of(dst), opts);
}

std::string index_json(const std::string& layout) { return testing::read_bytes(layout + "/index.json"); }

// The rootfs `ref` unpacks to, in a new directory below `tmp`.
std::string unpacked(const temp_dir& tmp, const std::string& ref, const std::string& name) {
  unpack_options opts;
  auto r = unpack(ref_of(ref), tmp.sub(name), opts);
  if (!r) ADD_FAILURE() << "unpack " << ref << ": " << r.error().message();
  return tmp.sub(name);
}

// ---- every pair of transports ----

enum class kind { oci, oci_archive, docker_archive };

std::string kind_name(kind k) {
  return k == kind::oci ? "oci" : k == kind::oci_archive ? "oci_archive" : "docker_archive";
}

struct transport_pair : ::testing::TestWithParam<std::tuple<kind, kind>> {};

TEST_P(transport_pair, copied_image_unpacks_to_the_same_tree) {
  const auto [from, to] = GetParam();
  temp_dir tmp;
  auto img = small_image(tmp.sub("layout"));
  std::string src;
  switch (from) {
    case kind::oci: src = img.ref_text(); break;
    case kind::oci_archive:
      testing::write_oci_archive(img, tmp.sub("src.tar"));
      src = "oci-archive:" + tmp.sub("src.tar") + ":v1";
      break;
    case kind::docker_archive:
      testing::write_docker_archive(img, tmp.sub("src.tar"));
      src = "docker-archive:" + tmp.sub("src.tar");
      break;
  }
  const std::string dst = to == kind::oci           ? "oci:" + tmp.sub("out") + ":copied"
                          : to == kind::oci_archive ? "oci-archive:" + tmp.sub("out.tar") + ":copied"
                                                    : "docker-archive:" + tmp.sub("out.tar") + ":example.com/copied:1";
  auto r = copy_refs(src, dst);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->images, 1u);
  EXPECT_GT(r->blobs_copied, 0u);

  // What the copy reports is what reading the destination resolves to.
  auto resolved = resolve_image(ref_of(dst));
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, r->manifest.digest);
  EXPECT_EQ(resolved->config_descriptor.digest, img.config_digest) << "the image config is copied byte for byte";
  if (from != kind::docker_archive && to != kind::docker_archive) {
    EXPECT_EQ(r->manifest.digest, img.manifest_digest) << "manifest bytes kept";
  } else {
    for (const auto& l : resolved->manifest.layers) EXPECT_EQ(l.media_type, media_type::layer_tar);
  }

  const auto a = unpacked(tmp, img.ref_text(), "rootfs-a");
  const auto b = unpacked(tmp, dst, "rootfs-b");
  const auto diffs = testing::compare_trees(a, b);
  EXPECT_TRUE(diffs.empty()) << testing::format_differences(diffs);
}

INSTANTIATE_TEST_SUITE_P(all, transport_pair,
                         ::testing::Combine(::testing::Values(kind::oci, kind::oci_archive, kind::docker_archive),
                                            ::testing::Values(kind::oci, kind::oci_archive, kind::docker_archive)),
                         [](const auto& info) {
                           return kind_name(std::get<0>(info.param)) + "_to_" + kind_name(std::get<1>(info.param));
                         });

// ---- oci -> oci ----

TEST(copy, oci_to_oci_keeps_every_blob_and_digest) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":copied");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->manifest.digest, img.manifest_digest);
  EXPECT_EQ(r->tag, "copied");
  EXPECT_EQ(r->blobs_copied, 4u);  // config, two layers, manifest
  EXPECT_EQ(r->blobs_skipped, 0u);
  for (const auto& name : testing::names_in(tmp.sub("dst/blobs/sha256")))
    EXPECT_EQ(testing::read_bytes(tmp.sub("dst/blobs/sha256/" + name)),
              testing::read_bytes(tmp.sub("src/blobs/sha256/" + name)))
        << name;
  EXPECT_EQ(testing::names_in(tmp.sub("dst/blobs/sha256")), testing::names_in(tmp.sub("src/blobs/sha256")));
  auto index = parse_image_index(index_json(tmp.sub("dst")));
  ASSERT_TRUE(index);
  ASSERT_EQ(index->manifests.size(), 1u);
  EXPECT_EQ(index->manifests[0].digest, img.manifest_digest);
  EXPECT_EQ(index->manifests[0].ref_name(), "copied");
}

TEST(copy, second_copy_into_the_same_layout_skips_what_it_holds_and_adds_the_tag) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  ASSERT_TRUE(copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":one"));
  auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":two");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->blobs_copied, 0u);
  EXPECT_EQ(r->blobs_skipped, 4u);
  EXPECT_EQ(r->bytes_copied, 0u);
  auto index = parse_image_index(index_json(tmp.sub("dst")));
  ASSERT_TRUE(index);
  std::vector<std::string> tags;
  for (const auto& d : index->manifests) tags.push_back(d.ref_name());
  EXPECT_EQ(tags, (std::vector<std::string>{"one", "two"}));
}

TEST(copy, untagged_oci_destination_gets_an_entry_without_a_ref_name_once) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  for (int i = 0; i < 2; ++i) {
    auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->tag, "");
  }
  auto index = parse_image_index(index_json(tmp.sub("dst")));
  ASSERT_TRUE(index);
  ASSERT_EQ(index->manifests.size(), 1u) << "skopeo's rule: the untagged entry of that digest is reused";
  EXPECT_TRUE(index->manifests[0].annotations.empty());
  // The untagged layout's one image is what a reference without a tag names.
  auto resolved = resolve_image(ref_of("oci:" + tmp.sub("dst")));
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, img.manifest_digest);
}

TEST(copy, destination_named_by_digest_is_refused) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + "@" + img.manifest_digest.str());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  EXPECT_FALSE(testing::path_exists(tmp.sub("dst")));
}

// Nothing listens on port 1: the source fails before DST is touched.
TEST(copy, unreachable_registry_source_creates_no_destination) {
  temp_dir tmp;
  copy_options opts;
  opts.source_remote.attempts = 1;
  auto from = copy_refs("docker://127.0.0.1:1/x:1", "oci:" + tmp.sub("dst") + ":x", opts);
  ASSERT_FALSE(from);
  EXPECT_EQ(from.error().code(), errc::unavailable) << from.error().message();
  EXPECT_FALSE(testing::path_exists(tmp.sub("dst")));
}

// ---- image indexes ----

TEST(copy, image_index_is_copied_whole_by_default) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  const auto index_digest = testing::nest_in_index(img);
  auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":all");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->manifest.digest, index_digest);
  EXPECT_EQ(r->manifest.media_type, media_type::image_index);
  EXPECT_EQ(r->images, 2u) << "the image and the attestation manifest";
  // Every blob the index reaches is there, byte for byte.
  for (const auto& name : testing::names_in(tmp.sub("dst/blobs/sha256")))
    EXPECT_EQ(testing::read_bytes(tmp.sub("dst/blobs/sha256/" + name)),
              testing::read_bytes(tmp.sub("src/blobs/sha256/" + name)));
  auto v = testing::run_ocipipe({"validate", "oci:" + tmp.sub("dst") + ":all"});
  EXPECT_TRUE(v.ok()) << v.describe();
  // It still resolves by platform to the same image.
  auto resolved = resolve_image(ref_of("oci:" + tmp.sub("dst") + ":all"), {"linux", "amd64", ""});
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, img.manifest_digest);
}

TEST(copy, platform_picks_one_manifest_out_of_an_index) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  testing::nest_in_index(img);
  copy_options opts;
  opts.platform = platform_selector{"linux", "amd64", ""};
  auto r = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":amd64", opts);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->manifest.digest, img.manifest_digest);
  EXPECT_EQ(r->images, 1u);
  EXPECT_EQ(testing::names_in(tmp.sub("dst/blobs/sha256")).size(), 4u) << "config, two layers, manifest";
  auto index = parse_image_index(index_json(tmp.sub("dst")));
  ASSERT_TRUE(index);
  ASSERT_EQ(index->manifests.size(), 1u);
  EXPECT_EQ(index->manifests[0].digest, img.manifest_digest);
  ASSERT_TRUE(index->manifests[0].platform) << "the index entry's platform is kept";
  EXPECT_EQ(index->manifests[0].platform->architecture, "amd64");

  opts.platform = platform_selector{"linux", "s390x", ""};
  auto none = copy_refs(img.ref_text(), "oci:" + tmp.sub("dst") + ":s390x", opts);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::not_found) << none.error().message();
}

// ---- failures leave the destination as it was ----

TEST(copy, corrupted_source_blob_fails_and_leaves_the_layout_valid_without_the_tag) {
  temp_dir tmp;
  auto good = small_image(tmp.sub("good"));
  ASSERT_TRUE(copy_refs(good.ref_text(), "oci:" + tmp.sub("dst") + ":old"));
  const auto index_before = index_json(tmp.sub("dst"));
  const auto blobs_before = testing::names_in(tmp.sub("dst/blobs/sha256"));

  auto bad = build_layout(tmp.sub("bad"), "v1", {layer({file("big", std::string(1 << 20, 'b'))})});
  testing::corrupt_layer_byte(bad, 0);
  auto r = copy_refs(bad.ref_text(), "oci:" + tmp.sub("dst") + ":new");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::digest_mismatch) << r.error().message();
  EXPECT_TRUE(testing::contains(r.error().message(), bad.layers[0].digest.str())) << r.error().message();

  EXPECT_EQ(index_json(tmp.sub("dst")), index_before) << "no new tag";
  EXPECT_FALSE(testing::path_exists(tmp.sub("dst/") + bad.layers[0].digest.blob_path())) << "no half blob";
  EXPECT_FALSE(testing::path_exists(tmp.sub("dst/") + bad.manifest_digest.blob_path()));
  for (const auto& name : testing::names_in(tmp.sub("dst/blobs/sha256")))
    if (std::find(blobs_before.begin(), blobs_before.end(), name) == blobs_before.end()) {
      EXPECT_TRUE(name == bad.config_digest.encoded()) << "only verified blobs may be left: " << name;
    }
  for (const auto& name : testing::names_in(tmp.sub("dst/.ocipipe-ingest")))
    ADD_FAILURE() << "temporary file left in the ingest area: " << name;
  auto v = testing::run_ocipipe({"validate", "oci:" + tmp.sub("dst") + ":old"});
  EXPECT_TRUE(v.ok()) << v.describe();
}

TEST(copy, corrupted_layer_into_an_archive_leaves_no_file) {
  for (const std::string transport : {"oci-archive:", "docker-archive:"}) {
    temp_dir tmp;
    auto bad = build_layout(tmp.sub("bad"), "v1", {layer({file("big", std::string(1 << 20, 'b'))})});
    testing::corrupt_layer_byte(bad, 0);
    auto r = copy_refs(bad.ref_text(), transport + tmp.sub("out.tar"));
    ASSERT_FALSE(r) << transport;
    EXPECT_EQ(r.error().code(), errc::digest_mismatch) << transport << r.error().message();
    EXPECT_EQ(testing::names_in(tmp.path()), (std::vector<std::string>{"bad"})) << transport << ": nothing beside it";
  }
}

TEST(copy, existing_archive_is_refused_without_force_and_replaced_with_it) {
  for (const std::string transport : {"oci-archive:", "docker-archive:"}) {
    temp_dir tmp;
    auto img = small_image(tmp.sub("src"));
    testing::write_bytes(tmp.sub("out.tar"), "precious");
    auto r = copy_refs(img.ref_text(), transport + tmp.sub("out.tar"));
    ASSERT_FALSE(r) << transport;
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
    EXPECT_TRUE(testing::contains(r.error().message(), "--force")) << r.error().message();
    EXPECT_EQ(testing::read_bytes(tmp.sub("out.tar")), "precious");

    copy_options force;
    force.force = true;
    auto replaced = copy_refs(img.ref_text(), transport + tmp.sub("out.tar"), force);
    ASSERT_TRUE(replaced) << replaced.error().message();
    EXPECT_TRUE(resolve_image(ref_of(transport + tmp.sub("out.tar"))));
    EXPECT_EQ(testing::names_in(tmp.path()), (std::vector<std::string>{"out.tar", "src"})) << "no temporary file left";
  }
}

// ---- archive contents ----

TEST(copy, docker_archive_has_the_files_skopeo_writes) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto r = copy_refs(img.ref_text(), "docker-archive:" + tmp.sub("out.tar") + ":busybox:1.36");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->tag, "docker.io/library/busybox:1.36");
  const auto manifest = nlohmann::json::parse(testing::read_archive_member(tmp.sub("out.tar"), "manifest.json"));
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["Config"], std::string(img.config_digest.encoded()) + ".json");
  EXPECT_EQ(manifest[0]["RepoTags"], nlohmann::json::array({"docker.io/library/busybox:1.36"}));
  ASSERT_EQ(manifest[0]["Layers"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string member = manifest[0]["Layers"][i];
    EXPECT_EQ(member, std::string(img.layers[i].diff_id.encoded()) + ".tar");
    EXPECT_EQ(testing::read_archive_member(tmp.sub("out.tar"), member), img.layers[i].tar)
        << "layer " << i << " stored uncompressed";
  }
  EXPECT_EQ(testing::read_archive_member(tmp.sub("out.tar"), manifest[0]["Config"]),
            testing::read_bytes(img.blob_path(img.config_digest)));
  const auto repositories = nlohmann::json::parse(testing::read_archive_member(tmp.sub("out.tar"), "repositories"));
  ASSERT_TRUE(repositories.contains("docker.io/library/busybox"));
  const std::string top = repositories["docker.io/library/busybox"]["1.36"];
  EXPECT_EQ(testing::read_archive_member(tmp.sub("out.tar"), top + "/VERSION"), "1.0");
  const auto legacy = nlohmann::json::parse(testing::read_archive_member(tmp.sub("out.tar"), top + "/json"));
  EXPECT_EQ(legacy["id"], top);
  EXPECT_EQ(legacy["os"], "linux");
  EXPECT_TRUE(legacy.contains("parent"));
}

TEST(copy, oci_archive_holds_the_layout_with_the_tag) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto r = copy_refs(img.ref_text(), "oci-archive:" + tmp.sub("out.tar") + ":shipped");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(testing::read_archive_member(tmp.sub("out.tar"), "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  auto index = parse_image_index(testing::read_archive_member(tmp.sub("out.tar"), "index.json"));
  ASSERT_TRUE(index);
  ASSERT_EQ(index->manifests.size(), 1u);
  EXPECT_EQ(index->manifests[0].digest, img.manifest_digest);
  EXPECT_EQ(index->manifests[0].ref_name(), "shipped");
  for (const auto& l : img.layers)
    EXPECT_EQ(testing::read_archive_member(tmp.sub("out.tar"), l.digest.blob_path()),
              testing::read_bytes(img.blob_path(l.digest)));
}

TEST(copy, docker_archive_source_becomes_an_oci_image_with_layers_as_stored) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  testing::write_docker_archive(img, tmp.sub("saved.tar"), {.repo_tags = {"example.com/a:1", "example.com/b:2"}});
  auto r = copy_refs("docker-archive:" + tmp.sub("saved.tar") + ":example.com/b:2", "oci:" + tmp.sub("dst") + ":b");
  ASSERT_TRUE(r) << r.error().message();
  auto resolved = resolve_image(ref_of("oci:" + tmp.sub("dst") + ":b"));
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.media_type, media_type::image_manifest);
  EXPECT_EQ(resolved->config_descriptor.media_type, media_type::image_config);
  ASSERT_EQ(resolved->manifest.layers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(resolved->manifest.layers[i].media_type, media_type::layer_tar);
    EXPECT_EQ(resolved->manifest.layers[i].digest, img.layers[i].diff_id);
    EXPECT_TRUE(resolved->manifest.layers[i].annotations.empty());
  }
  // The manifest is the one validate and unpack read the archive's entry as.
  auto from_archive = resolve_image(ref_of("docker-archive:" + tmp.sub("saved.tar") + ":example.com/b:2"));
  ASSERT_TRUE(from_archive);
  EXPECT_EQ(r->manifest.digest, from_archive->manifest_descriptor.digest);
}

TEST(copy, bad_docker_reference_for_the_archive_is_refused_before_writing) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto r = copy_refs(img.ref_text(), "docker-archive:" + tmp.sub("out.tar") + ":Upper/Case:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  EXPECT_FALSE(testing::path_exists(tmp.sub("out.tar")));
}

// ---- the CLI ----

TEST(copy_cli, json_record_names_the_copy) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  auto out = testing::run_ocipipe({"copy", "--json", "-j", "2", img.ref_text(), "oci:" + tmp.sub("dst") + ":x"});
  ASSERT_TRUE(out.ok()) << out.describe();
  const auto lines = testing::lines_of(out.out);
  ASSERT_EQ(lines.size(), 1u) << out.out;
  const auto rec = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(rec["type"], "copy");
  EXPECT_EQ(rec["schema"], 1);
  const auto& d = rec["data"];
  EXPECT_EQ(d["status"], "ok");
  EXPECT_EQ(d["src"], img.ref_text());
  EXPECT_EQ(d["dst"], "oci:" + tmp.sub("dst") + ":x");
  EXPECT_EQ(d["manifest_digest"], img.manifest_digest.str());
  EXPECT_EQ(d["media_type"], media_type::image_manifest);
  EXPECT_EQ(d["tag"], "x");
  EXPECT_EQ(d["images"], 1);
  EXPECT_EQ(d["blobs_copied"], 4);
  EXPECT_EQ(d["blobs_skipped"], 0);
  EXPECT_GT(d["bytes"].get<std::uint64_t>(), 0u);
  EXPECT_TRUE(d.contains("seconds"));
}

TEST(copy_cli, existing_archive_exits_2_with_the_reason) {
  temp_dir tmp;
  auto img = small_image(tmp.sub("src"));
  testing::write_bytes(tmp.sub("out.tar"), "x");
  auto out = testing::run_ocipipe({"copy", img.ref_text(), "oci-archive:" + tmp.sub("out.tar")});
  EXPECT_EQ(out.exit_code, 2) << out.describe();
  EXPECT_TRUE(testing::contains(out.err, "exists; --force replaces it")) << out.err;
  EXPECT_TRUE(out.out.empty());
  auto forced = testing::run_ocipipe({"copy", "--force", img.ref_text(), "oci-archive:" + tmp.sub("out.tar")});
  EXPECT_TRUE(forced.ok()) << forced.describe();
  EXPECT_TRUE(testing::contains(forced.out, "copied ")) << forced.out;
}

}  // namespace
}  // namespace ocipipe
