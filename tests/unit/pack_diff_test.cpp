// pack --diff end to end on small images built in the test: unpack (state recorded), change
// the rootfs one way, pack_diff(), then check the new layer's entries and that unpacking the
// new image gives the changed tree. One test per kind of change (add, modify, chmod, chown,
// xattr, delete a file or a directory, replace a directory as a whole, type changes, symlink
// retarget, hardlink added, nothing changed), racy files, and that unchanged files are never
// read.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/rootfs_state.h"
#include "io/tree_walk.h"
#include "pipeline/api.h"
#include "pipeline/rootfs_state_record.h"
#include "stages/decompress.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "stages/tar_reader.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::json;

const std::string big_content = [] {
  std::string s(1 << 20, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 7919) >> 5);
  return s;
}();

std::vector<layer_spec> base_layers() {
  return {layer({dir("etc/"), file("etc/hostname", "box\n"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
                 dir("etc/ssl/"), file("etc/ssl/a", "A"), file("etc/ssl/b", "B"), dir("opt/"), file("opt/x", "x"),
                 dir("usr/"), dir("usr/bin/"), file("usr/bin/tool", std::string(5000, 't'), 0755),
                 symlink("usr/bin/env", "tool"), dir("var/"), file("var/big", big_content)}),
          layer({file("etc/motd", "hello\n")})};
}

// An image unpacked into t/root with its state, the layout at t/layout.
struct fixture {
  temp_dir t{"ocipipe-pack-diff"};
  built_image img;
  std::string rootfs = t.sub("root");

  // `delayed`: the state is recorded a while after the unpack, as by a slow disk, so no
  // file is racy (their ctimes all lie before the recording's clock tick).
  explicit fixture(bool delayed = false) {
    img = build_layout(t.sub("layout"), "base", base_layers());
    unpack_options o;
    o.record_state = !delayed;
    auto u = unpack(img.ref(), rootfs, o);
    if (!u) throw std::runtime_error(u.error().message());
    if (delayed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      std::vector<std::pair<std::string, std::string>> w;
      pipeline::record_rootfs_state(rootfs, img.ref(), u->image, w);
      if (!w.empty()) throw std::runtime_error(w[0].second);
    }
  }
  [[nodiscard]] std::string at(const std::string& rel) const { return rootfs + "/" + rel; }
  [[nodiscard]] image_reference dest(const std::string& tag = "new") const {
    return parse_reference("oci:" + t.sub("layout") + ":" + tag).value();
  }
};

std::string layer_tar(const std::string& layout, const descriptor& d) {
  const std::string blob = read_bytes(layout + "/" + d.digest.blob_path());
  memory_source src(std::as_bytes(std::span(blob.data(), blob.size())));
  auto dec = make_decompressor(src, media_type::compression_of(d.media_type));
  EXPECT_TRUE(dec);
  std::string out;
  while (dec) {
    auto chunk = (*dec)->next();
    EXPECT_TRUE(chunk) << chunk.error().message();
    if (!chunk || chunk->empty()) break;
    out.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  return out;
}

// The new layer's entries as "path" (directories without their trailing "/"), symlinks as
// "path -> target", hardlinks as "path => target".
std::vector<std::string> layer_listing(const std::string& layout, const pack_report& r) {
  const std::string tar = layer_tar(layout, r.layer);
  memory_source src(std::as_bytes(std::span(tar.data(), tar.size())));
  tar_reader reader(src);
  std::vector<std::string> out;
  for (;;) {
    auto e = reader.next_entry();
    EXPECT_TRUE(e) << e.error().message();
    if (!e || !*e) break;
    std::string p = (*e)->path;
    if (p.size() > 1 && p.back() == '/') p.pop_back();
    if ((*e)->type == entry_type::symlink) p += " -> " + (*e)->link_target;
    if ((*e)->type == entry_type::hardlink) p += " => " + (*e)->link_target;
    out.push_back(p);
  }
  return out;
}

// Packs the change, checks the layer holds `want` (in order), and that the new image
// unpacks to the changed tree.
void expect_diff(fixture& f, const std::vector<std::string>& want, const pack_options& opts = {}) {
  auto r = pack_diff(f.rootfs, f.dest(), opts);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer_listing(f.t.sub("layout"), *r), want);
  EXPECT_EQ(r->base_layers, 2u);
  const auto m = json::parse(read_bytes(f.t.sub("layout") + "/" + r->manifest.digest.blob_path()));
  EXPECT_EQ(m.at("layers").size(), 3u);
  const std::string again = f.t.sub("again");
  auto u = unpack(f.dest(), again, {});
  ASSERT_TRUE(u) << u.error().message();
  tree_compare_options o;
  o.mtime_seconds_only = true;
  const auto d = compare_trees(f.rootfs, again, o);
  EXPECT_TRUE(d.empty()) << format_differences(d);
}

void write_file(const std::string& path, const std::string& content) { write_bytes(path, content); }

TEST(PackDiff, AddedFileAndItsDirectory) {
  fixture f;
  write_file(f.at("etc/new"), "new\n");
  ASSERT_EQ(::mkdir(f.at("srv").c_str(), 0750), 0);
  write_file(f.at("srv/data"), "d");
  expect_diff(f, {"etc", "etc/new", "srv", "srv/data"});
}

TEST(PackDiff, ModifiedFile) {
  fixture f;
  std::ofstream(f.at("etc/hostname"), std::ios::app) << "more\n";
  expect_diff(f, {"etc/hostname"});
}

TEST(PackDiff, ChmodAndChown) {
  fixture f;
  ASSERT_EQ(::chmod(f.at("usr/bin/tool").c_str(), 04755), 0);
  ASSERT_EQ(::lchown(f.at("etc/ssl/b").c_str(), 1000, 1000), 0);
  expect_diff(f, {"etc/ssl/b", "usr/bin/tool"});
}

TEST(PackDiff, XattrAddedIsAChangeCarryingTheXattr) {
  fixture f;
  ASSERT_EQ(::lsetxattr(f.at("etc/passwd").c_str(), "user.note", "v", 1, 0), 0);
  expect_diff(f, {"etc/passwd"});
}

TEST(PackDiff, DeletedFileIsAWhiteout) {
  fixture f;
  ASSERT_EQ(::unlink(f.at("etc/ssl/a").c_str()), 0);
  expect_diff(f, {"etc/ssl", "etc/ssl/.wh.a"});
}

TEST(PackDiff, DeletedDirectoryIsOneWhiteout) {
  fixture f;
  ASSERT_EQ(remove_tree(f.at("etc/ssl")), "");
  expect_diff(f, {"etc", "etc/.wh.ssl"});
}

TEST(PackDiff, DirectoryReplacedAsAWholeIsAnOpaqueWhiteout) {
  fixture f;
  // rm -rf etc/ssl; mkdir etc/ssl: the filesystem may even hand out the same inode number.
  ASSERT_EQ(remove_tree(f.at("etc/ssl")), "");
  ASSERT_EQ(::mkdir(f.at("etc/ssl").c_str(), 0755), 0);
  write_file(f.at("etc/ssl/b"), "new B");
  expect_diff(f, {"etc", "etc/ssl", "etc/ssl/.wh..wh..opq", "etc/ssl/b"});
}

TEST(PackDiff, FileBecameDirectoryAndDirectoryBecameFile) {
  fixture f;
  ASSERT_EQ(::unlink(f.at("etc/hostname").c_str()), 0);
  ASSERT_EQ(::mkdir(f.at("etc/hostname").c_str(), 0755), 0);
  write_file(f.at("etc/hostname/inner"), "i");
  ASSERT_EQ(remove_tree(f.at("opt")), "");
  write_file(f.at("opt"), "now a file");
  expect_diff(f, {"etc", "etc/hostname", "etc/hostname/.wh..wh..opq", "etc/hostname/inner", "opt"});
}

// A file replaced by a socket: the socket cannot be stored, but the file must not come
// back from the layer below (found by a fresh-eyes run: the deletion was lost).
TEST(PackDiff, FileReplacedByASocketIsHidden) {
  fixture f;
  ASSERT_EQ(::unlink(f.at("etc/hostname").c_str()), 0);
  make_unix_socket(f.at("etc/hostname"));
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer_listing(f.t.sub("layout"), *r), (std::vector<std::string>{"etc", "etc/.wh.hostname"}));
  const std::string again = f.t.sub("again");
  ASSERT_TRUE(unpack(f.dest(), again, {}));
  EXPECT_FALSE(path_exists(again + "/etc/hostname"));
  EXPECT_TRUE(path_exists(again + "/etc/passwd"));
}

TEST(PackDiff, AddedFileNamedLikeAWhiteoutIsRefused) {
  fixture f;
  write_file(f.at("etc/.wh.passwd"), "note");
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message(), "etc/.wh.passwd")) << r.error().message();
}

TEST(PackDiff, SymlinkRetargeted) {
  fixture f;
  ASSERT_EQ(::unlink(f.at("usr/bin/env").c_str()), 0);
  ASSERT_EQ(::symlink("/bin/busybox", f.at("usr/bin/env").c_str()), 0);
  expect_diff(f, {"usr/bin", "usr/bin/env -> /bin/busybox"});
}

TEST(PackDiff, HardlinkAddedIsAHardlinkEntry) {
  fixture f;
  ASSERT_EQ(::link(f.at("etc/passwd").c_str(), f.at("etc/passwd-").c_str()), 0);
  expect_diff(f, {"etc", "etc/passwd", "etc/passwd- => etc/passwd"});
}

TEST(PackDiff, NothingChangedAddsNoLayerOnlyAnEmptyLayerHistoryEntry) {
  // As umoci repack: the new manifest has the base's layers, the config one more
  // history entry with "empty_layer": true and the same diff_ids.
  fixture f;
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->changed, 0u);
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(r->entries, 0u);
  EXPECT_TRUE(r->layer.digest.empty());
  auto blob = [&](const digest& d) {
    std::ifstream in(f.t.sub("layout") + "/" + d.blob_path(), std::ios::binary);
    return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  };
  const auto manifest = blob(r->manifest.digest);
  EXPECT_EQ(manifest["layers"].size(), r->base_layers);
  const auto config = blob(r->config.digest);
  EXPECT_EQ(config["rootfs"]["diff_ids"].size(), r->base_layers);
  ASSERT_FALSE(config["history"].empty());
  EXPECT_EQ(config["history"].back().value("empty_layer", false), true);
}

TEST(PackDiff, ReportCountsChangesAndWhiteouts) {
  fixture f;
  write_file(f.at("etc/new"), "n");
  ASSERT_EQ(::unlink(f.at("etc/motd").c_str()), 0);
  ASSERT_EQ(remove_tree(f.at("opt")), "");
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->changed, 2u);  // etc (its mtime) and etc/new
  EXPECT_EQ(r->removed, 2u);
  EXPECT_EQ(r->entries, 4u);
}

TEST(PackDiff, UnchangedFilesAreNotRead) {
  fixture f(/*delayed=*/true);
  write_file(f.at("etc/new"), "n");
  auto rchar = [] {
    std::ifstream io("/proc/self/io");
    std::string key;
    std::uint64_t v = 0;
    while (io >> key >> v)
      if (key == "rchar:") return v;
    return std::uint64_t{0};
  };
  const auto before = rchar();
  auto r = pack_diff(f.rootfs, f.dest(), {});
  const auto read = rchar() - before;
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer_listing(f.t.sub("layout"), *r), (std::vector<std::string>{"etc", "etc/new"}));
  // var/big alone is 1 MiB; the state file, index.json, manifest and config are small.
  EXPECT_LT(read, std::uint64_t{256} << 10) << "bytes read: " << read;
}

TEST(PackDiff, UnreadableUnchangedFileDoesNotStopIt) {
  // As an unprivileged user, a file of the image it may not read (mode 0000, root's) is
  // left alone, so the pack succeeds: the proof that unchanged content is never opened.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  temp_dir t{"ocipipe-pack-diff"};
  ASSERT_EQ(::chmod(t.path().c_str(), 0755), 0);
  auto layers = base_layers();
  layers[0].entries.push_back(file("etc/shadow", "root:*:19000::::::\n", 0000));
  const auto img = build_layout(t.sub("layout"), "base", layers);
  const std::string rootfs = t.sub("root");
  unpack_options o;
  o.record_state = false;
  auto u = unpack(img.ref(), rootfs, o);
  ASSERT_TRUE(u) << u.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  std::vector<std::pair<std::string, std::string>> w;
  pipeline::record_rootfs_state(rootfs, img.ref(), u->image, w);
  ASSERT_TRUE(w.empty());
  write_file(rootfs + "/etc/new", "n");
  ASSERT_EQ(::mkdir(t.sub("out").c_str(), 0755), 0);
  ASSERT_EQ(::chown(t.sub("out").c_str(), 65534, 65534), 0);
  const auto r = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ocipipe_binary(),
                              "pack", "--diff", rootfs, "oci:" + t.sub("out/layout") + ":new"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  const auto sanity = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat",
                                   rootfs + "/etc/shadow"});
  EXPECT_NE(sanity.exit_code, 0) << "etc/shadow is readable by the unprivileged user after all";
}

TEST(PackDiff, RacyFileIsKeptOnlyWhenItsContentDiffers) {
  // A change made within the clock tick of the recording can leave size, mtime and ctime
  // as recorded; such files carry a content digest. Here the state is written by hand as
  // a racy recording would have it: etc/ssl/a and etc/ssl/b with their current metadata,
  // a with a digest of other content (it changed unseen), b with its own (unchanged).
  fixture f;
  auto walked = io::walk_tree(f.rootfs);
  ASSERT_TRUE(walked);
  auto state = io::read_rootfs_state(f.rootfs);
  ASSERT_TRUE(state && *state);
  io::rootfs_state s = **state;
  s.records.clear();
  for (const auto& e : *walked) {
    path_record r = pipeline::record_of(e);
    if (r.path == "etc/ssl/a") r.content = digester::of(std::as_bytes(std::span("Z", 1)));
    if (r.path == "etc/ssl/b") r.content = digester::of(std::as_bytes(std::span("B", 1)));
    s.records.push_back(std::move(r));
  }
  auto w = io::rootfs_state_writer::begin(f.rootfs);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->start(s));
  for (const auto& r : s.records) ASSERT_TRUE(w->add(r));
  ASSERT_TRUE(w->commit());
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer_listing(f.t.sub("layout"), *r), std::vector<std::string>{"etc/ssl/a"});
}

TEST(PackDiff, BundleFromCreateAndAnotherDestinationLayout) {
  temp_dir t{"ocipipe-pack-diff"};
  config_overrides cfg;
  cfg.cmd = std::vector<std::string>{"/usr/bin/tool"};
  const auto img = build_layout(t.sub("layout"), "base", base_layers(), cfg);
  const std::string bundle = t.sub("bundle");
  ASSERT_TRUE(create(img.ref(), bundle, {}));
  write_file(bundle + "/rootfs/etc/new", "n");
  const auto dest = parse_reference("oci:" + t.sub("other") + ":v2").value();
  auto r = pack_diff(bundle, dest, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer_listing(t.sub("other"), *r), (std::vector<std::string>{"etc", "etc/new"}));
  // The base's layers were copied into the new layout: it unpacks on its own.
  auto u = unpack(dest, t.sub("again"), {});
  ASSERT_TRUE(u) << u.error().message();
  tree_compare_options o;
  o.mtime_seconds_only = true;
  const auto d = compare_trees(bundle + "/rootfs", t.sub("again"), o);
  EXPECT_TRUE(d.empty()) << format_differences(d);
  const auto cfg_json = json::parse(read_bytes(t.sub("other") + "/" + r->config.digest.blob_path()));
  EXPECT_EQ(cfg_json.at("history").back().at("created_by"), "ocipipe pack --diff");
  EXPECT_EQ(cfg_json.at("rootfs").at("diff_ids").size(), 3u);
}

// A rootfs unpacked into the rootfs/ directory of another: both ROOT.ocipipe-state and
// ROOT/rootfs.ocipipe-state exist, and which changes were meant cannot be guessed (the
// inner one used to win silently, losing the outer rootfs's changes).
TEST(PackDiff, StateForBothTheDirectoryAndItsRootfsIsAmbiguous) {
  fixture f;
  ASSERT_TRUE(unpack(f.img.ref(), f.at("rootfs"), {}));
  write_file(f.at("etc/new"), "n");
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message(), "ambiguous")) << r.error().message();
  auto inner = pack_diff(f.at("rootfs"), f.dest(), {});
  EXPECT_TRUE(inner) << inner.error().message();
}

TEST(PackDiff, TagMovedSinceUnpackStillPacksOntoTheImageUnpacked) {
  fixture f;
  // The tag unpacked is moved onto another image; the base is found by the recorded
  // manifest digest, not by the tag.
  write_file(f.at("etc/new"), "n");
  auto first = pack_diff(f.rootfs, f.dest("base"), {});  // moves tag "base" onto the diff image
  ASSERT_TRUE(first) << first.error().message();
  write_file(f.at("etc/new2"), "n");
  auto second = pack_diff(f.rootfs, f.dest("next"), {});
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->base_layers, 2u) << "on the image unpacked, not on what the tag names now";
}

TEST(PackDiff, NoStateIsNotFound) {
  temp_dir t;
  const auto img = build_layout(t.sub("layout"), "base", base_layers());
  unpack_options o;
  o.record_state = false;
  ASSERT_TRUE(unpack(img.ref(), t.sub("root"), o));
  auto r = pack_diff(t.sub("root"), parse_reference("oci:" + t.sub("layout") + ":new").value(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found);
  EXPECT_TRUE(contains(r.error().message(), "no recorded state")) << r.error().message();
  auto missing = pack_diff(t.sub("nope"), parse_reference("oci:" + t.sub("layout") + ":new").value(), {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::not_found);
}

TEST(PackDiff, DestinationMustBeALayoutOutsideTheRootfs) {
  fixture f;
  auto archive = pack_diff(f.rootfs, parse_reference("oci-archive:" + f.t.sub("x.tar")).value(), {});
  ASSERT_FALSE(archive);
  EXPECT_EQ(archive.error().code(), errc::invalid_argument);
  auto inside = pack_diff(f.rootfs, parse_reference("oci:" + f.at("tmp/layout") + ":x").value(), {});
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().code(), errc::invalid_argument);
}

TEST(PackDiff, DamagedStateFileIsMalformed) {
  fixture f;
  const std::string state = f.t.sub("root.ocipipe-state");
  std::string bytes = read_bytes(state);
  bytes[bytes.size() / 2] ^= 1;
  write_bytes(state, bytes);
  auto r = pack_diff(f.rootfs, f.dest(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_TRUE(contains(r.error().message(), "root.ocipipe-state")) << r.error().message();
}

TEST(PackDiff, CliPrintsTheNewImage) {
  fixture f;
  write_file(f.at("etc/new"), "n");
  const auto r = run_ocipipe({"pack", "--diff", f.rootfs, "oci:" + f.t.sub("layout") + ":cli"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto again = run_ocipipe({"unpack", "oci:" + f.t.sub("layout") + ":cli", f.t.sub("again")});
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(read_bytes(f.t.sub("again/etc/new")), "n");
}

}  // namespace
}  // namespace ocipipe::testing
