// ocipipe::validate() on the buglog cases of classes 4 (tar format), 6 (compression) and 7
// (validation) (shared/cases/buglog.md): each input is built here from code, and each test
// asserts the verdict, the rule id (README "Validation rules") and that the finding names
// the layer or document it is about. Cases already covered by validate_test.cpp and
// hostile_input_test.cpp (B42 in its OCI forms, B44 cut mid-stream, B45's embedded
// mediaType, B48 layer sizes and a changed byte, B50's nested index, B52 a/b and the
// libdeflate/zstd empty tars) are not repeated; what their recipes ask beyond those is here.
// The 8 GiB entries of B24/B25 and the 2 GiB bomb of B43 are in
// tests/slow/buglog_big_test.cpp; B24/B25 are also fed to the header check here,
// lazily, so the default suite sees them too.

#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "stages/oci/media_type.h"
#include "stages/tar_header_check.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

// ---- validating ----

image_validation validate_tag(const built_image& img, const std::string& tag, validate_options opts = {}) {
  auto ref = img.ref();
  ref.tag = tag;
  return validate_ref(ref, opts);
}

std::size_t errors_in(const image_validation& v) {
  std::size_t n = 0;
  for (const auto& f : v.findings) n += f.error;
  return n;
}

ordered_json descriptor_json(std::string_view mt, const digest& d, std::size_t size) {
  return ordered_json{{"mediaType", mt}, {"digest", d.str()}, {"size", static_cast<std::int64_t>(size)}};
}

// Stores `blob` as layer `n`'s blob (already compressed as `media_type` says, or not, on
// purpose), pointing the manifest at it; the config's diff_id stays that of the layer's tar.
void replace_layer_blob(built_image& img, std::size_t n, const std::string& blob, std::string_view media_type) {
  const auto d = write_blob(img, blob);
  edit_manifest(img, [&](ordered_json& m) { m["layers"].at(n) = descriptor_json(media_type, d, blob.size()); });
  img.layers.at(n).digest = d;
  img.layers.at(n).size = static_cast<std::int64_t>(blob.size());
  img.layers.at(n).media_type = std::string(media_type);
}

// index.json with these entries, as given.
void write_index(const built_image& img, const ordered_json& manifests) {
  const ordered_json index{{"schemaVersion", 2}, {"mediaType", media_type::image_index}, {"manifests", manifests}};
  write_bytes(img.dir + "/index.json", index.dump());
}

ordered_json tagged(ordered_json desc, const std::string& tag) {
  desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
  return desc;
}

// ---- compressors other than image_builder's libdeflate ----

// gzip by the gzip program (GNU gzip), `-n` for no name and no mtime.
std::string gzip_cli(const temp_dir& tmp, const std::string& bytes) {
  const auto in = tmp.sub("gzip-in");
  write_bytes(in, bytes);
  run_options opts;
  opts.stdin_path = in;
  const auto r = run_command({"gzip", "-n", "-6", "-c"}, opts);
  if (!r.ok()) throw std::runtime_error("gzip -n: " + r.describe());
  return r.out;
}

constexpr long rss_bound_kib = 200 * 1024;

// =====================================================================================
// Class 4: tar format edge cases
// =====================================================================================

// A complete tar member for "smuggled": what a reader that trusts the ustar size field
// takes for the next header.
std::string smuggled_member() { return tar_file("smuggled", "evil\n"); }

// B26 (a): a PAX size of 2048 governs file_a, whose ustar size field says 0; file_a's 2048
// bytes hold a complete header and data for "smuggled", which a reader trusting the ustar
// field lists as a file of its own.
TEST(ValidateBuglogTar, PaxSizeOverridingUstarSizeZeroIsFlagged) {
  temp_dir tmp;
  auto a = file("file_a", pad512(smuggled_member() + std::string(1024, '\0')));
  ASSERT_EQ(a.content.size(), 2048u);
  a.pax_size = 2048;
  a.ustar_size = 0;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({file("ok", "ok")}), layer({a, file("file_b", std::string(16, 'b'))})});
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  EXPECT_TRUE(has_error_at(v, "layer.tar.pax_size", layer_location(1)));
  const auto found = with_rule(v, "layer.tar.pax_size");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].entry, "file_a");
  EXPECT_TRUE(contains(found[0].message, "2048")) << found[0].message;
  EXPECT_EQ(v.findings.size(), 1u) << describe(v);
}

// B26 (b): a PAX size record, then a GNU `L` long-name header (13 bytes: longname.txt),
// then file_a (ustar size 16, 2048 bytes of data by the PAX record), then file_b. The
// pending record does not resize the `L` header; it governs file_a, whose ustar field
// disagrees.
TEST(ValidateBuglogTar, PaxSizeAcrossGnuLongNameHeaderIsFlagged) {
  temp_dir tmp;
  const std::string tar =
      finish_tar(pax_header("file_a", pax_record("size", "2048")) +
                 tar_header({"././@LongLink", 13, 'L', true}) + pad512(std::string("longname.txt\0", 13)) +
                 tar_header({"file_a", 16, '0', true}) + std::string(2048, 'A') +
                 tar_file("file_b", std::string(16, 'b'), true));
  const auto img = build_layout(tmp.sub("layout"), "t", {raw_layer(tar, layer_compression::gzip)});
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  EXPECT_TRUE(has_error_at(v, "layer.tar.pax_size", layer_location(0)));
  const auto found = with_rule(v, "layer.tar.pax_size");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].entry, "longname.txt");
  EXPECT_EQ(v.findings.size(), 1u) << describe(v);
}

// B26 (c): the ustar size is not zero but differs from the PAX size (512 against 2048): a
// reader trusting it finds "smuggled" at file_a's data + 512.
TEST(ValidateBuglogTar, PaxSizeDifferingFromNonZeroUstarSizeIsFlagged) {
  temp_dir tmp;
  auto a = file("file_a", std::string(512, 'a') + smuggled_member() + std::string(512, '\0'));
  ASSERT_EQ(a.content.size(), 2048u);
  a.pax_size = 2048;
  a.ustar_size = 512;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({a, file("file_b", std::string(16, 'b'))})});
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  EXPECT_TRUE(has_error_at(v, "layer.tar.pax_size", layer_location(0)));
  const auto found = with_rule(v, "layer.tar.pax_size");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].entry, "file_a");
  EXPECT_TRUE(contains(found[0].message, "512")) << found[0].message;
  EXPECT_EQ(v.findings.size(), 1u) << describe(v);
}

// B26 control: a PAX size equal to the ustar size (what every writer emits) is no finding.
TEST(ValidateBuglogTar, PaxSizeAgreeingWithUstarSizeIsValid) {
  temp_dir tmp;
  auto a = file("file_a", std::string(2048, 'a'));
  a.pax_size = 2048;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({a, file("file_b", "b")})});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
}

// Feeds the header check a tar made of blocks and zero runs, the zeros from one 1 MiB
// buffer (the check skips data arithmetically, so 8 GiB cost no memory and little time).
struct lazy_tar {
  std::vector<std::pair<std::string, std::uint64_t>> parts;  // bytes, then that many zeros
  void bytes(std::string b) { parts.emplace_back(std::move(b), 0); }
  void zeros(std::uint64_t n) { parts.emplace_back(std::string(), n); }
  std::vector<tar_header_problem> check(std::uint64_t* headers) const {
    static const std::string zero_mib(1 << 20, '\0');
    tar_header_check c;
    for (const auto& [b, n] : parts) {
      c.feed(std::as_bytes(std::span(b.data(), b.size())));
      for (std::uint64_t left = n; left > 0;) {
        const auto k = std::min<std::uint64_t>(left, zero_mib.size());
        c.feed(std::as_bytes(std::span(zero_mib.data(), static_cast<std::size_t>(k))));
        left -= k;
      }
    }
    auto out = c.finish();
    *headers = c.headers();
    return out;
  }
};

std::string problems_text(const std::vector<tar_header_problem>& ps) {
  std::string s;
  for (const auto& p : ps) s += p.rule + " @" + std::to_string(p.offset) + " [" + p.entry + "] " + p.message + "\n";
  return s;
}

constexpr std::uint64_t eight_gib = std::uint64_t{1} << 33;

// B24 at the header level (the full validate run is in the slow suite): big0 of 8 GiB - 1
// (the largest 11-digit octal size), big1 of exactly 8 GiB with its size in a PAX record
// (ustar field 0, as GNU tar writes it) or in a GNU base-256 field, then a small file: no
// problem, and the header after 16 GiB of data is found.
TEST(ValidateBuglogTarHeader, EightGiBEntriesInPaxAndBase256AreWalked) {
  for (const bool base256 : {false, true}) {
    SCOPED_TRACE(base256 ? "base-256" : "pax");
    lazy_tar t;
    t.bytes(tar_header({"big0", eight_gib - 1, '0', base256}));
    t.zeros(eight_gib - 1 + padding_of(eight_gib - 1));
    if (base256) {
      t.bytes(tar_header({"big1", eight_gib, '0', true, size_encoding::base256}));
    } else {
      t.bytes(pax_header("big1", pax_record("size", std::to_string(eight_gib))));
      t.bytes(tar_header({"big1", eight_gib, '0', false, size_encoding::zero}));
    }
    t.zeros(eight_gib);
    t.bytes(tar_file("after.txt", "after\n", base256) + std::string(1024, '\0'));
    std::uint64_t headers = 0;
    const auto ps = t.check(&headers);
    EXPECT_TRUE(ps.empty()) << problems_text(ps);
    EXPECT_EQ(headers, base256 ? 3u : 4u);
  }
}

// B25 at the header level: a PAX size of 8 GiB + 1 overrides the ustar field 0; the data
// and padding are skipped by the PAX size and after.txt's header is found.
TEST(ValidateBuglogTarHeader, PaxSizeOverEightGiBOverridesUstarZero) {
  lazy_tar t;
  t.bytes(pax_header("big", pax_record("size", std::to_string(eight_gib + 1))));
  t.bytes(tar_header({"big", 0, '0', false, size_encoding::zero}));
  t.zeros(eight_gib + 1 + padding_of(eight_gib + 1));
  t.bytes(tar_file("after.txt", "after\n") + std::string(1024, '\0'));
  std::uint64_t headers = 0;
  const auto ps = t.check(&headers);
  EXPECT_TRUE(ps.empty()) << problems_text(ps);
  EXPECT_EQ(headers, 3u);
}

// A GNU old-format sparse member (typeflag S, --sparse --format=gnu): `real_size` bytes
// logically, the data regions in the header's four map slots (no extension blocks here).
std::string gnu_sparse_member(const std::string& name, std::uint64_t real_size,
                              const std::vector<std::pair<std::uint64_t, std::string>>& regions) {
  std::string data;
  for (const auto& r : regions) data += r.second;
  std::string h = tar_header({name, data.size(), 'S', true});
  for (std::size_t i = 0; i < regions.size() && i < 4; ++i) {
    put_octal(h, 386 + i * 24, 12, regions[i].first);
    put_octal(h, 386 + i * 24 + 12, 12, regions[i].second.size());
  }
  h[482] = '\0';  // isextended
  put_octal(h, 483, 12, real_size);
  fix_tar_checksum(h, 0);
  return h + pad512(data);
}

constexpr std::int64_t sparse_size = 10 << 20;
constexpr std::int64_t sparse_at = 7340037;  // a fixed "random" offset, not block-aligned

// B28: sparse members, (a) PAX 1.0 (--sparse --format=posix: stored name
// GNUSparseFile.0/<name>, GNU.sparse.* records, the map at the start of the data) and (b)
// GNU (typeflag S), a 10 MiB file with 4 bytes of data. layer.md: sparse files SHOULD NOT be
// used; validate today reads them through libarchive, which restores the real name and size,
// and passes them: valid, no finding (not even a warning), the diff_id checked over the
// stored stream; unpack restores name, size and holes.
TEST(ValidateBuglogTar, SparseMembersAreReadAndDiffIdsChecked) {
  temp_dir tmp;
  std::string content(sparse_size, '\0');
  std::memcpy(content.data() + sparse_at, "DATA", 4);
  auto pax_sparse = file("usr/share/pax-sparse", content);
  pax_sparse.sparse_data = {{sparse_at, 4}};
  const std::string gnu_tar = finish_tar(
      gnu_sparse_member("usr/share/gnu-sparse", sparse_size,
                        {{static_cast<std::uint64_t>(sparse_at), "DATA"}, {sparse_size, ""}}) +
      tar_file("after-sparse", "x", true));
  auto img = build_layout(tmp.sub("layout"), "t",
                          {layer({dir("usr/"), dir("usr/share/"), pax_sparse, file("after-pax", "y")}),
                           raw_layer(gnu_tar, layer_compression::gzip),
                           // The names after the sparse members were read where they are:
                           // hardlinks to them need them in a lower layer (layer.tar.hardlink).
                           layer({hardlink("l1", "after-pax"), hardlink("l2", "after-sparse"),
                                  hardlink("l3", "usr/share/pax-sparse"), hardlink("l4", "usr/share/gnu-sparse")})});
  // The PAX 1.0 form really is one: the stored name and the records libarchive writes.
  EXPECT_TRUE(contains(img.layers[0].tar, "GNUSparseFile.0/pax-sparse")) << "not a PAX 1.0 sparse entry";
  EXPECT_TRUE(contains(img.layers[0].tar, "GNU.sparse.realsize=10485760"));
  EXPECT_LT(img.layers[0].tar.size(), 64u * 1024) << "holes were stored";
  auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  // Sparse entries are a warning (layer.md: SHOULD NOT), nothing else.
  for (const auto& f : v.findings) EXPECT_EQ(f.rule, "layer.tar.sparse") << describe(v);
  EXPECT_FALSE(v.findings.empty()) << describe(v);
  EXPECT_EQ(v.tar_bytes, img.layers[0].tar.size() + img.layers[1].tar.size() + img.layers[2].tar.size());

  // unpack agrees: the real names, the full logical size, zeros in the holes, no
  // GNUSparseFile.0 directory.
  {
    auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
    ASSERT_TRUE(r) << r.error().message();
    for (const char* name : {"usr/share/pax-sparse", "usr/share/gnu-sparse"}) {
      SCOPED_TRACE(name);
      const auto got = read_bytes(tmp.sub(std::string("rootfs/") + name));
      ASSERT_EQ(got.size(), static_cast<std::size_t>(sparse_size));
      EXPECT_TRUE(got == content) << "data or holes differ";
    }
    EXPECT_FALSE(path_exists(tmp.sub("rootfs/GNUSparseFile.0")));
    EXPECT_FALSE(path_exists(tmp.sub("rootfs/usr/share/GNUSparseFile.0")));
  }

  // The diff_id check is done on them: a wrong one is found at each sparse layer.
  set_wrong_diff_id(img, 0);
  set_wrong_diff_id(img, 1);
  v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(with_rule(v, "layer.diff_id").size(), 2u) << describe(v);
  EXPECT_TRUE(has_error_at(v, "layer.diff_id", "manifests[0].layers["));
}

// B29 (a): a PAX `x` header claiming a 4 GiB body, in a small layer: skipped past the 1 MiB
// cap without allocating it; invalid with layer.tar; bounded memory.
TEST(ValidateBuglogTar, PaxHeaderClaimingGigabytesIsRefusedInBoundedMemory) {
  temp_dir tmp;
  auto bomb = file("bomb", "x");
  bomb.pax_header_size = std::uint64_t{4} << 30;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer({file("ok", "ok")}), layer({bomb, file("after")})});
  rss_watch rss;
  const auto v = validate_one(img);
  EXPECT_LT(rss.growth_kib(), rss_bound_kib) << rss.describe();
  EXPECT_FALSE(v.valid()) << describe(v);
  // Over the PAX header cap: a limit, stopped before libarchive allocates it.
  EXPECT_TRUE(has_error_at(v, "layer.limits", layer_location(1)));
  for (const auto& f : v.findings) EXPECT_TRUE(contains(f.location, layer_location(1))) << describe(v);
}

// B29 (b): a PAX 1.0 sparse entry whose map (at the start of its data) lists three million
// one-byte regions. Go caps sparse maps; validate must end cleanly in bounded memory.
TEST(ValidateBuglogTar, SparseMapWithMillionsOfRegionsIsRefusedInBoundedMemory) {
  constexpr std::uint64_t regions = 3'000'000;
  std::string map = std::to_string(regions) + "\n";
  map.reserve(regions * 18);
  for (std::uint64_t i = 0; i < regions; ++i) map += std::to_string(2 * i) + "\n1\n";
  const std::string data = pad512(map) + std::string(regions, 'd');
  const std::string records = pax_record("GNU.sparse.major", "1") + pax_record("GNU.sparse.minor", "0") +
                              pax_record("GNU.sparse.name", "bomb") +
                              pax_record("GNU.sparse.realsize", std::to_string(2 * regions));
  std::string tar = pax_header("bomb", records) + tar_header({"GNUSparseFile.0/bomb", data.size()});
  tar += data;
  tar = finish_tar(pad512(std::move(tar)) + tar_file("after", "a"));
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer({file("ok", "ok")}), raw_layer(std::move(tar), layer_compression::none)});
  rss_watch rss;
  const auto v = validate_one(img);
  EXPECT_LT(rss.growth_kib(), rss_bound_kib) << rss.describe();
  EXPECT_FALSE(v.valid()) << describe(v);
  const bool tar_rule = !with_rule(v, "layer.tar").empty();
  const bool limits_rule = !with_rule(v, "layer.limits").empty();
  EXPECT_TRUE(tar_rule || limits_rule) << describe(v);
  if (tar_rule) {
    EXPECT_TRUE(has_error_at(v, "layer.tar", layer_location(1)));
  }
  if (limits_rule) {
    EXPECT_TRUE(has_error_at(v, "layer.limits", layer_location(1)));
  }
}

// =====================================================================================
// Class 6: compression
// =====================================================================================

// B39: the layer tar split at every 1 MiB, each part gzipped on its own, the members
// concatenated (pigz --independent, mgzip). All members are decoded: valid, the diff_id
// over the whole tar matches, every tar byte is counted.
TEST(ValidateBuglogCompression, MultiMemberGzipAtOneMiBIsValid) {
  temp_dir tmp;
  splitmix64 rng{39};
  const std::vector<tar_spec_entry> entries = {file("a", rng.bytes(1300000)), file("b", rng.bytes(1300000)),
                                               file("c", rng.bytes(900000)), file("tail", "last")};
  auto img = build_layout(tmp.sub("layout"), "t", {layer(entries, layer_compression::none), layer({file("x", "x")})});
  const std::string tar = img.layers[0].tar;
  std::string blob;
  std::size_t members = 0;
  for (std::size_t off = 0; off < tar.size(); off += 1 << 20, ++members)
    blob += gzip_bytes(tar.substr(off, 1 << 20));
  ASSERT_EQ(members, 4u);
  replace_layer_blob(img, 0, blob, media_type::layer_tar_gzip);
  auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  EXPECT_EQ(v.tar_bytes, tar.size() + img.layers[1].tar.size());

  // A member decoded short would change the diff_id: a wrong one is caught at this layer.
  set_wrong_diff_id(img, 0);
  v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "layer.diff_id", layer_location(0)));
}

// B39 with image_builder's own two-member form (the halves of the tar).
TEST(ValidateBuglogCompression, TwoMemberGzipIsValid) {
  temp_dir tmp;
  auto l = layer({file("a", std::string(50000, 'a')), file("b", "b")});
  l.gzip = gzip_form::multi_member;
  const auto img = build_layout(tmp.sub("layout"), "t", {l});
  const auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  EXPECT_EQ(v.tar_bytes, img.layers[0].tar.size());
}

// Turns the OCI image into its Docker v2.2 form: manifest, config and layer media types, the
// index entry naming the Docker manifest type.
void make_docker_v22(built_image& img) {
  edit_config(img, [](ordered_json&) {});
  img.manifest["mediaType"] = media_type::docker_manifest;
  img.manifest["config"]["mediaType"] = media_type::docker_config;
  for (auto& l : img.manifest["layers"]) l["mediaType"] = media_type::docker_layer_gzip;
  const std::string bytes = img.manifest.dump();
  img.manifest_digest = write_blob(img, bytes);
  img.manifest_size = static_cast<std::int64_t>(bytes.size());
  write_index(img, ordered_json::array({tagged(descriptor_json(media_type::docker_manifest, img.manifest_digest,
                                                               bytes.size()),
                                               img.tag)}));
}

// B42 (A) in Docker's names: a Docker v2.2 image whose layer says
// `application/vnd.docker.image.rootfs.diff.tar.gzip` while the blob is a plain tar. The
// mismatch is named (layer.compression, at the layer), the rest of the image is fine.
TEST(ValidateBuglogCompression, DockerGzipMediaTypeOnPlainTarIsFlagged) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t",
                          {layer({file("a", "a")}, layer_compression::none), layer({file("b", "b")})});
  make_docker_v22(img);
  auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  EXPECT_TRUE(has_error_at(v, "layer.compression", layer_location(0)));
  EXPECT_TRUE(contains(with_rule(v, "layer.compression").at(0).message, "media type"));
  EXPECT_EQ(errors_in(v), 1u) << describe(v);
}

// B42: "the diff_ids check is always done on the uncompressed stream". Both directions, OCI
// and Docker names: with the right diff_ids only layer.compression is reported; with a wrong
// one the diff_id mismatch is reported too, and every tar byte was digested.
TEST(ValidateBuglogCompression, MislabelledCompressionStillChecksDiffId) {
  struct variant {
    const char* what;
    layer_compression blob;
    std::string_view label;
  };
  for (const auto& c : {variant{"plain tar labelled OCI gzip", layer_compression::none, media_type::layer_tar_gzip},
                        variant{"plain tar labelled Docker gzip", layer_compression::none, media_type::docker_layer_gzip},
                        variant{"gzip labelled plain tar", layer_compression::gzip, media_type::layer_tar}}) {
    SCOPED_TRACE(c.what);
    temp_dir tmp;
    auto l = layer({file("a", std::string(3000, 'a')), file("b", "b")}, c.blob);
    l.media_type = std::string(c.label);
    auto img = build_layout(tmp.sub("layout"), "t", {layer({file("ok", "ok")}), l});
    auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(has_error_at(v, "layer.compression", layer_location(1)));
    EXPECT_TRUE(with_rule(v, "layer.diff_id").empty()) << describe(v);
    EXPECT_EQ(v.tar_bytes, img.layers[0].tar.size() + img.layers[1].tar.size())
        << "the mislabelled layer's uncompressed stream was not digested";

    set_wrong_diff_id(img, 1);
    v = validate_one(img);
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(has_error_at(v, "layer.compression", layer_location(1)));
    EXPECT_TRUE(has_error_at(v, "layer.diff_id", layer_location(1)));
  }
}

// A tar of one regular file of `size` zero bytes, gzipped by ISA-L as it is made, never
// holding the uncompressed stream: the blob and the tar's diff_id and length.
layer_stream_writer::result zero_file_bomb(std::uint64_t size) {
  fast_gzip_writer w;
  w.bytes(tar_header({"zeros", size}));
  w.zeros(size + padding_of(size));
  w.end_archive();
  return w.finish();
}

// B43, scaled to the default suite (the 2 GiB bomb is in the slow suite): one file of 256 MiB
// of zeros gzipped to a few hundred KiB, correctly described. validate has no limit on
// decompressed bytes (its decompressor's cap is 1 TiB): it reads it all, finds it valid,
// and its memory does not grow with the stream.
TEST(ValidateBuglogCompression, GzipBombIsReadInBoundedMemory) {
  temp_dir tmp;
  const auto b = zero_file_bomb(std::uint64_t{256} << 20);
  ASSERT_LT(b.blob.size(), 1u << 20);
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("ok", "ok")}), layer({file("placeholder")})});
  replace_layer_blob(img, 1, b.blob, media_type::layer_tar_gzip);
  set_wrong_diff_id(img, 1, b.diff_id.str());
  rss_watch rss;
  auto v = validate_one(img);
  EXPECT_LT(rss.growth_kib(), rss_bound_kib) << rss.describe();
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  EXPECT_EQ(v.tar_bytes, b.tar_bytes + img.layers[0].tar.size());
}

// Cuts a gzip layer blob: `keep` of its bytes, then points the descriptor at the cut blob so
// its digest and size match.
void cut_layer_blob(built_image& img, std::size_t n, std::size_t keep) {
  const auto whole = read_bytes(img.layer_blob_path(n));
  ASSERT_LT(keep, whole.size());
  replace_layer_blob(img, n, whole.substr(0, keep), img.layers[n].media_type);
}

// B44: a gzip layer truncated anywhere (inside the header, in the deflate data, right after
// the last deflate block with no CRC32/ISIZE trailer, halfway through the trailer), its
// descriptor describing the cut bytes: never success, always layer.compression at the layer,
// the blob digest itself fine.
TEST(ValidateBuglogCompression, GzipTruncatedAtAnyPointIsFlagged) {
  temp_dir probe;
  splitmix64 rng{44};
  const std::vector<tar_spec_entry> entries = {file("a", rng.bytes(40000)), file("b", std::string(20000, 'b'))};
  const auto whole = gzip_bytes(make_tar(entries));
  for (const std::size_t keep : {std::size_t{5}, std::size_t{10}, whole.size() / 3, whole.size() / 2,
                                 whole.size() - 8, whole.size() - 4, whole.size() - 1}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(whole.size()) + " bytes");
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", {layer({file("ok", "ok")}), layer(entries)});
    ASSERT_EQ(img.layers[1].size, static_cast<std::int64_t>(whole.size()));
    cut_layer_blob(img, 1, keep);
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(has_error_at(v, "layer.compression", layer_location(1)));
    EXPECT_TRUE(with_rule(v, "blob.digest").empty()) << describe(v);
    EXPECT_TRUE(with_rule(v, "blob.size").empty()) << describe(v);
  }
}

// =====================================================================================
// Class 7: validation
// =====================================================================================

// B45: one JSON blob with schemaVersion, config, layers and manifests and no mediaType,
// referenced once by an index descriptor and once by a manifest descriptor: neither reading
// accepts it.
TEST(ValidateBuglogDocuments, ManifestAndIndexInOneBlobIsRejectedEitherWay) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  ordered_json both = img.manifest;
  both.erase("mediaType");
  both["manifests"] = ordered_json::array({descriptor_json(media_type::image_manifest, img.manifest_digest,
                                                           static_cast<std::size_t>(img.manifest_size))});
  const std::string bytes = both.dump();
  const auto d = write_blob(img, bytes);
  write_index(img, ordered_json::array({tagged(descriptor_json(media_type::image_index, d, bytes.size()), "as-index"),
                                        tagged(descriptor_json(media_type::image_manifest, d, bytes.size()),
                                               "as-manifest")}));
  const auto as_index = validate_tag(img, "as-index");
  EXPECT_FALSE(as_index.valid()) << describe(as_index);
  EXPECT_TRUE(has_error_at(as_index, "index.config.forbidden", "manifests[0]"));
  EXPECT_TRUE(has_error_at(as_index, "index.layers.forbidden", "manifests[0]"));

  const auto as_manifest = validate_tag(img, "as-manifest");
  EXPECT_FALSE(as_manifest.valid()) << describe(as_manifest);
  EXPECT_TRUE(has_error_at(as_manifest, "manifest.manifests.forbidden", "manifests[1]"));

  // unpack refuses both readings.
  for (const char* tag : {"as-index", "as-manifest"}) {
    auto ref = img.ref();
    ref.tag = tag;
    EXPECT_FALSE(unpack(ref, tmp.sub(std::string("rootfs-") + tag), {})) << tag;
  }
}

// B45 variant: an index whose own mediaType (the manifest type) differs from the index
// descriptor that names it. The schema rule for an index's mediaType names it (index.mediaType);
// the document is not read further.
TEST(ValidateBuglogDocuments, IndexMediaTypeDisagreeingWithDescriptorIsRejected) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  ordered_json child = descriptor_json(media_type::image_manifest, img.manifest_digest,
                                       static_cast<std::size_t>(img.manifest_size));
  child["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  const ordered_json index{{"schemaVersion", 2},
                           {"mediaType", media_type::image_manifest},
                           {"manifests", ordered_json::array({child})}};
  const std::string bytes = index.dump();
  const auto d = write_blob(img, bytes);
  write_index(img, ordered_json::array({tagged(descriptor_json(media_type::image_index, d, bytes.size()), "t")}));
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid()) << describe(v);
  EXPECT_TRUE(has_error_at(v, "index.mediaType", "manifests[0]"));
}

// The digest forms of B47, each with the rule that refuses it.
struct bad_digest {
  std::string text;
  const char* rule;
};

std::vector<bad_digest> b47_digests() {
  const std::string hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  std::string upper = hex64;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {{"sha256:../../../../tmp/x", "digest.format"},
          {"sha256:" + upper, "digest.encoding"},
          {"sha256:" + hex64.substr(1), "digest.encoding"},
          {"sha512:" + hex64, "digest.encoding"},
          {"SHA256:" + hex64, "digest.format"}};
}

// B47 in index.json: each bad digest form is refused before use, with its digest rule at the
// entry's digest; no blob is looked up under it.
TEST(ValidateBuglogDigests, MalformedDigestsInIndexJsonAreRefused) {
  for (const auto& bad : b47_digests()) {
    SCOPED_TRACE(bad.text);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
    ordered_json entry = descriptor_json(media_type::image_manifest, img.manifest_digest,
                                         static_cast<std::size_t>(img.manifest_size));
    entry["digest"] = bad.text;
    write_index(img, ordered_json::array({tagged(entry, "t")}));
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    const auto found = with_rule(v, bad.rule);
    ASSERT_FALSE(found.empty()) << describe(v);
    EXPECT_TRUE(found[0].error);
    EXPECT_EQ(found[0].descriptor_path, "index.json") << describe(v);
    EXPECT_EQ(found[0].json_path, "manifests[0].digest") << describe(v);
    for (const auto& f : v.findings) EXPECT_NE(f.rule.rfind("blob.", 0), 0u) << "blob looked up: " << describe(v);
  }
}

// B47 in a manifest: the same forms as the config's and a layer's digest.
TEST(ValidateBuglogDigests, MalformedDigestsInManifestAreRefused) {
  for (const std::string field : {"config", "layers"}) {
    for (const auto& bad : b47_digests()) {
      SCOPED_TRACE(field + " " + bad.text);
      temp_dir tmp;
      auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
      edit_manifest(img, [&](ordered_json& m) {
        if (field == "config")
          m["config"]["digest"] = bad.text;
        else
          m["layers"][0]["digest"] = bad.text;
      });
      const auto v = validate_one(img);
      EXPECT_FALSE(v.valid());
      const auto found = with_rule(v, bad.rule);
      ASSERT_FALSE(found.empty()) << describe(v);
      EXPECT_TRUE(found[0].error);
      EXPECT_EQ(found[0].descriptor_path, "manifests[0]") << describe(v);
      EXPECT_EQ(found[0].json_path, field == "config" ? "config.digest" : "layers[0].digest") << describe(v);
      for (const auto& f : v.findings) EXPECT_NE(f.rule.rfind("blob.", 0), 0u) << "blob looked up: " << describe(v);
      EXPECT_FALSE(unpack(img.ref(), tmp.sub("rootfs"), {}));
    }
  }
}

// B48: the config descriptor's size is -1: refused by the document rules at config.size.
TEST(ValidateBuglogSizes, NegativeConfigSizeIsRejected) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  edit_manifest(img, [](ordered_json& m) { m["config"]["size"] = -1; });
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  const auto found = with_rule(v, "descriptor.size.value");
  ASSERT_EQ(found.size(), 1u) << describe(v);
  EXPECT_EQ(found[0].descriptor_path, "manifests[0]");
  EXPECT_EQ(found[0].json_path, "config.size");
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
}

// B48: a blob far larger than its descriptor (the local stand-in for an endless body) is a
// size mismatch, and validate reads no more than size + 1 bytes of it.
TEST(ValidateBuglogSizes, OversizedBlobIsNotReadPastItsSize) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")}), layer({file("b", "b")})});
  const auto path = img.layer_blob_path(1);
  const std::string original = read_bytes(path);
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    const std::string junk(1 << 20, 'j');
    for (int i = 0; i < 64; ++i) out.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "blob.size", layer_location(1)));
  EXPECT_LT(v.blob_bytes, 1u << 20) << "read past the descriptor's size";
}

// B48, all four recipe variants at the layer: smaller, larger, one byte changed, and -1.
TEST(ValidateBuglogSizes, LayerSizeAndDigestVariantsNameTheLayer) {
  struct variant {
    const char* what;
    std::function<void(built_image&)> breaks;
    const char* rule;
    const char* where;
  };
  const std::vector<variant> variants = {
      {"smaller", [](built_image& i) { set_layer_size(i, 1, i.layers[1].size - 1); }, "blob.size", "manifests[0].layers[1]"},
      {"larger", [](built_image& i) { set_layer_size(i, 1, i.layers[1].size + 1); }, "blob.size", "manifests[0].layers[1]"},
      {"changed byte", [](built_image& i) { corrupt_layer_byte(i, 1); }, "blob.digest", "manifests[0].layers[1]"},
      {"negative", [](built_image& i) { set_layer_size(i, 1, -1); }, "descriptor.size.value", "manifests[0]"},
  };
  for (const auto& c : variants) {
    SCOPED_TRACE(c.what);
    temp_dir tmp;
    auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")}), layer({file("b", std::string(5000, 'b'))})});
    c.breaks(img);
    const auto v = validate_one(img);
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(has_error_at(v, c.rule, c.where));
    EXPECT_TRUE(with_rule(v, "layer.tar").empty()) << "parsed before verified: " << describe(v);
  }
}

// B50: an image manifest whose config.mediaType is unknown: the config is opaque bytes (here
// not even JSON), never parsed; a warning only; its digest is still checked.
TEST(ValidateBuglogIndex, UnknownConfigTypeIsOpaqueButVerified) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  const std::string opaque = "\x01\x02 not json at all {";
  const auto d = write_blob(img, opaque);
  edit_manifest(img, [&](ordered_json& m) {
    m["config"] = descriptor_json("application/vnd.example.thing.config.v1+bin", d, opaque.size());
  });
  auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_EQ(errors_in(v), 0u) << describe(v);
  const auto warned = with_rule(v, "manifest.config.mediaType.unknown");
  ASSERT_EQ(warned.size(), 1u) << describe(v);
  EXPECT_FALSE(warned[0].error);
  EXPECT_TRUE(with_rule(v, "json.syntax").empty()) << "opaque config parsed: " << describe(v);

  // Still verified as a blob.
  std::string changed = opaque;
  changed[0] = 'X';
  write_bytes(img.blob_path(d), changed);
  v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "blob.digest", "manifests[0].config"));
}

// B50: the nested index of nest_in_index() with --all: the top-level entry of unknown
// mediaType is a warning at manifests[1] (skipped, its blob still checked), the attestation
// manifest's unknown config type a warning, no error anywhere.
TEST(ValidateBuglogIndex, UnknownTopLevelEntryIsSkippedWithWarning) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("hello", "world")})});
  nest_in_index(img);
  validate_options all;
  all.all = true;
  auto untagged = img.ref();
  untagged.tag.clear();
  auto out = validate({untagged}, all);
  ASSERT_EQ(out.size(), 1u);
  auto v = out[0];
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_EQ(errors_in(v), 0u) << describe(v);
  const auto unknown = with_rule(v, "descriptor.mediaType.unknown");
  ASSERT_EQ(unknown.size(), 1u) << describe(v);
  EXPECT_FALSE(unknown[0].error);
  EXPECT_EQ(unknown[0].descriptor_path, "manifests[1]");
  const auto config = with_rule(v, "manifest.config.mediaType.unknown");
  ASSERT_EQ(config.size(), 1u) << describe(v);
  EXPECT_FALSE(config[0].error);
  EXPECT_TRUE(contains(config[0].location, "manifests[0].manifests[1]")) << config[0].location;

  // The unknown entry's blob is checked: changed bytes are a digest mismatch there.
  const auto index = ordered_json::parse(read_bytes(img.dir + "/index.json"));
  const auto thing = digest::parse(index["manifests"][1]["digest"].get<std::string>());
  ASSERT_TRUE(thing);
  write_bytes(img.blob_path(*thing), R"({"thing":null})");  // same length, other bytes
  out = validate({untagged}, all);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].valid());
  EXPECT_TRUE(has_error_at(out[0], "blob.digest", "manifests[1]"));
}

// B50: nested indexes are followed with a depth bound: a chain deeper than it is index.depth,
// not a crash or an endless walk.
TEST(ValidateBuglogIndex, IndexNestedPastTheDepthBoundIsFlagged) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  ordered_json child = descriptor_json(media_type::image_manifest, img.manifest_digest,
                                       static_cast<std::size_t>(img.manifest_size));
  for (int level = 0; level <= media_type::max_index_depth; ++level) {
    const ordered_json index{{"schemaVersion", 2},
                             {"mediaType", media_type::image_index},
                             {"manifests", ordered_json::array({child})}};
    const std::string bytes = index.dump();
    child = descriptor_json(media_type::image_index, write_blob(img, bytes), bytes.size());
  }
  write_index(img, ordered_json::array({tagged(child, "t")}));
  const auto v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "index.depth", "manifests[0]"));
}

// B52 (a) in strict (schema) mode: `layers: []` with `rootfs.diff_ids: []` is an error there,
// a warning without --strict (validate_test.cpp).
TEST(ValidateBuglogEmpty, ZeroLayersIsAnErrorInStrictMode) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {});
  ASSERT_TRUE(img.config["rootfs"]["diff_ids"].empty());
  validate_options strict;
  strict.strict = true;
  const auto v = validate_one(img, strict);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "manifest.layers.empty", "manifests[0]"));
  EXPECT_EQ(errors_in(v), 1u) << describe(v);
}

// B52 (b) in strict mode too: a manifest without `layers` is an error either way.
TEST(ValidateBuglogEmpty, MissingLayersIsAnErrorInBothModes) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {});
  edit_manifest(img, [](ordered_json& m) { m.erase("layers"); });
  for (const bool strict : {false, true}) {
    SCOPED_TRACE(strict);
    validate_options opts;
    opts.strict = strict;
    const auto v = validate_one(img, opts);
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(has_error_at(v, "manifest.layers.required", "manifests[0]"));
  }
}

// B52 (c): 1024 zero bytes (DiffID sha256:5f70bf18…) gzipped by three different tools
// (libdeflate, ISA-L igzip, GNU gzip -n): differently compressed blobs, each an empty
// changeset whose diff_id check passes.
TEST(ValidateBuglogEmpty, EmptyTarGzippedByDifferentToolsIsValid) {
  temp_dir tmp;
  const std::string empty(1024, '\0');
  const std::vector<std::string> blobs = {gzip_bytes(empty), fast_gzip(empty), gzip_cli(tmp, empty)};
  // libdeflate and igzip happen to write the same 29 bytes here; gzip's differ (OS byte,
  // block layout). Without ISA-L fast_gzip is zlib's, whose bytes are gzip's.
  ASSERT_NE(blobs[0], blobs[2]);
#if OCIPIPE_HAVE_ISAL
  ASSERT_NE(blobs[1], blobs[2]);
#endif
  std::vector<layer_spec> specs(blobs.size(), raw_layer(empty, layer_compression::none));
  auto img = build_layout(tmp.sub("layout"), "t", specs);
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    ASSERT_EQ(img.layers[i].diff_id.str(), "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
    replace_layer_blob(img, i, blobs[i], media_type::layer_tar_gzip);
  }
  auto v = validate_one(img);
  EXPECT_TRUE(v.valid()) << describe(v);
  EXPECT_TRUE(v.findings.empty()) << describe(v);
  // Each distinct blob is read once (bulk mode): identical blobs count once.
  const std::set<std::string> distinct(blobs.begin(), blobs.end());
  EXPECT_EQ(v.tar_bytes, distinct.size() * 1024);

  // The check is real: a wrong diff_id at the third (gzip -n) layer is found there.
  set_wrong_diff_id(img, 2);
  v = validate_one(img);
  EXPECT_FALSE(v.valid());
  EXPECT_TRUE(has_error_at(v, "layer.diff_id", layer_location(2)));
}

// The empty descriptor of manifest.md "Guidance for an Empty Descriptor".
constexpr const char* empty_digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

ordered_json empty_descriptor() {
  return ordered_json{{"mediaType", media_type::empty_json}, {"digest", empty_digest}, {"size", 2}, {"data", "e30="}};
}

// B53: referrers next to their subject in one layout: (1) a referrer that is an index with a
// `subject` and no `artifactType` (distribution-spec#458), (2) a referrer manifest with the
// empty config and `artifactType` set. Both are accepted; the subject descriptor is checked as
// a descriptor (a bad digest there is digest.*, a negative size descriptor.size.value, at
// `subject…`).
TEST(ValidateBuglogReferrers, ReferrersWithSubjectAreAcceptedAndTheirSubjectChecked) {
  temp_dir tmp;
  auto img = build_layout(tmp.sub("layout"), "t", {layer({file("a", "a")})});
  write_bytes(img.blob_path(*digest::parse(empty_digest)), "{}");
  const ordered_json subject = descriptor_json(media_type::image_manifest, img.manifest_digest,
                                               static_cast<std::size_t>(img.manifest_size));
  const std::string sbom = R"({"spdxVersion":"SPDX-2.3"})";
  const auto sbom_digest = write_blob(img, sbom);

  ordered_json artifact{{"schemaVersion", 2},
                        {"mediaType", media_type::image_manifest},
                        {"artifactType", "application/spdx+json"},
                        {"config", empty_descriptor()},
                        {"layers", ordered_json::array({descriptor_json("application/spdx+json", sbom_digest, sbom.size())})},
                        {"subject", subject}};
  ordered_json referrer_index{{"schemaVersion", 2},
                              {"mediaType", media_type::image_index},
                              {"manifests", ordered_json::array()},
                              {"subject", subject}};

  const auto store = [&](const ordered_json& art, const ordered_json& idx) {
    const std::string a = art.dump();
    const auto ad = write_blob(img, a);
    ordered_json with_child = idx;
    with_child["manifests"] = ordered_json::array({descriptor_json(media_type::image_manifest, ad, a.size())});
    const std::string i = with_child.dump();
    const auto id = write_blob(img, i);
    write_index(img, ordered_json::array({tagged(subject, "t"),
                                          tagged(descriptor_json(media_type::image_manifest, ad, a.size()), "artifact"),
                                          tagged(descriptor_json(media_type::image_index, id, i.size()), "referrers")}));
  };
  store(artifact, referrer_index);
  for (const char* tag : {"t", "artifact", "referrers"}) {
    SCOPED_TRACE(tag);
    const auto v = validate_tag(img, tag);
    EXPECT_TRUE(v.valid()) << describe(v);
    EXPECT_EQ(errors_in(v), 0u) << describe(v);
  }

  // A subject descriptor that is wrong is found, in either referrer.
  ordered_json bad_artifact = artifact;
  bad_artifact["subject"]["digest"] = "sha256:../../../../tmp/x";
  ordered_json bad_index = referrer_index;
  bad_index["subject"]["size"] = -1;
  store(bad_artifact, bad_index);
  const auto a = validate_tag(img, "artifact");
  EXPECT_FALSE(a.valid());
  const auto a_found = with_rule(a, "digest.format");
  ASSERT_EQ(a_found.size(), 1u) << describe(a);
  EXPECT_EQ(a_found[0].json_path, "subject.digest");
  EXPECT_EQ(a_found[0].descriptor_path, "manifests[1]");
  const auto i = validate_tag(img, "referrers");
  EXPECT_FALSE(i.valid());
  const auto i_found = with_rule(i, "descriptor.size.value");
  ASSERT_FALSE(i_found.empty()) << describe(i);
  EXPECT_EQ(i_found[0].json_path, "subject.size");
  EXPECT_EQ(i_found[0].descriptor_path, "manifests[2]");
}

}  // namespace
}  // namespace ocipipe::testing
