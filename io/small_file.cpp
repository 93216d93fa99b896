#include "io/small_file.h"

#include <sys/stat.h>

#include "io/blob_reader.h"
#include "io/regular_file.h"

namespace ocipipe::io {

result<std::string> read_small_file(int dirfd, const std::string& name, std::size_t max_bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, open_regular_file(dirfd, name, quote(name)));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(quote(name), errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return fail(errc::resource_exhausted, quote(name) + ": larger than " + std::to_string(max_bytes) + " bytes");
  // A regular file's size is its length (blob_file_source refuses growth).
  blob_file_source src(std::move(fd), static_cast<std::uint64_t>(st.st_size), quote(name));
  return read_whole(src, static_cast<std::size_t>(st.st_size));
}

}  // namespace ocipipe::io
