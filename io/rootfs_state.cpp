// The state file beside a rootfs (io/rootfs_state.h).
#include "io/rootfs_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "io/fd_io.h"
#include "io/small_file.h"

namespace ocipipe::io {
namespace {

constexpr std::string_view magic = "OCIPSTAT";
constexpr std::uint64_t flag_link = 1, flag_content = 2;
// Largest state file read back: ~40 bytes a path, so room for millions of paths.
constexpr std::size_t max_state_bytes = std::size_t{1} << 30;

constexpr char tag_end = 0, tag_record = 1;
constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ull;

// FNV-1a 64 of `bytes`, continuing from `h`.
std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

class decoder {
 public:
  explicit decoder(std::string_view in) : in_(in) {}
  result<std::string_view> raw(std::size_t n, const char* what) {
    if (in_.size() - pos_ < n) return truncated(what);
    auto s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  result<std::uint64_t> u64le(int bytes, const char* what) {
    OCIPIPE_ASSIGN_OR_RETURN(auto b, raw(static_cast<std::size_t>(bytes), what));
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    return v;
  }
  result<std::uint64_t> var(const char* what) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return truncated(what);
      const auto c = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    return fail(errc::malformed, std::string(what) + ": varint longer than 64 bits");
  }
  result<std::int64_t> svar(const char* what) {
    OCIPIPE_ASSIGN_OR_RETURN(auto u, var(what));
    return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  result<std::string> str(const char* what) {
    OCIPIPE_ASSIGN_OR_RETURN(auto n, var(what));
    if (n > in_.size() - pos_) return truncated(what);
    OCIPIPE_ASSIGN_OR_RETURN(auto s, raw(static_cast<std::size_t>(n), what));
    return std::string(s);
  }
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  tl::unexpected<error> truncated(const char* what) {
    return fail(errc::malformed, std::string(what) + ": truncated at byte " + std::to_string(pos_));
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

// A path below the rootfs, as every record must hold: relative, no empty,
// "." or ".." components, no NUL.
bool clean_path(std::string_view p) {
  if (p.empty() || p.find('\0') != std::string_view::npos) return false;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const auto comp = p.substr(i, j - i);
    if (comp.empty() || comp == "." || comp == "..") return false;
    i = j + 1;
  }
  return true;
}

// The parent directory (absolute, resolved) and basename of `rootfs`.
result<std::pair<std::string, std::string>> split_rootfs(const std::string& rootfs) {
  std::string p = rootfs;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty()) return fail(errc::invalid_argument, "rootfs path is empty");
  auto slash = p.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    // "." or "x/..": only the resolved path has a name.
    char* r = ::realpath(p.c_str(), nullptr);
    if (!r) return fail_errno("resolve " + quote(rootfs), errno);
    std::string real(r);
    ::free(r);
    if (real == "/") return fail(errc::invalid_argument, "the rootfs \"/\" has no parent to hold its state file");
    slash = real.rfind('/');
    dir = slash == 0 ? "/" : real.substr(0, slash);
    base = real.substr(slash + 1);
  }
  if (base.empty()) return fail(errc::invalid_argument, "the rootfs \"/\" has no parent to hold its state file");
  char* r = ::realpath(dir.c_str(), nullptr);
  if (!r) return fail_errno("resolve " + quote(dir), errno);
  std::string real_dir(r);
  ::free(r);
  return std::pair{std::move(real_dir), std::move(base)};
}

std::string join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace

// The encoding of a state file, produced piece by piece: the writer takes
// the bytes as they come (take()), so only the records not yet taken are
// held; the checksum runs over every byte taken.
class rootfs_state_encoder {
 public:
  void header(const rootfs_state_header& h) {
    raw(magic);
    u64le(rootfs_state_format, 4);
    str(h.reference);
    str(h.layout_path);
    str(h.manifest.media_type);
    str(h.manifest.digest.str());
    var(static_cast<std::uint64_t>(h.manifest.size));
    str(h.config_digest.str());
    svar(h.recorded_sec);
    var(static_cast<std::uint64_t>(h.recorded_nsec));
    var(static_cast<std::uint64_t>(h.racy_window_nsec));
  }
  // Whether a record at `path` may come next (the writer refuses others;
  // encode_rootfs_state writes them, for decode to refuse).
  bool follows(std::string_view path) const { return count_ == 0 || rootfs_path_less(prev_, path); }
  void record(const path_record& r) {
    std::size_t shared = 0;
    while (shared < prev_.size() && shared < r.path.size() && prev_[shared] == r.path[shared]) ++shared;
    out_.push_back(tag_record);
    var(shared);
    str(std::string_view(r.path).substr(shared));
    prev_ = r.path;
    ++count_;
    var(r.mode);
    var(r.uid);
    var(r.gid);
    var(r.size);
    svar(r.mtime_sec);
    var(static_cast<std::uint64_t>(r.mtime_nsec));
    svar(r.ctime_sec);
    var(static_cast<std::uint64_t>(r.ctime_nsec));
    svar(r.btime_sec);
    var(static_cast<std::uint64_t>(r.btime_nsec));
    var(r.ino);
    var((r.link_target.empty() ? 0 : flag_link) | (r.content ? flag_content : 0));
    if (!r.link_target.empty()) str(r.link_target);
    if (r.content) str(r.content->str());
  }
  void finish() {
    out_.push_back(tag_end);
    var(count_);
    const std::uint64_t sum = fnv1a(fnv_, out_);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
    fnv_ = sum;
    finished_ = true;
  }
  std::size_t pending() const { return out_.size(); }
  std::string take() {
    if (!finished_) fnv_ = fnv1a(fnv_, out_);
    return std::exchange(out_, {});
  }

 private:
  void raw(std::string_view b) { out_.append(b); }
  void u64le(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void var(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void svar(std::int64_t v) {
    var((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void str(std::string_view s) {
    var(s.size());
    out_.append(s);
  }
  std::string out_, prev_;
  std::uint64_t fnv_ = fnv_basis, count_ = 0;
  bool finished_ = false;
};

std::string encode_rootfs_state(const rootfs_state& s) {
  rootfs_state_encoder e;
  e.header(s);
  for (const auto& r : s.records) e.record(r);
  e.finish();
  return e.take();
}

result<rootfs_state> decode_rootfs_state(std::string_view bytes) {
  if (bytes.size() < magic.size() + 4 + 8 || bytes.substr(0, magic.size()) != magic)
    return fail(errc::malformed, "not an ocipipe state file (no \"OCIPSTAT\" magic)");
  decoder head(bytes);
  (void)head.raw(magic.size(), "magic");
  OCIPIPE_ASSIGN_OR_RETURN(auto version, head.u64le(4, "format version"));
  if (version != 1 && version != rootfs_state_format)
    return fail(errc::unsupported, "state file format " + std::to_string(version) + " (this ocipipe reads 1 to " +
                                       std::to_string(rootfs_state_format) + ")");
  const auto body = bytes.substr(0, bytes.size() - 8);
  decoder tail(bytes.substr(bytes.size() - 8));
  OCIPIPE_ASSIGN_OR_RETURN(auto sum, tail.u64le(8, "checksum"));
  if (sum != fnv1a(fnv_basis, body)) return fail(errc::malformed, "checksum mismatch (the file is damaged or truncated)");

  decoder d(body);
  (void)d.raw(magic.size() + 4, "magic");
  rootfs_state s;
  OCIPIPE_ASSIGN_OR_RETURN(s.reference, d.str("reference"));
  OCIPIPE_ASSIGN_OR_RETURN(s.layout_path, d.str("layout path"));
  OCIPIPE_ASSIGN_OR_RETURN(s.manifest.media_type, d.str("manifest media type"));
  OCIPIPE_ASSIGN_OR_RETURN(auto md, d.str("manifest digest"));
  OCIPIPE_ASSIGN_OR_RETURN(auto msize, d.var("manifest size"));
  if (msize > static_cast<std::uint64_t>(INT64_MAX)) return fail(errc::malformed, "manifest size out of range");
  s.manifest.size = static_cast<std::int64_t>(msize);
  OCIPIPE_ASSIGN_OR_RETURN(auto cd, d.str("config digest"));
  auto mdig = digest::parse(md);
  if (!mdig) return tl::unexpected(std::move(mdig).error().context("manifest digest"));
  auto cdig = digest::parse(cd);
  if (!cdig) return tl::unexpected(std::move(cdig).error().context("config digest"));
  s.manifest.digest = std::move(*mdig);
  s.config_digest = std::move(*cdig);
  OCIPIPE_ASSIGN_OR_RETURN(s.recorded_sec, d.svar("recorded time"));
  OCIPIPE_ASSIGN_OR_RETURN(auto rn, d.var("recorded time"));
  OCIPIPE_ASSIGN_OR_RETURN(auto win, d.var("racy window"));
  s.recorded_nsec = static_cast<std::int64_t>(rn);
  s.racy_window_nsec = static_cast<std::int64_t>(win);
  // Version 1 gives the count first; version 2 tags each record and gives
  // the count after them.
  std::uint64_t count = UINT64_MAX;
  if (version == 1) {
    OCIPIPE_ASSIGN_OR_RETURN(count, d.var("record count"));
    // Every record takes at least 14 bytes: no count can claim more than that.
    if (count > body.size() / 14)
      return fail(errc::malformed, "record count " + std::to_string(count) + " exceeds the file");
    s.records.reserve(static_cast<std::size_t>(count));
  }
  std::string prev;
  for (std::uint64_t k = 0; k < count; ++k) {
    if (version != 1) {
      OCIPIPE_ASSIGN_OR_RETURN(auto tag, d.raw(1, "record tag"));
      if (tag[0] == tag_end) {
        OCIPIPE_ASSIGN_OR_RETURN(auto said, d.var("record count"));
        if (said != k)
          return fail(errc::malformed, "the file ends after " + std::to_string(k) + " records but says " +
                                           std::to_string(said));
        break;
      }
      if (tag[0] != tag_record)
        return fail(errc::malformed, "record " + std::to_string(k) + ": unknown tag " +
                                         std::to_string(static_cast<unsigned char>(tag[0])));
    }
    auto rec = [&]() -> result<path_record> {
      path_record r;
      OCIPIPE_ASSIGN_OR_RETURN(auto shared, d.var("path"));
      if (shared > prev.size()) return fail(errc::malformed, "path shares more bytes than the previous path has");
      OCIPIPE_ASSIGN_OR_RETURN(auto rest, d.str("path"));
      r.path = prev.substr(0, static_cast<std::size_t>(shared)) + rest;
      if (!clean_path(r.path)) return fail(errc::malformed, "path " + quote(r.path) + " is not a clean relative path");
      if (k > 0 && !rootfs_path_less(prev, r.path))
        return fail(errc::malformed, "path " + quote(r.path) + " out of order after " + quote(prev));
      OCIPIPE_ASSIGN_OR_RETURN(auto mode, d.var("mode"));
      OCIPIPE_ASSIGN_OR_RETURN(auto uid, d.var("uid"));
      OCIPIPE_ASSIGN_OR_RETURN(auto gid, d.var("gid"));
      if (mode > UINT32_MAX || uid > UINT32_MAX || gid > UINT32_MAX)
        return fail(errc::malformed, "path " + quote(r.path) + ": mode, uid or gid out of range");
      r.mode = static_cast<std::uint32_t>(mode);
      r.uid = static_cast<std::uint32_t>(uid);
      r.gid = static_cast<std::uint32_t>(gid);
      OCIPIPE_ASSIGN_OR_RETURN(r.size, d.var("size"));
      OCIPIPE_ASSIGN_OR_RETURN(r.mtime_sec, d.svar("mtime"));
      OCIPIPE_ASSIGN_OR_RETURN(auto mn, d.var("mtime"));
      OCIPIPE_ASSIGN_OR_RETURN(r.ctime_sec, d.svar("ctime"));
      OCIPIPE_ASSIGN_OR_RETURN(auto cn, d.var("ctime"));
      OCIPIPE_ASSIGN_OR_RETURN(r.btime_sec, d.svar("btime"));
      OCIPIPE_ASSIGN_OR_RETURN(auto bn, d.var("btime"));
      r.mtime_nsec = static_cast<std::int64_t>(mn);
      r.ctime_nsec = static_cast<std::int64_t>(cn);
      r.btime_nsec = static_cast<std::int64_t>(bn);
      OCIPIPE_ASSIGN_OR_RETURN(r.ino, d.var("inode"));
      OCIPIPE_ASSIGN_OR_RETURN(auto flags, d.var("flags"));
      if (flags & ~(flag_link | flag_content)) return fail(errc::malformed, "path " + quote(r.path) + ": unknown flags");
      if (flags & flag_link) {
        OCIPIPE_ASSIGN_OR_RETURN(r.link_target, d.str("link target"));
      }
      if (flags & flag_content) {
        OCIPIPE_ASSIGN_OR_RETURN(auto c, d.str("content digest"));
        auto dig = digest::parse(c);
        if (!dig) return tl::unexpected(std::move(dig).error().context("path " + quote(r.path) + ": content digest"));
        r.content = std::move(*dig);
      }
      return r;
    }();
    if (!rec) return tl::unexpected(std::move(rec).error().context("record " + std::to_string(k)));
    prev = rec->path;
    s.records.push_back(std::move(*rec));
  }
  if (!d.done()) return fail(errc::malformed, "bytes after the last record");
  return s;
}

result<std::string> rootfs_state_path(const std::string& rootfs) {
  OCIPIPE_ASSIGN_OR_RETURN(auto parts, split_rootfs(rootfs));
  return join(parts.first, parts.second + std::string(rootfs_state_suffix));
}

result<std::optional<rootfs_state>> read_rootfs_state(const std::string& rootfs) {
  OCIPIPE_ASSIGN_OR_RETURN(auto path, rootfs_state_path(rootfs));
  auto bytes = read_small_file(AT_FDCWD, path, max_state_bytes);
  if (!bytes) {
    if (bytes.error().code() == errc::not_found) return std::optional<rootfs_state>();
    return tl::unexpected(std::move(bytes).error().context("state file"));
  }
  auto s = decode_rootfs_state(*bytes);
  if (!s) return tl::unexpected(std::move(s).error().context("state file " + quote(path)));
  return std::optional<rootfs_state>(std::move(*s));
}

result<void> remove_rootfs_state(const std::string& rootfs) {
  auto parts = split_rootfs(rootfs);
  if (!parts) {
    // No parent directory: no state file either.
    if (parts.error().code() == errc::not_found) return {};
    return tl::unexpected(std::move(parts).error());
  }
  const std::string name = parts->second + std::string(rootfs_state_suffix);
  const std::string path = join(parts->first, name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno("remove state file " + quote(path), errno);
  // Temporaries of a writer that was killed before it committed: nothing
  // else removes them, and each run would leave another.
  const std::string temp_prefix = "." + name + ".tmp-";
  if (DIR* d = ::opendir(parts->first.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string_view(e->d_name).starts_with(temp_prefix)) ::unlinkat(::dirfd(d), e->d_name, 0);
    ::closedir(d);
  }
  return {};
}

result<rootfs_state_writer> rootfs_state_writer::begin(const std::string& rootfs) {
  OCIPIPE_ASSIGN_OR_RETURN(auto parts, split_rootfs(rootfs));
  rootfs_state_writer w;
  w.dir_path_ = parts.first;
  w.final_name_ = parts.second + std::string(rootfs_state_suffix);
  w.path_ = join(w.dir_path_, w.final_name_);
  w.dir_ = unique_fd(::open(w.dir_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!w.dir_) return fail_errno("open " + quote(w.dir_path_), errno);
  std::string tmpl = join(w.dir_path_, "." + w.final_name_ + ".tmp-XXXXXX");
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == EROFS) return fail(errc::permission_denied, "create state file in " + quote(w.dir_path_) + ": read-only filesystem", e);
    return fail_errno("create state file in " + quote(w.dir_path_), e);
  }
  w.file_ = unique_fd(fd);
  w.temp_name_ = tmpl.substr(tmpl.rfind('/') + 1);
  struct stat st{}, root_st{};
  if (::fstat(fd, &st) != 0) return fail_errno("stat " + quote(tmpl), errno);
  w.sec_ = st.st_ctim.tv_sec;
  w.nsec_ = st.st_ctim.tv_nsec;
  // Same filesystem, same clock: a ctime before the stamp is safe. Else (a
  // rootfs that is a mount point; a filesystem with whole-second times) the
  // two clocks may differ by up to a coarse tick.
  const bool same_clock = ::stat(rootfs.c_str(), &root_st) == 0 && root_st.st_dev == st.st_dev && w.nsec_ != 0;
  w.window_nsec_ = same_clock ? 0 : 2'000'000'000;
  return w;
}

rootfs_state_writer::rootfs_state_writer(rootfs_state_writer&& o) noexcept
    : dir_(std::move(o.dir_)),
      file_(std::move(o.file_)),
      dir_path_(std::move(o.dir_path_)),
      temp_name_(std::exchange(o.temp_name_, {})),
      final_name_(std::move(o.final_name_)),
      path_(std::move(o.path_)),
      sec_(o.sec_),
      nsec_(o.nsec_),
      window_nsec_(o.window_nsec_),
      started_(o.started_),
      committed_(o.committed_),
      encoder_(std::move(o.encoder_)) {}

rootfs_state_writer& rootfs_state_writer::operator=(rootfs_state_writer&& o) noexcept {
  if (this != &o) {
    discard();
    dir_ = std::move(o.dir_);
    file_ = std::move(o.file_);
    dir_path_ = std::move(o.dir_path_);
    temp_name_ = std::exchange(o.temp_name_, {});
    final_name_ = std::move(o.final_name_);
    path_ = std::move(o.path_);
    sec_ = o.sec_;
    nsec_ = o.nsec_;
    window_nsec_ = o.window_nsec_;
    started_ = o.started_;
    committed_ = o.committed_;
    encoder_ = std::move(o.encoder_);
  }
  return *this;
}

rootfs_state_writer::~rootfs_state_writer() { discard(); }

void rootfs_state_writer::discard() noexcept {
  if (!committed_ && !temp_name_.empty() && dir_) ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
  temp_name_.clear();
  file_.reset();
}

// Writes what the encoder holds once it passes 1 MiB, or all of it.
result<void> rootfs_state_writer::flush(bool all) {
  if (!all && encoder_->pending() < (std::size_t{1} << 20)) return {};
  const std::string bytes = encoder_->take();
  if (const int e = write_fully(file_.get(), bytes.data(), bytes.size()); e != 0)
    return fail_errno("write state file " + quote(path_), e);
  return {};
}

result<void> rootfs_state_writer::start(rootfs_state_header header) {
  if (started_ || !file_) return fail(errc::internal, "state file " + quote(path_) + " started twice");
  header.recorded_sec = sec_;
  header.recorded_nsec = nsec_;
  header.racy_window_nsec = window_nsec_;
  encoder_ = std::make_unique<rootfs_state_encoder>();
  encoder_->header(header);
  started_ = true;
  return flush(false);
}

result<void> rootfs_state_writer::add(const path_record& record) {
  if (!started_ || committed_) return fail(errc::internal, "state file " + quote(path_) + ": record outside start/commit");
  if (!clean_path(record.path) || !encoder_->follows(record.path))
    return fail(errc::internal, "state file " + quote(path_) + ": record " + quote(record.path) +
                                    " is not a clean path after the previous one");
  encoder_->record(record);
  return flush(false);
}

result<void> rootfs_state_writer::commit() {
  if (!started_ || committed_ || !file_) return fail(errc::internal, "state file " + quote(path_) + " not started or committed twice");
  encoder_->finish();
  OCIPIPE_TRY(flush(true));
  if (::fchmod(file_.get(), 0644) != 0) return fail_errno("chmod state file " + quote(path_), errno);
  if (::fsync(file_.get()) != 0) return fail_errno("fsync state file " + quote(path_), errno);
  if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), final_name_.c_str()) != 0)
    return fail_errno("rename state file to " + quote(path_), errno);
  committed_ = true;
  file_.reset();
  if (::fsync(dir_.get()) != 0) return fail_errno("fsync " + quote(dir_path_), errno);
  return {};
}

}  // namespace ocipipe::io
