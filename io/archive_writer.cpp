#include "io/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include "io/fd_io.h"
#include "io/unique_fd.h"

namespace ocipipe::io {
namespace {

// The directory and last component of `path` ("a/b.tar" -> "a", "b.tar").
std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

struct archive_writer::state {
  std::string path;       // the destination, as given
  std::string base;       // its last component
  unique_fd dir;          // its directory
  unique_fd file;         // the temporary file being written
  std::string temp_name;  // "" for an O_TMPFILE file; else its name in `dir`
  bool replace = false;
  archive_member_meta meta;
  ::archive* a = nullptr;
  int write_errno = 0;  // errno of the last failed write(2), for the message
  std::uint64_t data = 0;
  bool done = false;  // committed, or failed past repair: no more writes

  ~state() {
    if (a) ::archive_write_free(a);  // frees without a proper close: fine, the file is discarded
    // Set until the file has its final name; an O_TMPFILE file vanishes with its fd.
    if (!temp_name.empty()) ::unlinkat(dir.get(), temp_name.c_str(), 0);
  }

  // libarchive's output goes straight to the temporary file; short writes
  // and EINTR are retried here, so libarchive sees all or an error.
  static la_ssize_t write_cb(::archive*, void* self, const void* buf, size_t n) {
    auto* s = static_cast<state*>(self);
    if (const int e = write_fully(s->file.get(), buf, n); e != 0) {
      s->write_errno = e;
      return -1;
    }
    return static_cast<la_ssize_t>(n);
  }

  std::string where() const { return "archive " + quote(path); }

  // The error libarchive reports, as ours: the write(2) errno when that was
  // the cause (ENOSPC is resource_exhausted), else an `io` error.
  tl::unexpected<error> archive_error(const std::string& what) {
    done = true;
    if (write_errno) return fail_errno(where() + ": " + what, write_errno);
    const char* msg = ::archive_error_string(a);
    return fail(errc::io, where() + ": " + what + ": " + (msg ? msg : "libarchive error"));
  }

  // A new entry with the archive's fixed metadata.
  ::archive_entry* entry(std::string_view name, unsigned type, unsigned mode) const {
    auto* e = ::archive_entry_new();
    ::archive_entry_copy_pathname(e, std::string(name).c_str());
    ::archive_entry_set_filetype(e, type);
    ::archive_entry_set_perm(e, mode);
    ::archive_entry_set_uid(e, 0);
    ::archive_entry_set_gid(e, 0);
    ::archive_entry_set_mtime(e, meta.mtime, 0);
    return e;
  }

  result<void> header(::archive_entry* e, std::string_view name) {
    const int rc = ::archive_write_header(a, e);
    ::archive_entry_free(e);
    if (rc < ARCHIVE_OK) return archive_error("member " + quote(name) + ": header");
    return {};
  }

  result<void> data_bytes(std::string_view name, const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    while (n > 0) {
      const la_ssize_t w = ::archive_write_data(a, c, n);
      if (w <= 0) return archive_error("member " + quote(name) + ": write");
      c += w;
      n -= static_cast<std::size_t>(w);
      data += static_cast<std::uint64_t>(w);
    }
    return {};
  }

  result<void> usable() const {
    if (done) return fail(errc::internal, where() + ": written after it failed or was committed");
    return {};
  }
};

archive_writer::archive_writer(std::unique_ptr<state> s) : s_(std::move(s)) {}
archive_writer::archive_writer(archive_writer&&) noexcept = default;
archive_writer& archive_writer::operator=(archive_writer&&) noexcept = default;
archive_writer::~archive_writer() = default;

const std::string& archive_writer::path() const noexcept { return s_->path; }
std::uint64_t archive_writer::data_bytes() const noexcept { return s_->data; }

result<archive_writer> archive_writer::create(const std::string& path, bool replace, archive_member_meta meta) {
  auto s = std::make_unique<state>();
  s->path = path;
  s->replace = replace;
  s->meta = meta;
  const auto [dir, base] = split_path(path);
  if (base.empty() || base == "." || base == "..")
    return fail(errc::invalid_argument, "archive " + quote(path) + ": not a file name");
  s->base = base;
  s->dir = unique_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!s->dir) return fail_errno("archive " + quote(path) + ": open directory " + quote(dir), errno);

  struct stat st{};
  if (::fstatat(s->dir.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode))
      return fail(errc::invalid_argument, "archive " + quote(path) + ": is a directory");
    if (!replace)
      return fail(errc::invalid_argument, "archive " + quote(path) + ": exists; --force replaces it");
  } else if (errno != ENOENT) {
    return fail_errno("archive " + quote(path), errno);
  }

  // O_TMPFILE: an unnamed file, so a killed run leaves nothing behind.
  s->file = unique_fd(::openat(s->dir.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644));
  if (!s->file) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
      return fail_errno("archive " + quote(path) + ": create temporary file in " + quote(dir), errno);
    s->temp_name = "." + base + ".ocipipe-" + random_suffix();
    s->file = unique_fd(::openat(s->dir.get(), s->temp_name.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!s->file) {
      const int e = errno;
      s->temp_name.clear();
      return fail_errno("archive " + quote(path) + ": create temporary file in " + quote(dir), e);
    }
  }

  s->a = ::archive_write_new();
  if (!s->a) return fail(errc::resource_exhausted, "archive " + quote(path) + ": out of memory");
  ::archive_write_set_format_pax_restricted(s->a);
  ::archive_write_add_filter_none(s->a);
  ::archive_write_set_bytes_in_last_block(s->a, 1);  // a file, not a tape: no padding of the last record
  if (::archive_write_open2(s->a, s.get(), nullptr, &state::write_cb, nullptr, nullptr) != ARCHIVE_OK)
    return s->archive_error("open");
  return archive_writer(std::move(s));
}

result<void> archive_writer::add_directory(std::string_view name) {
  OCIPIPE_TRY(s_->usable());
  std::string n(name);
  if (n.empty() || n.back() != '/') n += '/';
  return s_->header(s_->entry(n, AE_IFDIR, s_->meta.dir_mode), n);
}

result<void> archive_writer::add_file(std::string_view name, std::string_view bytes) {
  OCIPIPE_TRY(s_->usable());
  auto* e = s_->entry(name, AE_IFREG, s_->meta.file_mode);
  ::archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
  OCIPIPE_TRY(s_->header(e, name));
  OCIPIPE_TRY(s_->data_bytes(name, bytes.data(), bytes.size()));
  if (::archive_write_finish_entry(s_->a) < ARCHIVE_OK) return s_->archive_error("member " + quote(name));
  return {};
}

result<void> archive_writer::add_file(std::string_view name, std::uint64_t size, byte_source& src) {
  OCIPIPE_TRY(s_->usable());
  auto* e = s_->entry(name, AE_IFREG, s_->meta.file_mode);
  ::archive_entry_set_size(e, static_cast<la_int64_t>(size));
  OCIPIPE_TRY(s_->header(e, name));
  std::uint64_t got = 0;
  for (;;) {
    auto chunk = src.next();
    if (!chunk) {
      s_->done = true;
      return tl::unexpected(std::move(chunk).error());
    }
    if (chunk->empty()) break;
    // Bytes past the announced size would be cut off by libarchive; they
    // make the member wrong, so the whole archive is.
    const auto room = size - got;
    if (chunk->size() > room) {
      s_->done = true;
      return fail(errc::size_mismatch, s_->where() + ": member " + quote(name) + ": more than the " +
                                           std::to_string(size) + " bytes announced");
    }
    OCIPIPE_TRY(s_->data_bytes(name, chunk->data(), chunk->size()));
    got += chunk->size();
  }
  if (got != size) {
    s_->done = true;
    return fail(errc::size_mismatch, s_->where() + ": member " + quote(name) + ": " + std::to_string(got) +
                                         " bytes, not the " + std::to_string(size) + " announced");
  }
  if (::archive_write_finish_entry(s_->a) < ARCHIVE_OK) return s_->archive_error("member " + quote(name));
  return {};
}

result<void> archive_writer::add_symlink(std::string_view name, std::string_view target) {
  OCIPIPE_TRY(s_->usable());
  auto* e = s_->entry(name, AE_IFLNK, s_->meta.symlink_mode);
  ::archive_entry_copy_symlink(e, std::string(target).c_str());
  return s_->header(e, name);
}

result<void> archive_writer::commit() {
  OCIPIPE_TRY(s_->usable());
  auto& s = *s_;
  if (::archive_write_close(s.a) != ARCHIVE_OK) return s.archive_error("close");
  ::archive_write_free(s.a);
  s.a = nullptr;
  s.done = true;  // from here on the temporary file is removed on every failure path below
  auto failed = [&](const std::string& what, int e) { return fail_errno(s.where() + ": " + what, e); };
  if (::fsync(s.file.get()) != 0) return failed("fsync", errno);

  if (s.temp_name.empty()) {
    // Name the O_TMPFILE file. linkat never replaces: without `replace` that
    // is the rule; with it, link under a temporary name and rename over.
    const std::string proc = "/proc/self/fd/" + std::to_string(s.file.get());
    const std::string target = s.replace ? "." + s.base + ".ocipipe-" + random_suffix() : s.base;
    int rc = ::linkat(AT_FDCWD, proc.c_str(), s.dir.get(), target.c_str(), AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == ENOENT)  // no /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH)
      rc = ::linkat(s.file.get(), "", s.dir.get(), target.c_str(), AT_EMPTY_PATH);
    if (rc != 0) {
      if (errno == EEXIST && !s.replace)
        return fail(errc::invalid_argument, s.where() + ": appeared while it was written; --force replaces it");
      return failed("name the written file", errno);
    }
    if (s.replace) s.temp_name = target;
  }
  if (!s.temp_name.empty()) {
    if (s.replace) {
      if (::renameat(s.dir.get(), s.temp_name.c_str(), s.dir.get(), s.base.c_str()) != 0)
        return failed("rename into place", errno);
    } else if (::renameat2(s.dir.get(), s.temp_name.c_str(), s.dir.get(), s.base.c_str(), RENAME_NOREPLACE) != 0) {
      // Filesystems without RENAME_NOREPLACE: link() never replaces either.
      int e = errno;
      if (e == EINVAL && ::linkat(s.dir.get(), s.temp_name.c_str(), s.dir.get(), s.base.c_str(), 0) == 0) {
        ::unlinkat(s.dir.get(), s.temp_name.c_str(), 0);
        e = 0;
      } else if (e == EINVAL) {
        e = errno;
      }
      if (e == EEXIST)
        return fail(errc::invalid_argument, s.where() + ": appeared while it was written; --force replaces it");
      if (e != 0) return failed("rename into place", e);
    }
    s.temp_name.clear();
  }
  if (::fsync(s.dir.get()) != 0) return fail_errno(s.where() + ": fsync directory", errno);
  return {};
}

}  // namespace ocipipe::io
