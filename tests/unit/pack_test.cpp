// pack DIR DEST (pipeline/pack.cpp, pack_layer, pack_image, io/layer_tar_writer):
// the same tree gives the same digests; SOURCE_DATE_EPOCH clamps mtimes; hardlinks,
// long names, big sizes, xattrs, modes and owners land in the tar as layer.md wants
// them; pack -> unpack gives the tree back; --base stacks layers; every compression;
// the image config and manifest carry the edits; whiteouts look like umoci's.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <clocale>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/layer_tar_writer.h"
#include "io/layout_writer.h"
#include "pipeline/api.h"
#include "pipeline/pack_image.h"
#include "pipeline/pack_layer.h"
#include "pipeline/resolve.h"
#include "stages/decompress.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "stages/tar_reader.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::json;

// ---- helpers --------------------------------------------------------------

void set_mtime(const std::string& path, std::int64_t sec, long nsec = 0) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

void make_dir(const std::string& path, mode_t mode = 0755) {
  ASSERT_EQ(::mkdir(path.c_str(), mode), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// A small tree with one of everything a layer can hold.
void build_sample_tree(const std::string& root) {
  make_dir(root);
  make_dir(root + "/etc");
  write_bytes(root + "/etc/hostname", "box\n");
  write_bytes(root + "/etc/motd", std::string(100000, 'm'));
  make_dir(root + "/bin");
  write_bytes(root + "/bin/tool", "#!/bin/sh\necho tool\n");
  ASSERT_EQ(::chmod((root + "/bin/tool").c_str(), 04755), 0);
  ASSERT_EQ(::link((root + "/bin/tool").c_str(), (root + "/bin/tool-link").c_str()), 0);
  ASSERT_EQ(::symlink("tool", (root + "/bin/alias").c_str()), 0);
  ASSERT_EQ(::symlink("/nowhere/at/all", (root + "/dangling").c_str()), 0);
  make_dir(root + "/tmp", 01777);
  write_bytes(root + "/etc/owned", "x");
  if (::geteuid() == 0) {
    ASSERT_EQ(::lchown((root + "/etc/owned").c_str(), 1234, 5678), 0);
  }
  ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0600), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  }
  write_bytes(root + "/empty", "");
  ASSERT_EQ(::lsetxattr((root + "/etc/hostname").c_str(), "user.note", "v1", 2, 0), 0);
  ASSERT_EQ(::lsetxattr((root + "/etc/hostname").c_str(), "user.bin", "\0\x01\xff", 3, 0), 0);
  // Long names: one over ustar's 100-byte name field but splittable at a '/',
  // one whose last component alone is over 100 (PAX path), one past 255.
  const std::string d1 = root + "/" + std::string(60, 'd');
  make_dir(d1);
  write_bytes(d1 + "/" + std::string(60, 'f'), "split");
  write_bytes(root + "/" + std::string(150, 'n'), "pax name");
  std::string deep = root;
  for (int i = 0; i < 4; ++i) {
    deep += "/" + std::string(70, static_cast<char>('p' + i));
    make_dir(deep);
  }
  write_bytes(deep + "/leaf", "deep");
  ASSERT_EQ(::symlink(std::string(150, 't').c_str(), (root + "/longlink").c_str()), 0);
  // Fixed mtimes, so the tree is the same each time it is built (a second
  // build may fall in another second): some files their own, every other
  // entry one shared mtime, set deepest first (a child's creation changes its
  // directory's mtime).
  for (const char* p : {"etc/hostname", "etc/motd", "bin/tool", "etc/owned", "empty"})
    set_mtime(root + "/" + p, 1600000000 + static_cast<long>(std::string(p).size()), 999);
  auto walked = io::walk_tree(root);
  ASSERT_TRUE(walked) << walked.error().message();
  for (auto it = walked->rbegin(); it != walked->rend(); ++it)
    if (it->mtime_sec > 1650000000) set_mtime(root + "/" + it->path, 1610000000);
}

struct packed {
  pack_report report;
  std::string layout;
};

pack_report pack_ok(const std::string& dir, const std::string& dest, pack_options opts = {}) {
  auto ref = parse_reference(dest);
  EXPECT_TRUE(ref) << dest;
  auto r = pack(dir, *ref, opts);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : pack_report{};
}

std::string blob_text(const std::string& layout, const digest& d) {
  return read_bytes(layout + "/" + d.blob_path());
}

// The uncompressed tar stream of a layer blob.
std::string layer_tar(const std::string& layout, const descriptor& d) {
  const std::string blob = blob_text(layout, d.digest);
  memory_source src(std::as_bytes(std::span(blob.data(), blob.size())));
  auto dec = make_decompressor(src, media_type::compression_of(d.media_type));
  EXPECT_TRUE(dec);
  std::string out;
  for (;;) {
    auto chunk = (*dec)->next();
    EXPECT_TRUE(chunk) << chunk.error().message();
    if (!chunk || chunk->empty()) break;
    out.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  return out;
}

std::vector<tar_entry> tar_entries(const std::string& tar) {
  memory_source src(std::as_bytes(std::span(tar.data(), tar.size())));
  tar_reader reader(src);
  std::vector<tar_entry> out;
  for (;;) {
    auto e = reader.next_entry();
    EXPECT_TRUE(e) << e.error().message();
    if (!e || !*e) break;
    out.push_back(**e);
  }
  return out;
}

const tar_entry* find_entry(const std::vector<tar_entry>& es, const std::string& path) {
  for (const auto& e : es)
    if (e.path == path) return &e;
  return nullptr;
}

json config_of(const std::string& layout, const pack_report& r) {
  return json::parse(blob_text(layout, r.config.digest));
}

json manifest_of(const std::string& layout, const pack_report& r) {
  return json::parse(blob_text(layout, r.manifest.digest));
}

std::vector<tree_difference> round_trip_differences(const std::string& tree, const std::string& dest,
                                                    const std::string& rootfs) {
  auto ref = parse_reference(dest);
  auto u = unpack(*ref, rootfs, {});
  EXPECT_TRUE(u) << u.error().message();
  tree_compare_options o;
  o.mtime_seconds_only = true;
  o.compare_owner = ::geteuid() == 0;  // a rootless unpack keeps owners in an xattr
  return compare_trees(tree, rootfs, o);
}

pack_options fixed_time() {
  pack_options o;
  o.edits.created = "2024-01-02T03:04:05Z";
  return o;
}

// ---- determinism ------------------------------------------------------------

TEST(Pack, SameTreeTwiceGivesTheSameDigests) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto one = pack_ok(t.sub("a"), "oci:" + t.sub("out1") + ":x", fixed_time());
  const auto two = pack_ok(t.sub("a"), "oci:" + t.sub("out2") + ":x", fixed_time());
  EXPECT_EQ(one.layer.digest, two.layer.digest);
  EXPECT_EQ(one.diff_id, two.diff_id);
  EXPECT_EQ(one.config.digest, two.config.digest);
  EXPECT_EQ(one.manifest.digest, two.manifest.digest);
  // And a copy of the tree (other inodes, other ctimes) gives the same too.
  build_sample_tree(t.sub("b"));
  const auto three = pack_ok(t.sub("b"), "oci:" + t.sub("out3") + ":x", fixed_time());
  EXPECT_EQ(one.manifest.digest, three.manifest.digest);
}

TEST(Pack, DigestsDoNotDependOnJobs) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  write_bytes(t.sub("a/big"), std::string(5 << 20, 'b'));  // several gzip chunks
  for (auto c : {layer_compression::gzip, layer_compression::zstd}) {
    auto o = fixed_time();
    o.compression = c;
    o.jobs = 1;
    const auto one = pack_ok(t.sub("a"), "oci:" + t.sub("j1") + ":x", o);
    o.jobs = 4;
    const auto four = pack_ok(t.sub("a"), "oci:" + t.sub("j4") + ":x", o);
    EXPECT_EQ(one.layer.digest, four.layer.digest);
  }
}

TEST(Pack, SourceDateEpochClampsMtimesSoLaterTouchesDoNotMatter) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  pack_options o;
  o.source_date_epoch = 1500000000;  // before every mtime of the tree
  const auto one = pack_ok(t.sub("a"), "oci:" + t.sub("out1") + ":x", o);
  for (const char* p : {"etc/hostname", "etc/motd", "bin", "fifo", "dangling"}) set_mtime(t.sub("a/") + p, 1700000123, 5);
  const auto two = pack_ok(t.sub("a"), "oci:" + t.sub("out2") + ":x", o);
  EXPECT_EQ(one.layer.digest, two.layer.digest);
  EXPECT_EQ(one.manifest.digest, two.manifest.digest) << "created comes from SOURCE_DATE_EPOCH too";
  const auto cfg = config_of(t.sub("out1"), one);
  EXPECT_EQ(cfg["created"], "2017-07-14T02:40:00Z");
  for (const auto& e : tar_entries(layer_tar(t.sub("out1"), one.layer)))
    EXPECT_LE(e.mtime_sec, 1500000000) << e.path;
  // Without the clamp, the touch shows.
  const auto three = pack_ok(t.sub("a"), "oci:" + t.sub("out3") + ":x", fixed_time());
  set_mtime(t.sub("a/etc/motd"), 1700000999);
  const auto four = pack_ok(t.sub("a"), "oci:" + t.sub("out4") + ":x", fixed_time());
  EXPECT_NE(three.layer.digest, four.layer.digest);
}

// ---- what the tar holds -------------------------------------------------------

TEST(Pack, TarEntriesAreSortedWithTypesModesOwnersAndWholeSecondMtimes) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto es = tar_entries(layer_tar(t.sub("out"), r.layer));
  ASSERT_FALSE(es.empty());
  EXPECT_EQ(r.entries, es.size());
  EXPECT_EQ(find_entry(es, ""), nullptr);
  EXPECT_EQ(find_entry(es, "./"), nullptr) << "DIR's own entry is not in the layer";
  const auto* tool = find_entry(es, "bin/tool");
  ASSERT_TRUE(tool);
  EXPECT_EQ(tool->mode, 04755u);
  EXPECT_EQ(tool->mtime_sec, 1600000008);
  EXPECT_EQ(tool->mtime_nsec, 0);
  const auto* owned = find_entry(es, "etc/owned");
  ASSERT_TRUE(owned);
  EXPECT_EQ(owned->uid, ::geteuid() == 0 ? 1234 : ::geteuid());
  EXPECT_EQ(owned->gid, ::geteuid() == 0 ? 5678 : ::getegid());
  const auto* tmp = find_entry(es, "tmp/");
  ASSERT_TRUE(tmp) << "directories end in '/'";
  EXPECT_EQ(tmp->type, entry_type::directory);
  EXPECT_EQ(tmp->mode, 01777u);
  const auto* alias = find_entry(es, "bin/alias");
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->type, entry_type::symlink);
  EXPECT_EQ(alias->link_target, "tool");
  const auto* fifo = find_entry(es, "fifo");
  ASSERT_TRUE(fifo);
  EXPECT_EQ(fifo->type, entry_type::fifo);
  if (::geteuid() == 0) {
    const auto* null = find_entry(es, "null");
    ASSERT_TRUE(null);
    EXPECT_EQ(null->type, entry_type::char_device);
    EXPECT_EQ(null->dev_major, 1u);
    EXPECT_EQ(null->dev_minor, 3u);
  }
  // Sorted component by component: a directory right before its children.
  std::vector<std::string> paths;
  for (const auto& e : es) paths.push_back(e.path.ends_with('/') ? e.path.substr(0, e.path.size() - 1) : e.path);
  for (std::size_t i = 1; i < paths.size(); ++i)
    EXPECT_TRUE(io::tree_path_less(paths[i - 1], paths[i])) << paths[i - 1] << " before " << paths[i];
}

TEST(Pack, HardlinksBecomeHardlinkEntriesToTheFirstPath) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto es = tar_entries(layer_tar(t.sub("out"), r.layer));
  const auto* first = find_entry(es, "bin/tool");
  const auto* link = find_entry(es, "bin/tool-link");
  ASSERT_TRUE(first && link);
  EXPECT_EQ(first->type, entry_type::regular);
  EXPECT_EQ(link->type, entry_type::hardlink);
  EXPECT_EQ(link->link_target, "bin/tool");
  EXPECT_EQ(link->size, 0u);
}

TEST(Pack, LongNamesAndLinkTargetsSurviveThroughPax) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto tar = layer_tar(t.sub("out"), r.layer);
  const auto es = tar_entries(tar);
  const std::string split = std::string(60, 'd') + "/" + std::string(60, 'f');
  EXPECT_TRUE(find_entry(es, split)) << "121 bytes, split into ustar prefix + name";
  EXPECT_TRUE(find_entry(es, std::string(150, 'n')));
  std::string deep;
  for (int i = 0; i < 4; ++i) deep += std::string(70, static_cast<char>('p' + i)) + "/";
  EXPECT_TRUE(find_entry(es, deep + "leaf")) << "over 255 bytes";
  const auto* ll = find_entry(es, "longlink");
  ASSERT_TRUE(ll);
  EXPECT_EQ(ll->link_target, std::string(150, 't'));
  EXPECT_NE(tar.find(" path=" + std::string(150, 'n') + "\n"), std::string::npos) << "a PAX path record";
  // Plain ustar where it fits: no PAX header for short names without xattrs.
  EXPECT_EQ(tar.find("PaxHeader/motd"), std::string::npos);
  EXPECT_EQ(tar.find("PaxHeader/" + std::string(60, 'f')), std::string::npos);
}

TEST(Pack, XattrsAreKeptAsSchilyRecordsOnly) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto tar = layer_tar(t.sub("out"), r.layer);
  const auto es = tar_entries(tar);
  const auto* host = find_entry(es, "etc/hostname");
  ASSERT_TRUE(host);
  std::map<std::string, std::string> x(host->xattrs.begin(), host->xattrs.end());
  EXPECT_EQ(x["user.note"], "v1");
  EXPECT_EQ(x["user.bin"], std::string("\0\x01\xff", 3));
  EXPECT_NE(tar.find("SCHILY.xattr.user.note=v1\n"), std::string::npos);
  EXPECT_EQ(tar.find("LIBARCHIVE.xattr"), std::string::npos);
  EXPECT_EQ(tar.find("atime="), std::string::npos);
  EXPECT_EQ(tar.find("ctime="), std::string::npos);
}

TEST(Pack, HostSpecificXattrsAndSocketsAreLeftOutWithWarnings) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/f"), "x");
  make_unix_socket(t.sub("a/sock"));
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto es = tar_entries(layer_tar(t.sub("out"), r.layer));
  EXPECT_TRUE(find_entry(es, "f"));
  EXPECT_FALSE(find_entry(es, "sock"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].first, "pack.socket");
}

// A file named ".wh.x" or ".wh..wh..opq" would unpack as a whiteout of x or of the whole
// directory: pack refuses it, naming the path, as umoci does, and writes no image.
TEST(Pack, NamesThatReadAsWhiteoutsAreRefused) {
  for (const std::string name : {".wh.passwd", ".wh..wh..opq", ".wh..wh.plnk"}) {
    SCOPED_TRACE(name);
    temp_dir t;
    make_dir(t.sub("a"));
    make_dir(t.sub("a/etc"));
    write_bytes(t.sub("a/etc/passwd"), "root\n");
    write_bytes(t.sub("a/etc/" + name), "a user's file");
    auto ref = parse_reference("oci:" + t.sub("out") + ":x");
    ASSERT_TRUE(ref);
    auto r = pack(t.sub("a"), *ref, fixed_time());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_TRUE(contains(r.error().message(), "etc/" + name)) << r.error().message();
    EXPECT_TRUE(contains(r.error().message(), "whiteout")) << r.error().message();
  }
}

TEST(LayerTarWriter, BigSizesGoIntoAPaxSizeRecordAndTheStreamIsNotPadded) {
  std::string out;
  auto w = io::layer_tar_writer::create([&](byte_view b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); });
  ASSERT_TRUE(w);
  tar_entry e;
  e.path = "huge";
  e.mode = 0644;
  e.size = (std::uint64_t{8} << 30) + 1;  // past ustar's 8 GiB - 1
  ASSERT_TRUE(w->write_header(e));
  EXPECT_NE(out.find(" size=8589934593\n"), std::string::npos) << "a PAX size record";
  EXPECT_FALSE(w->finish()) << "content missing must not pass";

  out.clear();
  auto w2 = io::layer_tar_writer::create([&](byte_view b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); });
  ASSERT_TRUE(w2);
  e.size = 3;
  ASSERT_TRUE(w2->write_header(e));
  const std::string abc = "abc";
  ASSERT_TRUE(w2->write_data(std::as_bytes(std::span(abc.data(), abc.size()))));
  ASSERT_TRUE(w2->finish());
  // header + one content block + the two end blocks; no padding to 10 KiB.
  EXPECT_EQ(out.size(), 512u + 512u + 1024u);
  EXPECT_EQ(out.substr(out.size() - 1024), std::string(1024, '\0'));
  EXPECT_EQ(out.substr(265, 32), std::string(32, '\0')) << "no uname";
  EXPECT_EQ(out.substr(297, 32), std::string(32, '\0')) << "no gname";
}

TEST(Pack, NonAsciiNamesAreWrittenTheSameWhateverTheLocale) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/caf\xc3\xa9"), "utf-8 name");
  write_bytes(t.sub("a/raw\xff\xfe"), "not utf-8");
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", fixed_time());
  const auto tar = layer_tar(t.sub("out"), r.layer);
  EXPECT_NE(tar.find(" path=caf\xc3\xa9\n"), std::string::npos) << "valid UTF-8: a plain PAX path";
  EXPECT_NE(tar.find("hdrcharset=BINARY"), std::string::npos) << "invalid UTF-8: raw, marked binary";
  const auto es = tar_entries(tar);
  EXPECT_TRUE(find_entry(es, "caf\xc3\xa9"));
  EXPECT_TRUE(find_entry(es, "raw\xff\xfe"));
  // The caller's locale does not change the bytes.
  const char* before = std::setlocale(LC_ALL, nullptr);
  const std::string saved = before ? before : "C";
  std::setlocale(LC_ALL, "C");
  const auto c_locale = pack_ok(t.sub("a"), "oci:" + t.sub("out2") + ":x", fixed_time());
  std::setlocale(LC_ALL, "C.UTF-8");
  const auto utf8_locale = pack_ok(t.sub("a"), "oci:" + t.sub("out3") + ":x", fixed_time());
  std::setlocale(LC_ALL, saved.c_str());
  EXPECT_EQ(c_locale.layer.digest, r.layer.digest);
  EXPECT_EQ(utf8_locale.layer.digest, r.layer.digest);
  const auto diffs = round_trip_differences(t.sub("a"), "oci:" + t.sub("out") + ":x", t.sub("rootfs"));
  EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
}

// ---- round trips ---------------------------------------------------------------

TEST(Pack, PackThenUnpackGivesTheTreeBack) {
  for (auto c : {layer_compression::gzip, layer_compression::zstd, layer_compression::none}) {
    SCOPED_TRACE(std::to_string(static_cast<int>(c)));
    temp_dir t;
    build_sample_tree(t.sub("a"));
    auto o = fixed_time();
    o.compression = c;
    const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":x", o);
    const auto want = c == layer_compression::gzip   ? media_type::layer_tar_gzip
                      : c == layer_compression::zstd ? media_type::layer_tar_zstd
                                                     : media_type::layer_tar;
    EXPECT_EQ(r.layer.media_type, want);
    EXPECT_EQ(r.layer.size, static_cast<std::int64_t>(blob_text(t.sub("out"), r.layer.digest).size()));
    const std::string tar = layer_tar(t.sub("out"), r.layer);
    EXPECT_EQ(r.diff_id, digester::of(std::as_bytes(std::span(tar.data(), tar.size()))));
    if (c == layer_compression::none) {
      EXPECT_EQ(r.diff_id, r.layer.digest);
    }
    const auto diffs = round_trip_differences(t.sub("a"), "oci:" + t.sub("out") + ":x", t.sub("rootfs"));
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }
}

TEST(Pack, EveryGzipLevelRoundTrips) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  for (int level = 1; level <= 9; ++level) {
    auto o = fixed_time();
    o.level = level;
    const std::string dest = "oci:" + t.sub("out") + ":l" + std::to_string(level);
    pack_ok(t.sub("a"), dest, o);
    const auto diffs = round_trip_differences(t.sub("a"), dest, t.sub("r" + std::to_string(level)));
    EXPECT_TRUE(diffs.empty()) << "level " << level << "\n" << format_differences(diffs);
  }
}

// ---- images ---------------------------------------------------------------------

TEST(Pack, BaseLayersGoBelowTheNewOne) {
  temp_dir t;
  make_dir(t.sub("lower"));
  write_bytes(t.sub("lower/a"), "from the base\n");
  write_bytes(t.sub("lower/b"), "replaced\n");
  make_dir(t.sub("upper"));
  write_bytes(t.sub("upper/b"), "from the top\n");
  write_bytes(t.sub("upper/c"), "new\n");
  const auto base = pack_ok(t.sub("lower"), "oci:" + t.sub("base") + ":b", fixed_time());
  pack_options o = fixed_time();
  o.base = *parse_reference("oci:" + t.sub("base") + ":b");
  o.edits.cmd = std::vector<std::string>{"/bin/true"};
  const auto top = pack_ok(t.sub("upper"), "oci:" + t.sub("top") + ":t", o);
  EXPECT_EQ(top.base_layers, 1u);
  const auto m = manifest_of(t.sub("top"), top);
  ASSERT_EQ(m["layers"].size(), 2u);
  EXPECT_EQ(m["layers"][0]["digest"], base.layer.digest.str());
  EXPECT_EQ(m["layers"][1]["digest"], top.layer.digest.str());
  EXPECT_EQ(m["annotations"]["org.opencontainers.image.base.digest"], base.manifest.digest.str());
  EXPECT_TRUE(path_exists(t.sub("top/") + base.layer.digest.blob_path())) << "base blob copied";
  const auto cfg = config_of(t.sub("top"), top);
  ASSERT_EQ(cfg["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][0], base.diff_id.str());
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][1], top.diff_id.str());
  ASSERT_EQ(cfg["history"].size(), 2u);
  EXPECT_EQ(cfg["history"][1]["created_by"], "ocipipe pack");
  EXPECT_EQ(cfg["config"]["Cmd"], json::array({"/bin/true"}));
  auto u = unpack(*parse_reference("oci:" + t.sub("top") + ":t"), t.sub("rootfs"), {});
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(read_bytes(t.sub("rootfs/a")), "from the base\n");
  EXPECT_EQ(read_bytes(t.sub("rootfs/b")), "from the top\n");
  EXPECT_EQ(read_bytes(t.sub("rootfs/c")), "new\n");
  // Into the base's own layout, under another tag: nothing to copy, both tags kept.
  const auto same = pack_ok(t.sub("upper"), "oci:" + t.sub("base") + ":t", o);
  const auto index = json::parse(read_bytes(t.sub("base/index.json")));
  EXPECT_EQ(index["manifests"].size(), 2u);
}

TEST(Pack, ConfigAndManifestCarryTheEdits) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/f"), "x");
  pack_options o = fixed_time();
  o.edits.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
  o.edits.cmd = std::vector<std::string>{"echo hi"};
  o.edits.env = {"PATH=/usr/bin", "A=1"};
  o.edits.working_dir = "/srv";
  o.edits.user = "1000:1000";
  o.edits.labels = {{"org.example.k", "v"}};
  o.edits.annotations = {{"org.opencontainers.image.title", "demo"}};
  o.edits.platform = "linux/arm64/v8";
  o.edits.author = "Jane <jane@example.org>";
  o.edits.history_comment = "first";
  const auto r = pack_ok(t.sub("a"), "oci:" + t.sub("out"), o);
  const auto cfg = config_of(t.sub("out"), r);
  EXPECT_EQ(cfg["created"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(cfg["author"], "Jane <jane@example.org>");
  EXPECT_EQ(cfg["os"], "linux");
  EXPECT_EQ(cfg["architecture"], "arm64");
  EXPECT_EQ(cfg["variant"], "v8");
  EXPECT_EQ(cfg["config"]["Entrypoint"], json::array({"/bin/sh", "-c"}));
  EXPECT_EQ(cfg["config"]["Cmd"], json::array({"echo hi"}));
  EXPECT_EQ(cfg["config"]["Env"], json::array({"PATH=/usr/bin", "A=1"}));
  EXPECT_EQ(cfg["config"]["WorkingDir"], "/srv");
  EXPECT_EQ(cfg["config"]["User"], "1000:1000");
  EXPECT_EQ(cfg["config"]["Labels"]["org.example.k"], "v");
  EXPECT_EQ(cfg["rootfs"]["type"], "layers");
  ASSERT_EQ(cfg["history"].size(), 1u);
  EXPECT_EQ(cfg["history"][0]["comment"], "first");
  EXPECT_EQ(cfg["history"][0]["author"], "Jane <jane@example.org>");
  EXPECT_EQ(cfg["history"][0]["created"], "2024-01-02T03:04:05Z");
  const auto m = manifest_of(t.sub("out"), r);
  EXPECT_EQ(m["mediaType"], media_type::image_manifest);
  EXPECT_EQ(m["config"]["mediaType"], media_type::image_config);
  EXPECT_EQ(m["annotations"]["org.opencontainers.image.title"], "demo");
  EXPECT_EQ(r.manifest.ref_name(), "latest") << "no tag in DEST: latest";
  const auto index = json::parse(read_bytes(t.sub("out/index.json")));
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], r.manifest.digest.str());
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest");

  // On top of it, Env replaces by NAME and keeps the rest; unknown fields survive.
  pack_options o2 = fixed_time();
  o2.base = *parse_reference("oci:" + t.sub("out") + ":latest");
  o2.edits.env = {"A=2", "B=3"};
  const auto r2 = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":two", o2);
  const auto cfg2 = config_of(t.sub("out"), r2);
  EXPECT_EQ(cfg2["config"]["Env"], json::array({"PATH=/usr/bin", "A=2", "B=3"}));
  EXPECT_EQ(cfg2["config"]["Entrypoint"], json::array({"/bin/sh", "-c"}));
  EXPECT_EQ(cfg2["architecture"], "arm64");
}

TEST(Pack, BadFlagsAreRefusedBeforeAnyBlobIsWritten) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/f"), "x");
  struct bad_case {
    const char* what;
    std::function<void(pack_options&)> set;
  };
  for (const auto& c : {bad_case{"level", [](pack_options& o) { o.level = 12; }},
                        bad_case{"created", [](pack_options& o) { o.edits.created = "yesterday"; }},
                        bad_case{"platform", [](pack_options& o) { o.edits.platform = "linux"; }},
                        bad_case{"env", [](pack_options& o) { o.edits.env = {"=x"}; }}}) {
    SCOPED_TRACE(c.what);
    pack_options o;
    c.set(o);
    auto r = pack(t.sub("a"), *parse_reference("oci:" + t.sub("out") + ":x"), o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
    EXPECT_TRUE(names_in(t.sub("out/blobs/sha256")).empty());
  }
}

TEST(Pack, DestinationInsideTheDirectoryIsRefused) {
  temp_dir t;
  make_dir(t.sub("a"));
  auto r = pack(t.sub("a"), *parse_reference("oci:" + t.sub("a/out") + ":x"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_FALSE(path_exists(t.sub("a/out")));
}

TEST(Pack, MissingDirectoryIsNotFound) {
  temp_dir t;
  auto r = pack(t.sub("nope"), *parse_reference("oci:" + t.sub("out") + ":x"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found) << r.error().message();
}

TEST(PackImage, NoNewLayerKeepsTheBaseLayersAndAddsAnEmptyLayerHistoryEntry) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/f"), "x");
  const auto base = pack_ok(t.sub("a"), "oci:" + t.sub("out") + ":base", fixed_time());
  auto opened = pipeline::open_image(*parse_reference("oci:" + t.sub("out") + ":base"), {});
  ASSERT_TRUE(opened) << opened.error().message();
  auto w = io::layout_writer::open(t.sub("out"), false);
  ASSERT_TRUE(w);
  pipeline::image_write_options o;
  o.tag = "same";
  o.edits.created = "2024-01-02T03:04:05Z";
  auto r = pipeline::write_packed_image(*w, &*opened, static_cast<const pipeline::packed_layer*>(nullptr), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->base_layers, 1u);
  const auto m = json::parse(blob_text(t.sub("out"), r->manifest.digest));
  ASSERT_EQ(m["layers"].size(), 1u);
  EXPECT_EQ(m["layers"][0]["digest"], base.layer.digest.str());
  const auto cfg = json::parse(blob_text(t.sub("out"), r->config.digest));
  EXPECT_EQ(cfg["rootfs"]["diff_ids"].size(), 1u);
  ASSERT_EQ(cfg["history"].size(), 2u);
  EXPECT_EQ(cfg["history"][1]["empty_layer"], true);
  auto none = pipeline::write_packed_image(*w, nullptr, static_cast<const pipeline::packed_layer*>(nullptr), o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::invalid_argument);
}

// ---- pack_layer directly: whiteouts, and files changing under it -----------------

TEST(PackLayer, WhiteoutsAreEmptyRegularFilesAsUmociWritesThem) {
  temp_dir t;
  make_dir(t.sub("root"));
  make_dir(t.sub("root/d"));
  auto w = io::layout_writer::open(t.sub("out"), true);
  ASSERT_TRUE(w) << w.error().message();
  std::vector<pipeline::layer_change> changes;
  pipeline::layer_change wh;
  wh.what = pipeline::layer_change::kind::whiteout;
  wh.path = "etc/gone";
  changes.push_back(wh);
  pipeline::layer_change top_wh = wh;
  top_wh.path = "top";
  changes.push_back(top_wh);
  pipeline::layer_change opq;
  opq.what = pipeline::layer_change::kind::opaque_whiteout;
  opq.path = "d";
  changes.push_back(opq);
  io::unique_fd root(::open(t.sub("root").c_str(), O_RDONLY | O_DIRECTORY));
  auto r = pipeline::pack_layer(root.get(), changes, *w, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->entries, 3u);
  const auto es = tar_entries(layer_tar(t.sub("out"), r->layer));
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[0].path, "etc/.wh.gone");
  EXPECT_EQ(es[1].path, ".wh.top");
  EXPECT_EQ(es[2].path, "d/.wh..wh..opq");
  for (const auto& e : es) {
    EXPECT_EQ(e.type, entry_type::regular);
    EXPECT_EQ(e.size, 0u);
    EXPECT_EQ(e.mode, 0u);
    EXPECT_EQ(e.uid, 0);
    EXPECT_EQ(e.mtime_sec, 0);
  }
}

TEST(PackLayer, AFileThatChangedSinceTheWalkFailsThePack) {
  temp_dir t;
  make_dir(t.sub("root"));
  write_bytes(t.sub("root/f"), "12345");
  auto walked = io::walk_tree(t.sub("root"));
  ASSERT_TRUE(walked);
  write_bytes(t.sub("root/f"), "123");  // shorter now
  auto w = io::layout_writer::open(t.sub("out"), true);
  ASSERT_TRUE(w);
  std::vector<pipeline::layer_change> changes;
  for (auto& e : *walked) changes.push_back({pipeline::layer_change::kind::add, e.path, e});
  io::unique_fd root(::open(t.sub("root").c_str(), O_RDONLY | O_DIRECTORY));
  auto r = pipeline::pack_layer(root.get(), changes, *w, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::io);
  EXPECT_NE(r.error().message().find("changed while packing"), std::string::npos) << r.error().message();
  EXPECT_TRUE(names_in(t.sub("out/blobs/sha256")).empty()) << "nothing committed";
}

// ---- the CLI ---------------------------------------------------------------------

namespace cli_test {

TEST(PackCli, PrintsTheManifestDigestAndTagsTheImage) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = run_ocipipe({"pack", t.sub("a"), "oci:" + t.sub("out") + ":v1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto index = json::parse(read_bytes(t.sub("out/index.json")));
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(r.out, index["manifests"][0]["digest"].get<std::string>() + "\n");
}

TEST(PackCli, JsonRecordCarriesEveryDigestAndSize) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  const auto r = run_ocipipe({"pack", "--json", "--compression", "zstd", t.sub("a"), "oci:" + t.sub("out") + ":v1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const auto rec = json::parse(lines[0]);
  EXPECT_EQ(rec["type"], "pack");
  EXPECT_EQ(rec["schema"], 1);
  const auto& d = rec["data"];
  EXPECT_EQ(d["status"], "ok");
  for (const char* k : {"manifest_digest", "config_digest", "layer_digest", "diff_id"})
    EXPECT_TRUE(digest::parse(d[k].get<std::string>())) << k;
  EXPECT_EQ(d["layer_media_type"], media_type::layer_tar_zstd);
  EXPECT_GT(d["layer_size"].get<std::int64_t>(), 0);
  EXPECT_GT(d["tar_bytes"].get<std::int64_t>(), 0);
  EXPECT_GT(d["entries"].get<std::int64_t>(), 10);
  EXPECT_TRUE(path_exists(t.sub("out/") + digest::parse(d["layer_digest"].get<std::string>())->blob_path()));
}

TEST(PackCli, SourceDateEpochFromTheEnvironmentMakesTheImageReproducible) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  auto run = [&](const std::string& out, const std::string& sde) {
    return run_command({"env", "SOURCE_DATE_EPOCH=" + sde, ocipipe_binary(), "pack", t.sub("a"), "oci:" + t.sub(out) + ":x"});
  };
  const auto one = run("o1", "1500000000");
  ASSERT_TRUE(one.ok()) << one.describe();
  set_mtime(t.sub("a/etc/motd"), 1700000000);
  const auto two = run("o2", "1500000000");
  ASSERT_TRUE(two.ok()) << two.describe();
  EXPECT_EQ(one.out, two.out) << "same manifest digest";
  const auto bad = run("o3", "yesterday");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "SOURCE_DATE_EPOCH")) << bad.err;
}

TEST(PackCli, EntrypointAndCmdTakeAJsonArrayOrOneWord) {
  temp_dir t;
  make_dir(t.sub("a"));
  write_bytes(t.sub("a/f"), "x");
  const auto r = run_ocipipe({"pack", "--entrypoint", "[\"/bin/sh\",\"-c\"]", "--cmd", "echo hi",
                              "--label", "a=b=c", "--annotation", "k=v", "--user", "nobody", "--workdir", "/w",
                              "--author", "me", "--created", "2020-02-02T02:02:02Z", "--history-comment", "c",
                              "--platform", "linux/arm/v7", t.sub("a"), "oci:" + t.sub("out") + ":x"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto m = json::parse(read_bytes(t.sub("out/") + digest::parse(r.out.substr(0, r.out.size() - 1))->blob_path()));
  EXPECT_EQ(m["annotations"]["k"], "v");
  const auto cfg = json::parse(read_bytes(t.sub("out/") + digest::parse(m["config"]["digest"].get<std::string>())->blob_path()));
  EXPECT_EQ(cfg["config"]["Entrypoint"], json::array({"/bin/sh", "-c"}));
  EXPECT_EQ(cfg["config"]["Cmd"], json::array({"echo hi"}));
  EXPECT_EQ(cfg["config"]["Labels"]["a"], "b=c");
  EXPECT_EQ(cfg["config"]["User"], "nobody");
  EXPECT_EQ(cfg["config"]["WorkingDir"], "/w");
  EXPECT_EQ(cfg["author"], "me");
  EXPECT_EQ(cfg["created"], "2020-02-02T02:02:02Z");
  EXPECT_EQ(cfg["architecture"], "arm");
  EXPECT_EQ(cfg["variant"], "v7");
  EXPECT_EQ(cfg["history"][0]["comment"], "c");
}

TEST(PackCli, UsageErrorsExitTwoAndWriteNothing) {
  temp_dir t;
  make_dir(t.sub("a"));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"pack", "--entrypoint", "[\"/bin/sh\",", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", "--cmd", "[1,2]", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", "--label", "=v", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", "--level", "0", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", "--compression", "lz4", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", "--diff", "--base", "oci:x", t.sub("a"), "oci:" + t.sub("out")},
           {"pack", t.sub("a"), "oci-archive:" + t.sub("out.tar")},
           {"pack", t.sub("a")}}) {
    const auto r = run_ocipipe(args);
    EXPECT_EQ(r.exit_code, 2) << format_command(args) << ": " << r.describe();
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(path_exists(t.sub("out/blobs/sha256")) && !names_in(t.sub("out/blobs/sha256")).empty())
        << format_command(args);
  }
}

// Fresh-user report: a pack that failed after creating its destination left
// an empty layout behind. A layout that existed is kept as it was.
TEST(Pack, FailedPackRemovesTheLayoutItCreatedButKeepsAnExistingOne) {
  temp_dir t;
  build_sample_tree(t.sub("a"));
  pack_options o = fixed_time();
  o.base = *parse_reference("oci:" + t.sub("no-such-base") + ":b");
  auto r = pack(t.sub("a"), *parse_reference("oci:" + t.sub("new") + ":x"), o);
  ASSERT_FALSE(r);
  EXPECT_NE(::access(t.sub("new").c_str(), F_OK), 0) << "a failed pack left " << t.sub("new");

  pack_ok(t.sub("a"), "oci:" + t.sub("old") + ":x", fixed_time());
  const std::string index = read_bytes(t.sub("old") + "/index.json");
  auto again = pack(t.sub("a"), *parse_reference("oci:" + t.sub("old") + ":y"), o);
  ASSERT_FALSE(again);
  EXPECT_EQ(read_bytes(t.sub("old") + "/index.json"), index);
}

}  // namespace cli_test

}  // namespace
}  // namespace ocipipe::testing
