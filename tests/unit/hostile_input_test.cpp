// Faults found by trying to break ocipipe as a user and as an attacker would
// (a fresh-user trial of issue 2). Each test names what it checks; each fault
// was fixed for its whole kind (see the comments).

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

built_image simple_image(const std::string& dir, const std::string& tag = "t") {
  return build_layout(dir, tag, {layer_spec{{file("etc/hostname", "box\n")}}});
}

// A whiteout named ".wh.." or ".wh..." at the top of a layer named the
// rootfs's parent: remove_lower("..") emptied the directory holding ROOTFS.
// Fixed in the whiteout name rules (stages/tar_path) and, for every path the
// writer gets, in the writer itself (io/rootfs_writer check_clean).
TEST(HostileLayer, WhiteoutOfParentDirectoryIsRefusedAndTouchesNothing) {
  for (const char* name : {".wh..", ".wh...", "etc/.wh..", "etc/.wh..."}) {
    temp_dir tmp("ocipipe-hostile");
    const auto victim = tmp.sub("victim");
    ::mkdir(victim.c_str(), 0755);
    write_bytes(victim + "/precious", "x");
    auto img = build_layout(tmp.sub("layout"), "t",
                            {layer_spec{{file("etc/hostname", "box\n")}},
                             layer_spec{{file(name)}}});
    auto r = unpack(img.ref(), victim + "/rootfs", {});
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code(), errc::unsafe_path) << name << ": " << r.error().message();
    EXPECT_TRUE(path_exists(victim + "/precious")) << name;

    auto v = validate({img.ref()}, {});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_FALSE(v[0].valid()) << name;
    bool flagged = false;
    // A whiteout name is a layer.tar.entry finding (layer.md "Whiteouts").
    for (const auto& f : v[0].findings) flagged = flagged || f.rule == "layer.tar.entry";
    EXPECT_TRUE(flagged) << name;
  }
}

// --force emptied the contents of a filesystem mounted inside the target.
TEST(ForceTarget, DoesNotEmptyAMountInsideTheTarget) {
  temp_dir tmp("ocipipe-mount");
  const auto target = tmp.sub("target");
  ::mkdir(target.c_str(), 0755);
  ::mkdir((target + "/m").c_str(), 0755);
  if (::mount("tmpfs", (target + "/m").c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  write_bytes(target + "/m/precious", "x");
  auto img = simple_image(tmp.sub("layout"));
  unpack_options opts;
  opts.force = true;
  auto r = unpack(img.ref(), target, opts);
  const bool kept = path_exists(target + "/m/precious");
  ::umount((target + "/m").c_str());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
  EXPECT_TRUE(kept);
}

// `unpack --force L:t L` destroyed the layout it was reading.
TEST(ForceTarget, RefusesATargetThatHoldsTheImageLayout) {
  temp_dir tmp("ocipipe-self");
  auto img = simple_image(tmp.sub("layout"));
  unpack_options opts;
  opts.force = true;
  for (const auto& target : {tmp.sub("layout"), tmp.path()}) {
    auto r = unpack(img.ref(), target, opts);
    ASSERT_FALSE(r) << target;
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_TRUE(path_exists(tmp.sub("layout/index.json")));
  }
}

// Any failed write to stdout ended the run with 0; only a closed pipe should.
TEST(CliOutput, FullStdoutIsAFailureNotSuccess) {
  temp_dir tmp("ocipipe-full");
  auto img = simple_image(tmp.sub("layout"));
  auto r = run_command({"sh", "-c", format_command({ocipipe_binary(), "validate", img.ref_text()}) +
                                        " >/dev/full"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
}

TEST(CliOutput, ClosedPipeEndsQuietlyWithZero) {
  temp_dir tmp("ocipipe-pipe");
  auto img = simple_image(tmp.sub("layout"));
  auto r = run_command({"bash", "-c",
                        format_command({ocipipe_binary(), "validate", "--progress=never", img.ref_text(),
                                        img.ref_text(), img.ref_text()}) +
                            " | (exec 0<&-; sleep 0.2); exit ${PIPESTATUS[0]}"});
  EXPECT_TRUE(r.ok()) << r.describe();
}

// A closed pipe turned validate's verdict into success: `validate BAD | head -1` exited 0.
TEST(CliOutput, ClosedPipeKeepsTheVerdictOfAnInvalidImage) {
  temp_dir tmp("ocipipe-pipe-bad");
  auto img = simple_image(tmp.sub("layout"));
  set_wrong_diff_id(img, 0);
  for (const char* format : {"--progress=never", "--json"}) {
    auto r = run_command({"bash", "-c",
                          format_command({ocipipe_binary(), "validate", format, img.ref_text(), img.ref_text(),
                                          img.ref_text()}) +
                              " | (exec 0<&-; sleep 0.2); exit ${PIPESTATUS[0]}"});
    EXPECT_EQ(r.exit_code, 1) << format << ": " << r.describe();
  }
}

// A failed unpack of a deep tree left thousands of entries behind: cleanup ran
// out of file descriptors (one per level) and said nothing.
TEST(FailedUnpack, DeepTreeIsRemovedCompletely) {
  temp_dir tmp("ocipipe-deep");
  std::string path;
  for (int i = 0; i < 1500; ++i) path += (i ? "/" : "") + std::string("d");
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file(path + "/leaf", "x")}}});
  set_wrong_diff_id(img, 0);
  const auto target = tmp.sub("rootfs");
  auto r = run_command({"sh", "-c", "ulimit -Sn 256; " +
                                        format_command({ocipipe_binary(), "unpack", img.ref_text(), target})});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_FALSE(path_exists(target)) << "partial rootfs left behind";
}

// --platform was ignored for a reference that names a single manifest.
TEST(Platform, ExplicitPlatformMustMatchASingleManifestImage) {
  temp_dir tmp("ocipipe-platform");
  auto img = simple_image(tmp.sub("layout"));
  unpack_options opts;
  opts.platform = *parse_platform("linux/arm64");
  auto r = unpack(img.ref(), tmp.sub("rootfs"), opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found);
  EXPECT_NE(r.error().message().find("linux/amd64"), std::string::npos) << r.error().message();
  opts.platform = *parse_platform("linux/amd64");
  EXPECT_TRUE(unpack(img.ref(), tmp.sub("rootfs2"), opts));
}

// `create --args` cannot carry a comma; --arg takes each argument verbatim.
TEST(CreateCli, ArgKeepsCommasAndDashes) {
  temp_dir tmp("ocipipe-arg");
  auto img = simple_image(tmp.sub("layout"));
  auto r = run_ocipipe({"create", "--arg", "/bin/sh", "--arg=-c", "--arg", "echo a,b", img.ref_text(),
                        tmp.sub("bundle")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const std::string json = read_bytes(tmp.sub("bundle/config.json"));
  const auto cfg = nlohmann::json::parse(json);
  EXPECT_EQ(cfg["process"]["args"], nlohmann::json::array({"/bin/sh", "-c", "echo a,b"}));
}

// An unknown --media-type is a usage error (2), not an invalid document (1).
TEST(ValidateCli, UnknownMediaTypeIsAUsageError) {
  temp_dir tmp("ocipipe-mt");
  write_bytes(tmp.sub("doc.json"), "{}");
  auto r = run_ocipipe({"validate", "--media-type", "application/x-foo", tmp.sub("doc.json")});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
}

// A blob that is a symlink is named as such, not as a tar path problem.
TEST(ValidateBlob, SymlinkBlobHasItsOwnRule) {
  temp_dir tmp("ocipipe-symblob");
  auto img = simple_image(tmp.sub("layout"));
  const auto blob = img.layer_blob_path(0);
  ::unlink(blob.c_str());
  ASSERT_EQ(::symlink("/etc/passwd", blob.c_str()), 0);
  auto v = validate({img.ref()}, {});
  ASSERT_EQ(v.size(), 1u);
  bool flagged = false;
  for (const auto& f : v[0].findings) flagged = flagged || f.rule == "blob.symlink";
  EXPECT_TRUE(flagged);
}


// --- Second adversarial round ---------------------------------------------

// create opened the image's /etc/passwd whatever it was: a FIFO blocked it for
// ever, a device node read the host's device (/dev/kmsg by major:minor).
TEST(CreateUser, PasswdThatIsAFifoOrDeviceIsRefusedWithoutOpeningIt) {
  for (bool fifo_kind : {true, false}) {
    temp_dir tmp("ocipipe-passwd");
    auto entry = fifo_kind ? fifo("etc/passwd") : char_device("etc/passwd", 1, 3);
    config_overrides cfg;
    cfg.cmd = std::vector<std::string>{"/bin/true"};
    cfg.user = "app";
    auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{dir("etc"), entry}}}, cfg);
    create_options opts;
    auto r = create(img.ref(), tmp.sub("bundle"), opts);
    ASSERT_FALSE(r) << (fifo_kind ? "fifo" : "device");
    EXPECT_NE(r.error().message().find("not a regular file"), std::string::npos) << r.error().message();
    EXPECT_FALSE(path_exists(tmp.sub("bundle")));
  }
}

// Layout files are opened the same way: a FIFO index.json or blob hung validate and unpack.
TEST(LayoutFiles, FifoIndexJsonFailsInsteadOfHanging) {
  temp_dir tmp("ocipipe-fifoindex");
  auto img = simple_image(tmp.sub("layout"));
  ::unlink(tmp.sub("layout/index.json").c_str());
  ASSERT_EQ(::mkfifo(tmp.sub("layout/index.json").c_str(), 0644), 0);
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a regular file"), std::string::npos) << r.error().message();
  auto v = validate({img.ref()}, {});
  EXPECT_FALSE(v.at(0).valid());
}

// The bundle holds the image's setuid files and device nodes: only its owner may enter.
TEST(CreateBundle, BundleDirectoryIsPrivate) {
  temp_dir tmp("ocipipe-private");
  config_overrides cfg;
  cfg.cmd = std::vector<std::string>{"/bin/true"};
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("bin/true", "x", 04755)}}}, cfg);
  ASSERT_TRUE(create(img.ref(), tmp.sub("bundle"), {}));
  struct stat st{};
  ASSERT_EQ(::stat(tmp.sub("bundle").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// `unpack --force IMG IMG/blobs` deleted the blobs it was about to read.
TEST(ForceTarget, RefusesATargetInsideTheImageLayout) {
  temp_dir tmp("ocipipe-inside");
  auto img = simple_image(tmp.sub("layout"));
  unpack_options opts;
  opts.force = true;
  auto r = unpack(img.ref(), tmp.sub("layout/blobs"), opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(path_exists(img.layer_blob_path(0)));
}

// Indexes sharing children made validate visit 10^depth documents.
TEST(ValidateIndex, SharedChildrenAreCheckedOnce) {
  temp_dir tmp("ocipipe-fanout");
  auto img = simple_image(tmp.sub("layout"));
  nlohmann::ordered_json child = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", img.manifest_digest.str()},
                                  {"size", img.manifest_size},
                                  {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}};
  for (int level = 0; level < 7; ++level) {
    nlohmann::ordered_json index = {{"schemaVersion", 2},
                                    {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                    {"manifests", nlohmann::ordered_json::array()}};
    for (int i = 0; i < 10; ++i) index["manifests"].push_back(child);
    const std::string bytes = index.dump();
    const auto d = write_blob(img, bytes);
    child = {{"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"digest", d.str()},
             {"size", static_cast<std::int64_t>(bytes.size())}};
  }
  child["annotations"] = {{"org.opencontainers.image.ref.name", "t"}};
  nlohmann::ordered_json top = {{"schemaVersion", 2},
                                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                {"manifests", nlohmann::ordered_json::array({child})}};
  write_bytes(tmp.sub("layout/index.json"), top.dump());
  auto v = validate({img.ref()}, {});  // 10^7 visits without the once-per-document rule
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].valid());
}

// A layer named by an unregistered digest algorithm cannot be verified: unpack refuses it.
TEST(UnpackVerification, UnregisteredDigestAlgorithmIsRefused) {
  temp_dir tmp("ocipipe-blake");
  auto img = simple_image(tmp.sub("layout"));
  const std::string hex = img.layers[0].digest.str().substr(7);
  ::mkdir(tmp.sub("layout/blobs/blake3").c_str(), 0755);
  ASSERT_EQ(::link(img.layer_blob_path(0).c_str(), tmp.sub("layout/blobs/blake3/" + hex).c_str()), 0);
  edit_manifest(img, [&](nlohmann::ordered_json& m) { m["layers"][0]["digest"] = "blake3:" + hex; });
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported) << r.error().message();
  EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
}

// The config's os with a newline forged a "PASS:" line in validate's output.
TEST(ValidateCli, DocumentStringsCannotForgeOutputLines) {
  temp_dir tmp("ocipipe-inject");
  auto img = simple_image(tmp.sub("layout"));
  edit_config(img, [](nlohmann::ordered_json& c) { c["os"] = "linux\nPASS: oci:totally/fine:x"; });
  nest_in_index(img);  // the index platform is compared with the config's
  auto r = run_ocipipe({"validate", img.ref_text()});
  std::size_t start = 0;
  while (start < r.out.size()) {
    auto end = r.out.find('\n', start);
    if (end == std::string::npos) end = r.out.size();
    const auto line = r.out.substr(start, end - start);
    EXPECT_TRUE(line.rfind("PASS: ", 0) == 0 || line.rfind("FAIL: ", 0) == 0 ||
                line.rfind("WARN: ", 0) == 0)
        << "forged or broken line: " << line;
    EXPECT_NE(line.rfind("PASS: oci:totally", 0), 0u) << "forged line: " << line;
    start = end + 1;
  }
}

// An argument that is not UTF-8 escaped create as an exception and left BUNDLE/rootfs.
TEST(CreateCli, NonUtf8ArgumentIsRefusedAndNothingIsLeft) {
  temp_dir tmp("ocipipe-utf8");
  auto img = simple_image(tmp.sub("layout"));
  auto r = run_ocipipe({"create", "--arg", "/bin/echo", "--arg", std::string("\xff\xfe"), img.ref_text(),
                        tmp.sub("bundle")});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_FALSE(path_exists(tmp.sub("bundle")));
}

// runc refuses an Env entry without "="; create says so first.
TEST(CreateConfig, EnvEntryWithoutEqualsIsRefused) {
  temp_dir tmp("ocipipe-env");
  config_overrides cfg;
  cfg.cmd = std::vector<std::string>{"/bin/true"};
  cfg.env = {"PATH=/bin", "NOEQUALS"};
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("bin/true", "x", 0755)}}}, cfg);
  auto r = create(img.ref(), tmp.sub("bundle"), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("NOEQUALS"), std::string::npos) << r.error().message();
}

// uid 2^32 was truncated to 0 by chown: a setuid file owned by root.
TEST(UnpackOwners, OwnerOutOfRangeIsRefused) {
  temp_dir tmp("ocipipe-uid");
  auto entry = file("bin/suid", "x", 04755);
  entry.uid = 4294967296LL;
  auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{entry}}});
  auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  EXPECT_FALSE(path_exists(tmp.sub("rootfs")));
}

// A zero-byte layer is an empty changeset, as Go's archive/tar reads it.
TEST(UnpackEmptyLayer, ZeroByteUncompressedLayerIsAnEmptyChangeset) {
  for (auto c : {layer_compression::none, layer_compression::gzip}) {
    temp_dir tmp("ocipipe-empty");
    layer_spec empty;
    empty.compression = c;
    empty.raw_tar = std::string();
    auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("a", "x")}}, empty});
    auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(path_exists(tmp.sub("rootfs/a")));
    EXPECT_TRUE(validate({img.ref()}, {}).at(0).valid());
  }
}

// validate passed layers that unpack refused: a hardlink to the rootfs itself
// and a symlink with an empty target. Both now go through classify_entry,
// the one function both verbs use.
TEST(EntryRules, ValidateAndUnpackAgreeOnBadEntries) {
  struct bad_case {
    const char* name;
    tar_spec_entry entry;
    const char* rule;
  };
  for (auto& c : {bad_case{"hardlink to root", hardlink("h", "./"), "layer.tar.path"},
                  bad_case{"hardlink to ..", hardlink("h", "a/.."), "layer.tar.path"},
                  bad_case{"empty symlink", symlink("s", ""), "layer.tar.entry"}}) {
    temp_dir tmp("ocipipe-agree");
    auto img = build_layout(tmp.sub("layout"), "t", {layer_spec{{file("a/f", "x"), c.entry}}});
    auto r = unpack(img.ref(), tmp.sub("rootfs"), {});
    EXPECT_FALSE(r) << c.name;
    auto v = validate({img.ref()}, {});
    bool flagged = false;
    for (const auto& f : v.at(0).findings) flagged = flagged || (f.error && f.rule == c.rule);
    EXPECT_TRUE(flagged) << c.name;
  }
}

}  // namespace
}  // namespace ocipipe::testing
