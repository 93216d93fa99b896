#include "io/layout_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <utility>

#include "io/fd_io.h"
#include "io/blob_reader.h"
#include "io/small_file.h"
#include "io/target_dir.h"

namespace ocipipe::io {
namespace {

constexpr std::string_view empty_index_json = R"({"schemaVersion":2,"manifests":[]})";
constexpr std::string_view oci_layout_json = R"({"imageLayoutVersion":"1.0.0"})";

std::string_view alg_name(digest_algorithm alg) {
  switch (alg) {
    case digest_algorithm::sha256: return "sha256";
    case digest_algorithm::sha512: return "sha512";
    case digest_algorithm::unregistered: break;
  }
  return "";
}

// write(2) until every byte is out: short writes happen on signals and on
// some filesystems near quota; EINTR is retried.
result<void> write_all(int fd, const std::byte* p, std::size_t n, const std::string& what) {
  if (const int e = write_fully(fd, p, n); e != 0) return fail_errno(what + ": write", e);
  return {};
}

result<void> fsync_fd(int fd, const std::string& what) {
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    // Directories on some filesystems refuse fsync; nothing more can be done there.
    if (errno == EINVAL || errno == EROFS) return {};
    return fail_errno(what + ": fsync", errno);
  }
  return {};
}

// A name unique among concurrent ingests of every process: pid, a counter and
// randomness (a recycled pid of a killed run must not collide either; O_EXCL
// catches what remains).
std::string temp_name(std::string_view prefix) {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.*s-%d-%llu-%016llx", static_cast<int>(prefix.size()),
                prefix.data(), static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)),
                static_cast<unsigned long long>(rng()));
  return buf;
}

// Opens (creating with `create`) directory `name` under `dirfd`, never
// following a symlink: blobs/ or blobs/<alg> planted as a link would let a
// blob be written outside the layout.
result<unique_fd> open_subdir(int dirfd, const std::string& name, bool create, const std::string& what) {
  if (create && ::mkdirat(dirfd, name.c_str(), 0755) != 0 && errno != EEXIST)
    return fail_errno(what + ": create " + quote(name), errno);
  unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR)
      return fail(errc::unsafe_path, what + ": " + quote(name) + " is not a directory", errno);
    return fail_errno(what + ": open " + quote(name), errno);
  }
  return fd;
}

// Names in a directory, without "." and "..". Errors: `io`.
result<std::vector<std::string>> dir_names(int dirfd, const std::string& what) {
  const int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_errno(what, errno);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    const int e = errno;
    ::close(fd);
    return fail_errno(what, e);
  }
  std::vector<std::string> out;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
    errno = 0;
  }
  const int e = errno;
  ::closedir(d);
  if (e != 0) return fail_errno(what, e);
  std::sort(out.begin(), out.end());
  return out;
}

// Creates `path` and its missing parents (mode 0755), like mkdir -p.
result<void> make_dirs(const std::string& path) {
  if (path.empty()) return {};
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return {};
  if (errno != ENOENT) return fail_errno("create " + quote(path), errno);
  const auto slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  if (slash != std::string::npos && slash > 0) OCIPIPE_TRY(make_dirs(path.substr(0, slash)));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("create " + quote(path), errno);
  return {};
}

// Whether what the directory holds is nothing, or only what a killed
// init_layout() leaves (lock file, ingest dir, empty blobs/<alg>/ dirs, an
// empty index.json): such a directory may become a layout; anything else is
// somebody's data, never turned into a layout.
result<bool> empty_or_half_initialized(int dirfd, const std::string& what) {
  OCIPIPE_ASSIGN_OR_RETURN(auto names, dir_names(dirfd, what));
  for (const auto& n : names) {
    if (n == layout_lock_name || n == layout_ingest_dir) continue;
    if (n == "index.json") {
      auto text = read_small_file(dirfd, n, 4096);
      if (!text || *text != empty_index_json) return false;
      continue;
    }
    if (n == "blobs") {
      auto blobs = open_subdir(dirfd, n, false, what);
      if (!blobs) return false;
      OCIPIPE_ASSIGN_OR_RETURN(auto algs, dir_names(blobs->get(), what));
      for (const auto& a : algs) {
        auto alg = open_subdir(blobs->get(), a, false, what);
        if (!alg) return false;
        OCIPIPE_ASSIGN_OR_RETURN(auto inside, dir_names(alg->get(), what));
        if (!inside.empty()) return false;
      }
      continue;
    }
    return false;
  }
  return true;
}

// Takes the exclusive lock on `fd`, waiting. OFD locks (Linux 3.15) belong to
// the open file description, so threads of one process cannot share one by
// accident and closing another fd of the file does not drop it; flock is the
// fallback on kernels without them.
result<void> lock_exclusive(int fd, const std::string& what) {
  struct flock fl{};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  for (;;) {
    if (::fcntl(fd, F_OFD_SETLKW, &fl) == 0) return {};
    if (errno == EINTR) continue;
    if (errno != EINVAL) return fail_errno(what + ": lock " + quote(std::string(layout_lock_name)), errno);
    break;
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    return fail_errno(what + ": lock " + quote(std::string(layout_lock_name)), errno);
  }
  return {};
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

// Whether `path` still names directory `dir` and its lock file is still `lock`
// (the lock is held, so nothing changes that while it is). False when the
// layout was removed, or replaced by another directory, since they were opened.
bool layout_writer::still_in_place(const std::string& path, int dir, int lock) {
  struct stat at_path{}, opened{}, lock_named{}, lock_held{};
  if (::stat(path.c_str(), &at_path) != 0 || ::fstat(dir, &opened) != 0 || !same_file(at_path, opened)) return false;
  if (::fstatat(dir, std::string(layout_lock_name).c_str(), &lock_named, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::fstat(lock, &lock_held) != 0 || !same_file(lock_named, lock_held))
    return false;
  return true;
}

// ---- blob_ingest ---------------------------------------------------------

blob_ingest::blob_ingest(int layout_dir, unique_fd alg_dir, digest_algorithm alg, unique_fd file,
                         std::string temp_name, std::string what, bool keep)
    : layout_dir_(layout_dir),
      alg_dir_(std::move(alg_dir)),
      alg_(alg),
      file_(std::move(file)),
      temp_name_(std::move(temp_name)),
      what_(std::move(what)),
      keep_(keep) {}

blob_ingest::blob_ingest(blob_ingest&& o) noexcept
    : layout_dir_(o.layout_dir_),
      alg_dir_(std::move(o.alg_dir_)),
      alg_(o.alg_),
      file_(std::move(o.file_)),
      temp_name_(std::exchange(o.temp_name_, std::string())),
      what_(std::move(o.what_)),
      size_(o.size_),
      committed_(o.committed_),
      keep_(o.keep_) {}

blob_ingest& blob_ingest::operator=(blob_ingest&& o) noexcept {
  if (this != &o) {
    discard();
    layout_dir_ = o.layout_dir_;
    alg_dir_ = std::move(o.alg_dir_);
    alg_ = o.alg_;
    file_ = std::move(o.file_);
    temp_name_ = std::exchange(o.temp_name_, std::string());
    what_ = std::move(o.what_);
    size_ = o.size_;
    committed_ = o.committed_;
    keep_ = o.keep_;
  }
  return *this;
}

blob_ingest::~blob_ingest() { discard(); }

void blob_ingest::abandon() noexcept {
  keep_ = false;
  discard();
}

void blob_ingest::discard() noexcept {
  if (!temp_name_.empty() && !committed_ && layout_dir_ >= 0 && !keep_) {
    const std::string rel = std::string(layout_ingest_dir) + "/" + temp_name_;
    ::unlinkat(layout_dir_, rel.c_str(), 0);
  }
  temp_name_.clear();
  file_.reset();
}

result<void> blob_ingest::write(byte_view bytes) {
  if (committed_ || !file_) return fail(errc::invalid_argument, what_ + ": write after commit");
  OCIPIPE_TRY(write_all(file_.get(), bytes.data(), bytes.size(), what_));
  size_ += bytes.size();
  return {};
}

result<void> blob_ingest::commit(const digest& d) {
  const std::string what = what_ + ": " + d.str();
  if (committed_ || !file_) return fail(errc::invalid_argument, what + ": committed twice");
  if (d.algorithm() == digest_algorithm::unregistered || d.algorithm() != alg_)
    return fail(errc::invalid_argument,
                what + ": digest algorithm differs from the ingest's " + quote(alg_name(alg_)));
  // The bytes reach the disk before the name does, so a crash can never leave
  // a final name on a short or empty file.
  OCIPIPE_TRY(fsync_fd(file_.get(), what));
  const std::string name(d.encoded());
  if (temp_name_.empty()) {
    // O_TMPFILE: give the unnamed inode its name. /proc/self/fd works
    // unprivileged; AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, so it is only
    // the fallback for a system without /proc.
    const std::string proc = "/proc/self/fd/" + std::to_string(file_.get());
    int rc = ::linkat(AT_FDCWD, proc.c_str(), alg_dir_.get(), name.c_str(), AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == ENOENT && ::access("/proc/self/fd", F_OK) != 0)
      rc = ::linkat(file_.get(), "", alg_dir_.get(), name.c_str(), AT_EMPTY_PATH);
    if (rc != 0 && errno != EEXIST) return fail_errno(what + ": link into blobs", errno);
    // EEXIST: that digest is stored already; this copy is dropped with its fd.
  } else {
    const std::string rel = std::string(layout_ingest_dir) + "/" + temp_name_;
    struct stat st{};
    if (::fstatat(alg_dir_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      ::unlinkat(layout_dir_, rel.c_str(), 0);
    } else if (::renameat(layout_dir_, rel.c_str(), alg_dir_.get(), name.c_str()) != 0) {
      return fail_errno(what + ": rename into blobs", errno);
    }
    temp_name_.clear();
  }
  OCIPIPE_TRY(fsync_fd(alg_dir_.get(), what + ": blobs directory"));
  committed_ = true;
  file_.reset();
  return {};
}

// ---- layout_writer -------------------------------------------------------

layout_writer::~layout_writer() {
  // Tidy: the ingest directory goes when nothing is left in it (rmdir fails
  // harmlessly otherwise). The lock file stays: unlinking it would let a
  // waiter lock an inode nobody else can find.
  if (dir_) ::unlinkat(dir_.get(), std::string(layout_ingest_dir).c_str(), AT_REMOVEDIR);
}

result<layout_writer> layout_writer::open(const std::string& path, bool create) {
  const std::string what = "layout " + quote(path);
  if (path.empty()) return fail(errc::invalid_argument, "layout: empty path");
  // Each pass opens the directory, locks it, and checks that what it locked
  // is still what `path` names: a layout removed while this waited (a failed
  // run's created_layout_guard) would otherwise be written to after its
  // deletion, every write failing with ENOENT or, worse, the run "succeeding"
  // into a directory nobody can reach.
  for (int attempt = 0;; ++attempt) {
    if (attempt >= max_open_attempts)
      return fail(errc::unavailable, what + ": removed or replaced again and again while waiting for its lock");
    bool again = false;
    auto w = open_once(path, create, again);
    if (!again) return w;
  }
}

result<layout_writer> layout_writer::open_once(const std::string& path, bool create, bool& again) {
  const std::string what = "layout " + quote(path);
  // A remover (remove_layout) took the directory while this looked at it: open() starts over.
  const auto start_over = [&](const char* when) {
    again = true;
    return fail(errc::not_found, what + ": removed while " + when, ENOENT);
  };
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail_errno(what, errno);
    if (!create) return fail(errc::not_found, what + ": no such directory", ENOENT);
    // mkdir says EEXIST for a dangling symlink, and every open would start over.
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return fail(errc::invalid_argument, what + ": a symbolic link to a directory that does not exist", ENOENT);
    OCIPIPE_TRY(make_dirs(path));
  } else if (!S_ISDIR(st.st_mode)) {
    return fail(errc::invalid_argument, what + ": not a directory");
  }

  layout_writer w;
  w.path_ = path;
  w.dir_ = unique_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!w.dir_) return errno == ENOENT ? start_over("being opened") : fail_errno(what, errno);

  // Before the lock file is made: never drop even a lock file into a
  // directory that is not (and may not become) a layout.
  const auto has_layout_file = [&] {
    return ::fstatat(w.dir_.get(), "oci-layout", &st, AT_SYMLINK_NOFOLLOW) == 0;
  };
  const auto not_a_layout = [&](bool empty) -> result<void> {
    if (!empty)
      return fail(errc::invalid_argument,
                  what + ": not an image layout (no oci-layout file) and not empty; refusing to "
                         "turn it into one");
    if (!create) return fail(errc::invalid_argument, what + ": not an image layout (no oci-layout file)");
    return {};
  };
  int lock_flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
  if (!has_layout_file()) {
    OCIPIPE_ASSIGN_OR_RETURN(bool empty, empty_or_half_initialized(w.dir_.get(), what));
    if (auto ok = not_a_layout(empty); !ok) {
      // A layout another writer is removing (or still making) has its lock
      // file: wait for that writer, then look again under the lock. Without
      // one it is not ours: refuse, and create nothing in it.
      struct stat lst{};
      if (::fstatat(w.dir_.get(), std::string(layout_lock_name).c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        // Unless a remover unlinked its lock file between the listing and
        // that look: remove_layout unlinks the lock file after everything
        // else, so then a second listing finds the directory emptied (or gone).
        if (!empty) {
          OCIPIPE_ASSIGN_OR_RETURN(bool emptied, empty_or_half_initialized(w.dir_.get(), what));
          if (emptied) return start_over("being opened");
        }
        return tl::unexpected(std::move(ok).error());
      }
      lock_flags &= ~O_CREAT;
    }
  }

  w.lock_ = unique_fd(::openat(w.dir_.get(), std::string(layout_lock_name).c_str(), lock_flags, 0644));
  if (!w.lock_) return errno == ENOENT ? start_over("being opened") : fail_errno(what + ": open lock file", errno);
  OCIPIPE_TRY(lock_exclusive(w.lock_.get(), what));
  if (!still_in_place(path, w.dir_.get(), w.lock_.get())) return start_over("waiting for its lock");

  // Under the lock: another process may have initialized it meanwhile.
  if (!has_layout_file()) {
    OCIPIPE_ASSIGN_OR_RETURN(bool empty, empty_or_half_initialized(w.dir_.get(), what));
    OCIPIPE_TRY(not_a_layout(empty));
    OCIPIPE_TRY(w.init_layout());
  } else if (!S_ISREG(st.st_mode)) {
    return fail(errc::invalid_argument, what + ": oci-layout is not a regular file");
  }
  return w;
}

result<void> layout_writer::init_layout() {
  const std::string what = "layout " + quote(path_);
  OCIPIPE_ASSIGN_OR_RETURN(auto blobs, open_subdir(dir_.get(), "blobs", true, what));
  OCIPIPE_ASSIGN_OR_RETURN(auto sha, open_subdir(blobs.get(), "sha256", true, what));
  OCIPIPE_TRY(fsync_fd(sha.get(), what));
  OCIPIPE_TRY(fsync_fd(blobs.get(), what));
  auto idx = read_small_file(dir_.get(), "index.json", 4096);
  if (!idx) OCIPIPE_TRY(write_index(empty_index_json));
  // oci-layout last: its presence says the layout is whole (a run killed
  // before this point leaves a directory the next open completes).
  OCIPIPE_ASSIGN_OR_RETURN(auto ingest, open_ingest_dir());
  const std::string tmp = temp_name("oci-layout");
  {
    unique_fd f(::openat(ingest.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!f) return fail_errno(what + ": create oci-layout", errno);
    auto ok = write_all(f.get(), reinterpret_cast<const std::byte*>(oci_layout_json.data()),
                        oci_layout_json.size(), what + ": oci-layout");
    if (ok) ok = fsync_fd(f.get(), what + ": oci-layout");
    if (ok && ::renameat(ingest.get(), tmp.c_str(), dir_.get(), "oci-layout") != 0)
      ok = fail_errno(what + ": rename oci-layout", errno);
    if (!ok) {
      ::unlinkat(ingest.get(), tmp.c_str(), 0);
      return ok;
    }
  }
  return fsync_fd(dir_.get(), what);
}

result<image_layout> layout_writer::reader() const { return image_layout::open(path_); }

result<unique_fd> layout_writer::open_alg_dir(digest_algorithm alg, bool create) const {
  const std::string what = "layout " + quote(path_);
  if (alg == digest_algorithm::unregistered)
    return fail(errc::invalid_argument, what + ": unregistered digest algorithm");
  OCIPIPE_ASSIGN_OR_RETURN(auto blobs, open_subdir(dir_.get(), "blobs", create, what));
  return open_subdir(blobs.get(), std::string(alg_name(alg)), create, what);
}

result<unique_fd> layout_writer::open_ingest_dir() const {
  return open_subdir(dir_.get(), std::string(layout_ingest_dir), true, "layout " + quote(path_));
}

result<blob_ingest> layout_writer::begin_blob(digest_algorithm alg) {
  const std::string what = "layout " + quote(path_) + ": blob ingest";
  OCIPIPE_ASSIGN_OR_RETURN(auto alg_dir, open_alg_dir(alg, true));
  unique_fd f;
  if (!named_temp_only_) {
    f = unique_fd(::openat(alg_dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
    if (f) return blob_ingest(dir_.get(), std::move(alg_dir), alg, std::move(f), "", what);
    // Filesystems without O_TMPFILE say EOPNOTSUPP (or EISDIR/EINVAL on old
    // kernels that ignore the flag); anything else is a real failure.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
      return fail_errno(what + ": create temporary file", errno);
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto ingest, open_ingest_dir());
  for (int attempt = 0;; ++attempt) {
    std::string name = temp_name("blob");
    f = unique_fd(::openat(ingest.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (f) return blob_ingest(dir_.get(), std::move(alg_dir), alg, std::move(f), std::move(name), what);
    if (errno != EEXIST || attempt > 8) return fail_errno(what + ": create temporary file", errno);
  }
}

std::string layout_writer::partial_blob_name(const digest& d) {
  return "partial-" + std::string(d.algorithm_name()) + "-" + std::string(d.encoded());
}

result<resumable_ingest> layout_writer::begin_resumable_blob(const digest& d, std::uint64_t expected_size) {
  const std::string what = "layout " + quote(path_) + ": blob ingest";
  OCIPIPE_ASSIGN_OR_RETURN(auto alg_dir, open_alg_dir(d.algorithm(), true));
  OCIPIPE_ASSIGN_OR_RETURN(auto ingest, open_ingest_dir());
  // digest::parse admits only [a-zA-Z0-9=_-] in the encoded part: the name
  // stays inside the ingest directory.
  const std::string name = partial_blob_name(d);
  // O_APPEND: every write lands after what is there, whatever pread does on a dup.
  unique_fd f(::openat(ingest.get(), name.c_str(), O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f) return fail_errno(what + ": open " + quote(name), errno);
  struct stat st{};
  if (::fstat(f.get(), &st) != 0) return fail_errno(what + ": stat " + quote(name), errno);
  if (!S_ISREG(st.st_mode)) return fail(errc::io, what + ": " + quote(name) + " is not a regular file");
  auto present = static_cast<std::uint64_t>(st.st_size);
  if (present > expected_size) {
    if (::ftruncate(f.get(), 0) != 0) return fail_errno(what + ": truncate " + quote(name), errno);
    present = 0;
  }
  std::unique_ptr<byte_source> bytes;
  if (present > 0) {
    unique_fd rd(::dup(f.get()));
    if (!rd) return fail_errno(what + ": dup", errno);
    bytes = std::make_unique<blob_file_source>(std::move(rd), present, what + ": " + quote(name), 1 << 20,
                                               file_region{0, present});
  }
  blob_ingest in(dir_.get(), std::move(alg_dir), d.algorithm(), std::move(f), name, what, true);
  in.size_ = present;
  return resumable_ingest{std::move(in), std::move(bytes)};
}

result<void> layout_writer::put_blob(const digest& d, std::string_view bytes) {
  if (has_blob(d)) return {};
  OCIPIPE_ASSIGN_OR_RETURN(auto in, begin_blob(d.algorithm()));
  OCIPIPE_TRY(in.write(bytes));
  return in.commit(d);
}

bool layout_writer::has_blob(const digest& d) const { return blob_size(d).has_value(); }

result<std::uint64_t> layout_writer::blob_size(const digest& d) const {
  const std::string what = "blob " + d.str();
  if (d.algorithm() == digest_algorithm::unregistered)
    return fail(errc::not_found, what + ": unregistered digest algorithm");
  auto alg = open_alg_dir(d.algorithm(), false);
  if (!alg) return fail(errc::not_found, what + ": missing", ENOENT);
  struct stat st{};
  if (::fstatat(alg->get(), std::string(d.encoded()).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return fail(errc::not_found, what + ": missing", ENOENT);
    return fail_errno(what, errno);
  }
  if (!S_ISREG(st.st_mode)) return fail(errc::not_found, what + ": not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

result<std::vector<digest>> layout_writer::list_blobs() const {
  const std::string what = "layout " + quote(path_) + ": list blobs";
  std::vector<digest> out;
  auto blobs = open_subdir(dir_.get(), "blobs", false, what);
  if (!blobs) {
    if (blobs.error().code() == errc::not_found) return out;
    return tl::unexpected(std::move(blobs).error());
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto algs, dir_names(blobs->get(), what));
  for (const auto& a : algs) {
    auto alg = open_subdir(blobs->get(), a, false, what);
    if (!alg) continue;  // a file or link beside the algorithm dirs: not ours to list
    OCIPIPE_ASSIGN_OR_RETURN(auto names, dir_names(alg->get(), what));
    for (const auto& n : names) {
      auto d = digest::parse(a + ":" + n);
      if (!d || d->algorithm() == digest_algorithm::unregistered) continue;
      struct stat st{};
      if (::fstatat(alg->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back(std::move(*d));
    }
  }
  std::sort(out.begin(), out.end(), [](const digest& x, const digest& y) { return x.str() < y.str(); });
  return out;
}

result<void> layout_writer::remove_blob(const digest& d) {
  const std::string what = "layout " + quote(path_) + ": remove blob " + d.str();
  auto alg = open_alg_dir(d.algorithm(), false);
  if (!alg) return fail(errc::not_found, what + ": missing", ENOENT);
  if (::unlinkat(alg->get(), std::string(d.encoded()).c_str(), 0) != 0) {
    if (errno == ENOENT) return fail(errc::not_found, what + ": missing", ENOENT);
    return fail_errno(what, errno);
  }
  if (std::find(dirty_dirs_.begin(), dirty_dirs_.end(), d.algorithm()) == dirty_dirs_.end())
    dirty_dirs_.push_back(d.algorithm());
  return {};
}

result<void> layout_writer::sync() {
  const std::string what = "layout " + quote(path_);
  for (const auto a : dirty_dirs_) {
    OCIPIPE_ASSIGN_OR_RETURN(auto alg, open_alg_dir(a, false));
    OCIPIPE_TRY(fsync_fd(alg.get(), what + ": blobs/" + std::string(alg_name(a))));
  }
  dirty_dirs_.clear();
  return fsync_fd(dir_.get(), what);
}

result<std::vector<stale_ingest_file>> layout_writer::stale_ingest() const {
  const std::string what = "layout " + quote(path_) + ": " + std::string(layout_ingest_dir);
  std::vector<stale_ingest_file> out;
  unique_fd ingest(::openat(dir_.get(), std::string(layout_ingest_dir).c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ingest) {
    if (errno == ENOENT) return out;
    return fail_errno(what, errno);
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto names, dir_names(ingest.get(), what));
  for (auto& n : names) {
    struct stat st{};
    if (::fstatat(ingest.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) continue;
    out.push_back({std::move(n), static_cast<std::uint64_t>(st.st_size)});
  }
  return out;
}

result<void> layout_writer::remove_stale_ingest() {
  const std::string what = "layout " + quote(path_) + ": " + std::string(layout_ingest_dir);
  OCIPIPE_ASSIGN_OR_RETURN(auto files, stale_ingest());
  if (files.empty()) return {};
  OCIPIPE_ASSIGN_OR_RETURN(auto ingest, open_ingest_dir());
  for (const auto& f : files)
    if (::unlinkat(ingest.get(), f.name.c_str(), 0) != 0 && errno != ENOENT)
      return fail_errno(what + ": remove " + quote(f.name), errno);
  return fsync_fd(ingest.get(), what);
}

result<void> layout_writer::remove_layout() {
  const std::string what = "layout " + quote(path_) + ": remove";
  if (!dir_ || !lock_) return fail(errc::invalid_argument, what + ": not open");
  if (!still_in_place(path_, dir_.get(), lock_.get()))
    return fail(errc::io, what + ": " + quote(path_) + " is no longer the directory locked");
  // Blobs and the ingest area first, then oci-layout, then index.json: a run
  // killed part way leaves a layout with no image (gc takes its blobs), or a
  // directory that empty_or_half_initialized lets the next open() make a
  // layout again, never a non-layout with blobs in it that every open refuses.
  OCIPIPE_ASSIGN_OR_RETURN(auto names, dir_names(dir_.get(), what));
  for (const auto& n : names) {
    if (n == layout_lock_name || n == "oci-layout" || n == "index.json") continue;
    struct stat st{};
    if (::fstatat(dir_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      OCIPIPE_TRY(remove_dir_contents(path_ + "/" + n, /*remove_self=*/true));
    } else if (::unlinkat(dir_.get(), n.c_str(), 0) != 0 && errno != ENOENT) {
      return fail_errno(what + " " + quote(n), errno);
    }
  }
  for (const char* n : {"oci-layout", "index.json"})
    if (::unlinkat(dir_.get(), n, 0) != 0 && errno != ENOENT) return fail_errno(what + " " + n, errno);
  // The lock file last, then the directory. A writer that opened the directory
  // and created a new lock file in between finds no oci-layout and makes a
  // new layout there: then rmdir fails (ENOTEMPTY) and the directory is its.
  ::unlinkat(dir_.get(), std::string(layout_lock_name).c_str(), 0);
  if (::rmdir(path_.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
    return fail_errno(what, errno);
  dir_.reset();
  lock_.reset();
  return {};
}

result<std::string> layout_writer::read_index() const {
  auto r = read_small_file(dir_.get(), "index.json");
  if (!r) return tl::unexpected(std::move(r).error().context("layout " + quote(path_)));
  return r;
}

result<void> layout_writer::write_index(std::string_view json) {
  const std::string what = "layout " + quote(path_) + ": write index.json";
  OCIPIPE_ASSIGN_OR_RETURN(auto ingest, open_ingest_dir());
  const std::string tmp = temp_name("index.json");
  unique_fd f(::openat(ingest.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f) return fail_errno(what, errno);
  auto ok = write_all(f.get(), reinterpret_cast<const std::byte*>(json.data()), json.size(), what);
  if (ok) ok = fsync_fd(f.get(), what);
  // rename(2) replaces index.json atomically: a reader sees the old or the new
  // document, never a mix or nothing.
  if (ok && ::renameat(ingest.get(), tmp.c_str(), dir_.get(), "index.json") != 0) ok = fail_errno(what, errno);
  if (!ok) {
    ::unlinkat(ingest.get(), tmp.c_str(), 0);
    return ok;
  }
  return fsync_fd(dir_.get(), what);
}

}  // namespace ocipipe::io
