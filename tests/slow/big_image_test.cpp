// Big synthetic images, made here from fixed seeds (DESIGN.md §8: many layers, many small
// files, one huge file), for what small images cannot show: that the parallel unpack graph
// gives the same tree whatever the thread count when forty layers overwrite and white out
// one another, that tens of thousands of entries in one layer all arrive intact, and that a
// layer far larger than the byte budget unpacks and validates in bounded memory (DESIGN.md
// §2: "a 50 GB image unpacks in a few hundred MB of RSS").
//
// Label `slow`: minutes, gigabytes of disk. Scratch space is under /var/tmp (disk by the
// FHS) unless TMPDIR says otherwise, because /tmp is often a small tmpfs.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "tests/support/image_builder.h"
#include "tests/support/measured_run.h"
#include "tests/support/report_text.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

// ---- scratch space and small helpers ----

std::string sha256_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<unreadable " + path + ">";
  digester d;
  std::vector<char> buf(4 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n > 0) d.update(std::as_bytes(std::span(buf.data(), n)));
  }
  return d.finish().str();
}


void expect_valid(const built_image& img) {
  validate_options opts;
  opts.jobs = 2;
  const auto out = validate({img.ref()}, opts);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].valid()) << describe(out[0]);
  EXPECT_FALSE(out[0].failure.has_value()) << describe(out[0]);
  EXPECT_TRUE(out[0].findings.empty()) << describe(out[0]);
}

// ---- what a rootfs should hold: a model, and reading one back ----

enum class node_type { file, dir, symlink };

struct node {
  node_type type = node_type::file;
  std::string data;  ///< a file's content, a symlink's target
  friend bool operator==(const node&, const node&) = default;
};

/// Path relative to the rootfs ("d03/s1/f7_2") -> what is there.
using tree_model = std::map<std::string, node>;

std::string node_text(const node& n) {
  switch (n.type) {
    case node_type::dir: return "dir";
    case node_type::symlink: return "symlink -> " + n.data;
    case node_type::file: break;
  }
  return "file of " + std::to_string(n.data.size()) + " bytes";
}

// `path` below `root`, relative to it, lexically (fs::relative would resolve symlinks).
std::string relative_to(const std::string& root, const fs::path& path) {
  return path.string().substr(root.size() + 1);
}

// Reads a rootfs back into a model (lstat; symlinks never followed).
tree_model read_tree(const std::string& root) {
  tree_model out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::end(it); ++it) {
    const std::string rel = relative_to(root, it->path());
    const auto st = it->symlink_status();
    if (fs::is_directory(st)) {
      out[rel] = {node_type::dir, {}};
    } else if (fs::is_symlink(st)) {
      out[rel] = {node_type::symlink, fs::read_symlink(it->path()).string()};
    } else if (fs::is_regular_file(st)) {
      out[rel] = {node_type::file, read_bytes(it->path())};
    } else {
      out[rel] = {node_type::file, "<unexpected file type>"};
    }
  }
  return out;
}

// Every path whose node differs, first `limit` of them, for a failure message.
std::string model_differences(const tree_model& want, const tree_model& got, std::size_t limit = 30) {
  std::ostringstream out;
  std::size_t shown = 0, total = 0;
  auto note = [&](const std::string& path, const std::string& what) {
    if (shown++ < limit) out << "  " << path << ": " << what << "\n";
    ++total;
  };
  for (const auto& [path, n] : want) {
    const auto it = got.find(path);
    if (it == got.end()) {
      note(path, "missing (want " + node_text(n) + ")");
    } else if (!(it->second == n)) {
      note(path, "want " + node_text(n) + ", got " + node_text(it->second) +
                     (n.type == it->second.type ? " with other content" : ""));
    }
  }
  for (const auto& [path, n] : got)
    if (!want.contains(path)) note(path, "unexpected " + node_text(n));
  if (total > limit) out << "  ... and " << (total - limit) << " more\n";
  return out.str();
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

void erase_below(tree_model& m, const std::string& dir) {
  for (auto it = m.lower_bound(dir + "/"); it != m.end() && is_under(it->first, dir);) it = m.erase(it);
}

// ---- (a) many layers: each overwrites, retypes and whites out what earlier ones made ----

constexpr std::uint64_t kLayersSeed = 0x0c1b1be5;
constexpr std::size_t kLayerCount = 40;

// Plans the layers one after the other against a model of the rootfs, so the model is what
// image-spec layer.md's "Applying Changesets" must give. Each path is used at most once per
// layer (a whiteout and an entry of the same name in one layer would be ambiguous); dir
// entries come first (parents before children), then whiteouts, then everything else.
class layer_planner {
 public:
  explicit layer_planner(std::uint64_t seed) : rng_{seed} {}

  std::vector<layer_spec> plan(std::size_t count) {
    std::vector<layer_spec> layers;
    for (std::size_t k = 0; k < count; ++k) layers.push_back(plan_layer(k));
    return layers;
  }
  [[nodiscard]] const tree_model& model() const { return model_; }

 private:
  // Paths of the model of `type`, not used yet in the current layer; for directories, also
  // none below them (a directory whited out whole must not hold this layer's other
  // whiteouts).
  std::vector<std::string> candidates(node_type type, bool top_level_ok = true) const {
    std::vector<std::string> out;
    for (const auto& [path, n] : model_) {
      if (n.type != type || touched_.contains(path)) continue;
      if (!top_level_ok && path.find('/') == std::string::npos) continue;
      if (type == node_type::dir) {
        const auto below = touched_.lower_bound(path + "/");
        if (below != touched_.end() && is_under(*below, path)) continue;
      }
      out.push_back(path);
    }
    return out;
  }
  std::string pick(const std::vector<std::string>& v) { return v[rng_.below(v.size())]; }

  std::string content() {
    // Mostly small files; one in ten is big enough that layers take a while to inflate, so
    // several are in flight at once.
    const std::size_t size = rng_.percent(10) ? 32768 + rng_.below(224 * 1024) : rng_.below(8193);
    return rng_.bytes(size);
  }
  std::uint32_t file_mode() {
    static constexpr std::uint32_t modes[] = {0644, 0644, 0600, 0755, 0640, 04755, 02755};
    return modes[rng_.below(std::size(modes))];
  }

  // An entry at `path` (ancestors become dirs in this layer and in the model).
  void add_item(tar_spec_entry e, node n) {
    touched_.insert(e.name);
    for (std::string p = parent_of(e.name); !p.empty(); p = parent_of(p)) {
      dirs_.insert(p);
      model_[p] = {node_type::dir, {}};
    }
    model_[e.name] = std::move(n);
    items_.push_back(std::move(e));
  }

  void add_file(const std::string& path) {
    auto e = file(path, content(), file_mode());
    e.uid = rng_.percent(20) ? 1000 : 0;
    e.gid = e.uid;
    e.mtime = default_mtime + static_cast<std::int64_t>(rng_.below(1000000));
    node n{node_type::file, e.content};
    add_item(std::move(e), std::move(n));
  }

  // A parent directory for a new entry: an existing dir, or now and then a fresh one.
  std::string new_parent() {
    auto dirs = candidates(node_type::dir);
    if (dirs.empty() || rng_.percent(12)) {
      const std::string base = dirs.empty() || rng_.percent(30) ? std::string() : pick(dirs) + "/";
      return base + "n" + std::to_string(fresh_++);
    }
    return pick(dirs);
  }
  std::string new_path() { return new_parent() + "/f" + std::to_string(fresh_++); }

  void whiteout(const std::string& path) {
    whiteouts_.push_back(file((parent_of(path).empty() ? "" : parent_of(path) + "/") + ".wh." + base_of(path)));
    touched_.insert(path);
    erase_below(model_, path);
    model_.erase(path);
  }

  layer_spec plan_layer(std::size_t k) {
    dirs_.clear();
    whiteouts_.clear();
    items_.clear();
    touched_.clear();

    if (k == 0) {
      for (int d = 0; d < 8; ++d)
        for (int f = 0; f < 30; ++f)
          add_file("d" + std::to_string(d) + "/s" + std::to_string(f % 3) + "/f" + std::to_string(fresh_++));
    } else {
      // Whiteouts of files and symlinks of lower layers.
      for (int i = 0; i < 4; ++i) {
        auto files = candidates(rng_.percent(80) ? node_type::file : node_type::symlink);
        if (!files.empty()) whiteout(pick(files));
      }
      // Now and then a whole directory of a lower layer goes.
      if (k % 6 == 3) {
        auto dirs = candidates(node_type::dir, false);
        if (!dirs.empty()) whiteout(pick(dirs));
      }
      // Now and then an opaque whiteout: the directory stays, its lower content goes, and
      // this layer puts new entries in it.
      if (k % 7 == 5) {
        auto dirs = candidates(node_type::dir);
        if (!dirs.empty()) {
          const std::string d = pick(dirs);
          erase_below(model_, d);
          touched_.insert(d);
          dirs_.insert(d);
          whiteouts_.push_back(file(d + "/.wh..wh..opq"));
          for (int i = 0; i < 3; ++i) add_file(d + "/o" + std::to_string(fresh_++));
        }
      }
      // Overwrites of lower files, with new content, size and mode.
      for (int i = 0; i < 8; ++i) {
        auto files = candidates(node_type::file);
        if (!files.empty()) add_file(pick(files));
      }
      // A path that changes type: file -> symlink, symlink -> file, file -> directory.
      switch (rng_.below(3)) {
        case 0: {
          auto files = candidates(node_type::file);
          if (!files.empty()) {
            const std::string p = pick(files);
            add_item(symlink(p, "../retyped/" + base_of(p)), {node_type::symlink, "../retyped/" + base_of(p)});
          }
          break;
        }
        case 1: {
          auto links = candidates(node_type::symlink);
          if (!links.empty()) add_file(pick(links));
          break;
        }
        case 2: {
          auto files = candidates(node_type::file);
          if (!files.empty()) {
            const std::string p = pick(files);
            touched_.insert(p);
            add_file(p + "/child" + std::to_string(fresh_++));
          }
          break;
        }
      }
    }
    // New files, a hardlink pair, new symlinks (targets never followed; some absolute).
    const std::size_t adds = 15 + rng_.below(11);
    for (std::size_t i = 0; i < adds; ++i) add_file(new_path());
    {
      const std::string a = new_path();
      add_file(a);
      const std::string b = parent_of(a) + "/h" + std::to_string(fresh_++);
      add_item(hardlink(b, a), model_[a]);
    }
    for (int i = 0; i < 2; ++i) {
      const std::string target = rng_.percent(50) ? "/etc/passwd" : "../../f" + std::to_string(rng_.below(500));
      add_item(symlink(new_path(), target), {node_type::symlink, target});
    }

    layer_spec l;
    for (const auto& d : dirs_) l.entries.push_back(dir(d));
    for (auto& w : whiteouts_) l.entries.push_back(std::move(w));
    for (auto& e : items_) l.entries.push_back(std::move(e));
    l.compression = layer_compression::gzip;
    return l;
  }

  splitmix64 rng_;
  tree_model model_;
  std::size_t fresh_ = 0;
  std::set<std::string> dirs_;  // sorted: a parent before its children
  std::vector<tar_spec_entry> whiteouts_;
  std::vector<tar_spec_entry> items_;
  std::set<std::string> touched_;
};

TEST(ManyLayersImage, UnpacksIdenticallyWithOneAndFourJobsAsModelled) {
  temp_dir tmp = disk_temp_dir("ocipipe-slow-layers", 1ull << 30);
  layer_planner planner(kLayersSeed);
  const auto img = build_layout(tmp.sub("layout"), "layers", planner.plan(kLayerCount));
  ASSERT_EQ(img.layers.size(), kLayerCount);

  unpack_options one;
  one.jobs = 1;
  auto r1 = unpack(img.ref(), tmp.sub("rootfs-j1"), one);
  ASSERT_TRUE(r1) << r1.error().message();
  unpack_options four;
  four.jobs = 4;
  // A small budget, so the four workers really wait on one another and on the apply stage.
  four.max_bytes_in_flight = 1u << 20;
  auto r4 = unpack(img.ref(), tmp.sub("rootfs-j4"), four);
  ASSERT_TRUE(r4) << r4.error().message();
  EXPECT_EQ(r1->layers.size(), kLayerCount);
  EXPECT_EQ(r4->layers.size(), kLayerCount);

  const auto diffs = compare_trees(tmp.sub("rootfs-j1"), tmp.sub("rootfs-j4"));
  EXPECT_TRUE(diffs.empty()) << "-j1 (A) vs -j4 (B): " << diffs.size() << " differences:\n"
                             << format_differences(diffs);

  // Equal trees could be equally wrong: the tree must also be what the layers say.
  const tree_model got = read_tree(tmp.sub("rootfs-j1"));
  EXPECT_TRUE(got == planner.model()) << "rootfs vs model of the layers:\n"
                                      << model_differences(planner.model(), got);
}

TEST(ManyLayersImage, Validates) {
  temp_dir tmp = disk_temp_dir("ocipipe-slow-layers", 1ull << 30);
  layer_planner planner(kLayersSeed);
  const auto img = build_layout(tmp.sub("layout"), "layers", planner.plan(kLayerCount));
  expect_valid(img);
}

// ---- (b) many small files in one layer ----

constexpr std::uint64_t kSmallFilesSeed = 0x5a11f11e5;
constexpr std::size_t kSmallFiles = 60000;

struct small_files_image {
  built_image img;
  std::map<std::string, std::string> files;  // path -> content
  std::size_t dirs = 0;
};

// 60 top directories of 10 subdirectories of 100 files each, 0-4 KiB, one zstd layer.
small_files_image build_small_files(const std::string& layout_dir) {
  splitmix64 r{kSmallFilesSeed};
  std::vector<layer_spec> layers(1);
  auto& entries = layers[0].entries;
  layers[0].compression = layer_compression::zstd;
  small_files_image out;
  for (std::size_t i = 0; i < kSmallFiles; ++i) {
    const std::string top = "t" + std::to_string(i / 1000);
    const std::string sub = top + "/s" + std::to_string(i / 100 % 10);
    if (i % 1000 == 0) {
      entries.push_back(dir(top));
      ++out.dirs;
    }
    if (i % 100 == 0) {
      entries.push_back(dir(sub));
      ++out.dirs;
    }
    // Half random bytes, half text, so zstd has something to do either way.
    const std::size_t size = i % 97 == 0 ? 0 : r.below(4097);
    std::string content = i % 2 ? r.bytes(size) : std::string(size, static_cast<char>('a' + i % 26));
    entries.push_back(file(sub + "/f" + std::to_string(i), std::move(content)));
  }
  out.img = build_layout(layout_dir, "small", layers);
  for (auto& e : entries)
    if (e.type == entry_type::regular) out.files.emplace(e.name, std::move(e.content));
  return out;
}

TEST(ManySmallFilesImage, UnpacksEveryFileIntact) {
  temp_dir tmp = disk_temp_dir("ocipipe-slow-small", 2ull << 30);
  auto img = build_small_files(tmp.sub("layout"));
  unpack_options opts;
  opts.jobs = 2;
  auto r = unpack(img.img.ref(), tmp.sub("rootfs"), opts);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_EQ(r->layers[0].entries, kSmallFiles + img.dirs);

  std::size_t seen = 0, wrong = 0;
  std::string first_wrong;
  for (auto it = fs::recursive_directory_iterator(tmp.sub("rootfs")); it != fs::end(it); ++it) {
    if (!it->is_regular_file()) continue;
    ++seen;
    const std::string rel = relative_to(tmp.sub("rootfs"), it->path());
    const auto want = img.files.find(rel);
    if (want == img.files.end() || read_bytes(it->path()) != want->second) {
      if (wrong++ == 0) first_wrong = rel;
    }
  }
  EXPECT_EQ(seen, kSmallFiles);
  EXPECT_EQ(wrong, 0u) << "first wrong or unexpected file: " << first_wrong;
}

TEST(ManySmallFilesImage, Validates) {
  temp_dir tmp = disk_temp_dir("ocipipe-slow-small", 1ull << 30);
  const auto img = build_small_files(tmp.sub("layout"));
  expect_valid(img.img);
}

// ---- (c) one large file, far larger than the unpack's byte budget ----

constexpr std::uint64_t kLargeSeed = 0x1a26ef11e;
constexpr std::uint64_t kLargeFileBytes = 1536ull << 20;  // 1.5 GiB
// Peak RSS (kB, as GNU time's %M reports it) that unpack and validate must stay under: the
// graph's byte budget is 64 MiB, so a few hundred MB covers it with room for the libraries;
// an implementation holding the layer whole would need gigabytes.
constexpr long kMaxRssKb = 300 * 1000;

// The tar stream is written by libarchive (pax_restricted, as image_builder does) into a
// second libarchive writer that only gzips (format raw, zlib through libarchive's gzip
// filter, level 1), then to disk; both streams are digested on the way. Nothing is ever
// held whole, which image_builder's in-memory layers cannot promise at this size. zlib
// compresses, ISA-L inflates in ocipipe: two implementations of one format.
class streamed_gzip_layer {
 public:
  explicit streamed_gzip_layer(const std::string& path) : out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write \"" + path + "\"");
    gz_ = archive_write_new();
    check(gz_, archive_write_set_format_raw(gz_), "raw");
    check(gz_, archive_write_add_filter_gzip(gz_), "gzip filter");
    check(gz_, archive_write_set_filter_option(gz_, "gzip", "compression-level", "1"), "level");
    // No timestamp in the gzip header, so the blob is the same from run to run (older
    // libarchive may not know the option; the digest then varies, the content does not).
    archive_write_set_filter_option(gz_, "gzip", "timestamp", nullptr);
    // No blocking: padding the last block would put zeros after the gzip trailer.
    check(gz_, archive_write_set_bytes_per_block(gz_, 0), "bytes per block");
    check(gz_, archive_write_open(gz_, this, nullptr, &streamed_gzip_layer::gz_out, nullptr), "open gzip");
    entry_ptr e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), "layer.tar");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    check(gz_, archive_write_header(gz_, e.get()), "gzip header");

    tar_ = archive_write_new();
    check(tar_, archive_write_set_format_pax_restricted(tar_), "pax_restricted");
    check(tar_, archive_write_add_filter_none(tar_), "filter none");
    check(tar_, archive_write_open(tar_, this, nullptr, &streamed_gzip_layer::tar_out, nullptr), "open tar");
  }
  ~streamed_gzip_layer() {
    if (tar_) archive_write_free(tar_);
    if (gz_) archive_write_free(gz_);
  }
  streamed_gzip_layer(const streamed_gzip_layer&) = delete;
  streamed_gzip_layer& operator=(const streamed_gzip_layer&) = delete;

  void add_dir(const std::string& name) { header(name, AE_IFDIR, 0, 0755); }
  void add_file(const std::string& name, std::uint64_t size) { header(name, AE_IFREG, size, 0644); }
  void write(const char* data, std::size_t n) {
    while (n > 0) {
      const la_ssize_t w = archive_write_data(tar_, data, n);
      if (w <= 0) check(tar_, ARCHIVE_FATAL, "write data");
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  struct result {
    digest blob;
    std::int64_t size = 0;
    digest diff_id;
  };
  result finish() {
    check(tar_, archive_write_close(tar_), "close tar");
    check(gz_, archive_write_close(gz_), "close gzip");
    out_.close();
    if (!out_) throw std::runtime_error("writing the layer blob failed");
    return {blob_.finish(), size_, tar_digest_.finish()};
  }

 private:
  using entry_ptr = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

  static void check(archive* a, int rc, const std::string& what) {
    if (rc < ARCHIVE_WARN) {
      const char* msg = archive_error_string(a);
      throw std::runtime_error("libarchive " + what + ": " + (msg ? msg : "error"));
    }
  }
  void header(const std::string& name, unsigned type, std::uint64_t size, unsigned mode) {
    entry_ptr e(archive_entry_new(), archive_entry_free);
    archive_entry_copy_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), default_mtime, 0);
    check(tar_, archive_write_header(tar_, e.get()), "header of " + name);
  }
  static la_ssize_t tar_out(archive*, void* self_v, const void* buf, std::size_t n) {
    auto* self = static_cast<streamed_gzip_layer*>(self_v);
    self->tar_digest_.update(std::as_bytes(std::span(static_cast<const char*>(buf), n)));
    std::size_t done = 0;
    while (done < n) {
      const la_ssize_t w = archive_write_data(self->gz_, static_cast<const char*>(buf) + done, n - done);
      if (w <= 0) return -1;
      done += static_cast<std::size_t>(w);
    }
    return static_cast<la_ssize_t>(n);
  }
  static la_ssize_t gz_out(archive*, void* self_v, const void* buf, std::size_t n) {
    auto* self = static_cast<streamed_gzip_layer*>(self_v);
    self->blob_.update(std::as_bytes(std::span(static_cast<const char*>(buf), n)));
    self->out_.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
    self->size_ += static_cast<std::int64_t>(n);
    return self->out_ ? static_cast<la_ssize_t>(n) : -1;
  }

  std::ofstream out_;
  archive* gz_ = nullptr;
  archive* tar_ = nullptr;
  digester blob_;
  digester tar_digest_;
  std::int64_t size_ = 0;
};

// Pseudo-random text: words drawn from a random vocabulary, so it is the same for a seed,
// never periodic, and compresses about 2:1 (a real-looking layer, not a run of zeros that
// deflate squeezes a thousandfold).
class text_source {
 public:
  explicit text_source(std::uint64_t seed) : rng_{seed} {
    for (auto& w : words_) {
      const std::size_t len = 2 + rng_.below(11);
      for (std::size_t i = 0; i < len; ++i) w.push_back(static_cast<char>('a' + rng_.below(26)));
      w.push_back(rng_.percent(12) ? '\n' : ' ');
    }
  }
  // Fills `buf` completely (the last word of a chunk is cut and not resumed: simpler, and
  // still deterministic).
  void fill(std::string& buf) {
    std::size_t at = 0;
    while (at < buf.size()) {
      std::uint64_t v = rng_.next();
      for (int k = 0; k < 5 && at < buf.size(); ++k, v >>= 12) {
        const std::string& w = words_[v & 4095];
        const std::size_t n = std::min(w.size(), buf.size() - at);
        std::memcpy(buf.data() + at, w.data(), n);
        at += n;
      }
    }
  }

 private:
  splitmix64 rng_;
  std::string words_[4096];
};

struct large_image {
  std::string ref;
  std::string file_sha256;  // of the big file's content
  std::int64_t blob_size = 0;
};

large_image build_large(const std::string& dir) {
  built_image img;  // only its dir, for write_blob()
  img.dir = dir;
  fs::create_directories(dir + "/blobs/sha256");
  const std::string tmp_blob = dir + "/blobs/layer.tmp";

  streamed_gzip_layer layer(tmp_blob);
  layer.add_dir("data");
  const std::string readme = "one large file follows\n";
  layer.add_file("data/README", readme.size());
  layer.write(readme.data(), readme.size());
  layer.add_file("data/big.bin", kLargeFileBytes);
  text_source text(kLargeSeed);
  digester content;
  std::string chunk(1 << 20, '\0');
  for (std::uint64_t done = 0; done < kLargeFileBytes; done += chunk.size()) {
    chunk.resize(std::min<std::uint64_t>(chunk.size(), kLargeFileBytes - done));
    text.fill(chunk);
    content.update(std::as_bytes(std::span(chunk.data(), chunk.size())));
    layer.write(chunk.data(), chunk.size());
  }
  const auto blob = layer.finish();
  fs::rename(tmp_blob, dir + "/" + blob.blob.blob_path());

  const ordered_json config{{"architecture", "amd64"},
                            {"os", "linux"},
                            {"config", ordered_json::object()},
                            {"rootfs", {{"type", "layers"}, {"diff_ids", ordered_json::array({blob.diff_id.str()})}}}};
  const std::string config_bytes = config.dump();
  const digest config_digest = write_blob(img, config_bytes);
  const ordered_json manifest{
      {"schemaVersion", 2},
      {"mediaType", media_type::image_manifest},
      {"config", {{"mediaType", media_type::image_config},
                  {"digest", config_digest.str()},
                  {"size", config_bytes.size()}}},
      {"layers", ordered_json::array({{{"mediaType", media_type::layer_tar_gzip},
                                       {"digest", blob.blob.str()},
                                       {"size", blob.size}}})}};
  const std::string manifest_bytes = manifest.dump();
  const digest manifest_digest = write_blob(img, manifest_bytes);
  const ordered_json index{
      {"schemaVersion", 2},
      {"mediaType", media_type::image_index},
      {"manifests", ordered_json::array({{{"mediaType", media_type::image_manifest},
                                          {"digest", manifest_digest.str()},
                                          {"size", manifest_bytes.size()},
                                          {"annotations", {{"org.opencontainers.image.ref.name", "large"}}}}})}};
  std::ofstream(dir + "/index.json") << index.dump();
  std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  return {"oci:" + dir + ":large", content.finish().str(), blob.size};
}


TEST(LargeFileImage, UnpacksExactContentUnderRssLimit) {
  ASSERT_EQ(::access("/usr/bin/time", X_OK), 0) << "needs GNU time (/usr/bin/time, package time)";
  temp_dir tmp = disk_temp_dir("ocipipe-slow-large", 4ull << 30);
  const auto img = build_large(tmp.sub("layout"));
  const std::string rootfs = tmp.sub("rootfs");

  const auto m = run_measured({"unpack", img.ref, rootfs});
  const auto& r = m.run;
  const long rss = m.peak_rss_kb;
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_GT(rss, 0) << "no peak RSS from /usr/bin/time: " << r.err;
  RecordProperty("peak_rss_kb", std::to_string(rss));
  std::cout << "unpack: layer blob " << (img.blob_size >> 20) << " MiB, file "
            << (kLargeFileBytes >> 20) << " MiB, peak RSS " << rss << " kB\n";
  EXPECT_LT(rss, kMaxRssKb) << "unpack of a " << (img.blob_size >> 20) << " MiB layer holding a "
                            << (kLargeFileBytes >> 20) << " MiB file peaked at " << rss << " kB";

  struct stat st {};
  ASSERT_EQ(::lstat((rootfs + "/data/big.bin").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kLargeFileBytes);
  EXPECT_EQ(sha256_of_file(rootfs + "/data/big.bin"), img.file_sha256);
  EXPECT_EQ(read_bytes(rootfs + "/data/README"), "one large file follows\n");
}

TEST(LargeFileImage, ValidatesUnderRssLimit) {
  ASSERT_EQ(::access("/usr/bin/time", X_OK), 0) << "needs GNU time (/usr/bin/time, package time)";
  temp_dir tmp = disk_temp_dir("ocipipe-slow-large", 2ull << 30);
  const auto img = build_large(tmp.sub("layout"));

  const auto m = run_measured({"validate", img.ref});
  const auto& r = m.run;
  const long rss = m.peak_rss_kb;
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nstdout:\n" << r.out;
  EXPECT_NE(r.out.find("PASS: " + img.ref), std::string::npos) << r.out;
  ASSERT_GT(rss, 0) << "no peak RSS from /usr/bin/time: " << r.err;
  RecordProperty("peak_rss_kb", std::to_string(rss));
  std::cout << "validate: layer blob " << (img.blob_size >> 20) << " MiB, peak RSS " << rss << " kB\n";
  EXPECT_LT(rss, kMaxRssKb) << "validate peaked at " << rss << " kB";
}

}  // namespace
}  // namespace ocipipe::testing
