#include "io/output_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "io/target_dir.h"

namespace ocipipe::io {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

result<void> write_output_file(const std::string& path, std::string_view bytes, unsigned mode, bool replace) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return fail(errc::invalid_argument, quote(path) + " names no file");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      return fail(errc::invalid_argument, quote(path) + " is " + kind_of(st.st_mode) +
                                              "; name a regular file (it is replaced whole, never written through)");
    if (!replace) return fail(errc::invalid_argument, quote(path) + " exists (--force replaces it)");
  }
  const std::string tmp = "." + name + ".ocipipe-new-" + std::to_string(::getpid());
  OCIPIPE_TRY(write_file_atomic(dir, tmp, bytes, mode));
  const std::string tmp_path = dir + "/" + tmp;
  const int rc = replace ? ::rename(tmp_path.c_str(), path.c_str()) : ::link(tmp_path.c_str(), path.c_str());
  const int e = errno;
  ::unlink(tmp_path.c_str());
  if (rc != 0) {
    if (e == EEXIST) return fail(errc::invalid_argument, quote(path) + " exists (--force replaces it)");
    return fail_errno("write " + quote(path), e);
  }
  return {};
}

}  // namespace ocipipe::io
