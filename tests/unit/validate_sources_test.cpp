// ocipipe::validate(), unpack() and create() on the three sources: image layouts (oci:),
// oci-archive: (a tar of a layout, read in place) and docker-archive: (`docker save`), all
// made in the test (tests/support/image_builder.h). Each docker-archive rule is seen failing
// on an archive broken in that one way, and not seen on the good archive; what a layout
// reports, its oci-archive reports too; tags select images; an archive member that links
// out of the archive is refused without reading the file it names; a compressed archive is
// an operational failure that says so; and every source unpacks to the same tree.

#include <sys/stat.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

// three_layers() (validate_support.h) for oci: and oci-archive:; the same, uncompressed, as
// a docker-archive holds them.
std::vector<layer_spec> plain_layers() {
  auto l = three_layers();
  for (auto& s : l) s.compression = layer_compression::none;
  return l;
}

// Layers with something of every kind for the unpack comparison: directories, files,
// symlinks, hardlinks (same layer and lower layer), a whiteout and an opaque directory.
std::vector<layer_spec> rich_layers() {
  auto x = file("usr/bin/tool", "#!/bin/sh\necho hi\n", 0755);
  x.mtime = default_mtime - 86400;
  return {layer({dir("etc/"), file("etc/hostname", "box"), file("etc/motd", "hello", 0600), dir("usr/"),
                 dir("usr/bin/"), x, symlink("usr/bin/alias", "tool"), hardlink("usr/bin/tool2", "usr/bin/tool"),
                 dir("var/"), dir("var/cache/"), file("var/cache/a", "a"), file("var/cache/b", "b")},
                layer_compression::none),
          layer({file("etc/.wh.motd"), dir("var/cache/"), file("var/cache/.wh..wh..opq"),
                 file("var/cache/c", std::string(5000, 'c')), hardlink("etc/hostname2", "etc/hostname")},
                layer_compression::none),
          layer({file("etc/hostname", "changed"), symlink("link-to-etc", "etc")}, layer_compression::none)};
}

image_reference source_ref(transport kind, const std::string& path, const std::string& tag = {}) {
  image_reference r;
  r.kind = kind;
  r.path = path;
  r.tag = tag;
  return r;
}

image_reference parsed(const std::string& text) {
  auto r = parse_reference(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message());
  return r ? *r : image_reference{};
}

// (rule, severity, descriptor path, entry) of every finding, for comparing sources.
std::multiset<std::tuple<std::string, bool, std::string, std::string>> shape_of(const image_validation& v) {
  std::multiset<std::tuple<std::string, bool, std::string, std::string>> out;
  for (const auto& f : v.findings) out.emplace(f.rule, f.error, f.descriptor_path, f.entry);
  return out;
}

std::string all_text(const image_validation& v) {
  std::string s = v.failure ? v.failure->message() + "\n" : "";
  for (const auto& f : v.findings) s += f.location + ": " + f.message + "\n";
  return s;
}

// ---- oci-archive: ----

TEST(ValidateSourcesOciArchive, GoodArchivePasses) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  write_oci_archive(img, tmp.sub("image.tar"));
  for (const std::string tag : {"t", ""}) {
    SCOPED_TRACE("tag '" + tag + "'");
    const auto v = validate_ref(source_ref(transport::oci_archive, tmp.sub("image.tar"), tag));
    EXPECT_TRUE(v.valid()) << describe(v);
    EXPECT_TRUE(v.findings.empty()) << describe(v);
    EXPECT_EQ(v.blobs, 5u);  // manifest, config, three layers
    EXPECT_GT(v.tar_bytes, 0u);
  }
  const auto r = run_ocipipe({"validate", "oci-archive:" + tmp.sub("image.tar") + ":t"});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_TRUE(contains(r.out, "PASS: oci-archive:" + tmp.sub("image.tar") + ":t")) << r.out;
}

// Each corruption a layout reports, its oci-archive reports: same rules, same places.
TEST(ValidateSourcesOciArchive, LayoutCorruptionsAreSeenInArchive) {
  struct variant {
    const char* what;
    std::function<void(built_image&)> corrupt;
    const char* rule;
    std::size_t layer;
  };
  const std::vector<variant> variants = {
      {"flipped byte, gzip layer", [](built_image& i) { corrupt_layer_byte(i, 0); }, "blob.digest", 0},
      {"flipped byte, zstd layer", [](built_image& i) { corrupt_layer_byte(i, 1); }, "blob.digest", 1},
      {"flipped byte, plain layer", [](built_image& i) { corrupt_layer_byte(i, 2); }, "blob.digest", 2},
      {"wrong diff_id", [](built_image& i) { set_wrong_diff_id(i, 1); }, "layer.diff_id", 1},
      {"size too large", [](built_image& i) { set_layer_size(i, 2, i.layers[2].size + 1); }, "blob.size", 2},
      {"size too small", [](built_image& i) { set_layer_size(i, 0, i.layers[0].size - 1); }, "blob.size", 0},
      {"missing blob", [](built_image& i) { point_layer_at_missing_blob(i, 1); }, "blob.missing", 1},
  };
  for (const auto& var : variants) {
    SCOPED_TRACE(var.what);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", three_layers());
    var.corrupt(img);
    write_oci_archive(img, tmp.sub("image.tar"));
    const auto in_layout = validate_ref(img.ref());
    const auto in_archive = validate_ref(source_ref(transport::oci_archive, tmp.sub("image.tar"), "t"));
    EXPECT_FALSE(in_layout.valid()) << describe(in_layout);
    EXPECT_FALSE(in_archive.valid()) << describe(in_archive);
    EXPECT_FALSE(in_archive.failure) << describe(in_archive);
    EXPECT_EQ(shape_of(in_layout), shape_of(in_archive))
        << "layout:\n" << describe(in_layout) << "archive:\n" << describe(in_archive);
    const auto found = with_rule(in_archive, var.rule);
    ASSERT_EQ(found.size(), 1u) << describe(in_archive);
    EXPECT_TRUE(found[0].error);
    EXPECT_TRUE(contains(found[0].location, layer_location(var.layer))) << found[0].location;
    EXPECT_EQ(found[0].descriptor_path, layer_location(var.layer));
    if (std::string(var.rule) == "blob.digest") {
      EXPECT_EQ(found[0].digest, img.layers[var.layer].digest.str());
      EXPECT_TRUE(contains(found[0].location, img.layers[var.layer].digest.short_str())) << found[0].location;
      EXPECT_TRUE(contains(found[0].message, sha256_of(read_bytes(img.layer_blob_path(var.layer))).str()))
          << found[0].message;
    }
  }
}

TEST(ValidateSourcesOciArchive, UnknownTagIsNotFound) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  write_oci_archive(img, tmp.sub("image.tar"));
  const auto v = validate_ref(source_ref(transport::oci_archive, tmp.sub("image.tar"), "nope"));
  ASSERT_TRUE(v.failure) << describe(v);
  EXPECT_EQ(v.failure->code(), errc::not_found) << v.failure->message();
  EXPECT_TRUE(contains(v.failure->message(), "nope")) << v.failure->message();
}

// ---- docker-archive: ----

struct docker_fixture {
  temp_dir tmp;
  built_image img;
  std::string archive;
  docker_fixture() : img(build_layout(tmp.sub("layout"), "t", plain_layers())), archive(tmp.sub("saved.tar")) {}
  image_validation check(const docker_archive_options& o, const std::string& tag = {}) {
    write_docker_archive(img, archive, o);
    return validate_ref(source_ref(transport::docker_archive, archive, tag));
  }
};

TEST(ValidateSourcesDockerArchive, GoodArchivePasses) {
  for (const bool symlinks : {false, true}) {
    SCOPED_TRACE(symlinks ? "skopeo's <id>/layer.tar symlinks" : "<hex>.tar members");
    docker_fixture fx;
    docker_archive_options o;
    o.layer_symlinks = symlinks;
    const auto v = fx.check(o);
    EXPECT_TRUE(v.valid()) << describe(v);
    EXPECT_TRUE(v.findings.empty()) << describe(v);
    EXPECT_GT(v.tar_bytes, 0u);
    EXPECT_GE(v.blobs, 4u);  // the config and three layers at least
    const auto r = run_ocipipe({"validate", "docker-archive:" + fx.archive});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
    EXPECT_TRUE(contains(r.out, "PASS: docker-archive:" + fx.archive)) << r.out;
  }
}

TEST(ValidateSourcesDockerArchive, ManifestJsonNotTheExpectedShape) {
  for (const std::string text : {"not json", R"({"Config":"x.json","Layers":[]})", R"(["entry"])",
                                 R"([{"Layers":[]}])", R"([{"Config":"c.json","Layers":"a.tar"}])",
                                 R"([{"Config":"c.json","Layers":[1]}])"}) {
    SCOPED_TRACE(text);
    docker_fixture fx;
    docker_archive_options o;
    o.manifest_json = text;
    const auto v = fx.check(o);
    EXPECT_FALSE(v.valid()) << describe(v);
    const auto found = with_rule(v, "docker.manifest");
    ASSERT_FALSE(found.empty()) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_EQ(found[0].descriptor_path, "manifest.json") << found[0].location;
  }
}

TEST(ValidateSourcesDockerArchive, RepoTagsEntryNotNameTag) {
  for (const std::string bad : {"no-tag-here", "example.com/test:", "localhost:5000/test", "example.com/test:bad tag",
                                "example.com/test:-dash"}) {
    SCOPED_TRACE(bad);
    docker_fixture fx;
    docker_archive_options o;
    o.repo_tags = {"example.com/test:latest", bad};
    const auto v = fx.check(o, "@0");
    const auto found = with_rule(v, "docker.repoTags");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_EQ(found[0].json_path, "[0].RepoTags[1]") << found[0].location;
    EXPECT_FALSE(v.valid());
  }
  for (const std::string good : {"example.com/test:latest", "debian:12", "localhost:5000/x/y:v1.2-rc_3"}) {
    SCOPED_TRACE(good);
    docker_fixture fx;
    docker_archive_options o;
    o.repo_tags = {good};
    const auto v = fx.check(o);
    EXPECT_TRUE(with_rule(v, "docker.repoTags").empty()) << describe(v);
    EXPECT_TRUE(v.valid()) << describe(v);
  }
  {
    SCOPED_TRACE("no RepoTags");
    docker_fixture fx;
    docker_archive_options o;
    o.repo_tags = {};
    const auto v = fx.check(o);
    EXPECT_TRUE(v.valid()) << describe(v);
  }
}

TEST(ValidateSourcesDockerArchive, ConfigMemberNameNotItsDigest) {
  docker_fixture fx;
  docker_archive_options o;
  const std::string other(sha256_of("another config").encoded());
  o.config_name = other + ".json";
  auto v = fx.check(o);
  EXPECT_FALSE(v.valid());
  auto found = with_rule(v, "docker.config.digest");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].json_path, "[0].Config") << found[0].location;
  EXPECT_TRUE(contains(found[0].message, fx.img.config_digest.str())) << found[0].message;

  // docker >= 25 names it blobs/sha256/<hex>: checked the same way.
  o.config_name = "blobs/sha256/" + other;
  v = fx.check(o);
  EXPECT_EQ(with_rule(v, "docker.config.digest").size(), 1u) << describe(v);
  o.config_name = "blobs/sha256/" + std::string(fx.img.config_digest.encoded());
  v = fx.check(o);
  EXPECT_TRUE(with_rule(v, "docker.config.digest").empty()) << describe(v);
  EXPECT_TRUE(v.valid()) << describe(v);
  // A name that claims no digest claims nothing wrong.
  o.config_name = "config.json";
  v = fx.check(o);
  EXPECT_TRUE(v.valid()) << describe(v);
}

TEST(ValidateSourcesDockerArchive, LayersCountNotDiffIdsCount) {
  for (const bool extra : {true, false}) {
    SCOPED_TRACE(extra ? "one layer too many" : "one layer too few");
    docker_fixture fx;
    docker_archive_options o;
    if (extra) o.extra_layers = 1;
    else o.drop_last_layer = true;
    const auto v = fx.check(o);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "docker.layers.count");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_EQ(found[0].json_path, "[0].Layers") << found[0].location;
    EXPECT_TRUE(contains(found[0].message, std::to_string(extra ? 4 : 2))) << found[0].message;
  }
}

TEST(ValidateSourcesDockerArchive, LayerMemberMissing) {
  docker_fixture fx;
  docker_archive_options o;
  o.absent_layer = 1;
  const auto v = fx.check(o);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "docker.layer.missing");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].json_path, "[0].Layers[1]") << found[0].location;
  EXPECT_TRUE(contains(found[0].message, std::string(fx.img.layers[1].diff_id.encoded()))) << found[0].message;
  // The same with skopeo's symlinked layout: the link is there, its target is not.
  o.layer_symlinks = true;
  const auto v2 = fx.check(o);
  EXPECT_EQ(with_rule(v2, "docker.layer.missing").size(), 1u) << describe(v2);
}

TEST(ValidateSourcesDockerArchive, LayerBytesNotItsDiffId) {
  for (const bool symlinks : {false, true}) {
    SCOPED_TRACE(symlinks ? "symlinked" : "plain");
    docker_fixture fx;
    docker_archive_options o;
    o.layer_symlinks = symlinks;
    o.replace_layer = {{1, make_tar({file("other", "other bytes")})}};
    const auto v = fx.check(o);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "layer.diff_id");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(contains(found[0].location, "Layers[1]")) << found[0].location;
    EXPECT_TRUE(contains(found[0].message, fx.img.layers[1].diff_id.str())) << found[0].message;
    EXPECT_TRUE(with_rule(v, "blob.digest").empty()) << describe(v);
    EXPECT_EQ(v.findings.size(), 1u) << describe(v);
  }
}

TEST(ValidateSourcesDockerArchive, TagSelection) {
  docker_fixture fx;
  write_docker_archive(fx.img, fx.archive);
  for (const std::string& text : {"docker-archive:" + fx.archive + ":example.com/test:latest",
                                 "docker-archive:" + fx.archive + ":@0", "docker-archive:" + fx.archive}) {
    SCOPED_TRACE(text);
    const auto v = validate_ref(parsed(text));
    EXPECT_TRUE(v.valid()) << describe(v);
  }
  for (const std::string& text : {"docker-archive:" + fx.archive + ":example.com/other:latest",
                                 "docker-archive:" + fx.archive + ":example.com/test:1",
                                 "docker-archive:" + fx.archive + ":@1"}) {
    SCOPED_TRACE(text);
    const auto v = validate_ref(parsed(text));
    ASSERT_TRUE(v.failure) << describe(v);
    EXPECT_EQ(v.failure->code(), errc::not_found) << v.failure->message();
    if (!contains(text, "@1")) {
      EXPECT_TRUE(contains(v.failure->message(), "example.com/test:latest"))
          << "the failure should list the archive's tags: " << v.failure->message();
    }
  }
  // The CLI: exit 2 (could not check) and the tags on stderr.
  const auto r = run_ocipipe({"validate", "docker-archive:" + fx.archive + ":example.com/other:latest"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "example.com/test:latest")) << r.err;
}

// Docker's normalization: "debian:12" is "docker.io/library/debian:12".
TEST(ValidateSourcesDockerArchive, TagsAreNormalizedAsDockerDoes) {
  docker_fixture fx;
  docker_archive_options o;
  o.repo_tags = {"docker.io/library/debian:12"};
  write_docker_archive(fx.img, fx.archive, o);
  const auto v = validate_ref(parsed("docker-archive:" + fx.archive + ":debian:12"));
  EXPECT_TRUE(v.valid()) << describe(v);
}

TEST(ValidateSourcesDockerArchive, SeveralImagesNeedATagOrAll) {
  temp_dir tmp;
  const auto one = build_layout(tmp.sub("one"), "t", plain_layers());
  auto second = plain_layers();
  second.push_back(layer({file("only-in-two", "2")}, layer_compression::none));
  const auto two = build_layout(tmp.sub("two"), "t", second);
  docker_archive_options o;
  o.repo_tags = {"example.com/one:1"};
  o.more_images = {{&two, {"example.com/two:2"}}};
  const std::string archive = tmp.sub("saved.tar");
  write_docker_archive(one, archive, o);

  const auto untagged = source_ref(transport::docker_archive, archive);
  const auto v = validate_ref(untagged);
  ASSERT_TRUE(v.failure) << describe(v);
  EXPECT_TRUE(contains(v.failure->message(), "example.com/one:1")) << v.failure->message();
  EXPECT_TRUE(contains(v.failure->message(), "example.com/two:2")) << v.failure->message();

  validate_options all;
  all.all = true;
  validate_totals totals;
  const auto everything = validate({untagged}, all, &totals);
  ASSERT_EQ(everything.size(), 1u);
  EXPECT_TRUE(everything[0].valid()) << describe(everything[0]);
  // Three layers shared, one of two's own: four distinct layer members read.
  std::uint64_t tar = 0;
  for (const auto& l : second) tar += make_tar(l.entries).size();
  EXPECT_EQ(totals.tar_bytes, tar);

  for (const std::string tag : {"example.com/two:2", "@1"}) {
    SCOPED_TRACE(tag);
    const auto picked = validate_ref(source_ref(transport::docker_archive, archive, tag));
    EXPECT_TRUE(picked.valid()) << describe(picked);
  }
  const auto r = run_ocipipe({"validate", "docker-archive:" + archive});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  const auto r_all = run_ocipipe({"validate", "--all", "docker-archive:" + archive});
  EXPECT_EQ(r_all.exit_code, 0) << r_all.describe() << "\nstdout:\n" << r_all.out;
}

// A member that is a symlink out of the archive names no blob. A file planted where the link
// would lead on disk (relative to the archive's directory), holding exactly the layer's tar,
// must not be read: if it were, the image would pass.
TEST(ValidateSourcesDockerArchive, SymlinkMemberLeavingTheArchiveIsRefused) {
  for (const bool planted : {false, true}) {
    SCOPED_TRACE(planted ? "target planted on disk" : "../../etc/passwd");
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t", plain_layers());
    ASSERT_EQ(::mkdir(tmp.sub("a").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(tmp.sub("a/b").c_str(), 0755), 0);
    const std::string archive = tmp.sub("a/b/saved.tar");
    docker_archive_options o;
    o.escaping_layer = 0;
    if (planted) {
      // evil0/layer.tar -> ../../planted.tar: one level above the archive root.
      o.escape_target = "../../planted.tar";
      write_bytes(tmp.sub("a/planted.tar"), img.layers[0].tar);
      write_bytes(tmp.sub("planted.tar"), img.layers[0].tar);
    }
    write_docker_archive(img, archive, o);
    const auto v = validate_ref(source_ref(transport::docker_archive, archive));
    EXPECT_FALSE(v.valid()) << describe(v);
    const std::string text = all_text(v);
    EXPECT_TRUE(contains(text, "evil0/layer.tar")) << "the report should name the member:\n" << describe(v);
    EXPECT_TRUE(contains(text, "leave") || contains(text, "outside") || contains(text, "escape"))
        << "the report should say the link leaves the archive:\n" << describe(v);
    // Only layers 1 and 2 were read as tar streams.
    EXPECT_EQ(v.tar_bytes, img.layers[1].tar.size() + img.layers[2].tar.size()) << describe(v);
    auto r = unpack(source_ref(transport::docker_archive, archive), tmp.sub("rootfs"), {});
    ASSERT_FALSE(r) << "unpack accepted an archive whose layer links out of it";
    EXPECT_TRUE(contains(r.error().message(), "evil0/layer.tar")) << r.error().message();
    EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
  }
}

TEST(ValidateSourcesArchive, CompressedArchiveFileIsOperationalFailure) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", plain_layers());
  write_oci_archive(img, tmp.sub("oci.tar"));
  write_docker_archive(img, tmp.sub("docker.tar"));
  write_bytes(tmp.sub("oci.tar.gz"), gzip_bytes(read_bytes(tmp.sub("oci.tar"))));
  write_bytes(tmp.sub("docker.tar.gz"), gzip_bytes(read_bytes(tmp.sub("docker.tar"))));
  for (const auto& ref : {source_ref(transport::oci_archive, tmp.sub("oci.tar.gz"), "t"),
                          source_ref(transport::docker_archive, tmp.sub("docker.tar.gz"))}) {
    SCOPED_TRACE(ref.str());
    const auto v = validate_ref(ref);
    ASSERT_TRUE(v.failure) << describe(v);
    EXPECT_EQ(v.failure->code(), errc::malformed) << v.failure->message();
    EXPECT_TRUE(contains(v.failure->message(), "uncompressed") || contains(v.failure->message(), "compressed"))
        << "the message should say the archive must be an uncompressed tar: " << v.failure->message();
    EXPECT_TRUE(contains(v.failure->message(), ref.path)) << v.failure->message();
    auto r = unpack(ref, tmp.sub("rootfs"), {});
    ASSERT_FALSE(r);
    EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
    const auto cli = run_ocipipe({"validate", ref.str()});
    EXPECT_EQ(cli.exit_code, 2) << cli.describe();
    EXPECT_TRUE(contains(cli.err, "compressed")) << cli.err;
  }
  // A file that is not there: an operational failure as well.
  const auto missing = validate_ref(source_ref(transport::oci_archive, tmp.sub("no-such.tar")));
  ASSERT_TRUE(missing.failure) << describe(missing);
  EXPECT_EQ(missing.failure->code(), errc::not_found) << missing.failure->message();
}

// ---- unpack and create read every source the same ----

TEST(ValidateSourcesUnpack, ArchivesUnpackToTheLayoutsTree) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", rich_layers());
  write_oci_archive(img, tmp.sub("oci.tar"));
  write_docker_archive(img, tmp.sub("docker.tar"));
  docker_archive_options skopeo_like;
  skopeo_like.layer_symlinks = true;
  write_docker_archive(img, tmp.sub("docker-links.tar"), skopeo_like);
  ASSERT_TRUE(validate_ref(img.ref()).valid());

  auto base = unpack(img.ref(), tmp.sub("from-layout"), {});
  ASSERT_TRUE(base) << base.error().message();
  struct source {
    image_reference ref;
    std::string rootfs;
  };
  const std::vector<source> sources = {
      {source_ref(transport::oci_archive, tmp.sub("oci.tar"), "t"), tmp.sub("from-oci-archive")},
      {source_ref(transport::docker_archive, tmp.sub("docker.tar")), tmp.sub("from-docker-archive")},
      {parsed("docker-archive:" + tmp.sub("docker-links.tar") + ":example.com/test:latest"),
       tmp.sub("from-docker-links")}};
  for (const auto& s : sources) {
    SCOPED_TRACE(s.ref.str());
    auto r = unpack(s.ref, s.rootfs, {});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->layers.size(), img.layers.size());
    for (std::size_t i = 0; i < r->layers.size() && i < img.layers.size(); ++i)
      EXPECT_EQ(r->layers[i].diff_id, img.layers[i].diff_id) << i;
    const auto diffs = compare_trees(tmp.sub("from-layout"), s.rootfs);
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
    EXPECT_TRUE(validate_ref(s.ref).valid());
  }
  // The CLI takes them too.
  const auto cli = run_ocipipe({"unpack", "docker-archive:" + tmp.sub("docker-links.tar"), tmp.sub("cli-rootfs")});
  ASSERT_EQ(cli.exit_code, 0) << cli.describe();
  const auto diffs = compare_trees(tmp.sub("from-layout"), tmp.sub("cli-rootfs"));
  EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
}

TEST(ValidateSourcesUnpack, CreateAcceptsArchives) {
  temp_dir tmp;
  config_overrides cfg;
  cfg.cmd = std::vector<std::string>{"/usr/bin/tool"};
  cfg.env = {"A=1"};
  const auto img = build_layout(tmp.sub("layout"), "t", rich_layers(), cfg);
  write_oci_archive(img, tmp.sub("oci.tar"));
  write_docker_archive(img, tmp.sub("docker.tar"));
  auto base = create(img.ref(), tmp.sub("bundle-layout"), {});
  ASSERT_TRUE(base) << base.error().message();
  for (const auto& ref : {source_ref(transport::oci_archive, tmp.sub("oci.tar")),
                          source_ref(transport::docker_archive, tmp.sub("docker.tar"))}) {
    SCOPED_TRACE(ref.str());
    const std::string bundle = tmp.sub(ref.kind == transport::oci_archive ? "bundle-oci" : "bundle-docker");
    auto r = create(ref, bundle, {});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->config_json, base->config_json);
    const auto diffs = compare_trees(tmp.sub("bundle-layout/rootfs"), bundle + "/rootfs");
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }
}

}  // namespace
}  // namespace ocipipe::testing
