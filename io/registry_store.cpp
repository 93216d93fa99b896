// remote_store over a registry repository and over an image layout served as
// static files. Manifests and image indexes live at a registry's manifests
// endpoint, everything else at its blobs endpoint; a static layout has one
// path per blob (image-layout.md "blobs"), so only Range resumption and
// retries are needed there.
#include "io/registry_store.h"

#include <chrono>
#include <thread>

#include "io/blob_reader.h"
#include "io/resumable_download.h"
#include "stages/oci/media_type.h"

namespace ocipipe::io {
namespace {

// A whole document handed out as a stream (manifests are read whole: at
// most 4 MiB, and their digest is the caller's to check over all of it).
class owned_source final : public byte_source {
 public:
  owned_source(std::string bytes, std::uint64_t offset) : bytes_(std::move(bytes)) {
    pos_ = static_cast<std::size_t>(std::min<std::uint64_t>(offset, bytes_.size()));
  }
  result<byte_view> next() override {
    const auto n = std::min<std::size_t>(1 << 20, bytes_.size() - pos_);
    byte_view out(reinterpret_cast<const std::byte*>(bytes_.data()) + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string bytes_;
  std::size_t pos_ = 0;
};

// Documents a registry serves from /manifests/ rather than /blobs/.
bool served_as_manifest(std::string_view mt) {
  return media_type::is_image_index(mt) || media_type::is_image_manifest(mt) ||
         mt == "application/vnd.oci.artifact.manifest.v1+json";
}

result<void> check_bounds(const descriptor& d, std::size_t max_bytes) {
  if (d.size < 0) return fail(errc::malformed, "blob " + d.digest.str() + ": negative size");
  if (static_cast<std::uint64_t>(d.size) > max_bytes)
    return fail(errc::resource_exhausted,
                "blob " + d.digest.str() + ": size " + std::to_string(d.size) + " bytes over the limit of " +
                    std::to_string(max_bytes) + " bytes");
  return {};
}

bool retryable_status(long status) { return status == 429 || (status >= 500 && status <= 599); }

std::string status_text(long status) { return "HTTP " + std::to_string(status); }

}  // namespace

// ---- registry_store ------------------------------------------------------

registry_store::registry_store(std::shared_ptr<registry_client> client, std::string repository)
    : client_(std::move(client)), repository_(std::move(repository)) {
  where_ = "docker://" + client_->host() + "/" + repository_;
}

const std::string& registry_store::where() const { return where_; }

result<std::string> registry_store::read_file(const std::string& name, std::size_t) const {
  return fail(errc::unsupported, where_ + ": a registry has no file " + quote(name) + " (it is not an image layout)");
}

result<descriptor> registry_store::resolve_root(const std::string& tag_or_digest) const {
  auto m = client_->get_manifest(repository_, tag_or_digest);
  // A digest follows '@' in a reference, a tag ':' (tags hold no ':').
  const char sep = tag_or_digest.find(':') == std::string::npos ? ':' : '@';
  if (!m) return tl::unexpected(std::move(m).error().context(where_ + sep + tag_or_digest));
  std::lock_guard lock(mu_);
  documents_[m->desc.digest.str()] = std::move(m->bytes);
  return m->desc;
}

result<std::string> registry_store::read_blob(const descriptor& d, std::size_t max_bytes) const {
  OCIPIPE_TRY(check_bounds(d, max_bytes));
  if (!served_as_manifest(d.media_type)) return client_->read_blob(repository_, d, max_bytes);
  {
    std::lock_guard lock(mu_);
    if (auto it = documents_.find(d.digest.str()); it != documents_.end()) {
      if (it->second.size() != static_cast<std::uint64_t>(d.size))
        return fail(errc::size_mismatch, "manifest " + d.digest.str() + ": " + std::to_string(it->second.size()) +
                                             " bytes, descriptor says " + std::to_string(d.size));
      return it->second;
    }
  }
  auto m = client_->get_manifest(repository_, d.digest.str());
  if (!m) return tl::unexpected(std::move(m).error());
  if (m->bytes.size() != static_cast<std::uint64_t>(d.size))
    return fail(errc::size_mismatch, "manifest " + d.digest.str() + ": " + std::to_string(m->bytes.size()) +
                                         " bytes, descriptor says " + std::to_string(d.size));
  return std::move(m->bytes);
}

result<std::unique_ptr<byte_source>> registry_store::open_blob(const descriptor& d, std::uint64_t offset) const {
  OCIPIPE_TRY(check_bounds(d, UINT64_MAX));
  if (!served_as_manifest(d.media_type)) return client_->open_blob(repository_, d, offset);
  OCIPIPE_ASSIGN_OR_RETURN(auto bytes, read_blob(d, 4u << 20));
  return std::unique_ptr<byte_source>(std::make_unique<owned_source>(std::move(bytes), offset));
}

// ---- http_layout_store ---------------------------------------------------

http_layout_store::http_layout_store(std::shared_ptr<http_client> http, std::string base_url, int attempts)
    : http_(std::move(http)), base_(std::move(base_url)), attempts_(std::max(1, attempts)) {
  while (base_.size() > 1 && base_.back() == '/') base_.pop_back();
}

const std::string& http_layout_store::where() const { return base_; }

result<std::string> http_layout_store::read_file(const std::string& name, std::size_t max_bytes) const {
  http_request req;
  req.url = base_ + "/" + name;
  const std::string what = quote(req.url);
  // The same backoff as registry requests: 0.25 s, 0.5 s, 1 s, ...
  for (int attempt = 1;; ++attempt) {
    auto r = http_->send(req, max_bytes);
    std::optional<error> retry;
    if (!r) {
      // http_client's errors name the request already ("GET URL: …").
      if (r.error().code() != errc::unavailable) return tl::unexpected(std::move(r).error());
      retry = std::move(r).error();
    } else if (r->status == 200) {
      return std::move(r->body);
    } else if (r->status == 404 || r->status == 410) {
      return fail(errc::not_found, "GET " + what + ": " + status_text(r->status), ENOENT);
    } else if (r->status == 401 || r->status == 403) {
      return fail(errc::permission_denied, "GET " + what + ": " + status_text(r->status));
    } else if (retryable_status(r->status)) {
      retry = error(errc::unavailable, "GET " + what + ": " + status_text(r->status));
    } else {
      return fail(errc::malformed, "GET " + what + ": unexpected " + status_text(r->status));
    }
    if (attempt >= attempts_)
      return tl::unexpected(std::move(*retry).context("gave up after " + std::to_string(attempt) + " attempts"));
    std::this_thread::sleep_for(std::chrono::duration<double>(0.25 * (1 << std::min(attempt - 1, 7))));
  }
}

result<descriptor> http_layout_store::resolve_root(const std::string&) const {
  return fail(errc::unsupported, base_ + ": an image layout's roots are in its index.json");
}

result<std::string> http_layout_store::read_blob(const descriptor& d, std::size_t max_bytes) const {
  OCIPIPE_TRY(check_bounds(d, max_bytes));
  OCIPIPE_ASSIGN_OR_RETURN(auto src, open_blob(d, 0));
  return read_whole(*src, static_cast<std::size_t>(d.size));
}

result<std::unique_ptr<byte_source>> http_layout_store::open_blob(const descriptor& d, std::uint64_t offset) const {
  OCIPIPE_TRY(check_bounds(d, UINT64_MAX));
  // digest::parse admits neither '/' nor "..": blob_path() stays under blobs/.
  const std::string url = base_ + "/" + d.digest.blob_path();
  auto http = http_;
  ranged_opener open_at = [http, url](std::uint64_t from) -> result<std::unique_ptr<http_stream>> {
    http_request req;
    req.url = url;
    if (from > 0) req.headers.push_back("Range: bytes=" + std::to_string(from) + "-");
    OCIPIPE_ASSIGN_OR_RETURN(auto s, http->open(req));
    const long status = s->status();
    if (status == 200 || status == 206) return s;
    const std::string what = "GET " + quote(url) + ": " + status_text(status);
    if (status == 404 || status == 410) return fail(errc::not_found, what, ENOENT);
    if (status == 401 || status == 403) return fail(errc::permission_denied, what);
    if (retryable_status(status)) return fail(errc::unavailable, what);
    return fail(errc::malformed, what + " (want 200 or 206)");
  };
  return open_resumable(std::move(open_at), static_cast<std::uint64_t>(d.size), offset, attempts_, 0.25,
                        "blob " + d.digest.str());
}

}  // namespace ocipipe::io
