#include "tests/support/measured_run.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace ocipipe::testing {
namespace {

double number_after(const std::string& text, const std::string& key) {
  const auto at = text.rfind(key);
  return at == std::string::npos ? -1 : std::strtod(text.c_str() + at + key.size(), nullptr);
}

}  // namespace

temp_dir disk_temp_dir(const std::string& prefix, std::uint64_t need_bytes) {
  const char* t = std::getenv("TMPDIR");
  if (t == nullptr || *t == '\0') ::setenv("TMPDIR", "/var/tmp", 1);
  temp_dir tmp(prefix);
  struct statvfs vfs {};
  if (::statvfs(tmp.path().c_str(), &vfs) != 0)
    throw std::runtime_error("statvfs \"" + tmp.path() + "\": " + std::strerror(errno));
  const std::uint64_t free_bytes = std::uint64_t{vfs.f_bavail} * vfs.f_frsize;
  if (free_bytes < need_bytes)
    throw std::runtime_error("\"" + tmp.path() + "\" has " + std::to_string(free_bytes >> 20) +
                             " MiB free, this test needs " + std::to_string(need_bytes >> 20) +
                             " MiB (set TMPDIR to a bigger disk)");
  return tmp;
}

measured_run run_measured(const std::vector<std::string>& args, std::chrono::minutes timeout) {
  std::vector<std::string> argv{"/usr/bin/time", "-f", "maxrss_kb=%M wall_s=%e user_s=%U sys_s=%S",
                                ocipipe_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  run_options opts;
  opts.timeout = timeout;
  measured_run m{run_command(argv, opts)};
  m.peak_rss_kb = static_cast<long>(number_after(m.run.err, "maxrss_kb="));
  m.wall_s = number_after(m.run.err, "wall_s=");
  const double user = number_after(m.run.err, "user_s="), sys = number_after(m.run.err, "sys_s=");
  if (user >= 0 && sys >= 0) m.cpu_s = user + sys;
  return m;
}

}  // namespace ocipipe::testing
