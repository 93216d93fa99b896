#include "pipeline/layer_decode.h"

#include <algorithm>
#include <cstring>

#include "pipeline/counting_source.h"
#include "pipeline/header_check_tap.h"
#include "pipeline/layer_threads.h"
#include "stages/decompress.h"
#include "stages/oci/media_type.h"
#include "stages/tar_path.h"
#include "stages/tar_reader.h"

namespace ocipipe::pipeline {
namespace {

// Fills batches and hands them to the channel when they reach apply_batch_bytes.
// Each batch carries how far into the blob reading was when it was cut, for
// progress in bytes as stored.
class batcher {
 public:
  batcher(layer_channel& ch, const std::atomic<std::uint64_t>& blob_read)
      : ch_(ch), blob_read_(blob_read), cur_(ch.fresh_batch(apply_batch_bytes)) {}
  apply_op& add(apply_op::kind k) {
    cur_.ops.emplace_back();
    cur_.ops.back().what = k;
    return cur_.ops.back();
  }
  result<void> add_content(std::uint64_t offset, byte_view bytes) {
    while (!bytes.empty()) {
      std::size_t room = apply_batch_bytes - std::min(cur_.arena.size(), apply_batch_bytes);
      if (room == 0) {
        OCIPIPE_TRY(flush());
        room = apply_batch_bytes;
      }
      const std::size_t n = std::min(bytes.size(), room);
      auto& op = add(apply_op::kind::content);
      op.offset = offset;
      op.arena_offset = cur_.arena.size();
      op.length = n;
      cur_.arena.insert(cur_.arena.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      offset += n;
      bytes = bytes.subspan(n);
      if (cur_.arena.size() >= apply_batch_bytes) OCIPIPE_TRY(flush());
    }
    return {};
  }
  result<void> maybe_flush() {
    if (cur_.ops.size() >= 4096) return flush();
    return {};
  }
  result<void> flush() {
    if (cur_.ops.empty()) return {};
    apply_batch b = std::move(cur_);
    b.blob_bytes_read = blob_read_.load(std::memory_order_relaxed);
    cur_ = ch_.fresh_batch(apply_batch_bytes);
    if (!ch_.push(std::move(b))) return fail(errc::cancelled, "cancelled");
    return {};
  }

 private:
  layer_channel& ch_;
  const std::atomic<std::uint64_t>& blob_read_;
  apply_batch cur_;
};

// Counts a layer's uncompressed bytes into the image's total, shared by all
// decoders, and stops the layer that takes it past the limit.
class image_budget final : public byte_source {
 public:
  image_budget(std::unique_ptr<byte_source> inner, std::atomic<std::uint64_t>& total, std::uint64_t max)
      : inner_(std::move(inner)), total_(total), max_(max) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, inner_->next());
    if (total_.fetch_add(chunk.size()) + chunk.size() > max_)
      return fail(errc::resource_exhausted, "the image's layers exceed " + std::to_string(max_) +
                                                " uncompressed bytes (--max-image-bytes)");
    return chunk;
  }

 private:
  std::unique_ptr<byte_source> inner_;
  std::atomic<std::uint64_t>& total_;
  std::uint64_t max_;
};

std::size_t depth_of(std::string_view cleaned) {
  return cleaned.empty() ? 0 : 1 + static_cast<std::size_t>(std::count(cleaned.begin(), cleaned.end(), '/'));
}

result<layer_digests> decode_stream(layer_stream& stream, const descriptor& layer,
                                    const digest* diff_id, const decode_limits& limits, layer_channel& out,
                                    decode_stats& stats, const std::atomic<std::uint64_t>& blob_read) {
  tar_reader tar(stream, limits.tar);
  batcher batches(out, blob_read);
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto entry, tar.next_entry());
    if (!entry) break;
    if (++stats.entries > limits.max_entries)
      return fail(errc::resource_exhausted, "more than " + std::to_string(limits.max_entries) +
                                                " entries in the layer (--max-entries)");
    OCIPIPE_ASSIGN_OR_RETURN(auto action, classify_entry(*entry));
    if (depth_of(action.target) > limits.max_depth)
      return fail(errc::resource_exhausted, "entry " + quote(entry->path) + ": deeper than " +
                                                std::to_string(limits.max_depth) + " directories (--max-depth)");
    switch (action.kind) {
      case whiteout_kind::whiteout:
        batches.add(apply_op::kind::whiteout).path = std::move(action.target);
        break;
      case whiteout_kind::opaque:
        batches.add(apply_op::kind::opaque_whiteout).path = std::move(action.target);
        break;
      case whiteout_kind::reserved:
        break;
      case whiteout_kind::none: {
        const bool has_content = entry->type == entry_type::regular && entry->size > 0;
        const std::string raw_path = entry->path;
        auto& op = batches.add(apply_op::kind::entry);
        op.path = std::move(action.target);
        op.entry = std::move(*entry);
        if (has_content) {
          auto r = tar.read_content([&](std::uint64_t off, byte_view bytes) {
            return batches.add_content(off, bytes);
          });
          if (!r) return tl::unexpected(std::move(r).error().context("entry " + quote(raw_path)));
        }
        break;
      }
    }
    OCIPIPE_TRY(batches.maybe_flush());
  }
  OCIPIPE_TRY(batches.flush());
  OCIPIPE_ASSIGN_OR_RETURN(auto digests, stream.finish());
  OCIPIPE_TRY(check_layer_digests(digests, layer, diff_id));
  return digests;
}

// A source whose first chunk was read already (to sniff it): that chunk
// again, then the rest. The blob is opened once, so one from a registry costs
// one request, not two.
class replay_source final : public byte_source {
 public:
  replay_source(std::unique_ptr<byte_source> inner, byte_view head) : inner_(std::move(inner)), head_(head) {}
  result<byte_view> next() override {
    // `head_` stays valid: inner_->next() has not been called since it was read.
    if (!replayed_) {
      replayed_ = true;
      if (!head_.empty()) return head_;
    }
    return inner_->next();
  }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override {
    if (!replayed_) return byte_source::next_into(buf);  // the head, copied once
    return inner_->next_into(buf);
  }

 private:
  std::unique_ptr<byte_source> inner_;
  byte_view head_;
  bool replayed_ = false;
};

struct stored_layer {
  descriptor desc;
  std::unique_ptr<byte_source> blob;  ///< from its first byte
};

// The layer as its bytes are: the media type of what the blob's first bytes
// show when that differs from what `layer` says (B42), with a warning.
result<stored_layer> as_stored(const io::image_layout& layout, const descriptor& layer, decode_stats& stats) {
  OCIPIPE_ASSIGN_OR_RETURN(auto blob, layout.open_blob(layer));
  OCIPIPE_ASSIGN_OR_RETURN(auto head, blob->next());
  const auto sniffed = sniff_compression(head);
  std::unique_ptr<byte_source> whole = std::make_unique<replay_source>(std::move(blob), head);
  if (sniffed == media_type::layer_compression::unknown || sniffed == media_type::compression_of(layer.media_type))
    return stored_layer{layer, std::move(whole)};
  descriptor d = layer;
  d.media_type = std::string(sniffed == media_type::layer_compression::gzip   ? media_type::layer_tar_gzip
                             : sniffed == media_type::layer_compression::zstd ? media_type::layer_tar_zstd
                                                                                : media_type::layer_tar);
  stats.warning = "media type " + quote(layer.media_type) + " does not match the blob's bytes; unpacked as " +
                  quote(d.media_type) + " (buglog B42)";
  return stored_layer{std::move(d), std::move(whole)};
}

result<layer_digests> decode(const io::image_layout& layout, const descriptor& declared,
                             const digest* diff_id, const decode_limits& limits,
                             layer_channel& out, decode_stats& stats) {
  OCIPIPE_ASSIGN_OR_RETURN(auto stored, as_stored(layout, declared, stats));
  const descriptor& layer = stored.desc;
  auto opened = std::move(stored.blob);
  // The reading may run on the prefetch thread, hence an atomic.
  std::atomic<std::uint64_t> blob_read{0};
  auto blob = std::make_unique<counting_source>(
      std::move(opened), [&blob_read](std::size_t n) { blob_read.fetch_add(n, std::memory_order_relaxed); });
  const auto diff_alg = diff_id && diff_id->algorithm() == digest_algorithm::sha512
                            ? digest_algorithm::sha512
                            : digest_algorithm::sha256;
  // The header check only guards libarchive here (sparse maps, B29): its
  // findings are validate's to report.
  tar_header_check headers(limits.max_pax_header_bytes);
  auto tap = [&](std::unique_ptr<byte_source> s) -> std::unique_ptr<byte_source> {
    if (limits.image_bytes) s = std::make_unique<image_budget>(std::move(s), *limits.image_bytes, limits.max_image_bytes);
    return std::make_unique<header_check_tap>(std::move(s), headers);
  };
  OCIPIPE_ASSIGN_OR_RETURN(auto stream, layer_stream::open(*blob, layer, limits.decompress, diff_alg,
                                                           layer_stream_hooks(layer, limits.threading, tap)));
  auto decoded = decode_stream(*stream, layer, diff_id, limits, out, stats, blob_read);
  if (decoded) return decoded;
  // A corrupt blob usually breaks the inflater or the tar parser before its
  // digest is known. Finish the digest so the error names the real cause
  // (image-spec descriptor.md "Verification"), unless reading itself failed or
  // apply cancelled us, or the digests were already compared.
  const errc code = decoded.error().code();
  if (code == errc::digest_mismatch || code == errc::size_mismatch || code == errc::io ||
      code == errc::cancelled || code == errc::resource_exhausted)
    return decoded;
  auto blob_only = stream->finish_compressed_only();
  if (blob_only)
    if (auto r = check_layer_digests(*blob_only, layer, nullptr); !r)
      return tl::unexpected(std::move(r).error());
  return decoded;
}

}  // namespace

void decode_layer(const io::image_layout& layout, const descriptor& layer, const digest* diff_id,
                  const decode_limits& limits, layer_channel& out, decode_stats& stats) {
  out.close(decode(layout, layer, diff_id, limits, out, stats));
}

}  // namespace ocipipe::pipeline
