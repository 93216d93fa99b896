#include "pipeline/host_bench.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>

#include "io/rootfs_writer.h"
#include "io/target_dir.h"
#include "io/unique_fd.h"
#include "pipeline/resolve.h"
#include "stages/decompress.h"
#include "stages/digester.h"
#include "stages/layer_stream.h"
#include "stages/synthetic_tree.h"
#include "stages/tar_reader.h"

namespace ocipipe::pipeline {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t mib = std::size_t{1} << 20;

double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

bool cancelled(const std::atomic<bool>* cancel) { return cancel && cancel->load(std::memory_order_relaxed); }

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

byte_view view_of(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

// Reads a stream to its end; `sink` sees each chunk.
result<std::uint64_t> drain(byte_source& s, const std::function<bool(byte_view)>& sink = {}) {
  std::uint64_t n = 0;
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, s.next());
    if (chunk.empty()) return n;
    if (sink && !sink(chunk)) return fail(errc::malformed, "output differs from the input at byte " + std::to_string(n));
    n += chunk.size();
  }
}

// Compares a decompressed stream with what went in.
result<void> check_round_trip(byte_source& s, const std::vector<std::byte>& want) {
  std::uint64_t at = 0;
  OCIPIPE_ASSIGN_OR_RETURN(auto n, drain(s, [&](byte_view c) {
                             const bool same = at + c.size() <= want.size() &&
                                               std::memcmp(c.data(), want.data() + at, c.size()) == 0;
                             at += c.size();
                             return same;
                           }));
  if (n != want.size())
    return fail(errc::malformed, "output is " + std::to_string(n) + " bytes, input was " + std::to_string(want.size()));
  return {};
}

// ---- the inputs, generated once and only when a measurement needs them ----

struct inputs {
  std::uint64_t data_bytes;
  std::optional<std::vector<std::byte>> raw_, gzip_, zstd_;
  std::optional<synthetic_tree> tree_;
  std::optional<std::string> tar_;

  const std::vector<std::byte>& raw() {
    if (!raw_) raw_ = rootfs_like_bytes(data_bytes);
    return *raw_;
  }
  result<const std::vector<std::byte>*> gzip() {
    if (!gzip_) {
      const auto& in = raw();
      auto* c = libdeflate_alloc_compressor(6);  // gzip's and Go's default level, as most layers are made
      if (!c) return fail(errc::resource_exhausted, "libdeflate: cannot allocate a compressor");
      std::vector<std::byte> out(libdeflate_gzip_compress_bound(c, in.size()));
      out.resize(libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size()));
      libdeflate_free_compressor(c);
      if (out.empty()) return fail(errc::internal, "libdeflate: compression failed");
      gzip_ = std::move(out);
    }
    return &*gzip_;
  }
  result<const std::vector<std::byte>*> zstd() {
    if (!zstd_) {
      const auto& in = raw();
      std::vector<std::byte> out(ZSTD_compressBound(in.size()));
      const auto n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
      if (ZSTD_isError(n)) return fail(errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
      out.resize(n);
      zstd_ = std::move(out);
    }
    return &*zstd_;
  }
  const synthetic_tree& tree() {
    if (!tree_) tree_ = make_synthetic_tree(data_bytes, 3);
    return *tree_;
  }
  // A tar of tree(): its directories, then its files, as pax-restricted
  // (ustar unless a field needs more), the way layers are written.
  result<const std::string*> tar() {
    if (tar_) return &*tar_;
    const auto& t = tree();
    std::string buf(t.file_bytes + (t.files.size() + t.directories.size()) * 2048 + mib, '\0');
    std::size_t used = 0;
    archive* a = archive_write_new();
    if (!a) return fail(errc::resource_exhausted, "libarchive: cannot allocate a writer");
    archive_entry* e = archive_entry_new();
    auto done = [&](std::optional<error> err) -> result<const std::string*> {
      archive_entry_free(e);
      archive_write_free(a);
      if (err) return tl::unexpected(std::move(*err));
      buf.resize(used);
      tar_ = std::move(buf);
      return &*tar_;
    };
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open_memory(a, buf.data(), buf.size(), &used) != ARCHIVE_OK)
      return done(error(errc::internal, std::string("libarchive: ") + archive_error_string(a)));
    for (const auto& d : t.directories) {
      archive_entry_clear(e);
      archive_entry_set_pathname(e, (d + "/").c_str());
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      if (archive_write_header(a, e) != ARCHIVE_OK)
        return done(error(errc::internal, std::string("libarchive: ") + archive_error_string(a)));
    }
    for (const auto& f : t.files) {
      archive_entry_clear(e);
      archive_entry_set_pathname(e, f.path.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(f.size));
      const auto content = rootfs_like_bytes(f.size, f.seed);
      if (archive_write_header(a, e) != ARCHIVE_OK ||
          archive_write_data(a, content.data(), content.size()) != static_cast<la_ssize_t>(content.size()))
        return done(error(errc::internal, std::string("libarchive: ") + archive_error_string(a)));
    }
    if (archive_write_close(a) != ARCHIVE_OK)
      return done(error(errc::internal, std::string("libarchive: ") + archive_error_string(a)));
    return done(std::nullopt);
  }
};

// ---- the measurements ------------------------------------------------------

struct context {
  const host_bench_options& opts;
  int threads;
  std::string root;  // our directory under opts.dir
  inputs& in;
};

// Runs `w` on one thread and on N, after its check.
result<std::pair<stream_rates, stream_rates>> both_columns(const context& cx, std::string_view name,
                                                           const workload& w) {
  return run_measurement(name, w, cx.threads, cx.opts.seconds, cx.opts.cancel);
}

bench_row row(std::string name, std::string engine, std::string unit, double single, double all, int threads) {
  return {std::move(name), std::move(engine), std::move(unit), single, all, threads, {}};
}

result<void> measure_digest(const context& cx, digest_algorithm alg, std::vector<bench_row>& rows) {
  const bool is256 = alg == digest_algorithm::sha256;
  const auto& data = cx.in.raw();
  workload w;
  w.check = [&]() -> result<void> {
    // FIPS 180-2's "abc" vector, then 1 MiB updates against one update of the whole.
    const std::string want = is256 ? "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                                   : "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2"
                                     "192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    const std::string abc = "abc";
    if (digester::of(view_of(abc), alg).str() != want)
      return fail(errc::malformed, "the digest of \"abc\" is not FIPS 180-2's");
    digester d(alg);
    for (std::size_t at = 0; at < data.size(); at += mib)
      d.update(byte_view(data).subspan(at, std::min(mib, data.size() - at)));
    if (!(d.finish() == digester::of(data, alg))) return fail(errc::malformed, "chunked and whole digests differ");
    return {};
  };
  w.make_stream = [&](int) -> result<bench_step> {
    return bench_step([&]() -> result<work_done> {
      digester d(alg);
      for (std::size_t at = 0; at < data.size(); at += mib)
        d.update(byte_view(data).subspan(at, std::min(mib, data.size() - at)));
      (void)d.finish();
      return work_done{data.size(), 0, 0};
    });
  };
  const char* name = is256 ? "sha256" : "sha512";
  OCIPIPE_ASSIGN_OR_RETURN(auto r, both_columns(cx, name, w));
  rows.push_back(row(name, "OpenSSL EVP, stages/digester, 1 MiB updates", "bytes/s", r.first.units_per_second,
                     r.second.units_per_second, cx.threads));
  return {};
}

// inflate_isal (inflate_zlib) and zstd: the stages/decompress stream unpack and validate use.
result<void> measure_stream_decompress(const context& cx, media_type::layer_compression kind,
                                       std::vector<bench_row>& rows) {
  const bool gz = kind == media_type::layer_compression::gzip;
  const std::string name = gz ? gzip_inflate_measurement() : "zstd";
  const auto& raw = cx.in.raw();
  auto packed_r = gz ? cx.in.gzip() : cx.in.zstd();
  if (!packed_r) return tl::unexpected(std::move(packed_r).error().context(name));
  const auto& packed = **packed_r;
  workload w;
  w.check = [&]() -> result<void> {
    memory_source src(packed);
    OCIPIPE_ASSIGN_OR_RETURN(auto dec, make_decompressor(src, kind));
    return check_round_trip(*dec, raw);
  };
  w.make_stream = [&](int) -> result<bench_step> {
    return bench_step([&]() -> result<work_done> {
      memory_source src(packed);
      OCIPIPE_ASSIGN_OR_RETURN(auto dec, make_decompressor(src, kind));
      OCIPIPE_ASSIGN_OR_RETURN(auto n, drain(*dec));
      return work_done{n, 0, 0};
    });
  };
  OCIPIPE_ASSIGN_OR_RETURN(auto r, both_columns(cx, name, w));
  rows.push_back(row(name,
                     gz ? std::string(default_gzip_inflater() == gzip_inflater::isal ? "ISA-L" : "zlib") +
                              ", stages/decompress (as unpack), gzip -6 data"
                        : "libzstd, stages/decompress (as unpack), level 3 data",
                     "bytes/s", r.first.units_per_second, r.second.units_per_second, cx.threads));
  return {};
}

result<void> measure_libdeflate(const context& cx, std::vector<bench_row>& rows) {
  const auto& raw = cx.in.raw();
  auto packed_r = cx.in.gzip();
  if (!packed_r) return tl::unexpected(std::move(packed_r).error().context("inflate_libdeflate"));
  const auto& packed = **packed_r;
  struct stream_state {
    libdeflate_decompressor* d = nullptr;
    std::vector<std::byte> out;
    ~stream_state() { libdeflate_free_decompressor(d); }
  };
  auto inflate = [&](stream_state& s) -> result<std::size_t> {
    std::size_t n = 0;
    if (libdeflate_gzip_decompress(s.d, packed.data(), packed.size(), s.out.data(), s.out.size(), &n) !=
        LIBDEFLATE_SUCCESS)
      return fail(errc::malformed, "libdeflate could not inflate the gzip data");
    return n;
  };
  auto make_state = [&]() -> result<std::shared_ptr<stream_state>> {
    auto s = std::make_shared<stream_state>();
    s->d = libdeflate_alloc_decompressor();
    if (!s->d) return fail(errc::resource_exhausted, "libdeflate: cannot allocate a decompressor");
    s->out.resize(raw.size());
    return s;
  };
  workload w;
  w.check = [&]() -> result<void> {
    OCIPIPE_ASSIGN_OR_RETURN(auto s, make_state());
    OCIPIPE_ASSIGN_OR_RETURN(auto n, inflate(*s));
    if (n != raw.size() || std::memcmp(s->out.data(), raw.data(), n) != 0)
      return fail(errc::malformed, "output differs from the input");
    return {};
  };
  w.make_stream = [&](int) -> result<bench_step> {
    OCIPIPE_ASSIGN_OR_RETURN(auto s, make_state());
    return bench_step([&, s]() -> result<work_done> {
      OCIPIPE_ASSIGN_OR_RETURN(auto n, inflate(*s));
      return work_done{n, 0, 0};
    });
  };
  OCIPIPE_ASSIGN_OR_RETURN(auto r, both_columns(cx, "inflate_libdeflate", w));
  rows.push_back(row("inflate_libdeflate", "libdeflate, whole buffer (reference)",
                     "bytes/s", r.first.units_per_second, r.second.units_per_second, cx.threads));
  return {};
}

result<void> measure_tar_parse(const context& cx, std::vector<bench_row>& rows) {
  auto tar_r = cx.in.tar();
  if (!tar_r) return tl::unexpected(std::move(tar_r).error().context("tar_parse"));
  const std::string& tar = **tar_r;
  const auto& tree = cx.in.tree();
  const std::uint64_t want_entries = tree.files.size() + tree.directories.size();
  auto parse = [&](bool read_content, std::uint64_t& content) -> result<std::uint64_t> {
    memory_source src(view_of(tar));
    tar_reader r(src);
    std::uint64_t entries = 0;
    for (;;) {
      OCIPIPE_ASSIGN_OR_RETURN(auto e, r.next_entry());
      if (!e) return entries;
      ++entries;
      if (read_content)
        OCIPIPE_TRY(r.read_content([&](std::uint64_t, byte_view b) -> result<void> {
          content += b.size();
          return {};
        }));
    }
  };
  workload w;
  w.check = [&]() -> result<void> {
    std::uint64_t content = 0;
    OCIPIPE_ASSIGN_OR_RETURN(auto entries, parse(true, content));
    if (entries != want_entries || content != tree.file_bytes)
      return fail(errc::malformed, "parsed " + std::to_string(entries) + " entries and " + std::to_string(content) +
                                       " content bytes, wrote " + std::to_string(want_entries) + " and " +
                                       std::to_string(tree.file_bytes));
    return {};
  };
  w.make_stream = [&](int) -> result<bench_step> {
    return bench_step([&]() -> result<work_done> {
      std::uint64_t unused = 0;
      OCIPIPE_ASSIGN_OR_RETURN(auto entries, parse(false, unused));
      return work_done{tar.size(), entries, 0};
    });
  };
  OCIPIPE_ASSIGN_OR_RETURN(auto r, both_columns(cx, "tar_parse", w));
  const std::string engine = "libarchive, stages/tar_reader, content skipped";
  rows.push_back(row("tar_parse", engine, "bytes/s", r.first.units_per_second, r.second.units_per_second, cx.threads));
  rows.push_back(row("tar_parse_entries", engine, "entries/s", r.first.items_per_second, r.second.items_per_second,
                     cx.threads));
  return {};
}

result<void> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir " + quote(path), errno);
  return {};
}

// Writes `count` files of `size` bytes into a new directory `dir` through
// io/rootfs_writer, in 1 MiB writes, as unpack's apply stage writes entries.
result<void> write_batch(const std::string& dir, int count, std::size_t size, const std::vector<std::byte>& content) {
  OCIPIPE_TRY(make_dir(dir));
  OCIPIPE_ASSIGN_OR_RETURN(auto w, io::rootfs_writer::open(dir));
  tar_entry e;
  e.type = entry_type::regular;
  e.mode = 0644;
  e.mtime_sec = 1700000000;
  e.size = size;
  for (int i = 0; i < count; ++i) {
    e.path = "f" + std::to_string(i);
    OCIPIPE_TRY(w.begin_entry(e, e.path));
    for (std::size_t at = 0; at < size; at += mib) {
      const std::size_t n = std::min(mib, size - at);
      OCIPIPE_TRY(w.write_content(at, byte_view(content).subspan(at % (content.size() - n + 1), n)));
    }
    OCIPIPE_TRY(w.end_entry());
  }
  return w.finish();
}

result<void> measure_file_create(const context& cx, std::vector<bench_row>& rows) {
  constexpr std::size_t small = 4096, large = 4 * mib;
  constexpr int small_batch = 256, large_batch = 4;
  std::vector<std::byte> content = rootfs_like_bytes(large + mib, 5);
  auto check = [&]() -> result<void> {
    const std::string dir = cx.root + "/fc-check";
    OCIPIPE_TRY(write_batch(dir, 1, small, content));
    std::string got(small + 1, '\0');
    io::unique_fd fd(::open((dir + "/f0").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open " + quote(dir + "/f0"), errno);
    const auto n = ::read(fd.get(), got.data(), got.size());
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + quote(dir + "/f0"), errno);
    if (n != static_cast<ssize_t>(small) || std::memcmp(got.data(), content.data(), small) != 0)
      return fail(errc::malformed, "a file read back differs from what was written");
    if (st.st_mtim.tv_sec != 1700000000 || (st.st_mode & 07777) != 0644)
      return fail(errc::malformed, "a file's mtime or mode is not the entry's");
    return io::remove_dir_contents(dir, true);
  };
  auto workload_of = [&](const char* tag, int count, std::size_t size) {
    workload w;
    w.make_stream = [&cx, &content, tag, count, size](int stream) -> result<bench_step> {
      const std::string base = cx.root + "/fc-" + tag + std::to_string(stream);
      OCIPIPE_TRY(make_dir(base));
      auto batch = std::make_shared<int>(0);
      return bench_step([&content, base, batch, count, size]() -> result<work_done> {
        const std::string dir = base + "/b" + std::to_string((*batch)++);
        OCIPIPE_TRY(write_batch(dir, count, size, content));
        const auto cleanup = clock_type::now();
        // Removal is not creation: its time is left out of the rate.
        OCIPIPE_TRY(io::remove_dir_contents(dir, true));
        return work_done{static_cast<std::uint64_t>(count) * size, static_cast<std::uint64_t>(count),
                         since(cleanup)};
      });
    };
    return w;
  };
  auto small_w = workload_of("s", small_batch, small);
  small_w.check = check;
  OCIPIPE_ASSIGN_OR_RETURN(auto s, both_columns(cx, "file_create", small_w));
  OCIPIPE_ASSIGN_OR_RETURN(auto l, both_columns(cx, "file_create_bytes", workload_of("l", large_batch, large)));
  rows.push_back(row("file_create", "io/rootfs_writer (apply), 4 KiB files", "files/s",
                     s.first.items_per_second, s.second.items_per_second, cx.threads));
  rows.push_back(row("file_create_bytes", "io/rootfs_writer (apply), 4 MiB files", "bytes/s",
                     l.first.units_per_second, l.second.units_per_second, cx.threads));
  return {};
}

// Writes tree `t` under `dir` (the unpack_graph image's source).
result<void> write_tree(const std::string& dir, const synthetic_tree& t) {
  OCIPIPE_TRY(make_dir(dir));
  for (const auto& d : t.directories) OCIPIPE_TRY(make_dir(dir + "/" + d));
  for (const auto& f : t.files) {
    const std::string path = dir + "/" + f.path;
    io::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return fail_errno("create " + quote(path), errno);
    const auto content = rootfs_like_bytes(f.size, f.seed);
    for (std::size_t at = 0; at < content.size();) {
      const auto n = ::write(fd.get(), content.data() + at, content.size() - at);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_errno("write " + quote(path), errno);
      }
      at += static_cast<std::size_t>(n);
    }
  }
  return {};
}

std::string mib_text(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / static_cast<double>(mib));
  return buf;
}

result<void> measure_unpack_graph(const context& cx, std::vector<bench_row>& rows) {
  const auto tree = make_synthetic_tree(2 * cx.opts.data_bytes, 7);
  const std::string src = cx.root + "/ug-src";
  OCIPIPE_TRY(write_tree(src, tree));
  OCIPIPE_ASSIGN_OR_RETURN(auto dest, parse_reference("oci:" + cx.root + "/ug-layout:bench"));
  pack_options po;
  po.jobs = cx.threads;
  po.compression = layer_compression::gzip;
  po.source_date_epoch = 0;
  OCIPIPE_ASSIGN_OR_RETURN(auto packed, pack(src, dest, po));
  OCIPIPE_TRY(io::remove_dir_contents(src, true));

  int run = 0;
  auto unpack_once = [&](int jobs) -> result<std::pair<double, unpack_report>> {
    const std::string rootfs = cx.root + "/ug-rootfs" + std::to_string(run++);
    unpack_options uo;
    uo.jobs = jobs;
    uo.record_state = false;
    uo.cancel = cx.opts.cancel;
    const auto t = clock_type::now();
    auto r = unpack(dest, rootfs, uo);
    const double seconds = since(t);
    if (!r) return tl::unexpected(std::move(r).error());
    return std::pair{seconds, std::move(*r)};
  };
  // The check: an unpack of everything that was packed, content included.
  {
    OCIPIPE_ASSIGN_OR_RETURN(auto first, unpack_once(cx.threads));
    const std::string rootfs = cx.root + "/ug-rootfs0";
    if (first.second.tar_bytes != packed.tar_bytes || first.second.layers.size() != 1 ||
        first.second.layers[0].entries != packed.entries)
      return fail(errc::malformed, "check: the unpacked image is not what was packed");
    const auto& f = tree.files.back();
    const auto want = rootfs_like_bytes(f.size, f.seed);
    std::ifstream in(rootfs + "/" + f.path, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (got.size() != want.size() || std::memcmp(got.data(), want.data(), got.size()) != 0)
      return fail(errc::malformed, "check: " + quote(f.path) + " differs from the file packed");
    OCIPIPE_TRY(io::remove_dir_contents(rootfs, true));
  }
  auto timed = [&](int jobs) -> result<std::pair<double, int>> {
    double busy = 0;
    int runs = 0;
    while (runs == 0 || busy < cx.opts.seconds) {
      if (cancelled(cx.opts.cancel)) return fail(errc::cancelled, "cancelled");
      OCIPIPE_ASSIGN_OR_RETURN(auto r, unpack_once(jobs));
      busy += r.first;
      ++runs;
      OCIPIPE_TRY(io::remove_dir_contents(cx.root + "/ug-rootfs" + std::to_string(run - 1), true));
    }
    return std::pair{busy, runs};
  };
  OCIPIPE_ASSIGN_OR_RETURN(auto one, timed(1));
  auto all = one;
  if (cx.threads > 1) {
    OCIPIPE_ASSIGN_OR_RETURN(all, timed(cx.threads));
  }
  const double tar = static_cast<double>(packed.tar_bytes);
  bench_row r = row("unpack_graph",
                    "pipeline unpack, gzip image: " + mib_text(tar) + " tar, " +
                        std::to_string(packed.entries) + " entries",
                    "bytes/s", tar * one.second / one.first, tar * all.second / all.first, cx.threads);
  char note[160];
  std::snprintf(note, sizeof note, "unpack_graph wall: -j1 %.3f s, -j%d %.3f s per unpack (mean of %d and %d runs)",
                one.first / one.second, cx.threads, all.first / all.second, one.second, all.second);
  r.note = note;
  rows.push_back(std::move(r));
  return {};
}

// Our directory under --dir, removed on every way out.
class scratch_dir {
 public:
  static result<scratch_dir> make(const std::string& parent) {
    struct stat st{};
    if (parent.empty()) return fail(errc::invalid_argument, "bench: no --dir given");
    if (::stat(parent.c_str(), &st) != 0) return fail_errno("bench: --dir " + quote(parent), errno);
    if (!S_ISDIR(st.st_mode)) return fail(errc::invalid_argument, "bench: --dir " + quote(parent) + " is not a directory");
    std::string tmpl = parent + "/ocipipe-bench-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return fail_errno("bench: mkdtemp in " + quote(parent), errno);
    scratch_dir d;
    d.path_ = tmpl;
    return d;
  }
  scratch_dir() = default;
  scratch_dir(scratch_dir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  scratch_dir& operator=(scratch_dir&&) = delete;
  ~scratch_dir() {
    if (!path_.empty()) (void)io::remove_dir_contents(path_, true);
  }
  result<void> remove() { return io::remove_dir_contents(std::exchange(path_, {}), true); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A row name given to --only stands for its measurement.
std::string measurement_of(const std::string& name) {
  if (name == "tar_parse_entries") return "tar_parse";
  if (name == "file_create_bytes") return "file_create";
  return name;
}

}  // namespace

const std::string& gzip_inflate_measurement() {
  static const std::string name = "inflate_" + std::string(default_gzip_inflater() == gzip_inflater::isal ? "isal" : "zlib");
  return name;
}

const std::vector<std::string>& bench_measurement_names() {
  static const std::vector<std::string> names = {"sha256", "sha512", gzip_inflate_measurement(), "inflate_libdeflate",
                                                 "zstd",   "tar_parse", "file_create", "unpack_graph"};
  return names;
}

host_info describe_host(int threads) {
  host_info h;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  h.online_cpus = online > 0 ? static_cast<int>(online) : 1;
  h.threads = threads > 0 ? threads : h.online_cpus;
  h.cpu_model = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    // x86 says "model name"; arm64 has no name (its "CPU part" is a number); POWER says "cpu".
    if (key == "model name" || key == "Model" || key == "cpu model" || key == "cpu") {
      h.cpu_model = trim(line.substr(colon + 1));
      if (key == "model name") break;
    }
  }
  utsname u{};
  h.kernel = ::uname(&u) == 0 ? std::string(u.sysname) + " " + u.release : "unknown";
  h.version = OCIPIPE_VERSION;
  return h;
}

result<stream_rates> run_streams(const workload& w, int threads, double seconds, const std::atomic<bool>* cancel) {
  threads = std::max(threads, 1);
  struct outcome {
    double units = 0, items = 0;  // per timed second
    std::optional<error> err;
  };
  std::vector<outcome> out(static_cast<std::size_t>(threads));
  std::latch ready(threads);
  auto body = [&](int i) {
    auto& o = out[static_cast<std::size_t>(i)];
    auto step = w.make_stream(i);
    ready.arrive_and_wait();  // every stream starts together, its setup untimed
    if (!step) {
      o.err = std::move(step).error();
      return;
    }
    std::uint64_t units = 0, items = 0;
    double untimed = 0;
    const auto start = clock_type::now();
    double elapsed = 0;
    do {
      if (cancelled(cancel)) {
        o.err = error(errc::cancelled, "cancelled");
        return;
      }
      auto done = (*step)();
      if (!done) {
        o.err = std::move(done).error();
        return;
      }
      units += done->units;
      items += done->items;
      untimed += done->untimed_seconds;
      elapsed = since(start);
    } while (elapsed < seconds);
    const double timed = std::max(elapsed - untimed, 1e-9);
    o.units = static_cast<double>(units) / timed;
    o.items = static_cast<double>(items) / timed;
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) pool.emplace_back(body, i);
  body(0);
  for (auto& t : pool) t.join();
  stream_rates r;
  for (auto& o : out) {
    if (o.err) return tl::unexpected(std::move(*o.err));
    r.units_per_second += o.units;
    r.items_per_second += o.items;
  }
  return r;
}

result<std::pair<stream_rates, stream_rates>> run_measurement(std::string_view name, const workload& w, int threads,
                                                              double seconds, const std::atomic<bool>* cancel) {
  const std::string n(name);
  if (w.check) OCIPIPE_TRY(w.check().map_error([&](error e) { return std::move(e).context(n + ": check"); }));
  auto ctx = [&](error e) { return std::move(e).context(n); };
  OCIPIPE_ASSIGN_OR_RETURN(auto one, run_streams(w, 1, seconds, cancel).map_error(ctx));
  if (threads <= 1) return std::pair{one, one};  // the same measurement: no second sample of noise
  OCIPIPE_ASSIGN_OR_RETURN(auto all, run_streams(w, threads, seconds, cancel).map_error(ctx));
  return std::pair{one, all};
}

result<std::vector<bench_row>> run_host_bench(const host_bench_options& opts) {
  if (!(opts.seconds > 0)) return fail(errc::invalid_argument, "bench: --seconds must be positive");
  if (opts.data_bytes < 4096) return fail(errc::invalid_argument, "bench: at least 4 KiB of data per measurement");
  const auto& names = bench_measurement_names();
  std::vector<std::string> wanted;
  for (const auto& n : opts.only) {
    const std::string m = measurement_of(n);
    if (std::find(names.begin(), names.end(), m) == names.end()) {
      std::string list;
      for (const auto& k : names) list += (list.empty() ? "" : ", ") + k;
      return fail(errc::invalid_argument, "bench: unknown measurement " + quote(n) + " (there are: " + list + ")");
    }
    wanted.push_back(m);
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto scratch, scratch_dir::make(opts.dir));
  inputs in{opts.data_bytes, {}, {}, {}, {}, {}};
  const context cx{opts, describe_host(opts.threads).threads, scratch.path(), in};
  std::vector<bench_row> rows;
  for (const auto& name : names) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    if (cancelled(opts.cancel)) return fail(errc::cancelled, "bench: cancelled");
    if (opts.on_start) opts.on_start(name);
    result<void> r;
    if (name == "sha256") r = measure_digest(cx, digest_algorithm::sha256, rows);
    else if (name == "sha512") r = measure_digest(cx, digest_algorithm::sha512, rows);
    else if (name == gzip_inflate_measurement()) r = measure_stream_decompress(cx, media_type::layer_compression::gzip, rows);
    else if (name == "inflate_libdeflate") r = measure_libdeflate(cx, rows);
    else if (name == "zstd") r = measure_stream_decompress(cx, media_type::layer_compression::zstd, rows);
    else if (name == "tar_parse") r = measure_tar_parse(cx, rows);
    else if (name == "file_create") r = measure_file_create(cx, rows);
    else if (name == "unpack_graph")
      r = measure_unpack_graph(cx, rows).map_error([](error e) { return std::move(e).context("unpack_graph"); });
    if (!r) return tl::unexpected(std::move(r).error().context("bench"));
  }
  OCIPIPE_TRY(scratch.remove().map_error([](error e) { return std::move(e).context("bench: removing its directory"); }));
  return rows;
}

result<std::vector<floor_layer>> measure_image_layers(const image_reference& ref, const platform_selector& platform) {
  OCIPIPE_ASSIGN_OR_RETURN(auto img, open_image(ref, platform));
  std::vector<floor_layer> out;
  const auto& layers = img.image.manifest.layers;
  const auto& diff_ids = img.image.config.diff_ids;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& layer = layers[i];
    auto where = [&](error e) {
      return std::move(e).context("layer " + std::to_string(i) + " (" + layer.digest.short_str() + ")");
    };
    floor_layer f;
    f.digest = layer.digest.str();
    switch (media_type::compression_of(layer.media_type)) {
      case media_type::layer_compression::gzip: f.compression = "gzip"; break;
      case media_type::layer_compression::zstd: f.compression = "zstd"; break;
      case media_type::layer_compression::none: f.compression = "none"; break;
      case media_type::layer_compression::unknown:
        return fail(errc::unsupported, "layer " + std::to_string(i) + ": media type " + quote(layer.media_type) +
                                           " is not a layer ocipipe unpacks");
    }
    const digest* want_diff = i < diff_ids.size() ? &diff_ids[i] : nullptr;
    OCIPIPE_ASSIGN_OR_RETURN(auto blob, img.store.open_blob(layer).map_error(where));
    OCIPIPE_ASSIGN_OR_RETURN(
        auto stream, layer_stream::open(*blob, layer, {}, want_diff ? want_diff->algorithm() : digest_algorithm::sha256)
                         .map_error(where));
    {
      tar_reader r(*stream);
      for (;;) {
        OCIPIPE_ASSIGN_OR_RETURN(auto e, r.next_entry().map_error(where));
        if (!e) break;
        ++f.entries;
      }
    }
    OCIPIPE_ASSIGN_OR_RETURN(auto got, stream->finish().map_error(where));
    OCIPIPE_TRY(check_layer_digests(got, layer, want_diff).map_error(where));
    f.compressed_bytes = got.compressed_bytes;
    f.tar_bytes = got.tar_bytes;
    if (f.compression != "none") {
      // Its decompression alone, timed once more now that the blob is in the page cache.
      OCIPIPE_ASSIGN_OR_RETURN(auto again, img.store.open_blob(layer).map_error(where));
      const auto start = std::chrono::steady_clock::now();
      OCIPIPE_ASSIGN_OR_RETURN(auto dec,
                               make_decompressor(*again, media_type::compression_of(layer.media_type)).map_error(where));
      OCIPIPE_TRY(drain(*dec).map_error(where));
      f.decompress_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> floor_measurements(const std::vector<floor_layer>& layers) {
  std::vector<std::string> m = {"sha256", "tar_parse", "file_create"};
  for (const auto& l : layers) {
    const std::string need = l.compression == "gzip" ? gzip_inflate_measurement() : l.compression == "zstd" ? "zstd" : "";
    if (!need.empty() && std::find(m.begin(), m.end(), need) == m.end()) m.push_back(need);
  }
  return m;
}

floor_rates floor_rates_of(const std::vector<bench_row>& rows, int threads) {
  floor_rates r;
  r.threads = threads;
  for (const auto& row : rows) {
    if (row.name == "sha256") r.sha256 = row.single;
    else if (row.name == gzip_inflate_measurement()) r.inflate_gzip = row.single;
    else if (row.name == "zstd") r.zstd = row.single;
    else if (row.name == "tar_parse") r.tar_parse = row.single;
    else if (row.name == "file_create") r.files = row.single;
    else if (row.name == "file_create_bytes") r.file_bytes = row.single;
  }
  return r;
}

}  // namespace ocipipe::pipeline
