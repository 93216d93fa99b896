#include "io/lookaside_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "io/fd_io.h"
#include "io/small_file.h"
#include "io/unique_fd.h"

namespace ocipipe::io {
namespace {

// containers/image reads and writes at most this much per store.
constexpr unsigned max_signatures = 64;
constexpr std::size_t max_signature_bytes = 4u << 20;
constexpr std::size_t max_registries_d_file_bytes = 4u << 20;

enum class base_kind { local, http };

struct store_base {
  base_kind kind = base_kind::local;
  std::string where;  ///< a directory path, or the http(s) URL
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

result<std::string> percent_decode(std::string_view s, const std::string& what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = hi < 0 ? -1 : hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return fail(errc::invalid_argument, what + ": bad percent escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return fail(errc::invalid_argument, what + ": NUL in the path");
  return out;
}

// A directory, file:///DIR (file://localhost/DIR), or http(s)://…
// (containers-registries.d(5) takes URLs; --lookaside also plain paths).
result<store_base> parse_base(const std::string& base) {
  const std::string what = "lookaside store " + quote(base);
  if (base.empty()) return fail(errc::invalid_argument, what + ": empty");
  if (base.rfind("http://", 0) == 0 || base.rfind("https://", 0) == 0) return store_base{base_kind::http, base};
  if (base.rfind("file://", 0) == 0) {
    std::string_view rest = std::string_view(base).substr(7);
    if (rest.rfind("localhost/", 0) == 0) rest.remove_prefix(9);
    if (rest.empty() || rest.front() != '/')
      return fail(errc::invalid_argument, what + ": a file: URL names a local absolute path (file:///DIR)");
    OCIPIPE_ASSIGN_OR_RETURN(auto path, percent_decode(rest, what));
    return store_base{base_kind::local, std::move(path)};
  }
  if (const auto colon = base.find("://"); colon != std::string::npos)
    return fail(errc::invalid_argument, what + ": unsupported scheme " + quote(base.substr(0, colon)) +
                                            " (a directory, file://, http:// or https://)");
  return store_base{base_kind::local, base};
}

// The repository path becomes directories: it must be a docker reference
// path ("library/busybox"), never "..", "." or an absolute path.
result<void> check_repo_path(const std::string& repo_path) {
  const std::string what = "lookaside: repository path " + quote(repo_path);
  if (repo_path.empty() || repo_path.front() == '/' || repo_path.back() == '/')
    return fail(errc::invalid_argument, what + ": not a repository path");
  std::size_t start = 0;
  for (;;) {
    const auto slash = repo_path.find('/', start);
    const std::string_view part =
        std::string_view(repo_path).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..")
      return fail(errc::invalid_argument, what + ": not a repository path");
    for (char c : part)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        return fail(errc::invalid_argument, what + ": not a repository path");
    if (slash == std::string::npos) return {};
    start = slash + 1;
  }
}

result<void> check_digest(const digest& d) {
  if (d.empty() || d.algorithm() == digest_algorithm::unregistered)
    return fail(errc::invalid_argument, "lookaside: digest " + quote(d.str()) + ": not sha256 or sha512");
  return {};
}

// "<dir>/signature-<n>" of the store's directory for one manifest.
std::string signature_name(unsigned n) { return "signature-" + std::to_string(n); }

std::string manifest_dir(const std::string& base_dir, const std::string& repo_path, const digest& d) {
  const std::string one = lookaside_signature_url(base_dir, repo_path, d.str(), 1);
  return one.substr(0, one.size() - signature_name(1).size() - 1);
}

// mkdir -p, mode 0755.
result<void> make_dirs(const std::string& path) {
  std::string at;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto slash = path.find('/', pos);
    const std::size_t end = slash == std::string::npos ? path.size() : slash;
    at = path.substr(0, end);
    pos = end + 1;
    if (at.empty()) continue;  // the root
    if (::mkdir(at.c_str(), 0755) == 0 || errno == EEXIST) {
      struct stat st{};
      if (::stat(at.c_str(), &st) != 0) return fail_errno("lookaside: " + quote(at), errno);
      if (!S_ISDIR(st.st_mode)) return fail(errc::io, "lookaside: " + quote(at) + ": not a directory", ENOTDIR);
      continue;
    }
    return fail_errno("lookaside: create " + quote(at), errno);
  }
  return {};
}

result<void> write_all(int fd, const std::string& bytes, const std::string& what) {
  if (const int e = write_fully(fd, bytes.data(), bytes.size()); e != 0) return fail_errno(what, e);
  return {};
}

// The signature at `path`, or nullopt when there is none.
result<std::optional<std::string>> read_local(const std::string& path) {
  auto bytes = read_linked_file(path, max_signature_bytes);
  if (bytes) return std::optional<std::string>(std::move(*bytes));
  if (bytes.error().code() == errc::not_found) return std::optional<std::string>();
  return tl::unexpected(std::move(bytes).error().context("lookaside"));
}

result<std::optional<std::string>> read_http(http_client& http, const std::string& url) {
  http_request req;
  req.url = url;
  auto r = http.send(req, max_signature_bytes);
  if (!r) return tl::unexpected(std::move(r).error().context("lookaside " + quote(url)));
  if (r->status == 404) return std::optional<std::string>();
  if (r->status == 200) return std::optional<std::string>(std::move(r->body));
  const std::string why = "lookaside " + quote(url) + ": HTTP status " + std::to_string(r->status);
  if (r->status >= 500 || r->status == 429) return fail(errc::unavailable, why);
  if (r->status == 401) return fail(errc::unauthenticated, why);
  if (r->status == 403) return fail(errc::permission_denied, why);
  return fail(errc::io, why);
}

// Removes the temporary file when the write ends early.
struct temp_file {
  std::string path;
  ~temp_file() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

result<std::vector<std::string>> read_lookaside_signatures(const std::string& base, const std::string& repo_path,
                                                          const digest& d, http_client* http) {
  OCIPIPE_ASSIGN_OR_RETURN(const store_base b, parse_base(base));
  OCIPIPE_TRY(check_repo_path(repo_path));
  OCIPIPE_TRY(check_digest(d));
  if (b.kind == base_kind::http && http == nullptr)
    return fail(errc::unsupported, "lookaside store " + quote(base) + ": no HTTP client to read it with");
  std::vector<std::string> out;
  // signature-1, -2, … until the first one missing; one more is looked
  // for past the limit, so that a store holding more is not cut silently.
  for (unsigned n = 1; n <= max_signatures + 1; ++n) {
    const std::string at = lookaside_signature_url(b.where, repo_path, d.str(), n);
    OCIPIPE_ASSIGN_OR_RETURN(auto sig, b.kind == base_kind::http ? read_http(*http, at) : read_local(at));
    if (!sig) return out;
    if (n > max_signatures)
      return fail(errc::resource_exhausted, "lookaside " + quote(at) + ": more than " +
                                                std::to_string(max_signatures) + " signatures");
    out.push_back(std::move(*sig));
  }
  return out;
}

result<std::string> write_lookaside_signature(const std::string& base, const std::string& repo_path, const digest& d,
                                              const std::string& signature) {
  OCIPIPE_ASSIGN_OR_RETURN(const store_base b, parse_base(base));
  if (b.kind != base_kind::local)
    return fail(errc::invalid_argument, "lookaside store " + quote(base) +
                                            ": signatures are written to a local store only (a directory or "
                                            "file:// URL; see lookaside-staging)");
  OCIPIPE_TRY(check_repo_path(repo_path));
  OCIPIPE_TRY(check_digest(d));
  if (signature.size() > max_signature_bytes)
    return fail(errc::invalid_argument, "lookaside: signature of " + std::to_string(signature.size()) +
                                            " bytes, over " + std::to_string(max_signature_bytes));
  const std::string dir = manifest_dir(b.where, repo_path, d);
  OCIPIPE_TRY(make_dirs(dir));

  // The first free number, unless this very signature is there already.
  unsigned n = 1;
  for (; n <= max_signatures; ++n) {
    const std::string at = dir + "/" + signature_name(n);
    OCIPIPE_ASSIGN_OR_RETURN(auto have, read_local(at));
    if (!have) break;
    if (*have == signature) return at;
  }

  // Written whole under a temporary name, then linked: link(2) never
  // replaces an existing name, so two signers racing for signature-<n>
  // cannot overwrite each other, and no reader sees half a file.
  temp_file tmp{dir + "/.signature-tmp-XXXXXX"};
  const int raw = ::mkostemp(tmp.path.data(), O_CLOEXEC);
  if (raw < 0) {
    const int e = errno;
    const std::string failed = tmp.path;
    tmp.path.clear();
    return fail_errno("lookaside: create temporary file in " + quote(dir) + " (" + quote(failed) + ")", e);
  }
  unique_fd fd(raw);
  const std::string what = "lookaside: " + quote(tmp.path);
  if (::fchmod(fd.get(), 0644) != 0) return fail_errno(what, errno);
  OCIPIPE_TRY(write_all(fd.get(), signature, what));
  if (::fsync(fd.get()) != 0) return fail_errno(what + ": fsync", errno);
  fd.reset();

  for (; n <= max_signatures; ++n) {
    const std::string at = dir + "/" + signature_name(n);
    if (::link(tmp.path.c_str(), at.c_str()) == 0) {
      if (unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dfd.get() >= 0) {
        if (::fsync(dfd.get()) != 0) return fail_errno("lookaside: fsync " + quote(dir), errno);
      }
      return at;
    }
    if (errno != EEXIST) return fail_errno("lookaside: link " + quote(at), errno);
    // Someone else took this number meanwhile: perhaps with this signature.
    OCIPIPE_ASSIGN_OR_RETURN(auto have, read_local(at));
    if (have && *have == signature) return at;
  }
  return fail(errc::resource_exhausted, "lookaside " + quote(dir) + ": already " + std::to_string(max_signatures) +
                                            " signatures, the most a reader takes");
}

result<registries_d_config> load_registries_d(const std::string& dir) {
  registries_d_config config;
  DIR* dp = ::opendir(dir.c_str());
  if (dp == nullptr) {
    if (errno == ENOENT) return config;
    return fail_errno("registries.d " + quote(dir), errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(dp)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0) names.push_back(name);
    errno = 0;
  }
  const int read_errno = errno;
  ::closedir(dp);
  if (read_errno != 0) return fail_errno("registries.d " + quote(dir), read_errno);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // a dangling link, or removed meanwhile
      return fail_errno("registries.d " + quote(path), errno);
    }
    if (!S_ISREG(st.st_mode)) continue;
    auto text = read_linked_file(path, max_registries_d_file_bytes);
    if (!text) return tl::unexpected(std::move(text).error().context("registries.d"));
    OCIPIPE_TRY(merge_registries_d(config, *text, path));
  }
  return config;
}

std::string default_registries_d() {
  // containers/image: the user's directory replaces the system's when it exists.
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    const std::string user = std::string(home) + "/.config/containers/registries.d";
    struct stat st{};
    if (::stat(user.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return user;
  }
  return "/etc/containers/registries.d";
}

}  // namespace ocipipe::io
