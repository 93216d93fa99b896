// Deterministic layer tars through libarchive's restricted pax writer.
#include "io/layer_tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/fd_io.h"
#include "io/rootfs_writer.h"  // open_in_root

namespace ocipipe::io {
namespace {

// libarchive converts names to UTF-8 from the calling thread's locale, so
// the same name could give different headers under different locales. Every
// call into the writer runs under C.UTF-8 (plain "C" where a libc lacks it),
// per thread through uselocale, leaving the process's locale alone.
class writer_locale {
 public:
  writer_locale() : prev_(::uselocale(the_locale())) {}
  ~writer_locale() { ::uselocale(prev_); }
  writer_locale(const writer_locale&) = delete;
  writer_locale& operator=(const writer_locale&) = delete;

 private:
  static locale_t the_locale() {
    static const locale_t loc = [] {
      locale_t l = ::newlocale(LC_ALL_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
      if (l == static_cast<locale_t>(nullptr))
        l = ::newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
      return l == static_cast<locale_t>(nullptr) ? LC_GLOBAL_LOCALE : l;
    }();
    return loc;
  }
  locale_t prev_;
};

struct archive_deleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct entry_deleter {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  return m != nullptr ? m : "unknown libarchive error";
}

}  // namespace

// ---- layer_tar_writer ---------------------------------------------------

struct layer_tar_writer::impl {
  std::unique_ptr<archive, archive_deleter> a;
  std::unique_ptr<archive_entry, entry_deleter> entry;
  sink out;
  std::uint64_t data_left = 0;  // content still owed to the current entry
  std::string current;          // its path, for messages
  bool finished = false;
  bool abandoned = false;  // set when destroyed unfinished: refuse every further byte

  ~impl() {
    // An unfinished stream (an error half-way) is abandoned: closing it would
    // pad the current entry with its missing content, zeros the size of the
    // file (gigabytes, for a big file that shrank), so the write callback
    // fails the first of those writes and libarchive gives up at once, yet
    // still closes (frees) its output stage.
    abandoned = !finished;
    a.reset();  // while every member the callback reads is still alive
  }

  static la_ssize_t on_write(archive* a, void* self, const void* buf, size_t n) {
    auto* s = static_cast<impl*>(self);
    if (s->abandoned) {
      archive_set_error(a, ECANCELED, "tar stream abandoned");
      return -1;
    }
    s->out(byte_view(static_cast<const std::byte*>(buf), n));
    return static_cast<la_ssize_t>(n);
  }
  result<void> owe_nothing(const char* what) const {
    if (data_left != 0)
      return fail(errc::invalid_argument, std::string(what) + ": " + quote(current) + ": " +
                                              std::to_string(data_left) + " bytes of content missing");
    return {};
  }
};

layer_tar_writer::layer_tar_writer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
layer_tar_writer::layer_tar_writer(layer_tar_writer&&) noexcept = default;
layer_tar_writer& layer_tar_writer::operator=(layer_tar_writer&&) noexcept = default;
layer_tar_writer::~layer_tar_writer() = default;

result<layer_tar_writer> layer_tar_writer::create(sink out) {
  writer_locale loc;
  auto p = std::make_unique<impl>();
  p->out = std::move(out);
  p->a.reset(archive_write_new());
  p->entry.reset(archive_entry_new());
  if (!p->a || !p->entry) return fail(errc::resource_exhausted, "tar writer: out of memory");
  archive* a = p->a.get();
  auto check = [&](int rc, const char* what) -> result<void> {
    if (rc != ARCHIVE_OK)
      return fail(errc::internal, std::string("tar writer: ") + what + ": " + archive_message(a));
    return {};
  };
  OCIPIPE_TRY(check(archive_write_set_format_pax_restricted(a), "pax format"));
  // SCHILY.xattr.NAME=value only (libarchive also writes LIBARCHIVE.xattr by default).
  OCIPIPE_TRY(check(archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY"), "xattrheader"));
  // No blocking: every byte goes to the sink at once, and the stream ends
  // right after the end-of-archive blocks instead of being padded to 10 KiB.
  OCIPIPE_TRY(check(archive_write_set_bytes_per_block(a, 0), "block size"));
  OCIPIPE_TRY(check(archive_write_open2(a, p.get(), nullptr, &impl::on_write, nullptr, nullptr), "open"));
  return layer_tar_writer(std::move(p));
}

result<void> layer_tar_writer::write_header(const tar_entry& e) {
  writer_locale loc;
  impl& s = *impl_;
  OCIPIPE_TRY(s.owe_nothing("tar entry"));
  if (e.path.empty()) return fail(errc::invalid_argument, "tar entry: empty path");
  archive_entry* ae = s.entry.get();
  archive_entry_clear(ae);
  archive_entry_copy_pathname(ae, e.path.c_str());
  archive_entry_set_perm(ae, static_cast<mode_t>(e.mode & 07777));
  archive_entry_set_uid(ae, e.uid);
  archive_entry_set_gid(ae, e.gid);
  archive_entry_set_mtime(ae, e.mtime_sec, 0);
  std::uint64_t size = 0;
  switch (e.type) {
    case entry_type::regular:
      archive_entry_set_filetype(ae, AE_IFREG);
      size = e.size;
      break;
    case entry_type::directory: archive_entry_set_filetype(ae, AE_IFDIR); break;
    case entry_type::symlink:
      archive_entry_set_filetype(ae, AE_IFLNK);
      archive_entry_copy_symlink(ae, e.link_target.c_str());
      break;
    case entry_type::hardlink:
      archive_entry_set_filetype(ae, AE_IFREG);
      archive_entry_copy_hardlink(ae, e.link_target.c_str());
      break;
    case entry_type::char_device:
    case entry_type::block_device:
      archive_entry_set_filetype(ae, e.type == entry_type::char_device ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdevmajor(ae, e.dev_major);
      archive_entry_set_rdevminor(ae, e.dev_minor);
      break;
    case entry_type::fifo: archive_entry_set_filetype(ae, AE_IFIFO); break;
  }
  archive_entry_set_size(ae, static_cast<la_int64_t>(size));
  for (const auto& [name, value] : e.xattrs)
    archive_entry_xattr_add_entry(ae, name.c_str(), value.data(), value.size());
  // ARCHIVE_WARN: a name not valid in UTF-8, written raw (hdrcharset=BINARY).
  if (const int rc = archive_write_header(s.a.get(), ae); rc < ARCHIVE_WARN)
    return fail(errc::internal, "tar entry " + quote(e.path) + ": " + archive_message(s.a.get()));
  s.data_left = size;
  s.current = e.path;
  return {};
}

result<void> layer_tar_writer::write_data(byte_view bytes) {
  writer_locale loc;
  impl& s = *impl_;
  if (bytes.size() > s.data_left)
    return fail(errc::invalid_argument, "tar entry " + quote(s.current) + ": content longer than its header's size");
  while (!bytes.empty()) {
    const la_ssize_t n = archive_write_data(s.a.get(), bytes.data(), bytes.size());
    if (n <= 0)
      return fail(errc::internal, "tar entry " + quote(s.current) + ": " + archive_message(s.a.get()));
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    s.data_left -= static_cast<std::uint64_t>(n);
  }
  return {};
}

result<void> layer_tar_writer::finish() {
  writer_locale loc;
  impl& s = *impl_;
  OCIPIPE_TRY(s.owe_nothing("tar end"));
  if (archive_write_close(s.a.get()) != ARCHIVE_OK)
    return fail(errc::internal, "tar end: " + archive_message(s.a.get()));
  s.finished = true;
  return {};
}

// ---- tree entries -------------------------------------------------------

result<tar_entry> tar_entry_of(const std::string& path, const tree_entry& e,
                               const layer_tar_options& opts) {
  tar_entry t;
  t.path = path;
  t.mode = e.mode & 07777;
  t.uid = e.uid;
  t.gid = e.gid;
  t.mtime_sec = e.mtime_sec;
  if (opts.source_date_epoch && t.mtime_sec > *opts.source_date_epoch) t.mtime_sec = *opts.source_date_epoch;
  switch (e.mode & S_IFMT) {
    case S_IFREG:
      t.type = entry_type::regular;
      t.size = e.size;
      break;
    case S_IFDIR: t.type = entry_type::directory; break;
    case S_IFLNK:
      t.type = entry_type::symlink;
      t.link_target = e.link_target;
      break;
    case S_IFCHR:
    case S_IFBLK:
      t.type = (e.mode & S_IFMT) == S_IFCHR ? entry_type::char_device : entry_type::block_device;
      t.dev_major = major(static_cast<dev_t>(e.rdev));
      t.dev_minor = minor(static_cast<dev_t>(e.rdev));
      break;
    case S_IFIFO: t.type = entry_type::fifo; break;
    case S_IFSOCK:
      return fail(errc::unsupported, quote(path) + ": a socket cannot be stored in a layer (tar has no socket type)");
    default:
      return fail(errc::unsupported, quote(path) + ": unknown file type");
  }
  t.xattrs.assign(e.xattrs.begin(), e.xattrs.end());  // std::map: name order
  return t;
}

// ---- layer_tar_source ---------------------------------------------------

layer_tar_source::layer_tar_source(int root_fd, const std::vector<layer_tar_item>& items,
                                   layer_tar_options opts)
    : root_fd_(root_fd), items_(items), opts_(opts) {}

layer_tar_source::~layer_tar_source() = default;

result<std::unique_ptr<layer_tar_source>> layer_tar_source::create(
    int root_fd, const std::vector<layer_tar_item>& items, const layer_tar_options& opts) {
  std::unique_ptr<layer_tar_source> s(new layer_tar_source(root_fd, items, opts));
  s->opts_.read_bytes = std::max<std::size_t>(s->opts_.read_bytes, 4096);
  OCIPIPE_ASSIGN_OR_RETURN(auto w, layer_tar_writer::create([p = s.get()](byte_view b) {
                             p->out_.insert(p->out_.end(), b.begin(), b.end());
                           }));
  s->writer_.emplace(std::move(w));
  s->read_buf_.resize(s->opts_.read_bytes);
  s->out_.reserve(s->opts_.min_chunk_bytes + s->opts_.read_bytes + 4096);
  return s;
}

result<byte_view> layer_tar_source::next() {
  out_.clear();
  if (failed_) return byte_view{};
  while (out_.size() < opts_.min_chunk_bytes && !finished_) {
    if (auto r = step(); !r) {
      failed_ = true;
      file_.reset();
      return tl::unexpected(std::move(r).error());
    }
  }
  return byte_view(out_.data(), out_.size());
}

result<void> layer_tar_source::step() {
  if (file_) return read_content();
  if (next_item_ < items_.size()) return start_item(items_[next_item_++]);
  OCIPIPE_TRY(writer_->finish());
  finished_ = true;
  return {};
}

namespace {

// "a/b/c" -> ("a/b/", "c"); "c" -> ("", "c").
std::pair<std::string, std::string> split_last(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

}  // namespace

result<void> layer_tar_source::start_item(const layer_tar_item& item) {
  using k = layer_tar_item::kind;
  tar_entry t;
  if (item.what == k::whiteout || item.what == k::opaque_whiteout) {
    // As umoci writes them: an empty regular file, mode 0, owner 0:0, mtime 0.
    if (item.what == k::whiteout) {
      auto [dir, name] = split_last(item.path);
      t.path = dir + ".wh." + name;
    } else {
      t.path = item.path + "/.wh..wh..opq";
    }
    t.type = entry_type::regular;
  } else {
    OCIPIPE_ASSIGN_OR_RETURN(t, tar_entry_of(item.path, item.entry, opts_));
    if (item.what == k::hardlink) {
      t.type = entry_type::hardlink;
      t.size = 0;
      t.link_target = item.link_path;
    }
  }
  const bool has_content = t.type == entry_type::regular && t.size > 0;
  if (has_content) {
    // Open before the header goes out, so a vanished file fails cleanly.
    OCIPIPE_ASSIGN_OR_RETURN(file_, open_in_root(root_fd_, item.path, O_RDONLY | O_NOFOLLOW));
    struct stat st{};
    if (::fstat(file_.get(), &st) != 0) return fail_errno(quote(item.path), errno);
    if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != t.size ||
        (item.entry.ino != 0 &&
         (st.st_ino != item.entry.ino || static_cast<std::uint64_t>(st.st_dev) != item.entry.dev)))
      return fail(errc::io, quote(item.path) + ": changed while packing");
    file_left_ = t.size;
    file_path_ = item.path;
  }
  OCIPIPE_TRY(writer_->write_header(t));
  ++entries_;
  return {};
}

result<void> layer_tar_source::read_content() {
  // Ask one byte past the expected end when the rest fits the buffer: a
  // file that grew since it was walked shows without an extra read.
  const std::size_t want = file_left_ < read_buf_.size() ? static_cast<std::size_t>(file_left_) + 1
                                                         : read_buf_.size();
  const ssize_t n = read_retrying(file_.get(), read_buf_.data(), want);
  if (n < 0) return fail_errno(quote(file_path_), errno);
  if (n == 0 || static_cast<std::uint64_t>(n) > file_left_)
    return fail(errc::io, quote(file_path_) + ": changed while packing (" +
                              (n == 0 ? "shorter" : "longer") + " than when walked)");
  OCIPIPE_TRY(writer_->write_data(byte_view(read_buf_.data(), static_cast<std::size_t>(n))));
  file_left_ -= static_cast<std::uint64_t>(n);
  if (file_left_ == 0) file_.reset();
  return {};
}

}  // namespace ocipipe::io
