// The installed library (issue 11): `cmake --install` of this build into a fresh prefix, then
// examples/unpack built against what was installed — through find_package(ocipipe), with
// the shared and with the static library, and through pkg-config — and each build run to
// unpack debian-slim. Nothing of the source tree is on the example's include path: only
// the prefix.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/command_check.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

std::string build_dir() {
  const auto bin = ocipipe_binary();
  return bin.substr(0, bin.rfind('/'));
}

class InstalledLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    OCIPIPE_REQUIRE_DATASET("debian-slim");
    RUN_OK({"cmake", "--install", build_dir(), "--prefix", prefix()});
  }
  [[nodiscard]] std::string prefix() const { return tmp_.sub("prefix"); }

  // Unpacks debian-slim with the example program `exe` (argv prefix `run`).
  void unpack_with(std::vector<std::string> run, const std::string& rootfs) {
    run.push_back(dataset_ref("debian-slim"));
    run.push_back(rootfs);
    const auto r = run_command(run);
    ASSERT_TRUE(ran(r, run));
    EXPECT_TRUE(contains(r.out, "unpacked sha256:")) << r.out;
    EXPECT_TRUE(contains(read_bytes(rootfs + "/etc/os-release"), "Debian GNU/Linux")) << rootfs;
  }

  temp_dir tmp_{"ocipipe-install"};
};

TEST_F(InstalledLibrary, InstallsHeadersLibrariesPackageConfigAndPkgConfig) {
  for (const char* p : {"include/ocipipe/api.h", "include/ocipipe/stages/oci/error.h", "bin/ocipipe",
                        "lib/cmake/ocipipe/ocipipeConfig.cmake", "lib/cmake/ocipipe/ocipipeTargets.cmake",
                        "lib/pkgconfig/ocipipe.pc", "lib/libocipipe.a", "lib/libocipipe.so"})
    EXPECT_TRUE(path_exists(prefix() + "/" + p)) << p;
  // No header of io/ or of the flow graphs: the API is api.h and the value types it names.
  EXPECT_FALSE(path_exists(prefix() + "/include/ocipipe/io"));
}

// The installed headers name one another relative to themselves: PREFIX/include is the only
// include directory a program needs, and no generic name (stages/) lands on its path.
TEST_F(InstalledLibrary, HeadersCompileWithThePrefixIncludeAlone) {
  const auto src = tmp_.sub("uses_api.cpp");
  write_bytes(src, "#include <ocipipe/api.h>\nint main() { return ocipipe::parse_reference(\"oci:x\") ? 0 : 1; }\n");
  RUN_OK({"c++", "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-I" + prefix() + "/include", src});
}

TEST_F(InstalledLibrary, ExampleBuildsWithFindPackageSharedAndStaticAndUnpacks) {
  const auto src = source_dir() + "/examples/unpack";
  for (const std::string kind : {"shared", "static"}) {
    SCOPED_TRACE(kind);
    const auto b = tmp_.sub("example-" + kind);
    RUN_OK({"cmake", "-S", src, "-B", b, "-DCMAKE_PREFIX_PATH=" + prefix(),
            std::string("-DOCIPIPE_STATIC=") + (kind == "static" ? "ON" : "OFF")});
    RUN_OK({"cmake", "--build", b});
    unpack_with({b + "/unpack_image"}, tmp_.sub("rootfs-" + kind));
  }
}

TEST_F(InstalledLibrary, ExampleBuildsWithPkgConfigAndUnpacks) {
  const std::string pc = "PKG_CONFIG_PATH=" + prefix() + "/lib/pkgconfig";
  const auto flags = run_command({"env", pc, "pkg-config", "--cflags", "--libs", "ocipipe"});
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  // The prefix comes from where ocipipe.pc lies (PREFIX/lib/pkgconfig/../..), not from the build.
  EXPECT_TRUE(contains(flags.out, "-I" + prefix() + "/lib/pkgconfig/../../include")) << flags.out;
  // The flags go through the shell as pkg-config users write them.
  const auto exe = tmp_.sub("unpack_image");
  RUN_OK({"sh", "-c", "c++ -std=c++20 -o \"$1\" \"$2\" $(env " + pc + " pkg-config --cflags --libs ocipipe) -Wl,-rpath,\"$3\"",
          "sh", exe, source_dir() + "/examples/unpack/main.cpp", prefix() + "/lib"});
  unpack_with({exe}, tmp_.sub("rootfs-pc"));
}

}  // namespace
}  // namespace ocipipe::testing
