// Faults a fresh user found by trying to break validate, each fixed as a kind:
// archives that read two ways, inputs that are not small regular files, image
// sets with no image, hardlink checks that disagreed with unpack, and findings
// that named their place twice or the wrong entry.

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/report_text.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

built_image small_image(const std::string& dir, std::vector<tar_spec_entry> top = {file("b", "b")}) {
  return build_layout(dir, "t", {layer_spec{{file("etc/hostname", "box\n")}}, layer_spec{std::move(top)}});
}

image_reference archive_ref(const std::string& path) {
  auto r = parse_reference("oci-archive:" + path);
  EXPECT_TRUE(r) << r.error().message();
  return *r;
}

// A damaged member header made libarchive skip ahead silently: the rest of the
// archive could be any member's content read as members.
TEST(ValidateRegressions, ArchiveWithADamagedMemberHeaderIsRefused) {
  temp_dir tmp;
  const auto img = small_image(tmp.sub("layout"));
  const auto path = tmp.sub("img.tar");
  write_oci_archive(img, path);
  auto tar = read_bytes(path);
  const auto headers = tar_entry_headers(tar);
  ASSERT_GE(headers.size(), 3u);
  tar[headers[1] + 148] ^= 0x01;  // the chksum field of a middle member
  write_bytes(path, tar);
  const auto v = validate({archive_ref(path)}, {});
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].failure) << describe(v[0]);
  EXPECT_EQ(v[0].failure->code(), errc::malformed);
  EXPECT_NE(v[0].failure->message().find("damaged tar header"), std::string::npos) << v[0].failure->message();
  temp_dir out;
  EXPECT_FALSE(unpack(archive_ref(path), out.sub("rootfs"), {}));
}

// Two members of one name: an extractor keeps the last, a streaming reader the first.
TEST(ValidateRegressions, ArchiveWithADuplicatedMemberIsRefused) {
  temp_dir tmp;
  const auto img = small_image(tmp.sub("layout"));
  const auto path = tmp.sub("img.tar");
  write_oci_archive(img, path);
  auto tar = read_bytes(path);
  // Append a second index.json member where the end-of-archive marker was.
  const auto end = tar_entries_end(tar);
  const auto first = tar_entry_headers(tar).front();
  const std::string copy = tar.substr(first, end - first);
  tar = tar.substr(0, end) + copy + std::string(1024, '\0');
  write_bytes(path, tar);
  const auto v = validate({archive_ref(path)}, {});
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].failure) << describe(v[0]);
  EXPECT_NE(v[0].failure->message().find("more than once"), std::string::npos) << v[0].failure->message();
}

// index.json with no manifests passed although there was no image to check
// (and unpack of the same reference fails); with --all an empty layout is valid.
TEST(ValidateRegressions, LayoutWithNoImageIsAFailureUnlessAllIsAsked) {
  temp_dir tmp;
  const auto img = small_image(tmp.sub("layout"));
  write_bytes(img.dir + "/index.json", R"({"schemaVersion":2,"manifests":[]})");
  auto ref = parse_reference("oci:" + img.dir);
  ASSERT_TRUE(ref);
  const auto v = validate({*ref}, {});
  ASSERT_TRUE(v[0].failure) << describe(v[0]);
  EXPECT_EQ(v[0].failure->code(), errc::not_found);
  validate_options all;
  all.all = true;
  const auto w = validate({*ref}, all);
  EXPECT_TRUE(w[0].valid()) << describe(w[0]);
}

TEST(ValidateRegressions, DockerArchiveWithNoImageIsAFailureUnlessAllIsAsked) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("a", "a")}, layer_compression::none}});
  docker_archive_options o;
  o.manifest_json = "[]";
  const auto path = tmp.sub("d.tar");
  write_docker_archive(img, path, o);
  auto ref = parse_reference("docker-archive:" + path);
  ASSERT_TRUE(ref);
  const auto v = validate({*ref}, {});
  ASSERT_TRUE(v[0].failure) << describe(v[0]);
  validate_options all;
  all.all = true;
  EXPECT_TRUE(validate({*ref}, all)[0].valid());
}

// --media-type FILE read without bound: /dev/zero filled memory, a FIFO hung.
TEST(ValidateRegressions, DocumentFileMustBeASmallRegularFile) {
  temp_dir tmp;
  const auto fifo = tmp.sub("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = validate_document_file("application/vnd.oci.image.manifest.v1+json", fifo);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  auto z = validate_document_file("application/vnd.oci.image.manifest.v1+json", "/dev/zero");
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().code(), errc::malformed) << z.error().message();
  const auto big = tmp.sub("big.json");
  write_bytes(big, std::string(4096, ' '));
  auto b = validate_document_file("application/vnd.oci.image.manifest.v1+json", big, 1024);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), errc::resource_exhausted) << b.error().message();
}

// `a => a` with nothing named a before it passed validate; unpack made nothing.
TEST(ValidateRegressions, HardlinkToItselfIsFlagged) {
  temp_dir tmp;
  const auto img = small_image(tmp.sub("layout"), {hardlink("a", "a")});
  const auto v = validate({img.ref()}, {});
  EXPECT_EQ(with_rule(v[0], "layer.tar.hardlink").size(), 1u) << describe(v[0]);
}

// A hardlink to a directory passed validate while unpack failed on it.
TEST(ValidateRegressions, HardlinkToADirectoryIsFlaggedInTheSameOrALowerLayer) {
  for (bool same_layer : {true, false}) {
    SCOPED_TRACE(same_layer);
    temp_dir tmp;
    const auto img = same_layer ? small_image(tmp.sub("layout"), {dir("d/"), hardlink("h", "d")})
                                : build_layout(tmp.sub("layout"), "t",
                                               {layer_spec{{dir("d/"), file("d/x", "x")}},
                                                layer_spec{{hardlink("h", "d")}}});
    const auto v = validate({img.ref()}, {});
    const auto found = with_rule(v[0], "layer.tar.hardlink");
    ASSERT_EQ(found.size(), 1u) << describe(v[0]);
    EXPECT_EQ(found[0].entry, "h");
    EXPECT_NE(found[0].message.find("directory"), std::string::npos) << found[0].message;
  }
}

// Through a symlinked directory a lexical check cannot tell where a hardlink
// target is; validate flagged one that unpack applies. It must not.
TEST(ValidateRegressions, HardlinkThroughASymlinkedDirectoryAgreesWithUnpack) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer_spec{{dir("real/"), file("real/x", "x"), symlink("s", "real")}},
                                 layer_spec{{hardlink("h", "s/x")}}});
  const auto v = validate({img.ref()}, {});
  EXPECT_TRUE(with_rule(v[0], "layer.tar.hardlink").empty()) << describe(v[0]);
  temp_dir out;
  auto r = unpack(img.ref(), out.sub("rootfs"), {});
  EXPECT_TRUE(r) << r.error().message();
}

// Findings repeated their entry (`entry "x": entry "x": …`) and a size error
// named whatever entry libarchive was at.
TEST(ValidateRegressions, FindingsNameTheirEntryOnceAndOnlyWhenAboutIt) {
  temp_dir tmp;
  const auto img = small_image(tmp.sub("layout"), {file("ok", "ok"), file("etc/.wh.", "x")});
  const auto v = validate({img.ref()}, {});
  const auto found = with_rule(v[0], "layer.tar.entry");
  ASSERT_EQ(found.size(), 1u) << describe(v[0]);
  EXPECT_EQ(found[0].entry, "etc/.wh.");
  EXPECT_EQ(found[0].message.find("entry \"etc/.wh.\""), std::string::npos) << found[0].message;

  temp_dir tmp2;
  auto img2 = small_image(tmp2.sub("layout"), {file("big", std::string(200000, 'x'))});
  set_layer_size(img2, 1, img2.layers[1].size - 100);
  const auto w = validate({img2.ref()}, {});
  const auto size = with_rule(w[0], "blob.size");
  ASSERT_FALSE(size.empty()) << describe(w[0]);
  for (const auto& f : size) EXPECT_TRUE(f.entry.empty()) << f.location;
}

}  // namespace
}  // namespace ocipipe::testing
