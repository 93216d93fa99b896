// The read/write loops of io/ (io/fd_io.h) under the conditions that break naive loops
// (issue 10 item 5): writes cut short by a signal, EINTR with SA_RESTART off (the CLI's
// SIGINT/SIGTERM handlers are installed that way), short reads from a pipe, and a short
// write followed by an error (RLIMIT_FSIZE). Each test first shows that the condition
// really happens to a plain read(2)/write(2) here, then that the loop gets every byte.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "io/blob_reader.h"
#include "io/fd_io.h"
#include "io/unique_fd.h"
#include "tests/support/stream_builders.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

std::atomic<long> signals_seen{0};
extern "C" void count_signal(int) { signals_seen.fetch_add(1, std::memory_order_relaxed); }

// SIGUSR1 sent to one thread every `period` while alive, its handler installed without
// SA_RESTART, so a blocked read or write in that thread returns EINTR (or a short count).
class signal_storm {
 public:
  explicit signal_storm(pthread_t target, std::chrono::microseconds period = std::chrono::microseconds(200))
      : target_(target) {
    struct sigaction sa{};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART
    ::sigaction(SIGUSR1, &sa, &old_);
    thread_ = std::thread([this, period] {
      while (!stop_.load()) {
        ::pthread_kill(target_, SIGUSR1);
        std::this_thread::sleep_for(period);
      }
    });
  }
  ~signal_storm() {
    stop_ = true;
    thread_.join();
    ::sigaction(SIGUSR1, &old_, nullptr);
  }

 private:
  pthread_t target_;
  struct sigaction old_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Reads `fd` to its end in small, slow pieces, so the writer's socket buffer fills and
// its write(2) blocks (where the signals land).
std::thread slow_reader(int fd, std::string& into) {
  return std::thread([fd, &into] {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      into.append(buf, static_cast<std::size_t>(n));
      if (into.size() % (256 << 10) < sizeof buf) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

std::pair<io::unique_fd, io::unique_fd> small_socket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
  const int small = 16 << 10;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  return {io::unique_fd(sv[0]), io::unique_fd(sv[1])};
}

TEST(FdIo, WriteFullyGoesOnAfterShortWritesAndEintr) {
  const std::string data = splitmix64{7}.bytes(8 << 20);

  // A plain write(2) of it, under the same signals, stops early: the condition is real.
  {
    auto [w, r] = small_socket_pair();
    std::string got;
    auto reader = slow_reader(r.get(), got);
    ssize_t n = 0;
    {
      signal_storm storm(::pthread_self());
      n = ::write(w.get(), data.data(), data.size());
    }
    w.reset();
    reader.join();
    EXPECT_TRUE(n < 0 ? errno == EINTR : static_cast<std::size_t>(n) < data.size())
        << "write(2) of 8 MiB was neither cut short nor interrupted: n=" << n;
  }

  auto [w, r] = small_socket_pair();
  std::string got;
  auto reader = slow_reader(r.get(), got);
  const long before = signals_seen.load();
  int e = -1;
  {
    signal_storm storm(::pthread_self());
    e = io::write_fully(w.get(), data.data(), data.size());
  }
  w.reset();
  reader.join();
  EXPECT_EQ(e, 0) << std::strerror(e);
  EXPECT_GT(signals_seen.load() - before, 10) << "the signals did not arrive during the write";
  EXPECT_TRUE(got == data) << "received " << got.size() << " of " << data.size() << " bytes, or other bytes";
}

// A pipe's reader gets what the writer has put in so far: short reads, and EINTR while it
// waits. blob_file_source (every layout blob read) must still deliver the blob whole.
TEST(FdIo, BlobSourceReadsAPipeWholeThroughShortReadsAndEintr) {
  const std::string data = splitmix64{11}.bytes(4 << 20);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  io::unique_fd rd(p[0]), wr(p[1]);
  std::thread writer([&] {
    for (std::size_t at = 0; at < data.size();) {
      const std::size_t n = std::min<std::size_t>(1000 + at % 7000, data.size() - at);
      if (io::write_fully(wr.get(), data.data() + at, n) != 0) break;
      at += n;
      if (at % 64 < 8) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    wr.reset();
  });
  io::blob_file_source src(std::move(rd), data.size(), "pipe");
  std::string got;
  std::size_t chunks = 0;
  std::optional<error> failed;
  const long before = signals_seen.load();
  {
    signal_storm storm(::pthread_self());
    for (;;) {
      auto c = src.next();
      if (!c) {
        failed = c.error();
        break;
      }
      if (c->empty()) break;
      ++chunks;
      got.append(reinterpret_cast<const char*>(c->data()), c->size());
    }
  }
  writer.join();
  ASSERT_FALSE(failed) << failed->message();
  EXPECT_TRUE(got == data) << "read " << got.size() << " of " << data.size() << " bytes, or other bytes";
  EXPECT_GT(chunks, 4u) << "no short reads: the test did not test them";
  EXPECT_GT(signals_seen.load() - before, 10);
}

// RLIMIT_FSIZE makes pwrite(2) write up to the limit (a short write), and the next call
// fail with EFBIG: pwrite_fully must go on after the short write and report the error,
// with exactly the bytes up to the limit written. In a child, so the limit stays there.
TEST(FdIo, PwriteFullyGoesOnAfterAShortWriteAndReportsTheError) {
  temp_dir tmp("ocipipe-fdio");
  const std::string path = tmp.sub("f");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) ::_exit(100);
    rlimit rl{100000, 100000};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(101);
    const std::string data(1 << 20, 'x');
    // A plain pwrite(2) is cut short at the limit...
    if (::pwrite(fd, data.data(), data.size(), 0) != 100000) ::_exit(102);
    if (::ftruncate(fd, 0) != 0) ::_exit(103);
    // ...and the loop goes on to the call that fails.
    const int e = io::pwrite_fully(fd, data.data(), data.size(), 0);
    ::_exit(e == EFBIG ? 0 : 104);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "100: open, 101: setrlimit, 102: no short pwrite, 104: not EFBIG";
  EXPECT_EQ(read_bytes(path).size(), 100000u);
}

// write(2) that returns 0 for a non-empty buffer (no progress, no error) ends the loop with
// EIO instead of spinning for ever. /dev/full fails with ENOSPC: the errno comes back.
TEST(FdIo, WriteFullyReturnsTheErrnoOfTheFailingCall) {
  io::unique_fd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(full);
  const std::string data(4096, 'x');
  EXPECT_EQ(io::write_fully(full.get(), data.data(), data.size()), ENOSPC);
  EXPECT_EQ(io::write_fully(full.get(), data.data(), 0), 0);
}

}  // namespace
}  // namespace ocipipe::testing
