#include "io/image_layout.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "io/blob_reader.h"
#include "io/regular_file.h"
#include "io/small_file.h"

namespace ocipipe::io {
namespace {

result<void> check_size(const descriptor& d, std::size_t max_bytes) {
  if (d.size < 0) return fail(errc::malformed, "blob " + d.digest.str() + ": negative size");
  if (static_cast<std::uint64_t>(d.size) > max_bytes)
    return fail(errc::resource_exhausted, "blob " + d.digest.str() + ": size " + std::to_string(d.size) +
                                              " bytes over the limit of " + std::to_string(max_bytes) + " bytes");
  return {};
}

}  // namespace

result<image_layout> image_layout::open(const std::string& path) {
  image_layout l;
  l.path_ = path;
  l.dir_ = unique_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!l.dir_) {
    const int err = errno;
    auto e = fail_errno("image layout " + quote(path), err);
    // A bare path is taken as oci:, so an archive file given bare lands here.
    if (err == ENOTDIR)
      return fail(e.value().code(), e.value().message() + " (a tar file? use oci-archive: or docker-archive:)", err);
    return e;
  }
  return l;
}

result<image_layout> image_layout::open_archive(const std::string& path) {
  image_layout l;
  l.path_ = path;
  OCIPIPE_ASSIGN_OR_RETURN(l.archive_, tar_archive::open(path));
  return l;
}

image_layout image_layout::open_remote(std::shared_ptr<const remote_store> store) {
  image_layout l;
  l.path_ = store->where();
  l.remote_ = std::move(store);
  return l;
}

result<std::string> image_layout::read_file(const std::string& name, std::size_t max_bytes) const {
  if (remote_) return remote_->read_file(name, max_bytes);
  const auto too_big = [&] {
    return fail(errc::resource_exhausted, quote(name) + ": larger than " + std::to_string(max_bytes) + " bytes");
  };
  if (archive_) {
    OCIPIPE_ASSIGN_OR_RETURN(auto m, archive_->find(name));
    if (m.size > max_bytes) return too_big();
    blob_file_source src(unique_fd(::dup(archive_->fd())), m.size, quote(name), blob_chunk_bytes,
                         file_region{m.offset, m.size});
    return read_whole(src, static_cast<std::size_t>(m.size));
  }
  return read_small_file(dir_.get(), name, max_bytes);
}

result<std::uint64_t> image_layout::file_size(const std::string& name) const {
  if (remote_) return fail(errc::unsupported, quote(name) + ": sizes of files of " + quote(path_) + " are not known");
  if (archive_) {
    OCIPIPE_ASSIGN_OR_RETURN(auto m, archive_->find(name));
    return m.size;
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_regular_file(dir_.get(), name, quote(name)));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(quote(name), errno);
  return static_cast<std::uint64_t>(st.st_size);
}

result<image_layout::blob_location> image_layout::locate_blob(const descriptor& desc) const {
  const auto& d = desc.digest;
  const std::string what = "blob " + d.str();
  if (archive_) {
    // digest::parse admits neither "/" nor "..", so blob_path() stays inside blobs/;
    // a member name is found inside the archive only (tar_archive::find).
    const auto member = desc.annotations.find(std::string(member_annotation));
    auto m = archive_->find(member != desc.annotations.end() ? member->second : d.blob_path());
    if (!m && m.error().code() == errc::not_found)
      return fail(errc::not_found, what + ": missing from archive " + quote(path_), ENOENT);
    if (!m) return tl::unexpected(std::move(m).error().context(what));
    unique_fd fd(::dup(archive_->fd()));
    if (!fd) return fail_errno(what, errno);
    return blob_location{std::move(fd), file_region{m->offset, m->size}};
  }
  auto fd = open_regular_file(dir_.get(), d.blob_path(), what);
  if (!fd && fd.error().code() == errc::not_found) return fail(errc::not_found, what + ": missing", ENOENT);
  if (!fd) return tl::unexpected(std::move(fd).error());
  return blob_location{std::move(*fd), std::nullopt};
}

result<std::string> image_layout::read_blob(const descriptor& d, std::size_t max_bytes) const {
  OCIPIPE_TRY(check_size(d, max_bytes));
  if (remote_) return remote_->read_blob(d, max_bytes);
  OCIPIPE_ASSIGN_OR_RETURN(auto src, open_blob(d));
  return read_whole(*src, static_cast<std::size_t>(d.size));
}

result<std::unique_ptr<byte_source>> image_layout::open_blob(const descriptor& d) const {
  OCIPIPE_TRY(check_size(d, UINT64_MAX));
  if (remote_) return remote_->open_blob(d);
  OCIPIPE_ASSIGN_OR_RETURN(auto loc, locate_blob(d));
  const auto start = loc.region ? static_cast<off_t>(loc.region->offset) : 0;
  const auto len = loc.region ? static_cast<off_t>(loc.region->length) : 0;
  ::posix_fadvise(loc.fd.get(), start, len, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<byte_source>(std::make_unique<blob_file_source>(
      std::move(loc.fd), static_cast<std::uint64_t>(d.size), "blob " + d.digest.str(), blob_chunk_bytes, loc.region));
}

result<std::string> image_layout::blob_identity(const descriptor& desc) const {
  const auto& d = desc.digest;
  if (remote_) return "remote:" + path_ + "@" + d.str();
  OCIPIPE_ASSIGN_OR_RETURN(auto loc, locate_blob(desc));
  struct stat st{};
  if (::fstat(loc.fd.get(), &st) != 0) return fail_errno("stat blob " + d.str(), errno);
  std::string id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  if (loc.region) id += "@" + std::to_string(loc.region->offset) + "+" + std::to_string(loc.region->length);
  return id;
}

}  // namespace ocipipe::io
