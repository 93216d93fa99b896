#include "tests/support/echo_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

extern char** environ;

namespace ocipipe::testing {

std::unique_ptr<echo_server> echo_server::start(const std::vector<std::string>& args) {
  std::unique_ptr<echo_server> s(new echo_server());
  if (std::find(args.begin(), args.end(), "--tls") != args.end()) s->scheme_ = "https";
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "echo_server: pipe2 failed";
    return nullptr;
  }
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    ADD_FAILURE() << "echo_server: pipe2 failed";
    return nullptr;
  }
  std::vector<std::string> argv_s = {"/usr/bin/python3", source_dir() + "/tests/support/http_echo_server.py"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  s->stdin_fd_ = in_pipe[1];
  if (rc != 0) {
    ::close(out_pipe[0]);
    ADD_FAILURE() << "echo_server: cannot start /usr/bin/python3";
    return nullptr;
  }
  s->pid_ = pid;
  // The first line: "PORT_A PORT_B".
  std::string line;
  pollfd pfd{out_pipe[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && ::poll(&pfd, 1, 10000) > 0) {
    char buf[256];
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  if (std::sscanf(line.c_str(), "%d %d", &s->port_a_, &s->port_b_) != 2) {
    ADD_FAILURE() << "echo_server: no ports printed (got \"" << line << "\")";
    return nullptr;
  }
  return s;
}

echo_server::~echo_server() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
}

std::string echo_server::a(const std::string& path) const {
  return scheme_ + "://127.0.0.1:" + std::to_string(port_a_) + path;
}
std::string echo_server::b(const std::string& path) const {
  return scheme_ + "://127.0.0.1:" + std::to_string(port_b_) + path;
}

}  // namespace ocipipe::testing
