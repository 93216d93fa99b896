#include "io/http_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>

#include "io/curl_library.h"
#include "io/small_file.h"
#include "stages/http_headers.h"

namespace ocipipe::io {
namespace {

constexpr int max_redirects = 5;
// A paused transfer holds at most this much received body; libcurl keeps the rest in the
// socket, so a slow consumer applies TCP backpressure instead of growing our memory.
constexpr std::size_t max_buffered = 4 << 20;
// next() hands out what arrived once this much is buffered or the socket has nothing more
// ready right now: large chunks for the digest and inflate stages, no waiting on slow links.
constexpr std::size_t chunk_target = 1 << 20;
// Idle multi handles (each with its connection cache) kept for reuse.
constexpr std::size_t max_idle_lanes = 64;

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// A URL for messages: scheme, host and path, without the query (presigned storage URLs
// carry signatures there, which do not belong in logs).
std::string url_for_message(std::string_view url) { return quote(url.substr(0, url.find('?'))); }

// CA and client-certificate files: no size of their own to enforce.
result<std::string> read_file(const std::string& path) {
  return read_linked_file(path, std::numeric_limits<std::size_t>::max());
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.size() > suffix.size() && s.ends_with(suffix); }

}  // namespace

std::string header_value(const http_headers& h, std::string_view name) {
  const auto it = h.find(std::string(name));
  return it == h.end() ? std::string() : it->second;
}

bool plain_http_allowed(std::string_view host, const tls_options& tls) {
  if (!tls.verify) return true;
  std::string h = lowercase(host);
  if (h.starts_with("[") && h.ends_with("]")) h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "localhost.") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Shared state: TLS material, the curl share handle (DNS cache and TLS sessions) and the
// idle "lanes". libcurl does not support one connection cache used by concurrent threads
// (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT: "not supported ... between multiple concurrent
// threads"), so connections are reused through lanes instead: a lane is a multi handle, which
// owns a connection cache, used by one transfer at a time and parked between transfers.
// Streams hold a reference to this state, so a stream may outlive its http_client.
struct http_client_state {
  tls_options tls;
  std::string user_agent;
  std::optional<error> setup_error;  // a bad cert_dir, reported by every request
  std::string ca_bundle;             // system roots + cert_dir/*.crt; "" = curl's default
  std::string client_cert, client_key;
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::mutex lanes_mu;
  std::vector<CURLM*> idle_lanes;

  ~http_client_state() {
    for (CURLM* m : idle_lanes) curl().multi_cleanup(m);
    if (share) curl().share_cleanup(share);
  }

  CURLM* take_lane() {
    {
      std::lock_guard lock(lanes_mu);
      if (!idle_lanes.empty()) {
        CURLM* m = idle_lanes.back();
        idle_lanes.pop_back();
        return m;
      }
    }
    return curl().multi_init();
  }

  void park_lane(CURLM* m) {
    {
      std::lock_guard lock(lanes_mu);
      if (idle_lanes.size() < max_idle_lanes) {
        idle_lanes.push_back(m);
        return;
      }
    }
    curl().multi_cleanup(m);
  }
};

namespace {

void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* userp) {
  static_cast<http_client_state*>(userp)->share_locks[static_cast<std::size_t>(data)].lock();
}
void share_unlock(CURL*, curl_lock_data data, void* userp) {
  static_cast<http_client_state*>(userp)->share_locks[static_cast<std::size_t>(data)].unlock();
}

// The CA bundle libcurl was built to use (Debian: /etc/ssl/certs/ca-certificates.crt).
std::string system_ca_file() {
  std::string path;
  if (CURL* probe = curl().easy_init()) {
    char* p = nullptr;
    if (curl().easy_getinfo(probe, CURLINFO_CAINFO, &p) == CURLE_OK && p) path = p;
    curl().easy_cleanup(probe);
  }
  if (path.empty()) path = "/etc/ssl/certs/ca-certificates.crt";
  return path;
}

// containers-certs.d(5): every *.crt is an added CA; X.cert with X.key is a client
// certificate (the first pair in name order).
result<void> load_cert_dir(http_client_state& st) {
  const std::string& dir = st.tls.cert_dir;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("--cert-dir " + quote(dir), errno);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::string extra;
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    if (ends_with(n, ".crt")) {
      OCIPIPE_ASSIGN_OR_RETURN(auto pem, read_file(path));
      extra.append("\n").append(pem).append("\n");
    } else if (ends_with(n, ".cert") && st.client_cert.empty()) {
      const std::string key = dir + "/" + n.substr(0, n.size() - 5) + ".key";
      struct stat sb{};
      if (::stat(key.c_str(), &sb) != 0)
        return fail(errc::invalid_argument, "--cert-dir " + quote(dir) + ": " + quote(n) + " has no matching .key file");
      st.client_cert = path;
      st.client_key = key;
    }
  }
  if (!extra.empty()) {
    // CURLOPT_CAINFO_BLOB replaces the CA file, so the system roots go into the blob too.
    auto system = read_file(system_ca_file());
    st.ca_bundle = (system ? *system : std::string()) + extra;
  }
  return {};
}

// ---------------------------------------------------------------------------------------

// The category of a failed transfer. Everything the network or the peer did is
// `unavailable` (retryable) but a certificate that failed verification: retrying cannot
// fix trust, so it is `unauthenticated` (the server could not be authenticated).
error transfer_error(CURLcode rc, const char* errbuf) {
  std::string detail = (errbuf && *errbuf) ? std::string(trim(errbuf)) : curl().easy_strerror(rc);
  // libcurl capitalises its messages; ours are lowercase (DESIGN.md §5).
  if (!detail.empty() && detail[0] >= 'A' && detail[0] <= 'Z' && (detail.size() < 2 || !(detail[1] >= 'A' && detail[1] <= 'Z')))
    detail[0] = static_cast<char>(detail[0] - 'A' + 'a');
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return error(errc::unauthenticated, "tls: server certificate not trusted (--cert-dir, --tls-verify=false): " + detail);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return error(errc::invalid_argument, "tls: " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return error(errc::invalid_argument, detail);
    case CURLE_OUT_OF_MEMORY:
      return error(errc::resource_exhausted, detail);
    case CURLE_OPERATION_TIMEDOUT:
      return error(errc::unavailable, "timed out: " + detail);
    default:
      return error(errc::unavailable, detail);
  }
}

// One transfer on one lane: an easy handle driven through a multi handle by the thread that
// calls open()/next(). Not thread-safe (http_stream's contract).
class curl_stream final : public http_stream {
 public:
  curl_stream(std::shared_ptr<http_client_state> st, std::string url)
      : st_(std::move(st)), url_(std::move(url)), errbuf_(CURL_ERROR_SIZE + 1, '\0') {}

  ~curl_stream() override {
    if (easy_) {
      if (multi_) curl().multi_remove_handle(multi_, easy_);
      curl().easy_cleanup(easy_);
    }
    if (multi_) st_->park_lane(multi_);
    if (slist_) curl().slist_free_all(slist_);
  }

  curl_stream(const curl_stream&) = delete;
  curl_stream& operator=(const curl_stream&) = delete;

  // Configures the transfer and drives it until the final response's headers are in.
  result<void> start(const std::string& method, const std::vector<std::string>& headers,
                     const std::string& authorization, const http_request& req) {
    easy_ = curl().easy_init();
    multi_ = st_->take_lane();
    if (!easy_ || !multi_) return fail(errc::resource_exhausted, "libcurl: cannot create a handle");

    CURL* e = easy_;
    curl().easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl().easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl().easy_setopt(e, CURLOPT_SHARE, st_->share);
    curl().easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl().easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_.data());
    curl().easy_setopt(e, CURLOPT_USERAGENT, st_->user_agent.c_str());
    curl().easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl().easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl().easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl().easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl().easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
    curl().easy_setopt(e, CURLOPT_CONNECTTIMEOUT, req.connect_timeout_seconds);
    // Stalls are timed by drive() (CURLOPT_LOW_SPEED_TIME averages over a window and
    // would notice a stall only seconds late).
    stall_ = std::chrono::seconds(req.stall_seconds);
    if (!st_->tls.verify) {
      curl().easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl().easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!st_->ca_bundle.empty()) {
      curl_blob blob{st_->ca_bundle.data(), st_->ca_bundle.size(), CURL_BLOB_NOCOPY};
      curl().easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (!st_->client_cert.empty()) {
      curl().easy_setopt(e, CURLOPT_SSLCERT, st_->client_cert.c_str());
      curl().easy_setopt(e, CURLOPT_SSLKEY, st_->client_key.c_str());
    }

    for (const auto& h : headers) {
      if (h.find_first_of("\r\n") != std::string::npos)
        return fail(errc::invalid_argument, "request header " + quote(h) + ": CR or LF");
      slist_ = curl().slist_append(slist_, h.c_str());
    }
    if (!authorization.empty()) {
      if (authorization.find_first_of("\r\n") != std::string::npos)
        return fail(errc::invalid_argument, "authorization: CR or LF");
      slist_ = curl().slist_append(slist_, ("Authorization: " + authorization).c_str());
    }
    // No "Expect: 100-continue" round trip before uploads.
    slist_ = curl().slist_append(slist_, "Expect:");

    // The request body: in memory or streamed, replayable (seek) only from memory.
    const bool has_body = req.body.has_value() || req.body_source != nullptr;
    if (has_body) {
      mem_body_ = req.body ? &*req.body : nullptr;
      source_ = req.body_source;
      body_total_ = req.body ? req.body->size() : req.body_length;
      curl().easy_setopt(e, CURLOPT_READFUNCTION, &curl_stream::on_read);
      curl().easy_setopt(e, CURLOPT_READDATA, this);
      curl().easy_setopt(e, CURLOPT_SEEKFUNCTION, &curl_stream::on_seek);
      curl().easy_setopt(e, CURLOPT_SEEKDATA, this);
    }
    if (method == "GET") {
      curl().easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl().easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
      curl().easy_setopt(e, CURLOPT_POST, 1L);
      if (has_body) {
        curl().easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_total_));
      } else {
        curl().easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
        curl().easy_setopt(e, CURLOPT_POSTFIELDS, "");
      }
    } else if (method == "PUT" || method == "PATCH" || has_body) {
      // An upload with a known length (Content-Length), whatever the method's name.
      if (!has_body) {
        curl().easy_setopt(e, CURLOPT_READFUNCTION, &curl_stream::on_read);
        curl().easy_setopt(e, CURLOPT_READDATA, this);
      }
      curl().easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl().easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_total_));
      if (method != "PUT") curl().easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method == "DELETE") {
      curl().easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      return fail(errc::invalid_argument, "http method " + quote(method) + ": not supported");
    }
    curl().easy_setopt(e, CURLOPT_HTTPHEADER, slist_);
    curl().easy_setopt(e, CURLOPT_HEADERFUNCTION, &curl_stream::on_header);
    curl().easy_setopt(e, CURLOPT_HEADERDATA, this);
    curl().easy_setopt(e, CURLOPT_WRITEFUNCTION, &curl_stream::on_write);
    curl().easy_setopt(e, CURLOPT_WRITEDATA, this);

    if (curl().multi_add_handle(multi_, e) != CURLM_OK) return fail(errc::internal, "libcurl: cannot add a transfer");
    drive([this] { return headers_done_; });
    if (!headers_done_) {
      if (auto e = failure()) return tl::unexpected(std::move(*e));
      return fail(errc::unavailable, "connection closed before a response");
    }
    // Exactly body_length bytes went out; a source holding more is the caller's mistake.
    if (source_ && !body_error_ && body_sent_ == body_total_) {
      if (pending_.empty()) {
        auto more = source_->next();
        if (!more) return tl::unexpected(std::move(more).error());
        pending_ = *more;
      }
      if (!pending_.empty())
        return fail(errc::size_mismatch, "request body longer than " + std::to_string(body_total_) + " bytes");
    }
    long code = 0;
    curl().easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (code != 0) status_ = code;
    return {};
  }

  [[nodiscard]] long status() const override { return status_; }
  [[nodiscard]] const std::string& url() const override { return url_; }
  [[nodiscard]] const http_headers& headers() const override { return headers_; }
  [[nodiscard]] std::optional<std::uint64_t> content_length() const override {
    const std::string text = header_value(headers_, "content-length");
    const auto v = trim(text);
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    return n;
  }

  result<byte_view> next() override {
    out_.clear();
    if (buf_.empty() && !done_) {
      if (paused_) {
        paused_ = false;
        // Unpausing may deliver the held-back data right here, through on_write.
        curl().easy_pause(easy_, CURLPAUSE_CONT);
      }
      drive([this] { return buf_.size() >= chunk_target; }, /*return_when_idle=*/true);
    }
    if (!buf_.empty()) {
      std::swap(out_, buf_);
      return byte_view(reinterpret_cast<const std::byte*>(out_.data()), out_.size());
    }
    if (auto e = failure()) return tl::unexpected(std::move(*e).context("body of " + url_for_message(url_)));
    return byte_view();
  }

 private:
  // Why the transfer ended badly, or nullopt while it is fine. The request body's own
  // error comes first: it is the cause of the abort libcurl reports.
  std::optional<error> failure() const {
    if (body_error_) return *body_error_;
    if (drive_error_) return *drive_error_;
    if (done_ && result_ != CURLE_OK) return transfer_error(result_, errbuf_.data());
    return std::nullopt;
  }

  // Runs the transfer until `enough()`, the end, or (return_when_idle) some body bytes are
  // buffered and the socket has nothing more ready. A stall (no byte either way for
  // stall_) or a libcurl failure ends the transfer (done_, drive_error_). Time the
  // consumer spends between calls does not count as a stall.
  template <typename Pred>
  void drive(Pred enough, bool return_when_idle = false) {
    using clock = std::chrono::steady_clock;
    auto last_progress = clock::now();
    auto seen = progress_;
    while (!done_ && !enough()) {
      int running = 0;
      if (const CURLMcode mc = curl().multi_perform(multi_, &running); mc != CURLM_OK)
        return end_with(error(errc::internal, std::string("libcurl: ") + curl().multi_strerror(mc)));
      int left = 0;
      while (CURLMsg* m = curl().multi_info_read(multi_, &left)) {
        if (m->msg == CURLMSG_DONE && m->easy_handle == easy_) {
          done_ = true;
          result_ = m->data.result;
        }
      }
      if (done_ || enough()) break;
      const auto now = clock::now();
      if (progress_ != seen) {
        seen = progress_;
        last_progress = now;
      } else if (stall_.count() > 0 && now - last_progress >= stall_) {
        return end_with(error(errc::unavailable, "no data for " + std::to_string(stall_.count()) + " s"));
      }
      int ready = 0;
      const bool idle_ok = return_when_idle && !buf_.empty();
      const int wait_ms = idle_ok ? 0 : 200;
      if (const CURLMcode mc = curl().multi_poll(multi_, nullptr, 0, wait_ms, &ready); mc != CURLM_OK)
        return end_with(error(errc::internal, std::string("libcurl: ") + curl().multi_strerror(mc)));
      if (idle_ok && ready == 0) break;
    }
  }

  void end_with(error e) {
    drive_error_ = std::move(e);
    done_ = true;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* userp) {
    auto* self = static_cast<curl_stream*>(userp);
    const std::string_view line(data, size * n);
    self->progress_ += line.size();
    if (line.starts_with("HTTP/")) {
      // A new status line: an interim (1xx) response's headers are forgotten.
      self->headers_.clear();
      self->headers_done_ = false;
      const auto sp = line.find(' ');
      long code = 0;
      if (sp != std::string_view::npos) {
        const auto rest = line.substr(sp + 1);
        std::from_chars(rest.data(), rest.data() + rest.size(), code);
      }
      self->status_ = code;
    } else if (trim(line).empty()) {
      if (self->status_ >= 200) self->headers_done_ = true;
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      self->headers_.emplace(lowercase(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    return size * n;
  }

  static std::size_t on_write(char* data, std::size_t size, std::size_t n, void* userp) {
    auto* self = static_cast<curl_stream*>(userp);
    if (!self->buf_.empty() && self->buf_.size() + size * n > max_buffered) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;  // libcurl delivers this chunk again after unpausing
    }
    self->buf_.append(data, size * n);
    self->progress_ += size * n;
    return size * n;
  }

  static std::size_t on_read(char* dest, std::size_t size, std::size_t n, void* userp) {
    auto* self = static_cast<curl_stream*>(userp);
    const std::size_t room = size * n;
    const std::uint64_t remaining = self->body_total_ - self->body_sent_;
    if (self->mem_body_) {
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(room, remaining));
      std::memcpy(dest, self->mem_body_->data() + self->body_sent_, k);
      self->body_sent_ += k;
      self->progress_ += k;
      return k;
    }
    if (!self->source_) return 0;
    if (remaining == 0) {
      // Exactly body_length bytes go out; a source with more is a caller's mistake.
      if (self->pending_.empty()) {
        auto more = self->source_->next();
        if (!more) return self->abort_body(std::move(more).error());
        self->pending_ = *more;
      }
      if (!self->pending_.empty())
        return self->abort_body(error(errc::size_mismatch, "request body longer than " + std::to_string(self->body_total_) + " bytes"));
      return 0;
    }
    if (self->pending_.empty()) {
      auto more = self->source_->next();
      if (!more) return self->abort_body(std::move(more).error());
      self->pending_ = *more;
      if (self->pending_.empty())
        return self->abort_body(error(errc::size_mismatch, "request body ended after " + std::to_string(self->body_sent_) +
                                                               " of " + std::to_string(self->body_total_) + " bytes"));
    }
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>({room, remaining, self->pending_.size()}));
    std::memcpy(dest, self->pending_.data(), k);
    self->pending_ = self->pending_.subspan(k);
    self->body_sent_ += k;
    self->progress_ += k;
    return k;
  }

  std::size_t abort_body(error e) {
    body_error_ = std::move(e);
    return CURL_READFUNC_ABORT;
  }

  static int on_seek(void* userp, curl_off_t offset, int origin) {
    auto* self = static_cast<curl_stream*>(userp);
    // libcurl rewinds to resend a body on a fresh connection; a stream cannot be replayed.
    if (!self->mem_body_ || origin != SEEK_SET || offset < 0 ||
        static_cast<std::uint64_t>(offset) > self->body_total_)
      return CURL_SEEKFUNC_CANTSEEK;
    self->body_sent_ = static_cast<std::uint64_t>(offset);
    return CURL_SEEKFUNC_OK;
  }

  std::shared_ptr<http_client_state> st_;
  std::string url_;
  std::string errbuf_;
  CURL* easy_ = nullptr;
  CURLM* multi_ = nullptr;
  curl_slist* slist_ = nullptr;

  long status_ = 0;
  http_headers headers_;
  bool headers_done_ = false;
  bool done_ = false;
  CURLcode result_ = CURLE_OK;
  std::optional<error> drive_error_;
  std::chrono::seconds stall_{0};
  std::uint64_t progress_ = 0;  // bytes moved either way, headers included
  bool paused_ = false;
  std::string buf_;  // received, not yet handed out
  std::string out_;  // handed out by the last next()

  const std::string* mem_body_ = nullptr;
  byte_source* source_ = nullptr;
  byte_view pending_;
  std::uint64_t body_total_ = 0;
  std::uint64_t body_sent_ = 0;
  std::optional<error> body_error_;
};

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

struct http_client::impl {
  std::shared_ptr<http_client_state> st;
};

http_client::http_client(tls_options tls, std::string user_agent) : impl_(std::make_unique<impl>()) {
  auto st = std::make_shared<http_client_state>();
  st->tls = std::move(tls);
  st->user_agent = std::move(user_agent);
  // Every request reports a libcurl that cannot be loaded; until then nothing
  // below may call into it.
  if (auto lib = load_curl(); !lib) {
    st->setup_error = std::move(lib).error();
    impl_->st = std::move(st);
    return;
  }
  st->share = curl().share_init();
  if (!st->share) {
    st->setup_error = error(errc::resource_exhausted, "libcurl: cannot create a share handle");
  } else {
    curl().share_setopt(st->share, CURLSHOPT_LOCKFUNC, &share_lock);
    curl().share_setopt(st->share, CURLSHOPT_UNLOCKFUNC, &share_unlock);
    curl().share_setopt(st->share, CURLSHOPT_USERDATA, st.get());
    curl().share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl().share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  if (!st->setup_error && !st->tls.cert_dir.empty()) {
    if (auto r = load_cert_dir(*st); !r) st->setup_error = std::move(r).error();
  }
  impl_->st = std::move(st);
}

http_client::~http_client() = default;

const tls_options& http_client::tls() const noexcept { return impl_->st->tls; }

result<std::unique_ptr<http_stream>> http_client::open(const http_request& req) {
  const auto& st = impl_->st;
  if (st->setup_error) return tl::unexpected(*st->setup_error);
  const std::string what = req.method + " " + url_for_message(req.url);
  if (req.body && req.body_source) return fail(errc::invalid_argument, what + ": both a body and a body source");
  auto first = parse_url(req.url);
  if (!first) return tl::unexpected(std::move(first).error().context(what));
  const std::string origin = first->origin();

  std::string url = req.url;
  std::string method = req.method;
  const bool has_body = req.body.has_value() || req.body_source != nullptr;
  for (int hop = 0;; ++hop) {
    auto u = parse_url(url);
    if (!u) return tl::unexpected(std::move(u).error().context(what));
    if (u->scheme == "http" && !plain_http_allowed(u->host, st->tls))
      return fail(errc::invalid_argument, what + ": plain http to " + quote(u->host) +
                                              " (only localhost without --tls-verify=false)");
    // Credentials belong to the origin they were given for: never to a redirect target.
    const std::string& authorization = u->origin() == origin ? req.authorization : std::string();
    auto s = std::make_unique<curl_stream>(st, url);
    if (auto r = s->start(method, req.headers, authorization, req); !r) {
      auto e = std::move(r).error();
      if (hop > 0) e.context("redirected to " + url_for_message(url));
      return tl::unexpected(std::move(e).context(what));
    }
    if (!req.follow_redirects || !is_redirect(s->status())) return std::unique_ptr<http_stream>(std::move(s));
    const std::string location = header_value(s->headers(), "location");
    if (location.empty()) return std::unique_ptr<http_stream>(std::move(s));
    if (has_body) return fail(errc::unsupported, what + ": redirect (" + std::to_string(s->status()) + ") of a request with a body");
    if (hop + 1 > max_redirects) return fail(errc::unsupported, what + ": more than " + std::to_string(max_redirects) + " redirects");
    auto next = resolve_url(url, location);
    if (!next) return tl::unexpected(std::move(next).error().context(what + ": redirect"));
    if (s->status() == 303 && method != "HEAD") method = "GET";
    // Read a short redirect body to the end so the connection stays reusable.
    std::size_t drained = 0;
    while (drained < (64u << 10)) {
      auto chunk = s->next();
      if (!chunk || chunk->empty()) break;
      drained += chunk->size();
    }
    s.reset();
    url = std::move(*next);
  }
}

result<http_response> http_client::send(const http_request& req, std::size_t max_body) {
  OCIPIPE_ASSIGN_OR_RETURN(auto s, open(req));
  http_response r;
  r.status = s->status();
  r.url = s->url();
  r.headers = s->headers();
  for (;;) {
    auto chunk = s->next();
    if (!chunk) return tl::unexpected(std::move(chunk).error().context(req.method + " " + url_for_message(req.url)));
    if (chunk->empty()) break;
    if (r.body.size() + chunk->size() > max_body)
      return fail(errc::resource_exhausted, req.method + " " + url_for_message(req.url) + ": response body larger than " +
                                                std::to_string(max_body) + " bytes");
    r.body.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  return r;
}

}  // namespace ocipipe::io
