// unpack's limits (issue 4, DESIGN.md §6): each has a flag and a safe default,
// and passing one fails cleanly with resource_exhausted, naming the flag, and
// leaves no rootfs.

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

struct limit_case {
  const char* flag;
  std::vector<layer_spec> layers;
  std::function<void(unpack_options&)> tighten;
};

std::vector<tar_spec_entry> many_of(int files, std::size_t bytes) {
  std::vector<tar_spec_entry> out;
  for (int i = 0; i < files; ++i) out.push_back(file("f" + std::to_string(i), std::string(bytes, 'x')));
  return out;
}

void expect_refused(const limit_case& c) {
  SCOPED_TRACE(c.flag);
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", c.layers);
  // Within the defaults, the image unpacks.
  auto ok = unpack(img.ref(), tmp.sub("fine"), {});
  ASSERT_TRUE(ok) << ok.error().message();
  unpack_options tight;
  c.tighten(tight);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), tight);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
  EXPECT_NE(r.error().message().find(c.flag), std::string::npos) << r.error().message();
  EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
}

TEST(UnpackLimits, EachLimitRefusesWhatPassesItAndNamesItsFlag) {
  const auto many = many_of(50, 1);
  std::string deep = "a";
  for (int i = 0; i < 20; ++i) deep += "/d";
  // A path of ~2800 bytes (14 components of 200) needs a PAX header of ~2.8 KB.
  std::string long_path;
  for (int i = 0; i < 14; ++i) long_path += (i ? "/" : "") + std::string(200, static_cast<char>('a' + i));
  const auto with_pax = file(long_path, "p");

  expect_refused({"--max-layer-bytes", {layer_spec{{file("big", std::string(100000, 'x'))}}},
                  [](unpack_options& o) { o.max_layer_bytes = 50000; }});
  expect_refused({"--max-layer-bytes", {layer_spec{{file("zeros", std::string(200000, '\0'))}, layer_compression::none}},
                  [](unpack_options& o) { o.max_layer_bytes = 150000; }});
  // Every file below the limit, the stream past it: the decompressor's count stops it.
  expect_refused({"--max-layer-bytes", {layer_spec{many_of(60, 4000)}}, [](unpack_options& o) { o.max_layer_bytes = 100000; }});
  expect_refused({"--max-path-bytes", {layer_spec{{symlink("l", std::string(300, 't'))}}},
                  [](unpack_options& o) { o.max_path_bytes = 200; }});
  expect_refused({"--max-entries", {layer_spec{many}}, [](unpack_options& o) { o.max_entries_per_layer = 10; }});
  expect_refused({"--max-depth", {layer_spec{{file(deep, "x")}}}, [](unpack_options& o) { o.max_depth = 8; }});
  expect_refused({"--max-image-bytes",
                  {layer_spec{{file("one", std::string(40000, '1'))}}, layer_spec{{file("two", std::string(40000, '2'))}}},
                  [](unpack_options& o) { o.max_image_bytes = 60000; }});
  expect_refused({"--max-pax-header-bytes", {layer_spec{{with_pax}}},
                  [](unpack_options& o) { o.max_pax_header_bytes = 1024; }});
}

// Longer paths than --max-path-bytes are refused by the tar reader.
TEST(UnpackLimits, PathLongerThanTheLimitIsRefused) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file(std::string(300, 'n'), "x")}}});
  unpack_options o;
  o.max_path_bytes = 200;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
  EXPECT_NE(r.error().message().find("(--max-path-bytes)"), std::string::npos) << r.error().message();
  EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
}

// B43: a zstd layer of a few KB expanding far past the limit stops at it, fast.
TEST(UnpackLimits, ZstdBombStopsAtTheLayerLimit) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("layout"), "t",
                                {layer_spec{{file("zeros", std::string(64 << 20, '\0'))}, layer_compression::zstd}});
  ASSERT_LT(img.layers[0].size, 64 << 10);
  unpack_options o;
  o.max_layer_bytes = 1 << 20;
  auto r = unpack(img.ref(), tmp.sub("rootfs"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::resource_exhausted) << r.error().message();
  EXPECT_NE(r.error().message().find("(--max-layer-bytes)"), std::string::npos) << r.error().message();
}

// The CLI takes the flags on unpack and create.
TEST(UnpackLimits, FlagsAreTakenByUnpackAndCreate) {
  temp_dir tmp;
  std::vector<tar_spec_entry> many;
  for (int i = 0; i < 20; ++i) many.push_back(file("f" + std::to_string(i), "x"));
  const auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{many}});
  for (const std::string verb : {"unpack", "create"}) {
    const auto r = run_ocipipe({verb, "--max-entries", "5", img.ref().str(), tmp.sub(verb)});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--max-entries"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace ocipipe::testing
