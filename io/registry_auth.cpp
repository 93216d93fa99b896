#include "io/registry_auth.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "io/small_file.h"

extern char** environ;

namespace ocipipe::io {
namespace {

using steady = std::chrono::steady_clock;

constexpr auto helper_time_limit = std::chrono::seconds(30);
constexpr std::size_t max_config_bytes = 4 << 20;
constexpr std::size_t max_helper_output = 1 << 20;
constexpr std::size_t max_token_response = 1 << 20;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The file's bytes; nullopt when it does not exist.
result<std::optional<std::string>> read_optional_file(const std::string& path) {
  auto text = read_linked_file(path, max_config_bytes);
  if (!text && (text.error().sys_errno() == ENOENT || text.error().sys_errno() == ENOTDIR))
    return std::optional<std::string>();
  if (!text) return tl::unexpected(std::move(text).error());
  return std::optional<std::string>(std::move(*text));
}

// The files of containers-auth.json(5) and Docker, in the order auth_sources documents.
std::vector<std::string> auth_files(const auth_sources& sources) {
  std::vector<std::string> files;
  const std::string home = env("HOME");
  if (!sources.auth_file.empty()) {
    files.push_back(sources.auth_file);
  } else if (const auto f = env("REGISTRY_AUTH_FILE"); !f.empty()) {
    files.push_back(f);
  } else {
    if (const auto run = env("XDG_RUNTIME_DIR"); !run.empty()) files.push_back(run + "/containers/auth.json");
    if (!home.empty()) files.push_back(home + "/.config/containers/auth.json");
  }
  if (const auto docker = env("DOCKER_CONFIG"); !docker.empty()) {
    files.push_back(docker + "/config.json");
  } else if (!home.empty()) {
    files.push_back(home + "/.docker/config.json");
  }
  return files;
}

// What a credential helper is asked for: Docker Hub's credentials live under the URL
// `docker login` stores them by.
std::string helper_server(const std::string& key) {
  return key == "docker.io" ? "https://index.docker.io/v1/" : key;
}

// The program's absolute path on $PATH, or "".
std::string find_on_path(const std::string& name) {
  std::string path_env = env("PATH");
  if (path_env.empty()) path_env = "/usr/local/bin:/usr/bin:/bin";
  std::string_view path = path_env;
  while (true) {
    const auto colon = path.find(':');
    std::string dir(path.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return {};
}

// IPv4 in any form inet_aton takes ("169.254.169.254", "2852039166", "0xa9.0xfe.0xa9.0xfe"),
// which is what resolvers accept too.
bool is_link_local_or_unspecified(const std::string& host) {
  std::string h = host;
  if (const auto pct = h.find('%'); pct != std::string::npos) return true;  // a zone id: link-local scope
  in_addr v4{};
  if (::inet_aton(h.c_str(), &v4) != 0) {
    const std::uint32_t a = ntohl(v4.s_addr);
    return (a >> 16) == 0xa9fe || (a >> 24) == 0;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LINKLOCAL(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6) || IN6_IS_ADDR_V4COMPAT(&v6)) {
      const std::uint8_t* b = v6.s6_addr + 12;
      return (b[0] == 169 && b[1] == 254) || b[0] == 0;
    }
  }
  return false;
}

std::vector<std::string> split_scopes(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto sp = s.find(' ');
    if (sp != 0) out.emplace_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

std::string excerpt(const std::string& body) {
  std::string t = trim(body.substr(0, 200));
  for (char& c : t)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return t.empty() ? std::string() : ": " + t;
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::string refused_note(const registry_credentials& creds) {
  return creds.source.empty() ? " (credentials refused)" : " (credentials refused; from " + creds.source + ")";
}

result<std::optional<registry_credentials>> run_credential_helper(std::string_view helper, std::string_view server) {
  const std::string name = "docker-credential-" + std::string(helper);
  if (helper.empty() || helper.find('/') != std::string_view::npos)
    return fail(errc::invalid_argument, "credential helper " + quote(helper) + ": not a helper name");
  const std::string program = find_on_path(name);
  if (program.empty()) return fail(errc::not_found, "credential helper " + quote(name) + ": not found on $PATH");

  // stdin is a socket so that writing to a helper that exited early is EPIPE, not SIGPIPE.
  int in_sock[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  const auto close_all = [&] {
    for (int fd : {in_sock[0], in_sock[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      if (fd >= 0) ::close(fd);
  };
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sock) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    close_all();
    return fail_errno("credential helper " + quote(name), e);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_sock[1], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::string arg0 = program, arg1 = "get";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_sock[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  in_sock[1] = out_pipe[1] = err_pipe[1] = -1;
  if (rc != 0) {
    close_all();
    return fail_errno("credential helper " + quote(program), rc);
  }

  const std::string input(server);
  std::size_t written = 0;
  std::string out, err;
  bool timed_out = false;
  const auto deadline = steady::now() + helper_time_limit;
  int out_fd = out_pipe[0], err_fd = err_pipe[0], in_fd = in_sock[0];
  if (input.empty()) {
    ::shutdown(in_fd, SHUT_WR);
    in_fd = -1;
  }
  while (out_fd >= 0 || err_fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    const int pr = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left));
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t w = ::send(in_fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
        if (w > 0) written += static_cast<std::size_t>(w);
        // EINTR/EAGAIN: poll again; any other error means the helper stopped reading.
        if ((w < 0 && errno != EINTR && errno != EAGAIN) || written == input.size()) {
          ::shutdown(in_fd, SHUT_WR);
          in_fd = -1;
        }
        continue;
      }
      char buf[4096];
      const ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      std::string& dst = fds[i].fd == out_fd ? out : err;
      if (r > 0 && dst.size() < max_helper_output) {
        dst.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  // A helper that closed its output may still be running: it gets the rest of the time.
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (w == 0) {
      if (!timed_out && steady::now() >= deadline) {
        timed_out = true;
        ::kill(pid, SIGKILL);
      }
      ::usleep(2000);
    }
  }
  close_all();

  const std::string what = "credential helper " + quote(name);
  if (timed_out) return fail(errc::unauthenticated, what + ": no answer within 30 s");
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  // The docker-credential-helpers protocol: this text, on either stream, means "no entry".
  if (out.find("credentials not found") != std::string::npos || err.find("credentials not found") != std::string::npos)
    return std::optional<registry_credentials>();
  if (!ok) {
    const std::string msg = trim(err.empty() ? out : err);
    return fail(errc::unauthenticated, what + ": " +
                                           (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                              : "killed by signal " + std::to_string(WTERMSIG(status))) +
                                           (msg.empty() ? "" : ": " + quote(msg.substr(0, 300))));
  }
  auto creds = parse_helper_output(out);
  if (!creds) return tl::unexpected(std::move(creds).error().context(what));
  return std::optional<registry_credentials>(std::move(*creds));
}

result<std::optional<registry_credentials>> find_credentials(std::string_view host, std::string_view repository,
                                                             const auth_sources& sources) {
  if (sources.creds) {
    auto c = *sources.creds;
    if (c.source.empty()) c.source = "--creds";
    return std::optional<registry_credentials>(std::move(c));
  }
  const std::string key = registry_auth_key(host);
  for (const auto& file : auth_files(sources)) {
    OCIPIPE_ASSIGN_OR_RETURN(auto text, read_optional_file(file));
    if (!text) continue;
    auto cfg = parse_auth_config(*text);
    if (!cfg) return tl::unexpected(std::move(cfg).error().context(quote(file)));
    for (const auto& [k, helper] : cfg->cred_helpers) {
      if (registry_auth_key(k) != key) continue;
      auto c = run_credential_helper(helper, helper_server(key));
      if (!c) return tl::unexpected(std::move(c).error().context(quote(file) + ": credHelpers." + quote(k)));
      if (*c) {
        (*c)->source = quote(file) + " credHelpers." + quote(k);
        return c;
      }
      break;
    }
    if (const auto* match = best_auths_entry(*cfg, host, repository)) {
      registry_credentials c = match->second;
      c.source = quote(file) + " auths." + quote(match->first);
      return std::optional<registry_credentials>(std::move(c));
    }
    if (!cfg->creds_store.empty()) {
      auto c = run_credential_helper(cfg->creds_store, helper_server(key));
      if (!c) return tl::unexpected(std::move(c).error().context(quote(file) + ": credsStore"));
      if (*c) {
        (*c)->source = quote(file) + " credsStore " + quote(cfg->creds_store);
        return c;
      }
    }
  }
  return std::optional<registry_credentials>();
}

bool realm_may_receive_credentials(const url_parts& registry, const url_parts& realm) {
  if (!realm.userinfo.empty()) return false;
  if (is_link_local_or_unspecified(realm.host)) return false;
  if (realm.scheme == "https") return true;
  return registry.scheme == "http" && realm.scheme == "http" && registry.host == realm.host;
}

// ---------------------------------------------------------------------------------------

namespace {

struct token_reply {
  std::string token;
  std::chrono::seconds expires_in{60};
};

// One token from the Docker token service named by `ch` (the caller holds the lock, so
// concurrent requests for one scope share a single fetch).
result<token_reply> fetch_token(http_client& http, const std::string& origin, const std::optional<registry_credentials>& creds,
                                const auth_challenge& ch, const std::string& scope) {
  const auto realm_it = ch.params.find("realm");
  if (realm_it == ch.params.end() || realm_it->second.empty())
    return fail(errc::unauthenticated, "bearer challenge without a realm");
  const std::string& realm = realm_it->second;
  auto realm_url = parse_url(realm);
  if (!realm_url) return fail(errc::unauthenticated, "token realm " + quote(realm) + ": " + realm_url.error().message());
  OCIPIPE_ASSIGN_OR_RETURN(auto registry_url, parse_url(origin));
  const bool with_creds = creds && !creds->empty();
  if (with_creds && !realm_may_receive_credentials(registry_url, *realm_url))
    return fail(errc::permission_denied, "token realm " + quote(realm) + " may not receive the credentials of " +
                                             quote(registry_url.host) +
                                             " (userinfo, a link-local address, or plain http to another host)");

  std::vector<std::string> scopes = split_scopes(scope);
  if (const auto it = ch.params.find("scope"); it != ch.params.end())
    for (auto& s : split_scopes(it->second))
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(std::move(s));
  const auto service_it = ch.params.find("service");
  const std::string service = service_it == ch.params.end() ? std::string() : service_it->second;

  http_request req;
  // B62: a token request never follows a redirect, with or without credentials.
  req.follow_redirects = false;
  req.headers = {"Accept: application/json"};
  if (with_creds && !creds->identity_token.empty()) {
    // OAuth2 refresh-token grant (Docker's identity tokens): the token goes in the body.
    std::string scope_text;
    for (const auto& s : scopes) scope_text += (scope_text.empty() ? "" : " ") + s;
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&refresh_token=" + url_encode(creds->identity_token) +
               "&service=" + url_encode(service) + "&scope=" + url_encode(scope_text) + "&client_id=ocipipe";
  } else {
    std::string query;
    if (!service.empty()) query += "service=" + url_encode(service);
    for (const auto& s : scopes) query += (query.empty() ? "" : "&") + std::string("scope=") + url_encode(s);
    req.url = realm;
    if (!query.empty()) req.url += (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (with_creds) req.authorization = "Basic " + base64(creds->username + ":" + creds->password);
  }
  const std::string what = "token service " + quote(realm);
  auto r = http.send(req, max_token_response);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status == 429 || r->status >= 500)
    return fail(errc::unavailable, what + ": status " + std::to_string(r->status) + excerpt(r->body));
  if (r->status != 200)
    return fail(errc::unauthenticated, what + ": status " + std::to_string(r->status) +
                                           (with_creds ? refused_note(*creds) : " (anonymous access refused)") +
                                           excerpt(r->body));
  const auto doc = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return fail(errc::malformed, what + ": response is not a JSON object");
  token_reply reply;
  for (const char* field : {"token", "access_token"}) {
    const auto it = doc.find(field);
    if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
      reply.token = it->get<std::string>();
      break;
    }
  }
  if (reply.token.empty()) return fail(errc::malformed, what + ": no \"token\" or \"access_token\" in the response");
  for (const char c : reply.token)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return fail(errc::malformed, what + ": token holds control bytes");
  if (const auto it = doc.find("expires_in"); it != doc.end() && it->is_number() && it->get<double>() > 0)
    reply.expires_in = std::chrono::seconds(static_cast<long>(std::min(it->get<double>(), 1e9)));
  // As Docker: a token is assumed to live at least 60 s.
  reply.expires_in = std::max(reply.expires_in, std::chrono::seconds(60));
  return reply;
}

}  // namespace

registry_authenticator::registry_authenticator(http_client& http, std::string registry_origin,
                                               std::optional<registry_credentials> creds)
    : http_(http), origin_(std::move(registry_origin)), creds_(std::move(creds)) {}

std::string registry_authenticator::authorization(const std::string& scope) {
  std::lock_guard lock(mu_);
  if (basic_ && creds_ && !creds_->username.empty()) return "Basic " + base64(creds_->username + ":" + creds_->password);
  const auto now = steady::now();
  if (const auto it = tokens_.find(scope); it != tokens_.end() && now < it->second.expires) return it->second.header;
  // The registry asked for bearer tokens before: fetch one for this scope now rather than
  // spend an anonymous request on the 401 that would ask for it.
  if (bearer_) {
    if (auto t = fetch_token(http_, origin_, creds_, *bearer_, scope)) {
      auto& slot = tokens_[scope];
      slot.header = "Bearer " + t->token;
      slot.expires = now + t->expires_in - std::chrono::seconds(10);
      return slot.header;
    }
  }
  return {};
}

result<void> registry_authenticator::challenge(const std::vector<std::string>& www_authenticate, const std::string& scope) {
  std::optional<auth_challenge> bearer, basic;
  std::optional<error> parse_error;
  for (const auto& value : www_authenticate) {
    auto parsed = parse_www_authenticate(value);
    if (!parsed) {
      parse_error = std::move(parsed).error();
      continue;
    }
    for (auto& ch : *parsed) {
      if (ch.scheme == "bearer" && !bearer) bearer = std::move(ch);
      else if (ch.scheme == "basic" && !basic) basic = std::move(ch);
    }
  }
  const std::string what = "registry " + quote(origin_);
  std::lock_guard lock(mu_);
  if (bearer) {
    bearer_ = *bearer;
    const auto now = steady::now();
    auto t = fetch_token(http_, origin_, creds_, *bearer, scope);
    if (!t) return tl::unexpected(std::move(t).error().context(what));
    auto& slot = tokens_[scope];
    slot.header = "Bearer " + t->token;
    slot.expires = now + t->expires_in - std::chrono::seconds(10);
    return {};
  }
  if (basic) {
    if (!creds_ || creds_->username.empty())
      return fail(errc::unauthenticated, what + ": requires credentials (basic auth) and none were found (--creds, --authfile)");
    basic_ = true;
    return {};
  }
  if (parse_error) return fail(errc::unauthenticated, what + ": 401 without a usable challenge: " + parse_error->message());
  return fail(errc::unauthenticated, what + ": 401 without a bearer or basic challenge");
}

}  // namespace ocipipe::io
