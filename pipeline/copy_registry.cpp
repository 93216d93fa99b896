// copy's docker:// destination (push): the blobs first, in parallel, each
// HEADed (skipped when the repository has it), mounted from SRC's repository
// when that is on the same registry, or uploaded, digested while it streams:
// in one PUT when small, else in PATCH chunks whose upload session is
// recorded after each chunk (pipeline/upload_state.h) so a restarted push
// goes on from the registry's offset. Then the documents, children first,
// the root last under DST's tag (or its digest), their bytes unchanged.

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "pipeline/blob_copy.h"
#include "pipeline/copy_plan.h"
#include "pipeline/remote.h"
#include "pipeline/upload_state.h"
#include "pipeline/verified_blob.h"
#include "stages/digester.h"

namespace ocipipe::pipeline {
namespace {

// Distribution-spec's limit on what a registry must accept as a manifest.
constexpr std::size_t max_document_bytes = 4u << 20;

// One blob's bytes on their way to the registry: bounded by the descriptor's
// size, digested, counted into the progress meter, and checked when the last
// byte is pulled, before it is handed on, so a blob whose bytes are not what
// the descriptor names never gets its closing PUT. A resumed upload starts
// with skip(): the bytes the registry holds are read and digested here but
// not handed on. Stops with `cancelled` between chunks once the run is.
class checked_source final : public byte_source {
 public:
  checked_source(std::unique_ptr<byte_source> inner, const descriptor& d, const copy_run& run, progress_meter& meter)
      : inner_(std::move(inner)), d_(d), run_(run), meter_(meter), hash_(d.digest.algorithm()) {}

  result<void> skip(std::uint64_t n) {
    std::uint64_t skipped = 0;
    while (skipped < n) {
      OCIPIPE_ASSIGN_OR_RETURN(auto chunk, pull());
      if (chunk.empty()) return {};  // unreachable: pull() fails a short blob
      const auto take = std::min<std::uint64_t>(chunk.size(), n - skipped);
      skipped += take;
      if (take < chunk.size()) pending_ = chunk.subspan(take);
    }
    return {};
  }

  result<byte_view> next() override {
    if (auto c = run_.check_cancel(); !c) return tl::unexpected(std::move(c).error());
    if (!pending_.empty()) return std::exchange(pending_, byte_view{});
    if (verified_) return byte_view{};
    if (d_.size == 0) {
      OCIPIPE_TRY(finish());
      return byte_view{};
    }
    return pull();
  }

  /// Whether every byte passed and matched the descriptor.
  [[nodiscard]] bool verified() const noexcept { return verified_; }

 private:
  result<byte_view> pull() {
    auto chunk = inner_->next();
    if (!chunk) return chunk;
    const auto size = static_cast<std::uint64_t>(d_.size);
    if (chunk->empty()) {
      if (seen_ < size)
        return fail(errc::size_mismatch, "size mismatch: content ends after " + std::to_string(seen_) +
                                              " bytes, descriptor says " + std::to_string(size));
      return chunk;
    }
    seen_ += chunk->size();
    if (seen_ > size)
      return fail(errc::size_mismatch, "size mismatch: content is longer than the descriptor's " +
                                           std::to_string(size) + " bytes");
    hash_.update(*chunk);
    meter_.add(chunk->size());
    if (seen_ == size) OCIPIPE_TRY(finish());
    return chunk;
  }

  result<void> finish() {
    const auto got = hash_.finish();
    if (!(got == d_.digest)) return fail(errc::digest_mismatch, "digest mismatch: content is " + got.str());
    verified_ = true;
    return {};
  }

  std::unique_ptr<byte_source> inner_;
  const descriptor& d_;
  const copy_run& run_;
  progress_meter& meter_;
  digester hash_;
  std::uint64_t seen_ = 0;
  byte_view pending_;
  bool verified_ = false;
};

// Errors after which an upload session is still worth resuming: the network,
// the run being stopped, credentials (fixed by the user between runs). After
// any other (the registry refused the bytes, the source is damaged) a
// restarted push must start the blob over.
bool keeps_session(errc code) {
  return code == errc::unavailable || code == errc::cancelled || code == errc::unauthenticated ||
         code == errc::permission_denied;
}

void backoff(int attempt) {
  const double seconds = std::min(30.0, 0.25 * static_cast<double>(1 << std::min(attempt - 1, 7)));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

enum class blob_outcome { present, mounted, uploaded };

struct pushed_blob {
  blob_outcome outcome = blob_outcome::uploaded;
  std::uint64_t resumed = 0;  ///< bytes the registry held from an earlier try or run
};

// Where the blobs go and how they are read.
class blob_pusher {
 public:
  blob_pusher(copy_source& src, io::registry_client& client, registry_repository dst,
              std::optional<std::string> mount_from, copy_run& run)
      : src_(src), client_(client), dst_(std::move(dst)), mount_from_(std::move(mount_from)), run_(run),
        state_(run.opts.upload_state_dir) {}

  result<pushed_blob> push(const copy_item& item) {
    const auto& d = item.desc;
    if (d.digest.algorithm() == digest_algorithm::unregistered)
      return fail(errc::unsupported, "digest algorithm " + quote(d.digest.algorithm_name()) + " cannot be verified");
    if (d.size < 0) return fail(errc::malformed, "negative size " + std::to_string(d.size));
    const auto size = static_cast<std::uint64_t>(d.size);

    OCIPIPE_ASSIGN_OR_RETURN(auto have, client_.head_blob(dst_.repository, d.digest));
    if (have) {
      // Content-addressed: another length means a damaged copy there.
      if (*have != size)
        return fail(errc::size_mismatch, "the registry holds it with " + std::to_string(*have) + " bytes, not " +
                                             std::to_string(size));
      state_.remove(dst_.host, dst_.repository, d);
      if (!item.bytes) run_.meter.add(size);
      return pushed_blob{blob_outcome::present, 0};
    }
    if (mount_from_) {
      // A refused mount is no failure: the registry may not share blobs
      // between these repositories, or the user may not read the other one.
      auto mounted = client_.mount_blob(dst_.repository, d.digest, *mount_from_);
      if (mounted && *mounted) {
        state_.remove(dst_.host, dst_.repository, d);
        if (!item.bytes) run_.meter.add(size);
        return pushed_blob{blob_outcome::mounted, 0};
      }
    }
    return upload(item);
  }

 private:
  result<std::unique_ptr<byte_source>> open(const copy_item& item) const {
    if (item.bytes)
      return std::unique_ptr<byte_source>(
          std::make_unique<memory_source>(std::as_bytes(std::span(item.bytes->data(), item.bytes->size()))));
    return src_.store.open_blob(item.desc);
  }

  // The session a previous run recorded, when the registry still has it.
  std::optional<io::upload_session> recorded_session(const descriptor& d) {
    auto rec = state_.load(dst_.host, dst_.repository, d);
    if (!rec) return std::nullopt;
    // Only a session of this registry's own origin is followed: the file
    // must not be able to send our credentials anywhere else.
    if (rec->location.rfind(client_.base_url() + "/", 0) != 0) {
      state_.remove(dst_.host, dst_.repository, d);
      return std::nullopt;
    }
    auto status = client_.upload_status(dst_.repository, rec->location);
    if (!status && status.error().code() == errc::unavailable) return std::nullopt;  // kept for a later run
    // Gone, refused (docker-registry cancels an upload asked about with an
    // older session URL than its last answer), or impossible: start over.
    if (!status || !*status || (*status)->offset > static_cast<std::uint64_t>(d.size)) {
      state_.remove(dst_.host, dst_.repository, d);
      return std::nullopt;
    }
    return **status;
  }

  // Uploads one blob, retrying network failures: a chunked upload goes on
  // from the offset the registry reports, a monolithic one starts over.
  result<pushed_blob> upload(const copy_item& item) {
    const auto& d = item.desc;
    const auto size = static_cast<std::uint64_t>(d.size);
    const auto chunk = run_.opts.chunk_bytes;
    const bool chunked = chunk > 0 && size > chunk;
    const int attempts = std::max(1, run_.opts.destination_remote.attempts);
    std::optional<io::upload_session> session;
    if (chunked) session = recorded_session(d);
    for (int attempt = 1;; ++attempt) {
      OCIPIPE_TRY(run_.check_cancel());
      OCIPIPE_ASSIGN_OR_RETURN(auto inner, open(item));
      checked_source in(std::move(inner), d, run_, run_.meter);
      const std::uint64_t from = session ? session->offset : 0;
      io::upload_options uo;
      if (chunked) {
        uo.chunk_bytes = chunk;
        uo.resume = session;
        uo.on_chunk = [&](const io::upload_session& s) {
          session = s;
          // Not recording it only costs the resumption, never the push.
          (void)state_.save(dst_.host, dst_.repository, d, s);
        };
      }
      auto ok = in.skip(from);
      if (ok) ok = client_.upload_blob(dst_.repository, d, in, uo);
      if (ok && !in.verified())
        ok = fail(errc::internal, "the upload ended before the whole blob was read");
      if (ok) {
        state_.remove(dst_.host, dst_.repository, d);
        return pushed_blob{blob_outcome::uploaded, from};
      }
      auto e = std::move(ok).error();
      if (e.code() != errc::unavailable || attempt >= attempts) {
        if (!keeps_session(e.code())) state_.remove(dst_.host, dst_.repository, d);
        return tl::unexpected(std::move(e));
      }
      backoff(attempt);
      if (session) {
        auto status = client_.upload_status(dst_.repository, session->location);
        if (status && *status && (*status)->offset <= size) {
          session = **status;
        } else if (status || status.error().code() != errc::unavailable) {  // gone or refused: start over
          session.reset();
          state_.remove(dst_.host, dst_.repository, d);
        }  // else the registry is still unreachable: try the session as it was
      }
    }
  }

  copy_source& src_;
  io::registry_client& client_;
  registry_repository dst_;
  std::optional<std::string> mount_from_;
  copy_run& run_;
  upload_state state_;
};

// The blobs that are not documents (for_each_leaf).
result<void> push_leaves(copy_source& src, blob_pusher& pusher, copy_run& run) {
  std::mutex count_mu;
  return for_each_leaf(src, run, [&](const copy_item& item) -> result<void> {
    auto pushed = pusher.push(item);
    if (!pushed) return tl::unexpected(in_blob_context(std::move(pushed).error(), item.desc.digest));
    std::lock_guard lock(count_mu);
    auto& r = run.report;
    switch (pushed->outcome) {
      case blob_outcome::present: ++r.blobs_skipped; break;
      case blob_outcome::mounted: ++r.blobs_mounted; break;
      case blob_outcome::uploaded:
        ++r.blobs_copied;
        r.bytes_copied += static_cast<std::uint64_t>(item.desc.size) - pushed->resumed;
        r.bytes_resumed += pushed->resumed;
        break;
    }
    return {};
  });
}

// Manifests and image indexes, in plan order (children before the index
// naming them), each by digest, the root last by DST's tag or digest. A
// document the repository has already is not sent again, except the root
// under a tag: the tag may name something else now.
result<void> push_documents(copy_source& src, io::registry_client& client, const registry_repository& dst_repo,
                            const image_reference& dst, copy_run& run) {
  for (const auto& item : src.items) {
    if (!item.document) continue;
    OCIPIPE_TRY(run.check_cancel());
    const auto& d = item.desc;
    auto in_doc = [&d](error e) { return tl::unexpected(std::move(e).context("manifest " + d.digest.str())); };
    std::string read;
    if (!item.bytes) {
      auto bytes = read_verified_blob(src.store, d, max_document_bytes);
      if (!bytes) return in_doc(std::move(bytes).error());
      run.meter.add(bytes->size());
      read = std::move(*bytes);
    }
    const std::string& bytes = item.bytes ? *item.bytes : read;
    const bool root = d.digest == src.root.digest;
    const std::string reference = root && !dst.manifest_digest && !dst.tag.empty() ? dst.tag : d.digest.str();
    auto have = client.head_manifest(dst_repo.repository, d.digest.str());
    if (!have) return in_doc(std::move(have).error());
    const bool had = have->has_value();
    if (!had || reference != d.digest.str()) {
      auto put = client.put_manifest(dst_repo.repository, reference, bytes, d.media_type);
      if (!put) return in_doc(std::move(put).error());
      if (!(*put == d.digest))
        return in_doc(error(errc::digest_mismatch, "the registry stored it as " + put->str()));
    }
    if (had) {
      ++run.report.blobs_skipped;
    } else {
      ++run.report.blobs_copied;
      run.report.bytes_copied += bytes.size();
    }
  }
  return {};
}

}  // namespace

result<void> write_registry(copy_source& src, const image_reference& dst, copy_run& run) {
  OCIPIPE_ASSIGN_OR_RETURN(auto dst_repo, parse_registry_path(dst.path));
  if (dst.manifest_digest && !(*dst.manifest_digest == src.root.digest))
    return fail(errc::invalid_argument, "destination names " + dst.manifest_digest->str() + " but the image is " +
                                            src.root.digest.str());
  // A source repository on the same registry lends its blobs by mount
  // (distribution-spec "Mounting a blob from another repository").
  std::optional<std::string> mount_from;
  if (run.report.source.kind == transport::docker) {
    auto src_repo = parse_registry_path(run.report.source.path);
    if (src_repo && src_repo->host == dst_repo.host && src_repo->repository != dst_repo.repository)
      mount_from = src_repo->repository;
  }
  remote_session session(run.opts.destination_remote);
  OCIPIPE_ASSIGN_OR_RETURN(auto client, session.client(dst_repo.host));
  blob_pusher pusher(src, *client, dst_repo, std::move(mount_from), run);
  OCIPIPE_TRY(push_leaves(src, pusher, run));
  OCIPIPE_TRY(push_documents(src, *client, dst_repo, dst, run));
  run.report.manifest = index_entry(src.root, "");
  run.report.tag = dst.manifest_digest ? "" : dst.tag;
  return {};
}

}  // namespace ocipipe::pipeline
