#include "io/registry_client.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/resumable_download.h"
#include "stages/digester.h"
#include "stages/http_headers.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe::io {
namespace {

using json = nlohmann::json;

constexpr std::size_t manifest_limit = 4 << 20;  // distribution-spec "Pushing Manifests": 4 MiB
constexpr std::size_t error_body_limit = 64 << 10;
constexpr int max_tag_pages = 10000;
constexpr int max_expired_redirects = 2;

const std::string octet_stream = "Content-Type: application/octet-stream";

// ---- names ----

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/// distribution-spec "Pulling manifests": <name> is path components of
/// [a-z0-9]+ joined by separators [._-], joined by '/'. Checked before a
/// name becomes part of a URL.
result<void> check_repository(std::string_view repo) {
  auto bad = [&](const char* why) {
    return fail(errc::invalid_argument, "repository " + quote(repo) + ": " + why);
  };
  if (repo.empty() || repo.size() > 255) return bad("length must be 1 to 255");
  std::size_t start = 0;
  for (;;) {
    const auto slash = repo.find('/', start);
    const auto comp = repo.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (comp.empty() || !is_lower_alnum(comp.front()) || !is_lower_alnum(comp.back()))
      return bad("each path component must start and end with [a-z0-9]");
    for (char c : comp)
      if (!is_lower_alnum(c) && c != '.' && c != '_' && c != '-') return bad("only [a-z0-9._-] and '/' allowed");
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

/// A tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool is_tag(std::string_view t) {
  if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-') return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
  });
}

/// A manifest reference: a tag, or a digest (then returned).
result<std::optional<digest>> check_reference(std::string_view ref) {
  if (ref.find(':') != std::string_view::npos) {
    auto d = digest::parse(ref);
    if (!d) return fail(errc::invalid_argument, "reference " + quote(ref) + ": " + d.error().message());
    return std::optional<digest>(std::move(*d));
  }
  if (!is_tag(ref)) return fail(errc::invalid_argument, "reference " + quote(ref) + ": not a tag or digest");
  return std::optional<digest>();
}

// ---- small helpers ----

std::vector<std::string> header_values(const http_headers& h, const std::string& name) {
  std::vector<std::string> out;
  auto [b, e] = h.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

/// The URL's path without its query, for messages (upload URLs carry long
/// state parameters).
std::string path_of(const std::string& url) {
  auto u = parse_url(url);
  std::string p = u ? u->path_and_query : url;
  if (auto q = p.find('?'); q != std::string::npos) p.resize(q);
  return p;
}

std::string origin_of(const std::string& url) {
  auto u = parse_url(url);
  return u ? u->origin() : std::string();
}

/// "CODE: message; …" from a registry's error body (stages/http_headers),
/// "" for none or for a body past the size error responses are read to.
std::string error_body_text(const std::string& body) {
  if (body.size() > error_body_limit) return "";
  return registry_error_text(body);
}

/// Whether the error body lists `code` as one of its errors' codes (not as
/// text in a message).
bool has_error_code(const std::string& body, std::string_view code) {
  if (body.size() > error_body_limit) return false;
  for (const auto& e : parse_registry_errors(body))
    if (e.code == code) return true;
  return false;
}

/// The error for a response that is not the one wanted, its category from
/// the status (registry_client.h "Errors common to every call").
error status_error(const std::string& method, const std::string& url, long status, const std::string& body) {
  errc code;
  if (status == 400)
    code = has_error_code(body, "DIGEST_INVALID") ? errc::digest_mismatch
           : has_error_code(body, "SIZE_INVALID") ? errc::size_mismatch
                                                  : errc::invalid_argument;
  else if (status == 401) code = errc::unauthenticated;
  else if (status == 403) code = errc::permission_denied;
  else if (status == 404) code = errc::not_found;
  else if (status == 405) code = errc::unsupported;
  else if (status == 429 || status >= 500) code = errc::unavailable;
  else code = errc::malformed;
  std::string msg = method + " " + quote(path_of(url)) + ": status " + std::to_string(status);
  if (status >= 300 && status < 400) msg += " (redirect not followed)";
  if (auto text = error_body_text(body); !text.empty()) msg += ": " + text;
  else if (status != 404 && status != 401 && status != 403 && status != 405) msg += ": unexpected";
  return error(code, std::move(msg));
}

/// Reads what is left of an error response's body, at most 64 KiB.
std::string drain_body(http_stream& s) {
  std::string out;
  while (out.size() < error_body_limit) {
    auto c = s.next();
    if (!c || c->empty()) break;
    out.append(reinterpret_cast<const char*>(c->data()), c->size());
  }
  return out;
}

long status_of(const http_response& r) { return r.status; }
long status_of(const std::unique_ptr<http_stream>& s) { return s->status(); }
const http_headers& headers_of(const http_response& r) { return r.headers; }
const http_headers& headers_of(const std::unique_ptr<http_stream>& s) { return s->headers(); }
const std::string& url_of(const http_response& r) { return r.url; }
const std::string& url_of(const std::unique_ptr<http_stream>& s) { return s->url(); }
std::string body_of(http_response& r) { return r.body; }
std::string body_of(std::unique_ptr<http_stream>& s) { return drain_body(*s); }

result<digest> digest_of(std::string_view bytes, digest_algorithm alg) {
  if (alg == digest_algorithm::unregistered)
    return fail(errc::unsupported, "digest algorithm not supported for verification");
  return digester::of(byte_view(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), alg);
}

/// Checks a Docker-Content-Digest header, when present, against `bytes`.
/// Returns the verified header digest, or nullopt without one.
result<std::optional<digest>> check_content_digest(const http_headers& h, std::string_view bytes,
                                                   const std::string& what) {
  const std::string text = header_value(h, "docker-content-digest");
  if (text.empty()) return std::optional<digest>();
  auto d = digest::parse(text);
  if (!d) return fail(errc::malformed, what + ": Docker-Content-Digest " + quote(text) + ": " + d.error().message());
  OCIPIPE_ASSIGN_OR_RETURN(digest actual, digest_of(bytes, d->algorithm()));
  if (!(actual == *d))
    return fail(errc::digest_mismatch, what + ": Docker-Content-Digest says " + d->str() + ", the bytes received are " +
                                           actual.str());
  return std::optional<digest>(std::move(*d));
}

/// The media type of a fetched manifest document: its own mediaType, which a
/// Content-Type must equal (buglog B67); without one the Content-Type, else
/// its shape. schema1 is refused.
result<std::string> manifest_media_type(const std::string& bytes, const http_headers& h, const std::string& what) {
  const std::string ct = content_media_type(header_value(h, "content-type"));
  if (ct == "application/vnd.docker.distribution.manifest.v1+json" ||
      ct == "application/vnd.docker.distribution.manifest.v1+prettyjws")
    return fail(errc::unsupported, what + ": Docker schema1 manifest (" + ct + ") not supported");
  auto doc = json::parse(bytes, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(errc::malformed, what + ": not a JSON object");
  if (auto sv = doc.find("schemaVersion"); sv != doc.end() && sv->is_number_integer() && sv->get<long>() == 1)
    return fail(errc::unsupported, what + ": Docker schema1 manifest not supported");
  std::string own;
  if (auto mt = doc.find("mediaType"); mt != doc.end()) {
    if (!mt->is_string()) return fail(errc::malformed, what + ": mediaType is not a string");
    own = mt->get<std::string>();
  }
  if (!own.empty()) {
    if (!ct.empty() && ct != own)
      return fail(errc::malformed, what + ": Content-Type " + quote(ct) + " differs from the document's mediaType " +
                                       quote(own));
    return own;
  }
  if (media_type::is_image_index(ct) || media_type::is_image_manifest(ct)) return ct;
  if (doc.contains("manifests")) return std::string(media_type::image_index);
  if (doc.contains("config") || doc.contains("layers")) return std::string(media_type::image_manifest);
  return fail(errc::malformed, what + ": neither a manifest nor an image index (Content-Type " + quote(ct) + ")");
}

/// Retry-After in seconds (delta-seconds form only), capped at 30 s.
std::optional<double> retry_after(const http_headers& h) {
  auto v = to_u64(header_value(h, "retry-after"));
  if (!v) return std::nullopt;
  return std::min<double>(static_cast<double>(*v), 30);
}

/// Reads exactly the bytes asked for from a byte_source, across its chunks.
class exact_reader {
 public:
  explicit exact_reader(byte_source& src) : src_(src) {}

  /// Appends `n` bytes to `out`; `size_mismatch` when the source ends first.
  result<void> read(std::string& out, std::uint64_t n, const std::string& what) {
    while (n > 0) {
      if (pending_.empty()) {
        OCIPIPE_ASSIGN_OR_RETURN(pending_, src_.next());
        if (pending_.empty()) return fail(errc::size_mismatch, what + ": source ended before the descriptor size");
      }
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(n, pending_.size()));
      out.append(reinterpret_cast<const char*>(pending_.data()), k);
      pending_ = pending_.subspan(k);
      n -= k;
    }
    return {};
  }
  result<void> skip(std::uint64_t n, const std::string& what) {
    std::string sink;
    while (n > 0) {
      const auto k = std::min<std::uint64_t>(n, 1 << 20);
      sink.clear();
      OCIPIPE_TRY(read(sink, k, what));
      n -= k;
    }
    return {};
  }
  /// `size_mismatch` when the source holds more bytes.
  result<void> expect_end(const std::string& what) {
    while (pending_.empty()) {
      OCIPIPE_ASSIGN_OR_RETURN(pending_, src_.next());
      if (pending_.empty()) return {};
    }
    return fail(errc::size_mismatch, what + ": source is larger than the descriptor size");
  }
  byte_source& source() { return src_; }
  byte_view& pending() { return pending_; }

 private:
  byte_source& src_;
  byte_view pending_;
};

/// The request body of a monolithic upload: exactly `n` bytes of a reader,
/// counted for progress.
class bounded_body final : public byte_source {
 public:
  bounded_body(exact_reader& r, std::uint64_t n, const std::function<void(std::uint64_t)>& on_bytes, std::string what)
      : r_(r), left_(n), on_bytes_(on_bytes), what_(std::move(what)) {}
  result<byte_view> next() override {
    if (left_ == 0) return byte_view{};
    auto& p = r_.pending();
    if (p.empty()) {
      OCIPIPE_ASSIGN_OR_RETURN(p, r_.source().next());
      if (p.empty()) return fail(errc::size_mismatch, what_ + ": source ended before the descriptor size");
    }
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(left_, p.size()));
    byte_view out = p.first(k);
    p = p.subspan(k);
    left_ -= k;
    if (on_bytes_) on_bytes_(k);
    return out;
  }

 private:
  exact_reader& r_;
  std::uint64_t left_;
  const std::function<void(std::uint64_t)>& on_bytes_;
  std::string what_;
};

std::string pull_scope(const std::string& repo) { return "repository:" + repo + ":pull"; }
std::string push_scope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

std::string join_accept(const std::vector<std::string>& types) {
  std::string s = "Accept: ";
  for (std::size_t i = 0; i < types.size(); ++i) s += (i ? ", " : "") + types[i];
  return s;
}

std::string with_query(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

/// The host part of "host[:port]" / "[v6]:port", for plain_http_allowed.
std::string host_name_of(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto e = host.find(']');
    return std::string(host.substr(1, e == std::string_view::npos ? std::string_view::npos : e - 1));
  }
  auto c = host.find(':');
  return std::string(c == std::string_view::npos ? host : host.substr(0, c));
}

result<void> check_host(std::string_view host) {
  if (host.empty() || host.size() > 255)
    return fail(errc::invalid_argument, "registry host " + quote(host) + ": empty or too long");
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
    if (!ok) return fail(errc::invalid_argument, "registry host " + quote(host) + ": bad character");
  }
  return {};
}

}  // namespace

const std::vector<std::string>& manifest_accept_types() {
  static const std::vector<std::string> types{
      std::string(media_type::image_index), std::string(media_type::image_manifest),
      std::string(media_type::docker_manifest_list), std::string(media_type::docker_manifest)};
  return types;
}

// ---------------------------------------------------------------------------

namespace {

/// One request as the client means it; turned into http_request per try.
struct call {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::optional<std::string> body;
  byte_source* body_source = nullptr;  ///< not replayable: no retries, no challenge answered
  std::uint64_t body_length = 0;
  std::string scope;
  std::string repo;  ///< whose credentials answer a challenge (with a scope)
  int attempts = 1;
  std::size_t max_body = 1 << 20;
};

}  // namespace

/// The client's state, shared with the byte sources it hands out so a
/// source never outlives what it reads through.
struct registry_core {
  std::string host;
  std::string base_url;
  std::string origin;
  registry_options opts;
  std::unique_ptr<http_client> http;  // declared before the authenticators: they refer to it

  // One authenticator per distinct credential set (tokens cached per
  // identity), each repository mapped to the one its credentials chose:
  // path-scoped keys (containers-auth.json(5)) give repositories of one
  // host different identities.
  std::mutex auth_mu;
  std::vector<std::unique_ptr<registry_authenticator>> authenticators;
  std::map<std::string, registry_authenticator*> auth_by_repo;

  /// The authenticator of `repo`, its credentials looked up on first use.
  result<registry_authenticator*> auth_for(const std::string& repo) {
    std::lock_guard lock(auth_mu);
    if (const auto it = auth_by_repo.find(repo); it != auth_by_repo.end()) return it->second;
    auto creds = find_credentials(host, repo, opts.auth);
    if (!creds) return tl::unexpected(std::move(creds).error().context("credentials for " + quote(host + "/" + repo)));
    registry_authenticator* a = nullptr;
    for (const auto& existing : authenticators)
      if (same_credentials(existing->credentials(), *creds)) a = existing.get();
    if (!a) {
      authenticators.push_back(std::make_unique<registry_authenticator>(*http, origin, std::move(*creds)));
      a = authenticators.back().get();
    }
    auth_by_repo.emplace(repo, a);
    return a;
  }

  std::string url(const std::string& path) const { return base_url + path; }

  void sleep_before_retry(int k, std::optional<double> hint) const {
    double s = opts.retry_base_seconds;
    for (int i = 0; i < k && s < 30; ++i) s *= 2;
    if (hint) s = *hint;
    s = std::min(s, 30.0);
    if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
  }

  http_request prepare(const call& c, registry_authenticator* auth) {
    http_request req;
    req.method = c.method;
    req.url = c.url;
    req.headers = c.headers;
    req.body = c.body;
    req.body_source = c.body_source;
    req.body_length = c.body_length;
    // Credentials only for the registry's own origin (an upload Location
    // or a Link may name another host).
    if (auth && origin_of(c.url) == origin) req.authorization = auth->authorization(c.scope);
    return req;
  }

  /// Sends `c` through `once`, answering one 401 challenge and retrying
  /// connection failures, 5xx and 429 up to c.attempts times.
  template <class R, class Once>
  result<R> perform(const call& c, Once&& once) {
    int failures = 0;
    bool challenged = false;
    const bool replayable = c.body_source == nullptr;
    registry_authenticator* auth = nullptr;
    if (!c.scope.empty()) {
      auto a = auth_for(c.repo);
      if (!a) return tl::unexpected(std::move(a).error().context(c.method + " " + quote(path_of(c.url))));
      auth = *a;
    }
    for (;;) {
      http_request req = prepare(c, auth);
      const bool sent_credentials = auth && auth->has_credentials() && !req.authorization.empty();
      result<R> r = once(std::move(req));
      if (!r) {
        if (r.error().code() == errc::unavailable && replayable && ++failures < c.attempts) {
          sleep_before_retry(failures - 1, std::nullopt);
          continue;
        }
        return tl::unexpected(std::move(r).error().context(c.method + " " + quote(path_of(c.url))));
      }
      const long st = status_of(*r);
      // Refused after the challenge was answered with credentials: say so,
      // and where they came from, rather than a bare 401.
      if (st == 401 && sent_credentials && (challenged || !replayable) && origin_of(url_of(*r)) == origin) {
        const std::string text = error_body_text(body_of(*r));
        return tl::unexpected(error(errc::unauthenticated, c.method + " " + quote(path_of(c.url)) + ": status 401" +
                                                               refused_note(*auth->credentials()) +
                                                               (text.empty() ? "" : ": " + text)));
      }
      if (st == 401 && !challenged && replayable && auth && origin_of(url_of(*r)) == origin) {
        challenged = true;
        auto values = header_values(headers_of(*r), "www-authenticate");
        if (auto ok = auth->challenge(values, c.scope); !ok)
          return tl::unexpected(std::move(ok).error().context(c.method + " " + quote(path_of(c.url)) + ": status 401"));
        continue;
      }
      if ((st == 429 || st >= 500) && replayable && ++failures < c.attempts) {
        sleep_before_retry(failures - 1, retry_after(headers_of(*r)));
        continue;
      }
      return r;
    }
  }

  result<http_response> exchange(const call& c) {
    return perform<http_response>(c, [&](const http_request& req) { return http->send(req, c.max_body); });
  }
  result<std::unique_ptr<http_stream>> open(const call& c) {
    return perform<std::unique_ptr<http_stream>>(c, [&](const http_request& req) { return http->open(req); });
  }

  /// GET of a blob from the registry, `range` "" or a Range header. A
  /// redirect target that refuses (an expired pre-signed URL: 401/403/404)
  /// is replaced by asking the registry again (buglog B64).
  result<std::unique_ptr<http_stream>> open_blob_stream(const std::string& repo, const descriptor& d,
                                                        const std::string& range, int attempts) {
    call c;
    c.url = url("/v2/" + repo + "/blobs/" + d.digest.str());
    if (!range.empty()) c.headers.push_back(range);
    c.scope = pull_scope(repo);
    c.repo = repo;
    c.attempts = attempts;
    for (int expired = 0;; ++expired) {
      OCIPIPE_ASSIGN_OR_RETURN(auto s, open(c));
      const long st = s->status();
      if (st == 200 || st == 206) return s;
      const bool foreign = origin_of(s->url()) != origin;
      if (foreign && (st == 401 || st == 403 || st == 404) && expired < max_expired_redirects) continue;
      const std::string body = drain_body(*s);
      auto e = status_error("GET", c.url, st, body);
      if (foreign) e.context("redirected to " + quote(origin_of(s->url())));
      return tl::unexpected(std::move(e));
    }
  }
};

struct registry_client::impl {
  std::shared_ptr<registry_core> core;
};

registry_client::registry_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
registry_client::~registry_client() = default;

const std::string& registry_client::host() const noexcept { return impl_->core->host; }
const std::string& registry_client::base_url() const noexcept { return impl_->core->base_url; }
http_client& registry_client::http() noexcept { return *impl_->core->http; }

namespace {

/// GET /v2/: the status, with retries of connection failures and 5xx.
result<long> ping(http_client& http, const std::string& base, const registry_options& opts, int attempts) {
  http_request req;
  req.url = base + "/v2/";
  req.connect_timeout_seconds = 10;
  for (int k = 0;; ++k) {
    auto r = http.send(req, error_body_limit);
    const bool retry = k + 1 < attempts && (!r ? r.error().code() == errc::unavailable : r->status >= 500);
    if (retry) {
      double s = opts.retry_base_seconds;
      for (int i = 0; i < k; ++i) s *= 2;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(s, 30.0)));
      continue;
    }
    if (!r) return tl::unexpected(std::move(r).error());
    if (r->status == 200 || r->status == 401) return r->status;
    return tl::unexpected(status_error("GET", req.url, r->status, r->body));
  }
}

}  // namespace

result<std::shared_ptr<registry_client>> registry_client::connect(std::string host, const registry_options& opts) {
  OCIPIPE_TRY(check_host(host));
  // Docker Hub's credentials are stored under docker.io; its API lives at
  // registry-1.docker.io.
  const std::string server = host == "docker.io" ? "registry-1.docker.io" : host;
  // A file that does not parse is reported now rather than at the first request.
  auto creds = find_credentials(host, "", opts.auth);
  if (!creds) return tl::unexpected(std::move(creds).error().context("credentials for " + quote(host)));

  auto core = std::make_shared<registry_core>();
  core->host = host;
  core->opts = opts;
  core->http = std::make_unique<http_client>(opts.tls, opts.user_agent);

  const bool plain_ok = plain_http_allowed(host_name_of(server), opts.tls);
  std::string base = "https://" + server;
  const std::string what = "connect to registry " + quote(host);
  auto tls = ping(*core->http, base, opts, plain_ok ? 1 : opts.attempts);
  if (!tls) {
    if (!plain_ok || tls.error().code() != errc::unavailable)
      return tl::unexpected(std::move(tls).error().context(what));
    // https cannot connect (or this is a plain http server): plain http,
    // which only loopback hosts or --tls-verify=false allow.
    auto plain = ping(*core->http, "http://" + server, opts, opts.attempts);
    if (!plain)
      return fail(tls.error().code(), what + ": https: " + tls.error().message() + "; plain http: " +
                                          plain.error().message());
    base = "http://" + server;
  }
  core->base_url = base;
  core->origin = origin_of(base);
  if (core->origin.empty()) return fail(errc::invalid_argument, "registry host " + quote(host) + ": not a valid URL host");
  auto p = std::make_unique<impl>();
  p->core = std::move(core);
  return std::shared_ptr<registry_client>(new registry_client(std::move(p)));
}

// ---- manifests ----

result<fetched_manifest> registry_client::get_manifest(const std::string& repo, const std::string& reference) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  OCIPIPE_ASSIGN_OR_RETURN(auto pinned, check_reference(reference));
  const std::string what = "manifest " + quote(repo + (pinned ? "@" : ":") + reference);
  call c;
  c.url = core.url("/v2/" + repo + "/manifests/" + reference);
  c.headers.push_back(join_accept(manifest_accept_types()));
  c.scope = pull_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  c.max_body = manifest_limit;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status != 200) return tl::unexpected(status_error("GET", c.url, r->status, r->body).context(what));

  fetched_manifest out;
  out.bytes = std::move(r->body);
  OCIPIPE_ASSIGN_OR_RETURN(auto header_digest, check_content_digest(r->headers, out.bytes, what));
  if (pinned) {
    // distribution-spec "Pulling manifests": a client pulling by digest
    // MUST verify the bytes against it.
    auto actual = digest_of(out.bytes, pinned->algorithm());
    if (!actual) return tl::unexpected(std::move(actual).error().context(what));
    if (!(*actual == *pinned))
      return fail(errc::digest_mismatch, what + ": bytes received hash to " + actual->str());
    out.desc.digest = *pinned;
  } else if (header_digest) {
    out.desc.digest = *header_digest;
  } else {
    OCIPIPE_ASSIGN_OR_RETURN(out.desc.digest, digest_of(out.bytes, digest_algorithm::sha256));
  }
  OCIPIPE_ASSIGN_OR_RETURN(out.desc.media_type, manifest_media_type(out.bytes, r->headers, what));
  out.desc.size = static_cast<std::int64_t>(out.bytes.size());
  return out;
}

result<std::optional<descriptor>> registry_client::head_manifest(const std::string& repo, const std::string& reference) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  OCIPIPE_ASSIGN_OR_RETURN(auto pinned, check_reference(reference));
  const std::string what = "manifest " + quote(repo + (pinned ? "@" : ":") + reference);
  call c;
  c.method = "HEAD";
  c.url = core.url("/v2/" + repo + "/manifests/" + reference);
  c.headers.push_back(join_accept(manifest_accept_types()));
  c.scope = pull_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status == 404) return std::optional<descriptor>();
  if (r->status != 200) return tl::unexpected(status_error("HEAD", c.url, r->status, r->body).context(what));
  descriptor d;
  d.media_type = content_media_type(header_value(r->headers, "content-type"));
  const std::string dcd = header_value(r->headers, "docker-content-digest");
  const auto len = to_u64(header_value(r->headers, "content-length"));
  if (!dcd.empty() && len && (media_type::is_image_index(d.media_type) || media_type::is_image_manifest(d.media_type))) {
    auto parsed = digest::parse(dcd);
    if (!parsed) return fail(errc::malformed, what + ": Docker-Content-Digest " + quote(dcd) + ": " + parsed.error().message());
    if (pinned && !(*parsed == *pinned))
      return fail(errc::digest_mismatch, what + ": Docker-Content-Digest says " + parsed->str());
    d.digest = *parsed;
    d.size = static_cast<std::int64_t>(*len);
    return std::optional<descriptor>(std::move(d));
  }
  // A HEAD that does not tell all (no digest, length or known type): GET it.
  auto m = get_manifest(repo, reference);
  if (!m) {
    if (m.error().code() == errc::not_found) return std::optional<descriptor>();
    return tl::unexpected(std::move(m).error());
  }
  return std::optional<descriptor>(std::move(m->desc));
}

result<digest> registry_client::put_manifest(const std::string& repo, const std::string& reference,
                                             const std::string& bytes, const std::string& media_type) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  OCIPIPE_ASSIGN_OR_RETURN(auto pinned, check_reference(reference));
  const std::string what = "put manifest " + quote(repo + (pinned ? "@" : ":") + reference);
  if (media_type.empty() || media_type.find_first_of("\r\n") != std::string::npos)
    return fail(errc::invalid_argument, what + ": bad media type " + quote(media_type));
  if (bytes.size() > manifest_limit)
    return fail(errc::resource_exhausted, what + ": " + std::to_string(bytes.size()) + " bytes, over the 4 MiB limit");
  const digest_algorithm alg = pinned ? pinned->algorithm() : digest_algorithm::sha256;
  auto own = digest_of(bytes, alg);
  if (!own) return tl::unexpected(std::move(own).error().context(what));
  if (pinned && !(*own == *pinned))
    return fail(errc::invalid_argument, what + ": the bytes hash to " + own->str() + ", not to the reference");
  call c;
  c.method = "PUT";
  c.url = core.url("/v2/" + repo + "/manifests/" + reference);
  c.headers.push_back("Content-Type: " + media_type);
  c.body = bytes;
  c.scope = push_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status != 201 && r->status != 200 && r->status != 202 && r->status != 204)
    return tl::unexpected(status_error("PUT", c.url, r->status, r->body).context(what));
  const std::string dcd = header_value(r->headers, "docker-content-digest");
  if (!dcd.empty()) {
    auto reported = digest::parse(dcd);
    if (!reported) return fail(errc::malformed, what + ": Docker-Content-Digest " + quote(dcd) + ": " + reported.error().message());
    auto mine = digest_of(bytes, reported->algorithm());
    if (!mine) return tl::unexpected(std::move(mine).error().context(what));
    if (!(*mine == *reported))
      return fail(errc::digest_mismatch, what + ": the registry reports " + reported->str() + ", the bytes sent are " +
                                             mine->str());
    return *reported;
  }
  return *own;
}

result<void> registry_client::delete_manifest(const std::string& repo, const digest& d) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "delete manifest " + quote(repo + "@" + d.str());
  if (d.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  call c;
  c.method = "DELETE";
  c.url = core.url("/v2/" + repo + "/manifests/" + d.str());
  c.scope = "repository:" + repo + ":delete";
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status == 202 || r->status == 200 || r->status == 204) return {};
  return tl::unexpected(status_error("DELETE", c.url, r->status, r->body).context(what));
}

// ---- blobs ----

result<std::optional<std::uint64_t>> registry_client::head_blob(const std::string& repo, const digest& d) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "blob " + quote(repo + "@" + d.str());
  if (d.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  call c;
  c.method = "HEAD";
  c.url = core.url("/v2/" + repo + "/blobs/" + d.str());
  c.scope = pull_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  const bool foreign = origin_of(r->url) != core.origin;
  if (r->status == 200) {
    if (auto len = to_u64(header_value(r->headers, "content-length"))) return std::optional<std::uint64_t>(*len);
  } else if (r->status == 404 && !foreign) {
    return std::optional<std::uint64_t>();
  } else if (!(r->status == 405 || (foreign && (r->status == 403 || r->status == 404 || r->status == 401)))) {
    return tl::unexpected(status_error("HEAD", c.url, r->status, r->body).context(what));
  }
  // HEAD refused by a redirect target (object stores that sign URLs for
  // GET only) or no length: a one-byte GET tells the size (buglog B64).
  descriptor probe;
  probe.digest = d;
  auto s = core.open_blob_stream(repo, probe, "Range: bytes=0-0", core.opts.attempts);
  if (!s) {
    if (s.error().code() == errc::not_found) return std::optional<std::uint64_t>();
    return tl::unexpected(std::move(s).error().context(what));
  }
  if ((*s)->status() == 206) {
    const std::string cr = header_value((*s)->headers(), "content-range");
    const auto slash = cr.rfind('/');
    if (slash != std::string::npos)
      if (auto total = to_u64(std::string_view(cr).substr(slash + 1))) return std::optional<std::uint64_t>(*total);
    return fail(errc::malformed, what + ": GET with Range: Content-Range " + quote(cr) + " has no total size");
  }
  if (auto len = (*s)->content_length()) return std::optional<std::uint64_t>(*len);
  return fail(errc::malformed, what + ": the registry tells no size (no Content-Length)");
}

result<std::unique_ptr<byte_source>> registry_client::open_blob(const std::string& repo, const descriptor& d,
                                                               std::uint64_t offset) {
  auto core = impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "blob " + d.digest.short_str();
  if (d.digest.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  if (d.size < 0) return fail(errc::invalid_argument, what + ": negative size");
  const auto size = static_cast<std::uint64_t>(d.size);
  std::string foreign_errors;
  // descriptor.md "urls": a non-distributable layer may live elsewhere. Those
  // hosts never see our credentials; the caller verifies the digest of what
  // they send (buglog B61).
  for (const auto& u : d.urls) {
    if (!parse_url(u)) {
      foreign_errors += "; url " + quote(u) + ": not an http(s) URL";
      continue;
    }
    ranged_opener opener = [core, u](std::uint64_t from) -> result<std::unique_ptr<http_stream>> {
      http_request req;
      req.url = u;
      if (from > 0) req.headers.push_back("Range: bytes=" + std::to_string(from) + "-");
      OCIPIPE_ASSIGN_OR_RETURN(auto s, core->http->open(req));
      if (s->status() == 200 || s->status() == 206) return s;
      const std::string body = drain_body(*s);
      return tl::unexpected(status_error("GET", u, s->status(), body));
    };
    auto src = open_resumable(std::move(opener), size, offset, core->opts.attempts, core->opts.retry_base_seconds,
                              what + " from " + quote(u));
    if (src) return src;
    foreign_errors += "; url " + quote(u) + ": " + src.error().message();
  }
  ranged_opener opener = [core, repo, d](std::uint64_t from) -> result<std::unique_ptr<http_stream>> {
    // One try per open: open_resumable owns the retries of a broken transfer.
    return core->open_blob_stream(repo, d, from > 0 ? "Range: bytes=" + std::to_string(from) + "-" : "", 1);
  };
  auto src = open_resumable(std::move(opener), size, offset, core->opts.attempts, core->opts.retry_base_seconds,
                            what);
  if (!src) {
    auto e = std::move(src).error();
    if (!foreign_errors.empty()) e = error(e.code(), e.message() + " (after its urls failed" + foreign_errors + ")");
    return tl::unexpected(std::move(e).context(what + " in " + quote(repo)));
  }
  return src;
}

result<std::string> registry_client::read_blob(const std::string& repo, const descriptor& d, std::size_t max_bytes) {
  const std::string what = "blob " + d.digest.short_str();
  if (d.size < 0 || static_cast<std::uint64_t>(d.size) > max_bytes)
    return fail(errc::resource_exhausted, what + ": " + std::to_string(d.size) + " bytes, over the limit of " +
                                              std::to_string(max_bytes));
  OCIPIPE_ASSIGN_OR_RETURN(auto src, open_blob(repo, d));
  std::string out;
  out.reserve(static_cast<std::size_t>(d.size));
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, src->next());
    if (chunk.empty()) return out;
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  }
}

result<bool> registry_client::mount_blob(const std::string& repo, const digest& d, const std::string& from_repo) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  OCIPIPE_TRY(check_repository(from_repo));
  const std::string what = "mount blob " + d.short_str() + " from " + quote(from_repo);
  if (d.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  // One request carries one identity: when path-scoped keys give the two
  // repositories different credentials, the source's must not be asked for
  // with the target's (nor the reverse), so no mount; the caller uploads.
  OCIPIPE_ASSIGN_OR_RETURN(auto* target_auth, core.auth_for(repo));
  auto source_auth = core.auth_for(from_repo);
  if (!source_auth || target_auth != *source_auth) return false;
  call c;
  c.method = "POST";
  c.url = core.url("/v2/" + repo + "/blobs/uploads/?mount=" + url_encode(d.str()) + "&from=" + url_encode(from_repo));
  c.body = std::string();
  // The token must grant pull on the source as well (distribution-spec
  // "Mounting a blob from another repository").
  c.scope = push_scope(repo) + " " + pull_scope(from_repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status == 201) return true;
  if (r->status == 202) {
    // The registry could not mount and opened an upload instead: cancel it.
    if (const auto loc = header_value(r->headers, "location"); !loc.empty()) {
      if (auto abs = resolve_url(r->url, loc)) {
        call del;
        del.method = "DELETE";
        del.url = *abs;
        del.scope = push_scope(repo);
        del.repo = repo;
        (void)core.exchange(del);
      }
    }
    return false;
  }
  if (r->status == 403 || r->status == 404 || r->status == 405) return false;
  return tl::unexpected(status_error("POST", c.url, r->status, r->body).context(what));
}

result<std::optional<upload_session>> registry_client::upload_status(const std::string& repo,
                                                                     const std::string& location) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  auto abs = resolve_url(core.base_url + "/", location);
  if (!abs) return tl::unexpected(std::move(abs).error().context("upload status"));
  call c;
  c.url = *abs;
  c.scope = push_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context("upload status"));
  if (r->status == 404) return std::optional<upload_session>();
  if (r->status != 204 && r->status != 200)
    return tl::unexpected(status_error("GET", c.url, r->status, r->body).context("upload status"));
  upload_session s;
  s.location = *abs;
  if (const auto loc = header_value(r->headers, "location"); !loc.empty()) {
    OCIPIPE_ASSIGN_OR_RETURN(s.location, resolve_url(r->url, loc));
  }
  const std::string range = header_value(r->headers, "range");
  if (!range.empty()) {
    auto last = parse_upload_range(range);
    if (!last) return tl::unexpected(std::move(last).error().context("upload status: Range " + quote(range)));
    // "0-0" is what distribution answers for an empty upload as well as for
    // one of one byte; reading it as empty only costs a resent byte.
    const std::string_view rv(range);
    const bool zero = *last == 0 && (rv == "0-0" || rv == "bytes=0-0");
    s.offset = zero ? 0 : *last + 1;
  }
  return std::optional<upload_session>(std::move(s));
}

result<void> registry_client::upload_blob(const std::string& repo, const descriptor& d, byte_source& src,
                                          const upload_options& opts) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "upload blob " + d.digest.short_str() + " to " + quote(repo);
  if (d.digest.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  if (d.size < 0) return fail(errc::invalid_argument, what + ": negative size");
  const auto size = static_cast<std::uint64_t>(d.size);
  exact_reader reader(src);
  std::string location;
  std::uint64_t offset = 0;
  std::uint64_t min_chunk = 0;

  if (opts.resume) {
    auto st = upload_status(repo, opts.resume->location);
    if (!st) return tl::unexpected(std::move(st).error().context(what));
    if (!*st) return fail(errc::not_found, what + ": upload session is gone (404); start a new one");
    location = (*st)->location;
    offset = (*st)->offset;
    // The source starts where the caller's record says; the registry may
    // hold more (a chunk it stored before the answer was lost), never less.
    if (offset < opts.resume->offset)
      return fail(errc::unavailable, what + ": registry holds " + std::to_string(offset) + " bytes, fewer than the " +
                                         std::to_string(opts.resume->offset) + " recorded");
    if (offset > size)
      return fail(errc::malformed, what + ": registry holds " + std::to_string(offset) + " bytes, more than the blob's " +
                                       std::to_string(size));
    if (auto r = reader.skip(offset - opts.resume->offset, what); !r) return tl::unexpected(std::move(r).error());
  } else {
    call c;
    c.method = "POST";
    c.url = core.url("/v2/" + repo + "/blobs/uploads/");
    c.body = std::string();
    c.scope = push_scope(repo);
    c.repo = repo;
    c.attempts = core.opts.attempts;
    auto r = core.exchange(c);
    if (!r) return tl::unexpected(std::move(r).error().context(what));
    if (r->status != 202) return tl::unexpected(status_error("POST", c.url, r->status, r->body).context(what));
    const std::string loc = header_value(r->headers, "location");
    if (loc.empty()) return fail(errc::malformed, what + ": POST answered 202 without Location");
    OCIPIPE_ASSIGN_OR_RETURN(location, resolve_url(r->url, loc));
    if (auto m = to_u64(header_value(r->headers, "oci-chunk-min-length"))) min_chunk = *m;
  }

  // Learns where the registry stands after a failed or refused write, so
  // the upload goes on from its offset (buglog B65: 416 → status → resume).
  auto resync = [&](std::uint64_t& at) -> result<void> {
    auto st = upload_status(repo, location);
    if (!st) return tl::unexpected(std::move(st).error());
    if (!*st) return fail(errc::not_found, "upload session is gone (404)");
    location = (*st)->location;
    at = (*st)->offset;
    return {};
  };

  const std::uint64_t chunk = opts.chunk_bytes == 0 ? 0 : std::max(opts.chunk_bytes, min_chunk);
  std::string buf;              // the chunk in flight
  std::uint64_t buf_start = 0;  // its offset in the blob

  if (chunk > 0) {
    // PATCH chunks; the last one travels with the closing PUT.
    while (offset < size) {
      const std::uint64_t n = std::min(chunk, size - offset);
      buf.clear();
      buf_start = offset;
      if (auto r = reader.read(buf, n, what); !r) return tl::unexpected(std::move(r).error());
      if (offset + n == size) break;
      int failures = 0;
      while (offset < buf_start + buf.size()) {
        const std::string_view part = std::string_view(buf).substr(static_cast<std::size_t>(offset - buf_start));
        call c;
        c.method = "PATCH";
        c.url = location;
        c.headers = {octet_stream, "Content-Range: " + std::to_string(offset) + "-" +
                                       std::to_string(offset + part.size() - 1)};
        c.body = std::string(part);
        c.scope = push_scope(repo);
        c.repo = repo;
        c.attempts = 1;  // retried here, after asking the registry where it stands
        auto r = core.exchange(c);
        if (r && (r->status == 202 || r->status == 204)) {
          if (const auto loc = header_value(r->headers, "location"); !loc.empty()) {
            OCIPIPE_ASSIGN_OR_RETURN(location, resolve_url(r->url, loc));
          }
          // The Range answered may be stale (ECR, buglog B65): our own count
          // decides where the next chunk starts.
          offset += part.size();
          if (opts.on_bytes) opts.on_bytes(part.size());
          if (opts.on_chunk) opts.on_chunk(upload_session{location, offset});
          continue;
        }
        const bool retryable = !r ? r.error().code() == errc::unavailable
                                  : (r->status == 416 || r->status == 429 || r->status >= 500);
        if (!retryable || ++failures >= core.opts.attempts) {
          if (!r) return tl::unexpected(std::move(r).error().context(what));
          auto e = status_error("PATCH", c.url, r->status, r->body);
          return tl::unexpected(std::move(e).context(what));
        }
        if (!r || r->status != 416) core.sleep_before_retry(failures - 1, r ? retry_after(r->headers) : std::nullopt);
        std::uint64_t at = 0;
        if (auto s = resync(at); !s) return tl::unexpected(std::move(s).error().context(what));
        if (at < buf_start)
          return fail(errc::unavailable, what + ": registry went back to offset " + std::to_string(at) +
                                             ", before the chunk at " + std::to_string(buf_start) + " this source can resend");
        if (at > size) return fail(errc::malformed, what + ": registry offset " + std::to_string(at) + " past the blob");
        if (at > buf_start + buf.size()) {
          if (auto k = reader.skip(at - (buf_start + buf.size()), what); !k) return tl::unexpected(std::move(k).error());
          offset = at;
          buf.clear();
          buf_start = at;
          break;
        }
        offset = at;
      }
    }
    if (buf_start + buf.size() != size || offset < buf_start) {
      // Everything went by PATCH (or a resync skipped past the buffer).
      buf.clear();
      buf_start = offset;
    }
  }

  // The closing PUT ?digest= decides (distribution-spec "Pushing a blob
  // monolithically" / "in chunks"). Without chunks the rest of the source
  // streams in its body.
  const bool streamed = chunk == 0;
  int failures = 0;
  for (;;) {
    call c;
    c.method = "PUT";
    c.url = with_query(location, "digest=" + url_encode(d.digest.str()));
    c.scope = push_scope(repo);
    c.repo = repo;
    c.attempts = 1;
    std::unique_ptr<bounded_body> body;
    std::uint64_t sent = 0;
    if (streamed) {
      sent = size - offset;
      body = std::make_unique<bounded_body>(reader, sent, opts.on_bytes, what);
      c.headers = {octet_stream};
      c.body_source = body.get();
      c.body_length = sent;
    } else {
      const std::string_view part = std::string_view(buf).substr(static_cast<std::size_t>(offset - buf_start));
      sent = part.size();
      c.headers = {octet_stream};
      c.body = std::string(part);
    }
    auto r = core.exchange(c);
    if (r && (r->status == 201 || r->status == 200 || r->status == 204)) {
      if (!streamed && opts.on_bytes && sent) opts.on_bytes(sent);
      if (streamed) {
        if (auto e = reader.expect_end(what); !e) return tl::unexpected(std::move(e).error());
      }
      const std::string dcd = header_value(r->headers, "docker-content-digest");
      if (!dcd.empty() && dcd != d.digest.str())
        return fail(errc::digest_mismatch, what + ": the registry stored " + quote(dcd));
      return {};
    }
    const bool retryable = !r ? r.error().code() == errc::unavailable : (r->status == 416 || r->status == 429 || r->status >= 500);
    if (streamed || !retryable || ++failures >= core.opts.attempts) {
      if (!r) return tl::unexpected(std::move(r).error().context(what));
      return tl::unexpected(status_error("PUT", c.url, r->status, r->body).context(what));
    }
    core.sleep_before_retry(failures - 1, r ? retry_after(r->headers) : std::nullopt);
    // The PUT may have landed with its answer lost: then the blob exists.
    if (auto h = head_blob(repo, d.digest); h && *h && **h == size) return {};
    std::uint64_t at = 0;
    if (auto s = resync(at); !s) return tl::unexpected(std::move(s).error().context(what));
    if (at < buf_start || at > buf_start + buf.size())
      return fail(errc::unavailable, what + ": registry offset " + std::to_string(at) + " outside the last chunk (" +
                                         std::to_string(buf_start) + "-" + std::to_string(buf_start + buf.size()) + ")");
    offset = at;
  }
}

// ---- tags and referrers ----

namespace {

// The absolute URL of the next page (Link rel="next"; distribution-spec
// "Listing Tags", "Listing Referrers"), or nullopt on the last page. Pages
// stay on the registry: a Link to another origin would carry our token.
result<std::optional<std::string>> next_page(const registry_core& core, const http_response& r,
                                             const std::string& what) {
  std::optional<std::string> link;
  for (const auto& v : header_values(r.headers, "link"))
    if ((link = link_next(v))) break;
  if (!link) return std::optional<std::string>();
  OCIPIPE_ASSIGN_OR_RETURN(auto next, resolve_url(r.url, *link));
  if (origin_of(next) != core.origin)
    return fail(errc::malformed, what + ": Link to another origin " + quote(origin_of(next)));
  return std::optional<std::string>(std::move(next));
}

}  // namespace

result<std::vector<std::string>> registry_client::list_tags(const std::string& repo, std::size_t page_size) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "list tags of " + quote(repo);
  std::vector<std::string> tags;
  std::string next = core.url("/v2/" + repo + "/tags/list");
  if (page_size > 0) next += "?n=" + std::to_string(page_size);
  for (int page = 0; page < max_tag_pages; ++page) {
    call c;
    c.url = next;
    c.scope = pull_scope(repo);
    c.repo = repo;
    c.attempts = core.opts.attempts;
    c.max_body = 16 << 20;
    auto r = core.exchange(c);
    if (!r) return tl::unexpected(std::move(r).error().context(what));
    if (r->status != 200) return tl::unexpected(status_error("GET", c.url, r->status, r->body).context(what));
    auto doc = json::parse(r->body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail(errc::malformed, what + ": page " + std::to_string(page) + ": not a JSON object");
    if (auto t = doc.find("tags"); t != doc.end() && !t->is_null()) {
      if (!t->is_array()) return fail(errc::malformed, what + ": \"tags\" is not an array");
      for (const auto& v : *t) {
        if (!v.is_string()) return fail(errc::malformed, what + ": a tag is not a string");
        tags.push_back(v.get<std::string>());
      }
    }
    OCIPIPE_ASSIGN_OR_RETURN(auto link, next_page(core, *r, what));
    if (!link) return tags;
    next = std::move(*link);
  }
  return fail(errc::resource_exhausted, what + ": more than " + std::to_string(max_tag_pages) + " pages");
}

namespace {
// A GET of the referrers API (distribution-spec "Listing Referrers").
call referrers_call(const registry_core& core, const std::string& repo, std::string url) {
  call c;
  c.url = std::move(url);
  c.headers.push_back("Accept: " + std::string(media_type::image_index));
  c.scope = pull_scope(repo);
  c.repo = repo;
  c.attempts = core.opts.attempts;
  c.max_body = manifest_limit;
  return c;
}
}  // namespace

result<image_index> registry_client::referrers(const std::string& repo, const digest& subject,
                                               const std::string& artifact_type) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "referrers of " + subject.short_str() + " in " + quote(repo);
  if (subject.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  image_index out;
  out.media_type = std::string(media_type::image_index);

  std::string next = core.url("/v2/" + repo + "/referrers/" + subject.str());
  if (!artifact_type.empty()) next += "?artifactType=" + url_encode(artifact_type);
  for (int page = 0; page < max_tag_pages; ++page) {
    const call c = referrers_call(core, repo, next);
    auto r = core.exchange(c);
    if (!r) return tl::unexpected(std::move(r).error().context(what));
    if (r->status == 404 && page == 0) break;  // no referrers API: the tag schema below
    if (r->status != 200) return tl::unexpected(status_error("GET", c.url, r->status, r->body).context(what));
    auto idx = parse_image_index(r->body);
    if (!idx) return tl::unexpected(std::move(idx).error().context(what));
    // A registry that did not apply the filter says so by omitting
    // OCI-Filters-Applied; then it is applied here.
    const bool filtered = header_value(r->headers, "oci-filters-applied").find("artifactType") != std::string::npos;
    for (auto& m : idx->manifests)
      if (artifact_type.empty() || filtered || m.artifact_type == artifact_type) out.manifests.push_back(std::move(m));
    OCIPIPE_ASSIGN_OR_RETURN(auto link, next_page(core, *r, what));
    if (!link) return out;
    next = std::move(*link);
  }

  // distribution-spec "Referrers Tag Schema": <alg>-<ref>, alg cut to 32
  // and ref to 64 characters.
  const std::string tag = std::string(subject.algorithm_name().substr(0, 32)) + "-" +
                          std::string(subject.encoded().substr(0, 64));
  auto fallback = get_manifest(repo, tag);
  if (!fallback) {
    if (fallback.error().code() == errc::not_found) return out;
    return tl::unexpected(std::move(fallback).error().context(what + ": tag schema fallback"));
  }
  if (!media_type::is_image_index(fallback->desc.media_type)) return out;
  auto idx = parse_image_index(fallback->bytes);
  if (!idx) return out;  // not an index: no referrers (buglog B53)
  // Some registries resolve "<alg>-<hex>" to the subject itself, whose
  // children would then pose as referrers: keep only entries whose manifest
  // names the subject (buglog B53).
  for (auto& entry : idx->manifests) {
    if (!media_type::is_image_manifest(entry.media_type) && !media_type::is_image_index(entry.media_type)) continue;
    if (entry.digest == subject) continue;
    auto m = get_manifest(repo, entry.digest.str());
    if (!m) {
      if (m.error().code() == errc::not_found) continue;
      return tl::unexpected(std::move(m).error().context(what));
    }
    std::optional<descriptor> subj;
    std::string own_type;
    std::string config_type;
    if (media_type::is_image_manifest(m->desc.media_type)) {
      auto parsed = parse_manifest(m->bytes);
      if (!parsed) continue;
      subj = parsed->subject;
      own_type = parsed->artifact_type;
      config_type = parsed->config.media_type;
    } else {
      auto parsed = parse_image_index(m->bytes);
      if (!parsed) continue;
      subj = parsed->subject;
      own_type = parsed->artifact_type;
    }
    if (!subj || !(subj->digest == subject)) continue;
    descriptor kept;
    kept.media_type = m->desc.media_type;
    kept.digest = m->desc.digest;
    kept.size = m->desc.size;
    kept.annotations = entry.annotations;
    // artifactType: the manifest's own, else its config's media type; an
    // index without one has none (distribution-spec "Listing Referrers").
    kept.artifact_type = !own_type.empty() ? own_type : config_type;
    if (!artifact_type.empty() && kept.artifact_type != artifact_type) continue;
    out.manifests.push_back(std::move(kept));
  }
  return out;
}

result<bool> registry_client::referrers_api(const std::string& repo, const digest& subject) {
  auto& core = *impl_->core;
  OCIPIPE_TRY(check_repository(repo));
  const std::string what = "referrers API of " + quote(repo);
  if (subject.empty()) return fail(errc::invalid_argument, what + ": empty digest");
  const call c = referrers_call(core, repo, core.url("/v2/" + repo + "/referrers/" + subject.str()));
  auto r = core.exchange(c);
  if (!r) return tl::unexpected(std::move(r).error().context(what));
  if (r->status == 404) return false;
  if (r->status != 200) return tl::unexpected(status_error("GET", c.url, r->status, r->body).context(what));
  // A 200 that is not an image index is some other route answering (as
  // oras-go's referrers probe also concludes): no referrers API.
  const std::string type = header_value(r->headers, "content-type");
  return type.rfind(std::string(media_type::image_index), 0) == 0;
}

}  // namespace ocipipe::io
