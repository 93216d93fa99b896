// ocipipe::validate() on image layouts built in the test (tests/support/image_builder.h),
// each broken in one known way: the finding names the rule, the place (manifest, layer
// index, digest) and stays one finding among all the others. Buglog cases (class 7 and the
// validation side of classes 1, 3 and 6) are named in the comments.

#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

TEST(Validate, GoodLayoutIsValid) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  EXPECT_EQ(v.blobs, 5u);  // manifest, config, three layers
}

// B48: one changed byte is a digest mismatch, named with the layer's index and both digests.
TEST(Validate, FlippedLayerByteReportsBlobDigestAtLayer) {
  for (std::size_t n : {0u, 1u, 2u}) {
    SCOPED_TRACE(n);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", three_layers());
    corrupt_layer_byte(img, n);
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "blob.digest");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_TRUE(contains(found[0].location, layer_location(n))) << found[0].location;
    EXPECT_TRUE(contains(found[0].location, img.layers[n].digest.short_str())) << found[0].location;
    EXPECT_TRUE(contains(found[0].message, img.layers[n].digest.str())) << found[0].message;
    EXPECT_TRUE(contains(found[0].message, sha256_of(read_bytes(img.layer_blob_path(n))).str()))
        << found[0].message;
  }
}

// A changed byte where decoding stops before the blob's end (the gzip trailer: CRC32,
// ISIZE) or bytes appended after it: still a digest mismatch, not only the compression
// error decoding met first (found by a fresh-eyes run; the digest went unchecked).
TEST(Validate, LayerChangedWhereDecodingStopsEarlyReportsBlobDigest) {
  for (const std::string how : {"trailer crc", "trailer size", "appended garbage", "appended garbage, size said"}) {
    SCOPED_TRACE(how);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", three_layers());  // layer 0 is gzip
    const std::string path = img.layer_blob_path(0);
    const std::size_t size = read_bytes(path).size();
    if (how == "trailer crc") corrupt_layer_byte(img, 0, size - 6);
    if (how == "trailer size") corrupt_layer_byte(img, 0, size - 2);
    if (how.starts_with("appended garbage")) write_bytes(path, read_bytes(path) + "garbage");
    if (how == "appended garbage, size said")
      edit_manifest(img, [&](nlohmann::ordered_json& m) { m["layers"][0]["size"] = static_cast<std::int64_t>(size + 7); });
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    // Appended bytes break the size first, which says the same.
    EXPECT_TRUE(has_error_at(v, how == "appended garbage" ? "blob.size" : "blob.digest", layer_location(0)));
  }
}

TEST(Validate, WrongDiffIdReportsLayerDiffId) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  const auto wrong = sha256_of("wrong").str();
  set_wrong_diff_id(img, 1, wrong);
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "layer.diff_id");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_TRUE(contains(found[0].location, layer_location(1))) << found[0].location;
  EXPECT_TRUE(contains(found[0].message, wrong)) << found[0].message;
  EXPECT_TRUE(contains(found[0].message, img.layers[1].diff_id.str())) << found[0].message;
  EXPECT_EQ(v.findings.size(), 1u) << describe(v);
}

// B48: a size that is not the blob's, larger or smaller, is a size mismatch.
TEST(Validate, WrongDescriptorSizeReportsBlobSize) {
  for (const std::int64_t delta : {-1, 1, 1000}) {
    SCOPED_TRACE(delta);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", three_layers());
    set_layer_size(img, 0, img.layers[0].size + delta);
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "blob.size");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(contains(found[0].location, layer_location(0))) << found[0].location;
  }
}

TEST(Validate, MissingBlobReportsBlobMissing) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  const auto missing = point_layer_at_missing_blob(img, 2);
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "blob.missing");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_TRUE(contains(found[0].location, layer_location(2))) << found[0].location;
  EXPECT_TRUE(contains(found[0].location, missing.short_str())) << found[0].location;
}

// B48: a negative size is refused by the document rules, before any blob is read.
TEST(Validate, NegativeSizeIsInvalid) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  set_layer_size(img, 1, -1);
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "descriptor.size.value");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_TRUE(contains(found[0].location, "layers[1].size")) << found[0].location;
  // unpack refuses it too.
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
}

TEST(Validate, DiffIdsCountMismatchReported) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", three_layers());
  edit_config(img, [](nlohmann::ordered_json& c) { c["rootfs"]["diff_ids"].erase(2); });
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "config.rootfs.diff_ids.count").size(), 1u) << describe(v);
}

// B21 and B08 seen by validate: names that climb out of the rootfs (layer.tar.path) and
// empty whiteout names (layer.tar.entry, the whiteout rule).
TEST(Validate, UnsafeTarPathReportsLayerTarPath) {
  for (const auto& [name, rule] : {std::pair<std::string, std::string>{"../x", "layer.tar.path"},
                                   {"a/../../x", "layer.tar.path"},
                                   {".wh.", "layer.tar.entry"},
                                   {"etc/.wh.", "layer.tar.entry"}}) {
    SCOPED_TRACE(name);
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t",
                                  {layer({file("ok", "ok")}), layer({file("fine"), file(name, "x")})});
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, rule);
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(contains(found[0].location, layer_location(1))) << found[0].location;
    EXPECT_TRUE(contains(found[0].message, name)) << found[0].message;
    EXPECT_EQ(v.findings.size(), 1u) << describe(v);
  }
}

TEST(Validate, SeveralProblemsAreAllReported) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t",
                          {layer({file("a", std::string(5000, 'a'))}), layer({file("b", "b")}),
                           layer({file("c", "c")}), layer({file("../d", "d")})});
  corrupt_layer_byte(img, 0);
  set_wrong_diff_id(img, 1);
  point_layer_at_missing_blob(img, 2);
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto digest_found = with_rule(v, "blob.digest");
  const auto diff_id_found = with_rule(v, "layer.diff_id");
  const auto missing_found = with_rule(v, "blob.missing");
  const auto path_found = with_rule(v, "layer.tar.path");
  ASSERT_EQ(digest_found.size(), 1u) << describe(v);
  ASSERT_EQ(diff_id_found.size(), 1u) << describe(v);
  ASSERT_EQ(missing_found.size(), 1u) << describe(v);
  ASSERT_EQ(path_found.size(), 1u) << describe(v);
  EXPECT_TRUE(contains(digest_found[0].location, layer_location(0)));
  EXPECT_TRUE(contains(diff_id_found[0].location, layer_location(1)));
  EXPECT_TRUE(contains(missing_found[0].location, layer_location(2)));
  EXPECT_TRUE(contains(path_found[0].location, layer_location(3)));
}

// manifest.md lets artifacts carry layers of any media type; a reader cannot apply them,
// which is worth a warning, not an invalid image.
TEST(Validate, UnknownArtifactLayerMediaTypeIsWarningOnly) {
  temp_dir tmp;
  auto artifact = layer({}, layer_compression::none);
  artifact.raw_tar = R"({"sbom":"spdx"})";
  artifact.media_type = "application/vnd.example.sbom.v1+json";
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")}), artifact});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  const auto found = with_rule(v, "manifest.layers.mediaType.unknown");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_FALSE(found[0].error);
}

// B42: validate names a compression that disagrees with the media type.
TEST(Validate, CompressionDisagreeingWithMediaTypeReported) {
  struct variant {
    const char* what;
    layer_compression blob;
    std::string_view label;
  };
  for (const auto& v : {variant{"plain tar labelled gzip", layer_compression::none, media_type::layer_tar_gzip},
                        variant{"gzip labelled plain tar", layer_compression::gzip, media_type::layer_tar}}) {
    SCOPED_TRACE(v.what);
    temp_dir tmp;
    auto l = layer({file("a", "a")}, v.blob);
    l.media_type = std::string(v.label);
    const auto img = build_layout(tmp.sub("layout"), "t", {l});
    const auto result = validate_one(img);
    EXPECT_FALSE(result.valid());
    const auto found = with_rule(result, "layer.compression");
    ASSERT_EQ(found.size(), 1u) << describe(result);
    EXPECT_TRUE(contains(found[0].message, "media type")) << found[0].message;
    EXPECT_TRUE(contains(found[0].location, layer_location(0))) << found[0].location;
  }
}

// B44: a truncated gzip layer is reported although its digest and size match.
TEST(Validate, TruncatedGzipReported) {
  temp_dir tmp;
  auto l = layer({file("a", std::string(20000, 'a')), file("b", "b")});
  l.gzip = gzip_form::truncated;
  const auto img = build_layout(tmp.sub("layout"), "t", {l});
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "layer.compression").size(), 1u) << describe(v);
  EXPECT_TRUE(with_rule(v, "blob.digest").empty()) << describe(v);
}

// B45: a manifest whose own mediaType disagrees with its descriptor is reported, and unpack
// refuses to read it as a manifest.
TEST(ValidateMediaType, ManifestMediaTypeDisagreeingWithDescriptorRejected) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  edit_manifest(img, [](nlohmann::ordered_json& m) { m["mediaType"] = media_type::docker_manifest; });
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "descriptor.mediaType.match");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_TRUE(contains(found[0].location, "manifests[0]")) << found[0].location;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "mediaType")) << r.error().message();
}

// B45: one blob carrying both `manifests` and `layers` cannot be a manifest.
TEST(ValidateMediaType, ManifestWithManifestsFieldRejected) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  edit_manifest(img, [](nlohmann::ordered_json& m) {
    m.erase("mediaType");
    m["manifests"] = nlohmann::ordered_json::array();
  });
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "manifest.manifests.forbidden").size(), 1u) << describe(v);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
}

// B50: a tag naming an index of indexes resolves to the platform's manifest; the attestation
// manifest and the unknown entry beside it are no error.
TEST(ValidateNestedIndex, NestedIndexResolvesAndValidates) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("hello", "world")})});
  const auto manifest_digest = img.manifest_digest;
  nest_in_index(img);

  const platform_selector amd64{"linux", "amd64", ""};
  auto resolved = resolve_image(img.ref(), amd64);
  ASSERT_TRUE(resolved) << resolved.error().message();
  EXPECT_EQ(resolved->manifest_descriptor.digest, manifest_digest);
  EXPECT_EQ(resolved->config.diff_ids.size(), 1u);

  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);

  validate_options all;
  all.all = true;
  image_reference untagged = img.ref();
  untagged.tag.clear();
  const auto everything = validate({untagged}, all);
  ASSERT_EQ(everything.size(), 1u);
  EXPECT_TRUE(everything[0].valid()) << describe(everything[0]);
  EXPECT_FALSE(with_rule(everything[0], "descriptor.mediaType.unknown").empty()) << describe(everything[0]);

  unpack_options opts;
  opts.platform = amd64;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), opts);
  ASSERT_TRUE(r) << r.error().message();
}

// B52 (a): a manifest with no layers is a warning (manifest.md says SHOULD) and unpacks to an
// empty rootfs.
TEST(ValidateEmptyImage, ZeroLayersValidAndUnpackToEmptyRootfs) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  const auto found = with_rule(v, "manifest.layers.empty");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_FALSE(found[0].error);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->layers.empty());
  struct stat st{};
  ASSERT_EQ(::stat(tmp.sub("rootfs").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_nlink, 2u);  // empty: only "." and the parent's entry
}

// B52 (b): a manifest without `layers` is an error.
TEST(ValidateEmptyImage, MissingLayersFieldIsError) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {});
  edit_manifest(img, [](nlohmann::ordered_json& m) { m.erase("layers"); });
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "manifest.layers.required").size(), 1u) << describe(v);
  EXPECT_FALSE(unpack(img.ref(), tmp.sub("rootfs"), {}));
}

// B52 (c): an empty tar of 1024 or 10240 zero bytes, plain or compressed, is an empty
// changeset: valid, diff_id checks pass, nothing unpacked.
TEST(ValidateEmptyImage, EmptyTarLayersValidAndUnpackToEmptyRootfs) {
  temp_dir tmp;
  std::vector<layer_spec> layers;
  for (const auto compression : {layer_compression::gzip, layer_compression::zstd, layer_compression::none})
    for (const std::size_t zeros : {1024u, 10240u}) {
      auto l = layer({}, compression);
      l.raw_tar = std::string(zeros, '\0');
      layers.push_back(l);
    }
  layers.push_back(layer({}));  // libarchive's own empty archive
  const auto img = build_layout(tmp.sub("layout"), "t", layers);
  EXPECT_EQ(img.layers[0].diff_id.str(),
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_TRUE(r) << r.error().message();
  for (const auto& l : r->layers) EXPECT_EQ(l.entries, 0u);
}

// The digests every test here relies on are stable: the same spec gives the same bytes.
TEST(ImageBuilder, SameSpecGivesSameDigests) {
  temp_dir a;
  temp_dir b;
  auto spec = three_layers();
  spec[0].entries.push_back(char_device("dev/null", 1, 3));
  spec[0].entries.back().xattrs = {{"user.k", "v"}};
  const auto one = build_layout(a.sub("layout"), "t", spec);
  const auto two = build_layout(b.sub("layout"), "t", spec);
  EXPECT_EQ(one.manifest_digest, two.manifest_digest);
  EXPECT_EQ(one.config_digest, two.config_digest);
  ASSERT_EQ(one.layers.size(), two.layers.size());
  for (std::size_t i = 0; i < one.layers.size(); ++i) EXPECT_EQ(one.layers[i].digest, two.layers[i].digest);
}

}  // namespace
}  // namespace ocipipe::testing
