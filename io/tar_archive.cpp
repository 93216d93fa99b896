#include "io/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <vector>

#include "io/regular_file.h"

namespace ocipipe::io {
namespace {

// Lexically cleans a member name relative to the archive root: "./", "//"
// and "." components go, ".." pops one (nullopt when it would leave the root).
std::optional<std::string> clean_name(std::string_view dir, std::string_view name) {
  std::vector<std::string_view> parts;
  auto push = [&](std::string_view s) -> bool {
    std::size_t i = 0;
    while (i <= s.size()) {
      auto j = s.find('/', i);
      if (j == std::string_view::npos) j = s.size();
      const auto p = s.substr(i, j - i);
      if (p == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!p.empty() && p != ".") {
        parts.push_back(p);
      }
      i = j + 1;
    }
    return true;
  };
  if (!name.starts_with('/') && !push(dir)) return std::nullopt;
  if (!push(name)) return std::nullopt;
  std::string out;
  for (auto p : parts) out += (out.empty() ? "" : "/") + std::string(p);
  return out;
}

std::string_view parent_of(std::string_view name) {
  const auto slash = name.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : name.substr(0, slash);
}

struct archive_deleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

}  // namespace

result<std::shared_ptr<const tar_archive>> tar_archive::open(const std::string& path) {
  auto out = std::make_shared<tar_archive>();
  out->path_ = path;
  OCIPIPE_ASSIGN_OR_RETURN(out->fd_, open_regular_file(AT_FDCWD, path, "archive " + quote(path)));
  struct stat st{};
  if (::fstat(out->fd_.get(), &st) != 0) return fail_errno("archive " + quote(path), errno);
  out->dev_ = st.st_dev;
  out->ino_ = st.st_ino;

  // Its own fd: libarchive reads and seeks it, pread users share fd_.
  std::unique_ptr<struct archive, archive_deleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  unique_fd scan(::dup(out->fd_.get()));
  if (!scan || ::lseek(scan.get(), 0, SEEK_SET) < 0) return fail_errno("archive " + quote(path), errno);
  if (archive_read_open_fd(a.get(), scan.get(), 1 << 16) != ARCHIVE_OK)
    return fail(errc::malformed, "archive " + quote(path) + ": not an uncompressed tar archive (" +
                                     archive_error_string(a.get()) + ")");
  for (;;) {
    struct archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    // ARCHIVE_RETRY is a damaged header libarchive would skip past: what
    // follows could be any member's content read as members. Refuse it.
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char* why = archive_error_string(a.get());
      return fail(errc::malformed, "archive " + quote(path) + ": damaged tar header after " +
                                       std::to_string(archive_filter_bytes(a.get(), 0)) + " bytes (" +
                                       (why ? why : "unreadable") + ")");
    }
    const char* raw = archive_entry_pathname(e);
    if (!raw) continue;
    auto name = clean_name({}, raw);
    if (!name || name->empty()) continue;  // "../x" or "/": never a blob of this archive
    entry ent;
    if (const char* hl = archive_entry_hardlink(e)) {
      ent.type = entry::kind::hardlink;
      ent.target = clean_name({}, hl).value_or("..");
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      ent.type = entry::kind::symlink;
      const char* t = archive_entry_symlink(e);
      ent.target = clean_name(parent_of(*name), t ? t : "").value_or("..");
    } else if (archive_entry_filetype(e) == AE_IFREG && archive_entry_sparse_count(e) == 0) {
      ent.type = entry::kind::regular;
      // The data starts where the tar reader's consumption stopped.
      ent.data = {static_cast<std::uint64_t>(archive_filter_bytes(a.get(), 0)),
                  static_cast<std::uint64_t>(archive_entry_size(e))};
    } else {
      ent.what = archive_entry_filetype(e) == AE_IFDIR ? "a directory"
                 : archive_entry_filetype(e) == AE_IFREG ? "a sparse file"
                                                          : "a special file";
    }
    // Two members of one name: extractors keep the last, a streaming reader
    // may take the first. An archive that reads two ways is refused.
    if (ent.type != entry::kind::other || ent.what != "a directory")
      if (auto it = out->members_.find(*name); it != out->members_.end() && it->second.what != "a directory")
        return fail(errc::malformed, "archive " + quote(path) + ": member " + quote(*name) +
                                         " appears more than once; readers disagree which one counts");
    out->members_[*name] = std::move(ent);
  }
  return std::shared_ptr<const tar_archive>(std::move(out));
}

result<archive_member> tar_archive::find(std::string_view name) const {
  auto cleaned = clean_name({}, name);
  if (!cleaned) return fail(errc::unsafe_path, quote(name) + ": leaves the archive");
  std::string cur = *cleaned;
  for (int hop = 0; hop < 16; ++hop) {
    auto it = members_.find(cur);
    if (it == members_.end())
      return fail(errc::not_found, quote(cur) + ": no such member in archive " + quote(path_), ENOENT);
    const auto& e = it->second;
    switch (e.type) {
      case entry::kind::regular: return e.data;
      case entry::kind::other: return fail(errc::malformed, quote(cur) + ": " + e.what + ", not a regular file");
      case entry::kind::symlink:
      case entry::kind::hardlink:
        if (e.target == ".." || e.target.empty())
          return fail(errc::unsafe_path, quote(cur) + ": link leaves the archive");
        cur = e.target;
    }
  }
  return fail(errc::malformed, quote(name) + ": too many links in archive " + quote(path_));
}

}  // namespace ocipipe::io
