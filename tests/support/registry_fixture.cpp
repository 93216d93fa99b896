#include "tests/support/registry_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ocipipe::test {
namespace {

using namespace std::chrono_literals;
using ocipipe::testing::lines_of;
using ocipipe::testing::read_bytes;
using ocipipe::testing::remove_tree;
using ocipipe::testing::run_command;
using ocipipe::testing::write_bytes;

const char* const python = "/usr/bin/python3";
const char* const service_name = "ocipipe-test-registry";
const char* const issuer_name = "ocipipe-test-issuer";

std::string script(const std::string& name) { return std::string(OCIPIPE_SOURCE_DIR) + "/tests/support/" + name; }

/// A fresh directory under $TMPDIR or /tmp; "" (and a test failure) when
/// mkdtemp fails.
std::string make_work_dir(const std::string& prefix) {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    return "";
  }
  return tmpl;
}

/// Starts `argv` in the background, stdout and stderr appended to `log`.
/// The child gets SIGTERM when the thread that started it ends (gtest runs
/// tests on the main thread), so a crashed test leaves no server behind.
int spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(0);
    ::setpgid(0, 0);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

bool alive(int pid) {
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, WNOHANG) == 0;
}

/// SIGTERM, then SIGKILL after 3 s; reaps the child.
void stop(int pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

/// A port nobody listens on now (the kernel's choice for port 0). A server
/// given it may lose a race for it; callers retry.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// Waits until `port` accepts connections while `pid` lives.
bool wait_listening(int pid, int port, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive(pid)) return false;
    if (accepts_connections(port)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// Waits for a python script's port file; 0 when the script died or timed out.
int wait_port_file(int pid, const std::string& path, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_bytes(path);
    if (!text.empty()) return std::atoi(text.c_str());
    if (!alive(pid)) return 0;
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

bool run_ok(const std::vector<std::string>& argv, std::string* out = nullptr) {
  auto r = run_command(argv);
  if (!r.ok()) {
    ADD_FAILURE() << ocipipe::testing::format_command(argv) << ": " << r.describe();
    return false;
  }
  if (out) *out = r.out;
  return true;
}

/// A self-signed certificate for 127.0.0.1 and localhost (a CA too, so it
/// can be its own trust anchor for curl, Go and the token JWTs).
bool make_cert(const std::string& key, const std::string& cert, const std::string& cn) {
  return run_ok({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
                 "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext",
                 "basicConstraints=critical,CA:TRUE"});
}

}  // namespace

std::unique_ptr<registry_server> registry_server::start(registry_auth mode) {
  std::unique_ptr<registry_server> s(new registry_server());
  s->work_dir_ = make_work_dir("ocipipe-registry");
  if (s->work_dir_.empty()) return nullptr;
  const std::string& w = s->work_dir_;
  s->data_dir_ = w + "/data";

  std::string auth_yaml;
  std::string tls_yaml;
  if (mode == registry_auth::basic_tls) {
    if (!make_cert(w + "/domain.key", w + "/domain.crt", "127.0.0.1")) return nullptr;
    // The client's --cert-dir holds the CA alone: containers-certs.d(5)
    // takes a lone *.key there as half a client certificate.
    s->cert_dir_ = w + "/certs.d";
    ::mkdir(s->cert_dir_.c_str(), 0755);
    write_bytes(s->cert_dir_ + "/ca.crt", read_bytes(w + "/domain.crt"));
    // bcrypt at the lowest cost: the registry checks it on every request.
    std::string hash;
    if (!run_ok({python, "-W", "ignore", "-c",
                 "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
                 s->password},
                &hash))
      return nullptr;
    while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
    write_bytes(w + "/htpasswd", s->username + ":" + hash + "\n");
    tls_yaml = "  tls:\n    certificate: " + w + "/domain.crt\n    key: " + w + "/domain.key\n";
    auth_yaml = "auth:\n  htpasswd:\n    realm: ocipipe-test\n    path: " + w + "/htpasswd\n";
  } else if (mode == registry_auth::token) {
    if (!make_cert(w + "/token.key", w + "/token.crt", "ocipipe-test-token-signer")) return nullptr;
    s->token_log_ = w + "/token-requests.log";
    write_bytes(s->token_log_, "");
    const int pid = spawn({python, script("token_server.py"), "--key", w + "/token.key", "--cert", w + "/token.crt",
                           "--issuer", issuer_name, "--service", service_name, "--username", s->username,
                           "--password", s->password, "--log", s->token_log_, "--port-file", w + "/token.port"},
                          w + "/token-server.out");
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return nullptr;
    }
    s->pids_.push_back(pid);
    const int port = wait_port_file(pid, w + "/token.port", 10s);
    if (port == 0) {
      ADD_FAILURE() << "token_server.py did not start: " << read_bytes(w + "/token-server.out");
      return nullptr;
    }
    auth_yaml = "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(port) + "/token\n    service: " +
                service_name + "\n    issuer: " + issuer_name + "\n    rootcertbundle: " + w + "/token.crt\n";
  }

  std::string log_text;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int port = free_port();
    if (port == 0) continue;
    const std::string config = "version: 0.1\n"
                               "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                               "storage:\n  filesystem:\n    rootdirectory: " +
                               s->data_dir_ +
                               "\n  delete:\n    enabled: true\n"
                               "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                               // Non-distributable layers' urls are refused (500) unless allowed (B61 tests).
                               "validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n"
                               "http:\n  addr: 127.0.0.1:" +
                               std::to_string(port) + "\n  secret: ocipipe-test-secret\n" + tls_yaml + auth_yaml;
    write_bytes(w + "/config.yml", config);
    const std::string log = w + "/registry.log";
    const int pid = spawn({"/usr/bin/docker-registry", "serve", w + "/config.yml"}, log);
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return nullptr;
    }
    if (wait_listening(pid, port, 15s)) {
      s->pids_.push_back(pid);
      s->host_ = "127.0.0.1:" + std::to_string(port);
      return s;
    }
    stop(pid);
    log_text = read_bytes(log);
  }
  ADD_FAILURE() << "docker-registry did not start; its log:\n" << log_text;
  return nullptr;
}

registry_server::~registry_server() {
  for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) stop(*it);
  if (!work_dir_.empty()) {
    if (auto e = remove_tree(work_dir_); !e.empty()) ADD_FAILURE() << e;
  }
}

std::vector<std::string> registry_server::token_requests() const {
  if (token_log_.empty()) return {};
  return lines_of(read_bytes(token_log_));
}

// ---- fault_proxy ----

std::unique_ptr<fault_proxy> fault_proxy::start(const std::string& upstream_host, const proxy_faults& faults) {
  std::unique_ptr<fault_proxy> p(new fault_proxy());
  p->work_dir_ = make_work_dir("ocipipe-proxy");
  if (p->work_dir_.empty()) return nullptr;
  p->log_ = p->work_dir_ + "/requests.log";
  write_bytes(p->log_, "");
  std::vector<std::string> argv{python, script("fault_proxy.py"), "--upstream", upstream_host, "--log", p->log_,
                                "--port-file", p->work_dir_ + "/port"};
  if (faults.drop_after_bytes > 0) {
    argv.insert(argv.end(), {"--drop-after", std::to_string(faults.drop_after_bytes), "--drop-times",
                             std::to_string(faults.drop_times)});
  }
  if (faults.wrong_manifest_digest) argv.push_back("--wrong-manifest-digest");
  if (faults.redirect_blobs)
    argv.insert(argv.end(), {"--redirect-blobs", "--redirect-ttl", std::to_string(faults.redirect_ttl_seconds)});
  if (!faults.challenge.empty()) argv.insert(argv.end(), {"--challenge", faults.challenge});
  if (faults.fail_first_writes > 0)
    argv.insert(argv.end(), {"--fail-first-writes", std::to_string(faults.fail_first_writes)});
  if (faults.chunk_min_length > 0)
    argv.insert(argv.end(), {"--chunk-min-length", std::to_string(faults.chunk_min_length)});
  if (faults.stale_upload_range) argv.push_back("--stale-upload-range");
  if (faults.reject_chunks > 0) argv.insert(argv.end(), {"--reject-chunks", std::to_string(faults.reject_chunks)});
  p->pid_ = spawn(argv, p->work_dir_ + "/proxy.out");
  if (p->pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return nullptr;
  }
  const int port = wait_port_file(p->pid_, p->work_dir_ + "/port", 10s);
  if (port == 0) {
    ADD_FAILURE() << "fault_proxy.py did not start: " << read_bytes(p->work_dir_ + "/proxy.out");
    return nullptr;
  }
  p->host_ = "127.0.0.1:" + std::to_string(port);
  return p;
}

fault_proxy::~fault_proxy() {
  stop(pid_);
  if (!work_dir_.empty()) {
    if (auto e = remove_tree(work_dir_); !e.empty()) ADD_FAILURE() << e;
  }
}

std::vector<std::string> fault_proxy::requests() const { return lines_of(read_bytes(log_)); }

// ---- static_http_server ----

std::unique_ptr<static_http_server> static_http_server::start(const std::string& dir) {
  std::unique_ptr<static_http_server> s(new static_http_server());
  // The log and port file live beside, not inside, the served tree.
  const std::string work = make_work_dir("ocipipe-static");
  if (work.empty()) return nullptr;
  s->log_ = work + "/requests.log";
  write_bytes(s->log_, "");
  s->pid_ = spawn({python, script("static_server.py"), "--dir", dir, "--log", s->log_, "--port-file", work + "/port"},
                  work + "/server.out");
  if (s->pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return nullptr;
  }
  const int port = wait_port_file(s->pid_, work + "/port", 10s);
  if (port == 0) {
    ADD_FAILURE() << "static_server.py did not start: " << read_bytes(work + "/server.out");
    return nullptr;
  }
  s->url_ = "http://127.0.0.1:" + std::to_string(port);
  return s;
}

static_http_server::~static_http_server() {
  stop(pid_);
  // log_ is "<work>/requests.log": remove <work>.
  if (const auto slash = log_.rfind('/'); slash != std::string::npos) {
    if (auto e = remove_tree(log_.substr(0, slash)); !e.empty()) ADD_FAILURE() << e;
  }
}

std::vector<std::string> static_http_server::requests() const { return lines_of(read_bytes(log_)); }

// ---- skopeo ----

int run_skopeo(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv{"skopeo", "--insecure-policy"};
  argv.insert(argv.end(), args.begin(), args.end());
  ocipipe::testing::run_options opts;
  opts.timeout = std::chrono::minutes(5);
  auto r = run_command(argv, opts);
  if (output) *output += r.err;
  if (r.timed_out) return 124;
  if (r.term_signal) return 128 + r.term_signal;
  return r.exit_code;
}

}  // namespace ocipipe::test
