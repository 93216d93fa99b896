#include "pipeline/validate_blob.h"

#include <algorithm>
#include <unordered_set>

#include "pipeline/prefetch_source.h"
#include "stages/digester.h"
#include "stages/layer_stream.h"
#include "stages/tar_header_check.h"
#include "stages/tar_path.h"
#include "stages/tar_reader.h"

namespace ocipipe::pipeline {
namespace {

// At most this many duplicate-path warnings per layer; then one count.
constexpr std::size_t max_duplicate_reports = 8;
// Layers at least this big (compressed) inflate on their own thread.
constexpr std::int64_t prefetch_min_bytes = 4 << 20;

std::string rule_for(const error& e, bool layer_stage) {
  const auto& m = e.message();
  if (layer_stage && e.code() == errc::malformed) {
    if (m.find("gzip: ") != std::string::npos || m.find("zstd: ") != std::string::npos)
      return "layer.compression";
    if (m.find("tar: ") != std::string::npos) return "layer.tar";
    if (m.find("entry \"") != std::string::npos) return "layer.tar.entry";
  }
  switch (e.code()) {
    case errc::not_found: return "blob.missing";
    case errc::size_mismatch: return "blob.size";
    case errc::digest_mismatch: return "blob.digest";
    case errc::unsafe_path: return layer_stage ? "layer.tar.path" : "blob.symlink";
    case errc::resource_exhausted: return "layer.limits";
    default: return layer_stage ? "layer.stream" : "blob.read";
  }
}

void problem(blob_job& job, const error& e, bool layer_stage, std::string entry = {}) {
  job.problems.push_back({rule_for(e, layer_stage), true, std::move(entry), e.message()});
}

// Lets tar_header_check see every byte of the tar stream libarchive parses,
// including what follows the end-of-archive marker (drained by finish()).
class header_check_tap final : public byte_source {
 public:
  header_check_tap(std::unique_ptr<byte_source> inner, tar_header_check& check)
      : inner_(std::move(inner)), check_(check) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, inner_->next());
    check_.feed(chunk);
    return chunk;
  }

 private:
  std::unique_ptr<byte_source> inner_;
  tar_header_check& check_;
};

void check_plain_blob(byte_source& blob, blob_job& job) {
  digester dg(job.desc.digest.algorithm() == digest_algorithm::sha512 ? digest_algorithm::sha512
                                                                       : digest_algorithm::sha256);
  for (;;) {
    auto chunk = blob.next();
    if (!chunk) return problem(job, chunk.error(), false);
    if (chunk->empty()) break;
    dg.update(*chunk);
    job.compressed_bytes += chunk->size();
  }
  const auto got = dg.finish();
  if (job.desc.digest.algorithm() != digest_algorithm::unregistered && !(got == job.desc.digest))
    job.problems.push_back({"blob.digest", true, {},
                            "blob digest mismatch: descriptor says " + job.desc.digest.str() + ", content is " +
                                got.str()});
}

// The entries of one layer: paths (for duplicates and the image-wide
// hardlink rule) and the entry rules unpack applies.
class entry_walker {
 public:
  explicit entry_walker(blob_job& job) : job_(job) {}

  result<void> walk(byte_source& tar_bytes) {
    tar_reader tar(tar_bytes);
    for (;;) {
      auto entry = tar.next_entry();
      if (!entry) return tl::unexpected(std::move(entry).error());
      if (!*entry) return {};
      last_ = (*entry)->path;
      auto action = classify_entry(**entry);
      if (!action) {
        problem(job_, action.error(), true, (*entry)->path);
        continue;  // one bad name does not hide the rest of the layer
      }
      if (action->kind != whiteout_kind::none || action->target.empty()) continue;
      if (!paths_.insert(action->target).second && ++duplicates_ <= max_duplicate_reports)
        job_.problems.push_back({"layer.tar.duplicate", false, (*entry)->path,
                                 "path " + quote(action->target) +
                                     " appears more than once in the layer; the last one wins"});
      if ((*entry)->type == entry_type::hardlink && !paths_.contains((*entry)->link_target))
        job_.open_hardlinks.emplace_back((*entry)->path, (*entry)->link_target);
    }
  }

  void done() {
    if (duplicates_ > max_duplicate_reports)
      job_.problems.push_back({"layer.tar.duplicate", false, {},
                               "and " + std::to_string(duplicates_ - max_duplicate_reports) +
                                   " more duplicate paths in the layer"});
    job_.path_hashes.reserve(paths_.size());
    for (const auto& p : paths_) job_.path_hashes.push_back(path_hash(p));
    std::sort(job_.path_hashes.begin(), job_.path_hashes.end());
  }

  [[nodiscard]] const std::string& last_entry() const noexcept { return last_; }

 private:
  blob_job& job_;
  std::unordered_set<std::string> paths_;
  std::size_t duplicates_ = 0;
  std::string last_;
};

}  // namespace

std::uint64_t path_hash(std::string_view cleaned) noexcept {
  // FNV-1a: stable, and collisions only ever hide a finding, never invent one.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : cleaned) h = (h ^ c) * 1099511628211ull;
  return h;
}

void check_blob(const io::image_layout& store, blob_job& job) {
  auto blob = store.open_blob(job.desc);
  if (!blob) return problem(job, blob.error(), false);
  if (!job.is_layer) return check_plain_blob(**blob, job);

  tar_header_check headers;
  // A big layer inflates (and digests its compressed bytes) on a thread of its
  // own, so one large layer still uses two cores, as `igzip -dc | openssl` does.
  const bool overlap = job.desc.size >= prefetch_min_bytes;
  auto stream = layer_stream::open(**blob, job.desc, {}, job.diff_id_algorithm,
                                   [&](std::unique_ptr<byte_source> inner) -> std::unique_ptr<byte_source> {
                                     if (overlap) inner = std::make_unique<prefetch_source>(std::move(inner));
                                     return std::make_unique<header_check_tap>(std::move(inner), headers);
                                   });
  if (!stream) return problem(job, stream.error(), true);
  entry_walker entries(job);
  auto walked = entries.walk(**stream);
  entries.done();
  if (!walked) {
    problem(job, walked.error(), true, entries.last_entry());
    // A damaged header stops libarchive; the light check says which and why.
    for (auto& p : headers.finish())
      if (p.rule == "layer.tar.checksum")
        job.problems.push_back({std::move(p.rule), p.error, std::move(p.entry),
                                std::move(p.message) + " (tar offset " + std::to_string(p.offset) + ")"});
    if (walked.error().code() == errc::size_mismatch || walked.error().code() == errc::io) return;
    // The stream broke: the compressed digest can still be checked.
    if (auto d = (*stream)->finish_compressed_only()) {
      job.compressed_bytes = d->compressed_bytes;
      if (auto r = check_layer_digests(*d, job.desc, nullptr); !r) problem(job, r.error(), true);
    } else {
      problem(job, d.error(), true);
    }
    return;
  }
  auto d = (*stream)->finish();
  if (!d) return problem(job, d.error(), true);
  // libarchive reads what it parses; these are the checks it does not expose.
  for (auto& p : headers.finish())
    job.problems.push_back({std::move(p.rule), p.error, std::move(p.entry),
                            std::move(p.message) + " (tar offset " + std::to_string(p.offset) + ")"});
  job.compressed_bytes = d->compressed_bytes;
  job.tar_bytes = d->tar_bytes;
  job.diff_id = d->diff_id;
  if (auto r = check_layer_digests(*d, job.desc, nullptr); !r) {
    if (job.digest_is_diff_id)
      job.problems.push_back({"layer.diff_id", true, {},
                              "diff_id mismatch: the image config says " + job.desc.digest.str() +
                                  ", the uncompressed content is " + d->diff_id.str()});
    else
      problem(job, r.error(), true);
  }
}

}  // namespace ocipipe::pipeline
