#pragma once
// tests/support/http_echo_server.py run as a real server for the http_client and
// registry_auth tests: two listeners on 127.0.0.1 (two origins), started per test suite.

#include <memory>
#include <string>
#include <vector>

namespace ocipipe::testing {

/// A running http_echo_server.py. `start` fails the calling test (ADD_FAILURE) and gives
/// nullptr when the server does not print its ports within 10 s. Destroying it kills the
/// server (SIGTERM, then waits); the server also exits when its stdin (held here) closes,
/// so a crashed test leaves no orphan behind.
class echo_server {
 public:
  /// `args`: extra arguments ("--tls", CERT, KEY, "--client-ca", CA).
  static std::unique_ptr<echo_server> start(const std::vector<std::string>& args = {});
  ~echo_server();
  echo_server(const echo_server&) = delete;
  echo_server& operator=(const echo_server&) = delete;

  [[nodiscard]] int port_a() const { return port_a_; }
  [[nodiscard]] int port_b() const { return port_b_; }
  /// "http(s)://127.0.0.1:PORT_A" + path (path starts with '/').
  [[nodiscard]] std::string a(const std::string& path) const;
  /// The same on the second listener: another origin.
  [[nodiscard]] std::string b(const std::string& path) const;

 private:
  echo_server() = default;
  std::string scheme_ = "http";
  int pid_ = -1;
  int stdin_fd_ = -1;
  int port_a_ = 0, port_b_ = 0;
};

}  // namespace ocipipe::testing
