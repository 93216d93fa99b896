#include "stages/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>

namespace ocipipe {

struct tar_reader::impl {
  byte_source& source;
  tar_limits limits;
  archive* ar = nullptr;
  bool opened = false;
  bool finished = false;
  std::optional<error> source_error;  // libarchive only sees -1; keep the cause
  std::uint64_t bytes_read = 0;
  // The current regular entry's size and path, and where its content so far
  // ends: read_content refuses blocks outside [0, size).
  bool content_checked = false;
  std::uint64_t content_size = 0;
  std::uint64_t content_end = 0;
  std::string content_path;

  impl(byte_source& s, tar_limits l) : source(s), limits(l) {}

  static la_ssize_t read_cb(archive*, void* self, const void** buf) {
    auto* me = static_cast<impl*>(self);
    auto chunk = me->source.next();
    if (!chunk) {
      me->source_error = std::move(chunk).error();
      return -1;
    }
    *buf = chunk->data();
    me->bytes_read += chunk->size();
    return static_cast<la_ssize_t>(chunk->size());
  }

  error archive_failure(std::string_view what) {
    if (source_error) return *source_error;
    const char* msg = archive_error_string(ar);
    return error(errc::malformed, std::string("tar: ") + std::string(what) + ": " +
                                      (msg ? msg : "unknown libarchive error"));
  }
};

tar_reader::tar_reader(byte_source& source, tar_limits limits)
    : impl_(std::make_unique<impl>(source, limits)) {
  impl_->ar = archive_read_new();
  archive_read_support_format_tar(impl_->ar);
  archive_read_support_format_gnutar(impl_->ar);
  archive_read_support_filter_none(impl_->ar);
}

tar_reader::~tar_reader() {
  if (impl_->ar) archive_read_free(impl_->ar);
}

result<std::optional<tar_entry>> tar_reader::next_entry() {
  auto& m = *impl_;
  if (m.finished) return std::optional<tar_entry>{};
  if (!m.opened) {
    const int orc = archive_read_open(m.ar, &m, nullptr, &impl::read_cb, nullptr);
    // An empty stream is an empty changeset, as Go's archive/tar (Docker,
    // containerd) reads it; libarchive finds "no format" in zero bytes.
    if (orc != ARCHIVE_OK && m.bytes_read == 0 && !m.source_error) {
      m.finished = true;
      return std::optional<tar_entry>{};
    }
    if (orc != ARCHIVE_OK) return tl::unexpected(m.archive_failure("open"));
    m.opened = true;
  }
  archive_entry* ae = nullptr;
  const int rc = archive_read_next_header(m.ar, &ae);
  if (rc != ARCHIVE_EOF && rc < ARCHIVE_WARN && m.bytes_read == 0 && !m.source_error) {
    m.finished = true;
    return std::optional<tar_entry>{};
  }
  if (rc == ARCHIVE_EOF) {
    m.finished = true;
    return std::optional<tar_entry>{};
  }
  if (rc < ARCHIVE_WARN) return tl::unexpected(m.archive_failure("read header"));

  m.content_checked = false;
  tar_entry e;
  const char* path = archive_entry_pathname(ae);
  if (!path) return fail(errc::malformed, "tar: entry without a path");
  e.path = path;
  if (e.path.size() > m.limits.max_path_bytes)
    return fail(errc::resource_exhausted, "tar: entry path longer than " +
                                              std::to_string(m.limits.max_path_bytes) + " bytes" +
                                              limit_name(m.limits.max_path_name));
  e.mode = archive_entry_perm(ae) & 07777;
  e.uid = archive_entry_uid(ae);
  e.gid = archive_entry_gid(ae);
  // Owners wider than 32 bits would be truncated by chown (2^32 becomes root);
  // 4294967295 is (uid_t)-1, "leave unchanged".
  for (auto [id, what] : {std::pair{e.uid, "uid"}, std::pair{e.gid, "gid"}})
    if (id < 0 || id > 4294967294LL)
      return fail(errc::malformed, "tar: entry " + quote(e.path) + ": " + what + " " +
                                       std::to_string(id) + " out of range");
  e.mtime_sec = archive_entry_mtime(ae);
  e.mtime_nsec = archive_entry_mtime_nsec(ae);
  if (const char* hl = archive_entry_hardlink(ae)) {
    e.type = entry_type::hardlink;
    e.link_target = hl;
  } else {
    switch (archive_entry_filetype(ae)) {
      case AE_IFREG: e.type = entry_type::regular; break;
      case AE_IFDIR: e.type = entry_type::directory; break;
      case AE_IFLNK:
        e.type = entry_type::symlink;
        if (const char* t = archive_entry_symlink(ae)) e.link_target = t;
        break;
      case AE_IFCHR: e.type = entry_type::char_device; break;
      case AE_IFBLK: e.type = entry_type::block_device; break;
      case AE_IFIFO: e.type = entry_type::fifo; break;
      default:
        return fail(errc::malformed, "tar: entry " + quote(e.path) + ": unsupported file type");
    }
  }
  if (e.link_target.size() > m.limits.max_path_bytes)
    return fail(errc::resource_exhausted, "tar: entry " + quote(e.path) + ": link target longer than " +
                                              std::to_string(m.limits.max_path_bytes) + " bytes" +
                                              limit_name(m.limits.max_path_name));
  if (e.type == entry_type::regular) {
    const auto size = archive_entry_size(ae);
    if (size < 0) return fail(errc::malformed, "tar: entry " + quote(e.path) + ": negative size");
    e.size = static_cast<std::uint64_t>(size);
    if (e.size > m.limits.max_entry_size)
      return fail(errc::resource_exhausted, "tar: entry " + quote(e.path) + ": size " +
                                                std::to_string(e.size) + " over the limit of " +
                                                std::to_string(m.limits.max_entry_size) + " bytes" +
                                                limit_name(m.limits.max_entry_size_name));
  }
  if (e.type == entry_type::regular) {
    m.content_checked = true;
    m.content_size = e.size;
    m.content_end = 0;
    m.content_path = e.path;
  }
  if (e.type == entry_type::char_device || e.type == entry_type::block_device) {
    e.dev_major = archive_entry_rdevmajor(ae);
    e.dev_minor = archive_entry_rdevminor(ae);
  }
  std::size_t xattr_bytes = 0;
  if (archive_entry_xattr_reset(ae) > 0) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
      xattr_bytes += std::strlen(name) + size;
      if (xattr_bytes > m.limits.max_xattr_bytes)
        return fail(errc::resource_exhausted, "tar: entry " + quote(e.path) + ": xattrs over limit");
      e.xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
  }
  return std::optional<tar_entry>(std::move(e));
}

result<void> tar_reader::read_content(
    const std::function<result<void>(std::uint64_t, byte_view)>& sink) {
  auto& m = *impl_;
  for (;;) {
    const void* buf = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    const int rc = archive_read_data_block(m.ar, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (rc < ARCHIVE_WARN) return tl::unexpected(m.archive_failure("read content"));
    if (size == 0) continue;
    // A sparse map is data too: libarchive places blocks where the map says
    // even when the map reaches past the size it reports for the entry (a PAX
    // 1.0 sparse file without GNU.sparse.realsize). Such a file would grow
    // past its header's size, and past the entry size limit, on disk; the
    // header is taken as the truth (found by tests/fuzz/tar_whiteout_fuzz.cpp).
    if (m.content_checked) {
      const auto at = static_cast<std::uint64_t>(offset);
      if (offset < 0 || at < m.content_end || size > m.content_size || at > m.content_size - size)
        return fail(errc::malformed, "tar: entry " + quote(m.content_path) + ": content at offset " +
                                         std::to_string(offset) + " (" + std::to_string(size) +
                                         " bytes) outside the entry's size " + std::to_string(m.content_size) +
                                         " (a sparse map past the end?)");
      m.content_end = at + size;
    }
    OCIPIPE_TRY(sink(static_cast<std::uint64_t>(offset),
                     byte_view(static_cast<const std::byte*>(buf), size)));
  }
}

}  // namespace ocipipe
