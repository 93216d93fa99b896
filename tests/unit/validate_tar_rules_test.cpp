// validate()'s checks of a layer's tar stream beyond libarchive's parse: duplicate paths
// (a warning), hardlinks to paths nothing created before them (image-spec layer.md
// "Hardlinks"), header checksums, the end-of-archive marker, bytes after it, and PAX sizes
// disagreeing with the ustar field. Streams come from libarchive (make_tar), cut or patched
// in place where a test needs a fault; the layer's digests and diff_id are computed from the
// patched bytes, so only the tar is wrong.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

// Three plain entries, for the raw stream surgery below.
std::vector<tar_spec_entry> abc() { return {file("a", "hello"), file("b", "world"), file("c", "!")}; }

// ---- duplicate paths ----

TEST(ValidateTarRules, DuplicatePathIsWarningOnly) {
  for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
           {"etc/a", "etc/a"}, {"./etc/a", "etc/a"}, {"etc//a", "etc/a"}}) {
    SCOPED_TRACE(first + " then " + second);
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t",
                                  {layer({dir("etc/"), file(first, "one"), file("etc/b"), file(second, "two")})});
    const auto v = validate_one(img);
    EXPECT_TRUE(v.valid()) << describe(v);
    const auto found = with_rule(v, "layer.tar.duplicate");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_FALSE(found[0].error);
    EXPECT_EQ(found[0].entry, second);
    EXPECT_EQ(found[0].descriptor_path, layer_location(0));
    EXPECT_EQ(v.findings.size(), 1u) << describe(v);
  }
}

TEST(ValidateTarRules, SamePathInTwoLayersIsNoDuplicate) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "1")}), layer({file("a", "2")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
}

TEST(ValidateTarRules, ManyDuplicatesAreCapped) {
  temp_dir tmp;
  std::vector<tar_spec_entry> entries;
  for (int i = 0; i < 20; ++i) entries.push_back(file("same", std::to_string(i)));
  const auto img = build_layout(tmp.sub("layout"), "t", {layer(entries)});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  const auto found = with_rule(v, "layer.tar.duplicate");
  EXPECT_GE(found.size(), 2u) << describe(v);
  EXPECT_LE(found.size(), 10u) << "19 duplicates should be reported a few times and then counted:\n" << describe(v);
}

// ---- hardlinks ----

TEST(ValidateTarRules, HardlinkToLowerLayerPathIsValid) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({dir("usr/"), file("usr/a", "x")}), layer({file("other")}),
                                 layer({hardlink("usr/b", "usr/a")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(with_rule(v, "layer.tar.hardlink").empty()) << describe(v);
}

TEST(ValidateTarRules, HardlinkToEarlierPathInSameLayerIsValid) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({dir("usr/"), file("usr/a", "x"), hardlink("usr/b", "usr/a")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
}

// Names spelled differently from the entry they point at ("./usr/a" for "usr/a") are the
// same path once cleaned, as unpack reads them.
TEST(ValidateTarRules, HardlinkMatchesCleanedPaths) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({file("./usr/a", "x")}), layer({hardlink("./usr/b", "usr//a")}),
                                 layer({hardlink("c", "./usr/b")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(with_rule(v, "layer.tar.hardlink").empty()) << describe(v);
  EXPECT_TRUE(v.valid()) << describe(v);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  EXPECT_TRUE(r) << r.error().message();
}

TEST(ValidateTarRules, HardlinkToPathNeverCreatedBeforeIt) {
  struct variant {
    const char* what;
    std::vector<layer_spec> layers;
    std::size_t layer;
  };
  const std::vector<variant> variants = {
      {"target never created", {layer({file("a")}), layer({hardlink("b", "nowhere")})}, 1},
      {"target only in a higher layer", {layer({hardlink("b", "a")}), layer({file("a")})}, 0},
      {"target later in the same layer", {layer({file("x")}), layer({hardlink("b", "a"), file("a")})}, 1},
  };
  for (const auto& var : variants) {
    SCOPED_TRACE(var.what);
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t", var.layers);
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, "layer.tar.hardlink");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_EQ(found[0].entry, "b");
    // The finding's fields, each on its own and together in `location`.
    EXPECT_EQ(found[0].descriptor_path, layer_location(var.layer));
    EXPECT_EQ(found[0].digest, img.layers[var.layer].digest.str()) << "the full digest";
    EXPECT_EQ(found[0].json_path, "");
    EXPECT_TRUE(contains(found[0].location, layer_location(var.layer))) << found[0].location;
    EXPECT_TRUE(contains(found[0].location, img.layers[var.layer].digest.short_str())) << found[0].location;
    EXPECT_TRUE(contains(found[0].location, "entry \"b\"")) << found[0].location;
    EXPECT_TRUE(contains(found[0].message, "\"" + var.layers[var.layer].entries[0].link_target + "\"") ||
                contains(found[0].message, "\"a\""))
        << found[0].message;
    EXPECT_EQ(v.findings.size(), 1u) << describe(v);
  }
}

// A path a lower layer created and a whiteout in between deleted is not there to link to
// when the layer is applied. Whatever the verdict, validate and unpack must agree on it.
TEST(ValidateTarRules, HardlinkToWhitedOutPathAgreesWithUnpack) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({file("a", "x")}), layer({file(".wh.a")}), layer({hardlink("b", "a")})});
  const auto v = validate_one(img);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  EXPECT_EQ(v.valid(), static_cast<bool>(r))
      << "validate says " << (v.valid() ? "valid" : "invalid") << ", unpack "
      << (r ? std::string("succeeds") : "fails: " + r.error().message()) << "\n" << describe(v);
}

TEST(ValidateTarRules, HardlinkAcrossImagesDoesNotCount) {
  // Two images of one run share the top layer blob; only one has the base layer that
  // creates the link's target. The rule is per image: the other image is told.
  temp_dir tmp;
  const auto with_target = build_layout(tmp.sub("layout"), "with",
                                        {layer({file("a", "x")}), layer({hardlink("b", "a")})});
  const auto without = build_layout(tmp.sub("layout"), "without",
                                    {layer({file("z", "z")}), layer({hardlink("b", "a")})});
  write_shared_index({with_target, without});
  const auto out = validate({with_target.ref(), without.ref()}, {});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].valid()) << describe(out[0]);
  EXPECT_EQ(with_rule(out[1], "layer.tar.hardlink").size(), 1u) << describe(out[1]);
}

// ---- header checksum ----

TEST(ValidateTarRules, CorruptHeaderChecksumIsReported) {
  for (const auto compression : {layer_compression::none, layer_compression::gzip}) {
    SCOPED_TRACE(layer_media_type(compression));
    std::string tar = make_tar(abc());
    const auto headers = tar_entry_headers(tar);
    ASSERT_EQ(headers.size(), 3u);
    ASSERT_EQ(tar[headers[1]], 'b');
    tar[headers[1]] = 'x';  // the name changes, the chksum field does not
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("ok", "ok")}), raw_layer(tar, compression)});
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid()) << describe(v);
    const auto checksum = with_rule(v, "layer.tar.checksum");
    const auto tar_rule = with_rule(v, "layer.tar");
    EXPECT_FALSE(checksum.empty() && tar_rule.empty()) << describe(v);
    EXPECT_FALSE(checksum.empty()) << "reported only as:\n" << describe(v);
    for (const auto& f : v.findings) {
      EXPECT_EQ(f.descriptor_path, layer_location(1)) << describe(v);
      EXPECT_NE(f.rule, "blob.digest") << describe(v);
      EXPECT_NE(f.rule, "layer.diff_id") << describe(v);
    }
    if (!checksum.empty()) {
      EXPECT_TRUE(checksum[0].error);
      EXPECT_EQ(checksum[0].entry, "x") << "the header as it stands names \"x\"";
      EXPECT_TRUE(contains(checksum[0].message, std::to_string(headers[1]))) << checksum[0].message;
    }
    ::testing::Test::RecordProperty(std::string("checksum_rules_") +
                                        (compression == layer_compression::none ? "plain" : "gzip"),
                                    describe(v));
    // unpack refuses it.
    EXPECT_FALSE(unpack(img.ref(), tmp.sub("rootfs"), {}));
  }
}

// ---- end of archive ----

TEST(ValidateTarRules, MissingEndOfArchiveIsError) {
  std::string tar = make_tar(abc());
  tar.resize(tar_entries_end(tar));
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {raw_layer(tar, layer_compression::none)});
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  const auto found = with_rule(v, "layer.tar.eoa");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_TRUE(found[0].error);
  EXPECT_EQ(found[0].descriptor_path, layer_location(0));
  EXPECT_EQ(found[0].digest, img.layers[0].digest.str());
}

TEST(ValidateTarRules, SingleZeroBlockIsWarning) {
  std::string tar = make_tar(abc());
  tar.resize(tar_entries_end(tar) + 512);
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {raw_layer(tar, layer_compression::none)});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  const auto found = with_rule(v, "layer.tar.eoa");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_FALSE(found[0].error);
}

TEST(ValidateTarRules, LibarchivePaddingIsFine) {
  // libarchive pads to 10240 bytes; exactly two zero blocks is the minimum.
  for (const bool minimal : {false, true}) {
    SCOPED_TRACE(minimal ? "two zero blocks" : "10240-byte record");
    std::string tar = make_tar(abc());
    if (minimal) tar.resize(tar_entries_end(tar) + 1024);
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t", {raw_layer(tar, layer_compression::none)});
    const auto v = validate_one(img);
    EXPECT_TRUE(v.valid()) << describe(v);
    EXPECT_TRUE(v.findings.empty()) << describe(v);
  }
}

TEST(ValidateTarRules, BytesAfterEndOfArchiveAreReported) {
  struct variant {
    const char* what;
    std::function<void(std::string&)> edit;
  };
  const std::vector<variant> variants = {
      {"a byte in the padding", [](std::string& t) { t[tar_entries_end(t) + 1024 + 100] = 'X'; }},
      {"a second archive appended", [](std::string& t) { t += make_tar({file("hidden", "hidden")}); }},
      {"junk appended", [](std::string& t) { t += "junk"; }},
  };
  for (const auto& var : variants) {
    SCOPED_TRACE(var.what);
    std::string tar = make_tar(abc());
    var.edit(tar);
    temp_dir tmp;
    const auto img =
        build_layout(tmp.sub("layout"), "t", {raw_layer(tar, layer_compression::none), layer({file("top")})});
    const auto v = validate_one(img);
    const auto found = with_rule(v, "layer.tar.trailing_data");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_EQ(found[0].descriptor_path, layer_location(0));
    ::testing::Test::RecordProperty(std::string("trailing_data_severity"), found[0].error ? "error" : "warning");
    EXPECT_TRUE(found[0].error) << "bytes after the end-of-archive marker should be an error: " << describe(v);
    EXPECT_TRUE(with_rule(v, "layer.diff_id").empty()) << describe(v);
  }
}

// ---- PAX size against the ustar size ----

TEST(ValidateTarRules, PaxSizeDisagreeingWithUstarIsReported) {
  auto a = file("a", "hello");
  a.pax_size = 5;       // the truth, which libarchive follows
  a.ustar_size = 1024;  // what a ustar-only reader would follow
  for (const auto compression : {layer_compression::none, layer_compression::zstd}) {
    SCOPED_TRACE(layer_media_type(compression));
    temp_dir tmp;
    const auto img = build_layout(tmp.sub("layout"), "t", {layer({a, file("b", "world")}, compression)});
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid()) << describe(v);
    const auto found = with_rule(v, "layer.tar.pax_size");
    ASSERT_EQ(found.size(), 1u) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_EQ(found[0].entry, "a") << found[0].location;
    EXPECT_EQ(found[0].descriptor_path, layer_location(0));
    EXPECT_EQ(found[0].digest, img.layers[0].digest.str());
    EXPECT_TRUE(contains(found[0].location, "entry \"a\"")) << found[0].location;
    EXPECT_TRUE(contains(found[0].message, "1024")) << found[0].message;
  }
}

TEST(ValidateTarRules, PaxSizeAgreeingWithUstarIsFine) {
  auto a = file("a", "hello");
  a.pax_size = 5;
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({a, file("b", "world")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
}

// The rules apply inside archives too.
TEST(ValidateTarRules, RulesApplyInDockerArchive) {
  temp_dir tmp;
  std::string tar = make_tar(abc());
  tar.resize(tar_entries_end(tar));
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {raw_layer(tar, layer_compression::none),
                                 layer({file("a", "1"), file("a", "2"), hardlink("h", "nope")},
                                       layer_compression::none)});
  write_docker_archive(img, tmp.sub("saved.tar"));
  image_reference ref;
  ref.kind = transport::docker_archive;
  ref.path = tmp.sub("saved.tar");
  const auto v = validate({ref}, {}).at(0);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "layer.tar.eoa").size(), 1u) << describe(v);
  EXPECT_EQ(with_rule(v, "layer.tar.duplicate").size(), 1u) << describe(v);
  const auto hl = with_rule(v, "layer.tar.hardlink");
  ASSERT_EQ(hl.size(), 1u) << describe(v);
  EXPECT_EQ(hl[0].entry, "h");
  EXPECT_TRUE(contains(hl[0].descriptor_path, "Layers[1]")) << hl[0].location;
  EXPECT_EQ(hl[0].digest, img.layers[1].diff_id.str());
}

}  // namespace
}  // namespace ocipipe::testing
