#include "tests/support/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace ocipipe::testing {

child_process::child_process(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("child_process: empty argv");
  const std::string out = out_dir_.sub("stdout"), err = out_dir_.sub("stderr");
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  // posix_spawn (clone with CLONE_VM|CLONE_VFORK in glibc), not fork: a forked child's
  // ru_maxrss keeps the test process's resident set from before exec, which would hide
  // the figure measured.
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // Its own process group, no signal blocked, the cancel signals at their defaults (the
  // test runner may have changed them).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1}) sigaddset(&defaults, sig);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  start_ = std::chrono::steady_clock::now();
  const int rc = ::posix_spawnp(&pid_, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
}

child_process::~child_process() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void child_process::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

bool child_process::running() const {
  if (pid_ <= 0 || reaped_) return false;
  siginfo_t info{};
  info.si_pid = 0;
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

finished_child child_process::wait(std::chrono::milliseconds timeout) {
  finished_child f;
  if (pid_ <= 0 || reaped_) throw std::runtime_error("child_process: nothing to wait for");
  const auto deadline = start_ + timeout;
  int status = 0;
  rusage ru{};
  for (;;) {
    const pid_t w = ::wait4(pid_, &status, WNOHANG, &ru);
    if (w == pid_) break;
    if (w < 0 && errno != EINTR) throw std::runtime_error(std::string("wait4: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      f.run.timed_out = true;
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      while (::wait4(pid_, &status, 0, &ru) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  f.peak_rss_kb = ru.ru_maxrss;
  if (WIFEXITED(status)) f.run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) f.run.term_signal = WTERMSIG(status);
  f.run.out = read_bytes(out_dir_.sub("stdout"));
  f.run.err = read_bytes(out_dir_.sub("stderr"));
  return f;
}

finished_child run_ocipipe_measured(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  // Through GNU time where there is one: a child of this (big) test process inherits its
  // resident set in ru_maxrss (exec keeps the old mm's high-water mark, vfork or not); a
  // child of the small `time` process does not.
  temp_dir rss_dir("ocipipe-rss");
  const std::string rss_file = rss_dir.sub("maxrss");
  const bool timed = ::access("/usr/bin/time", X_OK) == 0;
  std::vector<std::string> argv;
  if (timed) argv = {"/usr/bin/time", "-f", "%M", "-o", rss_file};
  argv.push_back(ocipipe_binary());
  argv.insert(argv.end(), args.begin(), args.end());
  child_process child(argv);
  auto f = child.wait(timeout);
  if (timed) {
    // "%M\n", after "Command exited with non-zero status N\n" when it did.
    const auto lines = lines_of(read_bytes(rss_file));
    f.peak_rss_kb = lines.empty() ? -1 : std::atol(lines.back().c_str());
  }
  return f;
}

}  // namespace ocipipe::testing
