#include "tests/support/test_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <memory>
#include <stdexcept>
#include <utility>

#ifndef OCIPIPE_BINARY
#error "OCIPIPE_BINARY must be defined (tests/CMakeLists.txt passes the path of build/ocipipe)"
#endif
#ifndef OCIPIPE_SOURCE_DIR
#error "OCIPIPE_SOURCE_DIR must be defined (tests/CMakeLists.txt passes the repository root)"
#endif

extern char** environ;

namespace ocipipe::testing {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// Removes everything inside the directory `dfd` (which it closes). Appends the first failure
// to `failure`.
void remove_contents(int dfd, const std::string& where, std::string& failure) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dfd), ::closedir);
  if (!dir) {
    if (failure.empty()) failure = "fdopendir \"" + where + "\": " + errno_text(errno);
    ::close(dfd);
    return;
  }
  std::vector<std::string> names;
  while (struct dirent* d = ::readdir(dir.get())) {
    if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0)
      names.emplace_back(d->d_name);
  }
  for (const auto& n : names) {
    const std::string path = where + "/" + n;
    struct stat st {};
    if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && failure.empty()) failure = "lstat \"" + path + "\": " + errno_text(errno);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      // A test may leave a directory without write or search permission; restore them so a
      // non-root run can still clean up.
      if ((st.st_mode & 0700) != 0700) ::fchmodat(dfd, n.c_str(), (st.st_mode & 07777) | 0700, 0);
      int child = ::openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        if (failure.empty()) failure = "open \"" + path + "\": " + errno_text(errno);
        continue;
      }
      remove_contents(child, path, failure);
    }
    if (::unlinkat(dfd, n.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
        errno != ENOENT && failure.empty()) {
      failure = "remove \"" + path + "\": " + errno_text(errno);
    }
  }
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./:=,+@%") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}

}  // namespace

temp_dir::temp_dir(const std::string& prefix) {
  std::string tmpl = env_or("TMPDIR", "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp \"" + tmpl + "\": " + errno_text(errno));
  }
  path_ = std::move(tmpl);
}

temp_dir::~temp_dir() {
  if (path_.empty()) return;
  std::string failure = remove_tree(path_);
  if (!failure.empty()) ADD_FAILURE() << "cleaning up temporary directory: " << failure;
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) (void)remove_tree(path_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

std::string remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? "" : "lstat \"" + path + "\": " + errno_text(errno);
  }
  std::string failure;
  if (S_ISDIR(st.st_mode)) {
    if ((st.st_mode & 0700) != 0700) ::chmod(path.c_str(), (st.st_mode & 07777) | 0700);
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return "open \"" + path + "\": " + errno_text(errno);
    remove_contents(fd, path, failure);
    if (::rmdir(path.c_str()) != 0 && failure.empty())
      failure = "rmdir \"" + path + "\": " + errno_text(errno);
  } else if (::unlink(path.c_str()) != 0) {
    failure = "unlink \"" + path + "\": " + errno_text(errno);
  }
  return failure;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write \"" + path + "\"");
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string dataset_cache_dir() {
  return env_or("XDG_CACHE_HOME", env_or("HOME", "/root") + "/.cache") + "/ocipipe";
}

std::string dataset_layout(const std::string& name) {
  return dataset_cache_dir() + "/layouts/" + name;
}

std::string dataset_ref(const std::string& name) {
  return "oci:" + dataset_layout(name) + ":" + name;
}

std::string dataset_archive(const std::string& file_name) {
  return dataset_cache_dir() + "/archives/" + file_name;
}

::testing::AssertionResult require_dataset(const std::string& name) {
  const std::string layout = dataset_layout(name);
  for (const char* f : {"oci-layout", "index.json"}) {
    const std::string p = layout + "/" + f;
    if (::access(p.c_str(), R_OK) != 0) {
      return ::testing::AssertionFailure()
             << "dataset \"" << name << "\" is missing (\"" << p << "\": " << errno_text(errno)
             << "); build the datasets first: " << source_dir() << "/datasets/build.sh";
    }
  }
  return ::testing::AssertionSuccess();
}

std::string ocipipe_binary() { return OCIPIPE_BINARY; }

std::string source_dir() { return OCIPIPE_SOURCE_DIR; }

std::string command_result::describe() const {
  std::string s;
  if (timed_out) s = "timed out";
  else if (term_signal != 0) s = "killed by signal " + std::to_string(term_signal);
  else s = "exit " + std::to_string(exit_code);
  if (!err.empty()) s += "; stderr:\n" + err;
  if (!out.empty()) s += "; stdout:\n" + out;
  return s;
}

std::string format_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += shell_quote(a);
  }
  return s;
}

command_result run_command(const std::vector<std::string>& argv, const run_options& opts) {
  command_result r;
  if (argv.empty()) {
    r.exit_code = 127;
    r.err = "run_command: empty argv";
    return r;
  }
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.exit_code = 127;
    r.err = "run_command: pipe2: " + errno_text(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      if (fd >= 0) ::close(fd);
    return r;
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, opts.stdin_path.c_str(), O_RDONLY, 0);
  // dup2 clears FD_CLOEXEC on the target; the O_CLOEXEC originals close at exec.
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);  // the test runner may ignore SIGPIPE; children must not inherit that
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // own group, so a timeout kills its children too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.exit_code = 127;
    r.err = "run_command: cannot start " + format_command(argv) + ": " + errno_text(rc);
    return r;
  }

  using clock = std::chrono::steady_clock;
  const bool has_deadline = opts.timeout.count() > 0;
  const auto deadline = clock::now() + opts.timeout;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    int wait_ms = -1;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left.count() <= 0) {
        r.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.err += "\nrun_command: poll: " + errno_text(errno);
      r.timed_out = true;  // cannot read any more: treat as a hang and kill
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (r.timed_out) ::kill(-pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      r.err += "\nrun_command: waitpid: " + errno_text(errno);
      return r;
    }
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

command_result run_ocipipe(const std::vector<std::string>& args, const run_options& opts) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 1);
  argv.push_back(ocipipe_binary());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, opts);
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool path_exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

void make_unix_socket(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw std::runtime_error("socket path too long: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("bind " + path + ": " + std::strerror(err));
}

struct stat lstat_of(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "lstat \"" << path << "\": " << std::strerror(errno);
    st = {};
  }
  return st;
}

std::map<std::string, std::string> xattrs_of(const std::string& path) {
  std::map<std::string, std::string> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  std::string names(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
  if (n > 0) n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0 && errno != ENOTSUP) out["<llistxattr>"] = std::strerror(errno);
  if (n <= 0) return out;
  names.resize(static_cast<std::size_t>(n));
  for (std::size_t pos = 0; pos < names.size(); pos += std::strlen(names.c_str() + pos) + 1) {
    const std::string name(names.c_str() + pos);
    std::string value(65536, '\0');
    const ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(v < 0 ? 0 : static_cast<std::size_t>(v));
    out[name] = v < 0 ? "<lgetxattr: " + std::string(std::strerror(errno)) + ">" : value;
  }
  return out;
}

}  // namespace ocipipe::testing
