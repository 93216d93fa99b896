#include "stages/oci/error.h"

#include "stages/errno_text.h"

#include <cstdio>
#include <cstring>

namespace ocipipe {

std::string errno_text(int sys_errno) {
  std::string cause = std::strerror(sys_errno);
  if (cause.size() > 1 && cause[0] >= 'A' && cause[0] <= 'Z' && !(cause[1] >= 'A' && cause[1] <= 'Z'))
    cause[0] = static_cast<char>(cause[0] - 'A' + 'a');
  return cause;
}

tl::unexpected<error> fail_errno(std::string what, int sys_errno) {
  errc code = errc::io;
  switch (sys_errno) {
    case ENOENT: code = errc::not_found; break;
    case EACCES:
    case EPERM: code = errc::permission_denied; break;
    case ENOSPC:
    case ENOMEM:
    case EDQUOT: code = errc::resource_exhausted; break;
    case EXDEV:
    case ELOOP: code = errc::unsafe_path; break;
    default: break;
  }
  what.append(": ").append(errno_text(sys_errno));
  return fail(code, std::move(what), sys_errno);
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace ocipipe
