#include "pipeline/validate_blob.h"

#include <algorithm>
#include <unordered_map>

#include "pipeline/counting_source.h"
#include "pipeline/header_check_tap.h"
#include "pipeline/layer_threads.h"
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

std::string rule_for(const error& e, bool layer_stage) {
  const auto& m = e.message();
  if (layer_stage && e.code() == errc::malformed) {
    if (m.find("gzip: ") != std::string::npos || m.find("zstd: ") != std::string::npos)
      return "layer.compression";
    if (m.find("tar: ") != std::string::npos) return "layer.tar";
    if (m.find("entry \"") != std::string::npos) return "layer.tar.entry";
  }
  // Whiteout names (tar_path's classify_whiteout): layer.md "Whiteouts".
  if (layer_stage && e.code() == errc::unsafe_path && m.find("whiteout") != std::string::npos)
    return "layer.tar.entry";
  switch (e.code()) {
    case errc::not_found: return "blob.missing";
    case errc::size_mismatch: return "blob.size";
    case errc::digest_mismatch: return "blob.digest";
    case errc::unsafe_path: return layer_stage ? "layer.tar.path" : "blob.symlink";
    case errc::resource_exhausted: return layer_stage ? "layer.limits" : "blob.read";
    default: return layer_stage ? "layer.stream" : "blob.read";
  }
}

void problem(blob_job& job, const error& e, bool layer_stage, std::string entry = {}) {
  // The finding names the entry in its location; say it once.
  std::string message = e.message();
  if (!entry.empty())
    for (const std::string prefix = "entry " + quote(entry) + ": "; message.starts_with(prefix);)
      message.erase(0, prefix.size());
  job.problems.push_back({rule_for(e, layer_stage), true, std::move(entry), std::move(message)});
}

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
      const std::string raw_link = (*entry)->type == entry_type::hardlink ? (*entry)->link_target : std::string();
      auto action = classify_entry(**entry);
      if (!action) {
        problem(job_, action.error(), true, (*entry)->path);
        continue;  // one bad name does not hide the rest of the layer
      }
      check_raw_names((*entry)->path, raw_link);
      if (action->kind == whiteout_kind::whiteout) job_.whiteout_hashes.push_back(path_hash(action->target));
      if (action->kind == whiteout_kind::opaque) job_.opaque_hashes.push_back(path_hash(action->target));
      if (action->kind != whiteout_kind::none || action->target.empty()) continue;
      // A hardlink's target must exist before it: look before adding itself.
      if ((*entry)->type == entry_type::hardlink) {
        const auto target = paths_.find((*entry)->link_target);
        if (target == paths_.end())
          job_.open_hardlinks.emplace_back((*entry)->path, (*entry)->link_target);
        else if (target->second == entry_type::directory)
          job_.problems.push_back({"layer.tar.hardlink", true, (*entry)->path,
                                   "hardlink to " + quote(target->first) + ", a directory; only files can be linked"});
      }
      const auto [slot, fresh] = paths_.insert_or_assign(action->target, (*entry)->type);
      if (!fresh && ++duplicates_ <= max_duplicate_reports)
        job_.problems.push_back({"layer.tar.duplicate", false, (*entry)->path,
                                 "path " + quote(action->target) +
                                     " appears more than once in the layer; the last one wins"});
    }
  }

  void done() {
    if (duplicates_ > max_duplicate_reports)
      job_.problems.push_back({"layer.tar.duplicate", false, {},
                               "and " + std::to_string(duplicates_ - max_duplicate_reports) +
                                   " more duplicate paths in the layer"});
    job_.path_hashes.reserve(paths_.size());
    for (const auto& [p, type] : paths_) {
      job_.path_hashes.push_back(path_hash(p));
      if (type == entry_type::directory) job_.dir_hashes.push_back(path_hash(p));
      if (type == entry_type::symlink) job_.symlink_hashes.push_back(path_hash(p));
    }
    for (auto* v : {&job_.path_hashes, &job_.dir_hashes, &job_.symlink_hashes}) std::sort(v->begin(), v->end());
    std::sort(job_.whiteout_hashes.begin(), job_.whiteout_hashes.end());
    std::sort(job_.opaque_hashes.begin(), job_.opaque_hashes.end());
  }

  [[nodiscard]] const std::string& last_entry() const noexcept { return last_; }

 private:
  // Unpack cleans "/etc/x" and "a/../b" into the rootfs, but readers differ on
  // them (and on a hardlink target written so), so a validator flags them.
  void check_raw_names(const std::string& path, const std::string& link) {
    auto dotdot = [](std::string_view p) {
      for (std::size_t i = 0; i <= p.size();) {
        auto j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        if (p.substr(i, j - i) == "..") return true;
        i = j + 1;
      }
      return false;
    };
    for (std::string_view name : {std::string_view(path), std::string_view(link)}) {
      if (name.starts_with('/'))
        job_.problems.push_back(
            {"layer.tar.path", true, path, "path " + quote(name) + " is absolute; layer paths are relative to the rootfs"});
      else if (dotdot(name))
        job_.problems.push_back({"layer.tar.path", true, path, "path " + quote(name) + " has a \"..\" component"});
    }
  }

  blob_job& job_;
  std::unordered_map<std::string, entry_type> paths_;  // the last entry of each path
  std::size_t duplicates_ = 0;
  std::string last_;
};

void add_header_problem(blob_job& job, tar_header_problem p) {
  job.problems.push_back({std::move(p.rule), p.error, std::move(p.entry),
                          std::move(p.message) + " (tar offset " + std::to_string(p.offset) + ")"});
}

// `s`, its bytes added to `meter` as they are read (when there is one).
std::unique_ptr<byte_source> metered(std::unique_ptr<byte_source> s, progress_meter* meter) {
  if (!meter || !meter->enabled()) return s;
  return std::make_unique<counting_source>(std::move(s), [meter](std::size_t n) { meter->add(n); });
}

// The layer checks, reading the blob as `desc` says (its media type may be
// corrected from job.desc's, B42).
void check_layer(const io::image_layout& store, blob_job& job, const descriptor& desc, progress_meter* meter,
                 const layer_threading& threading) {
  auto blob = store.open_blob(desc);
  if (!blob) return problem(job, blob.error(), false);
  *blob = metered(std::move(*blob), meter);
  tar_header_check headers;
  auto tap = [&](std::unique_ptr<byte_source> inner) -> std::unique_ptr<byte_source> {
    return std::make_unique<header_check_tap>(std::move(inner), headers);
  };
  auto stream = layer_stream::open(**blob, desc, {}, job.diff_id_algorithm, layer_stream_hooks(desc, threading, tap));
  if (!stream) return problem(job, stream.error(), true);
  // After a decode error: the rest of the blob is still read, so that bytes
  // that are not the image's say so (blob.digest) whatever stopped decoding.
  const auto check_compressed_only = [&](const error& e) {
    if (e.code() == errc::size_mismatch || e.code() == errc::io) return;
    if (auto d = (*stream)->finish_compressed_only()) {
      job.compressed_bytes = d->compressed_bytes;
      if (auto r = check_layer_digests(*d, desc, nullptr); !r) problem(job, r.error(), true);
    } else {
      problem(job, d.error(), true);
    }
  };
  entry_walker entries(job);
  auto walked = entries.walk(**stream);
  entries.done();
  if (!walked) {
    // A damaged header stops libarchive with a vague message about the entry
    // before it; the light check says which header and why.
    bool named = false;
    for (auto& p : headers.finish())
      if (p.rule == "layer.tar.checksum") {
        named = true;
        add_header_problem(job, std::move(p));
      }
    // Reading or size errors are about the blob, not the entry libarchive was at.
    const auto code = walked.error().code();
    const bool about_entry = code == errc::malformed || code == errc::unsafe_path;
    if (!named) problem(job, walked.error(), true, about_entry ? entries.last_entry() : std::string());
    return check_compressed_only(walked.error());
  }
  // Past the tar's end: a bad gzip trailer, or bytes after the stream.
  auto d = (*stream)->finish();
  if (!d) {
    problem(job, d.error(), true);
    return check_compressed_only(d.error());
  }
  // libarchive reads what it parses; these are the checks it does not expose.
  for (auto& p : headers.finish()) add_header_problem(job, std::move(p));
  job.compressed_bytes = d->compressed_bytes;
  job.tar_bytes = d->tar_bytes;
  job.diff_id = d->diff_id;
  if (auto r = check_layer_digests(*d, desc, nullptr); !r) {
    if (job.digest_is_diff_id)
      job.problems.push_back({"layer.diff_id", true, {},
                              "diff_id mismatch: the image config says " + desc.digest.str() +
                                  ", the uncompressed content is " + d->diff_id.str()});
    else
      problem(job, r.error(), true);
  }
}


// What the blob's first bytes say it is, when that is not what `desc` says.
std::optional<media_type::layer_compression> mislabelled(const io::image_layout& store, const descriptor& desc) {
  auto blob = store.open_blob(desc);
  if (!blob) return std::nullopt;
  auto head = (*blob)->next();
  if (!head) return std::nullopt;
  const auto sniffed = sniff_compression(*head);
  if (sniffed == media_type::layer_compression::unknown || sniffed == media_type::compression_of(desc.media_type))
    return std::nullopt;
  return sniffed;
}

std::string_view oci_layer_type(media_type::layer_compression c) {
  switch (c) {
    case media_type::layer_compression::gzip: return media_type::layer_tar_gzip;
    case media_type::layer_compression::zstd: return media_type::layer_tar_zstd;
    default: return media_type::layer_tar;
  }
}

}  // namespace

std::string blob_rule(const error& e) { return rule_for(e, false); }

std::uint64_t path_hash(std::string_view cleaned) noexcept {
  // FNV-1a: stable, and collisions only ever hide a finding, never invent one.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : cleaned) h = (h ^ c) * 1099511628211ull;
  return h;
}

void check_blob(const io::image_layout& store, blob_job& job, progress_meter* meter, const layer_threading& threading) {
  if (!job.is_layer) {
    auto blob = store.open_blob(job.desc);
    if (!blob) return problem(job, blob.error(), false);
    *blob = metered(std::move(*blob), meter);
    return check_plain_blob(**blob, job);
  }
  check_layer(store, job, job.desc, meter, threading);
  const auto has = [&](std::string_view rule) {
    return std::any_of(job.problems.begin(), job.problems.end(), [&](const blob_problem& p) { return p.rule == rule; });
  };
  // descriptor.md "Verification": bytes that are not the image's say nothing
  // about it; what parsing them found is noise beside the digest mismatch.
  if (has("blob.digest"))
    std::erase_if(job.problems, [](const blob_problem& p) { return p.rule != "blob.digest" && p.rule != "blob.size"; });
  if (!has("layer.compression")) return;
  // B42: the media type names another compression than the bytes have. Say
  // so, and still check the layer as what it is, diff_id included.
  const auto actual = mislabelled(store, job.desc);
  if (!actual) return;
  blob_job again;
  again.desc = job.desc;
  again.is_layer = true;
  again.digest_is_diff_id = job.digest_is_diff_id;
  again.diff_id_algorithm = job.diff_id_algorithm;
  descriptor as_is = job.desc;
  as_is.media_type = std::string(oci_layer_type(*actual));
  check_layer(store, again, as_is, nullptr, threading);
  again.problems.insert(again.problems.begin(),
                        {"layer.compression", true, {},
                         "media type " + quote(job.desc.media_type) + " does not match the blob, which is " +
                             (*actual == media_type::layer_compression::none ? std::string("an uncompressed tar")
                                                                              : std::string(*actual == media_type::layer_compression::gzip ? "gzip" : "zstd") +
                                                                                    "-compressed") +
                             "; checked as " + quote(as_is.media_type)});
  job = std::move(again);
}

}  // namespace ocipipe::pipeline
