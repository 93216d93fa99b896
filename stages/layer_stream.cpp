#include "stages/layer_stream.h"

namespace ocipipe {

// Digests and counts the compressed bytes on their way to the decompressor.
class layer_stream::counting_source final : public byte_source {
 public:
  counting_source(byte_source& up, digest_algorithm alg) : up_(up), digester_(alg) {}
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, up_.next());
    see(chunk);
    return chunk;
  }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override {
    OCIPIPE_ASSIGN_OR_RETURN(const auto n, up_.next_into(buf));
    see(byte_view(buf.data(), n));
    return n;
  }
  void see(byte_view chunk) {
    digester_.update(chunk);
    bytes_ += chunk.size();
  }
  byte_source& up_;
  digester digester_;
  std::uint64_t bytes_ = 0;
};

namespace {

// Lends a source owned elsewhere to a decorator, which takes ownership.
class borrowed_source final : public byte_source {
 public:
  explicit borrowed_source(byte_source& s) : s_(s) {}
  result<byte_view> next() override { return s_.next(); }
  result<std::size_t> next_into(std::vector<std::byte>& buf) override { return s_.next_into(buf); }

 private:
  byte_source& s_;
};

}  // namespace

result<std::unique_ptr<layer_stream>> layer_stream::open(byte_source& blob, const descriptor& layer,
                                                         decompress_limits limits,
                                                         digest_algorithm diff_id_algorithm, const hooks& with) {
  std::unique_ptr<layer_stream> s(new layer_stream());
  const auto alg = layer.digest.algorithm() == digest_algorithm::sha512 ? digest_algorithm::sha512
                                                                        : digest_algorithm::sha256;
  if (diff_id_algorithm == digest_algorithm::sha512) s->diff_id_ = digester(diff_id_algorithm);
  s->compressed_ = std::make_unique<counting_source>(blob, alg);
  if (with.compressed) s->compressed_decorated_ = with.compressed(std::make_unique<borrowed_source>(*s->compressed_));
  byte_source& compressed = s->compressed_decorated_ ? *s->compressed_decorated_ : *s->compressed_;
  const auto compression = media_type::compression_of(layer.media_type);
  OCIPIPE_ASSIGN_OR_RETURN(s->decompressed_, with.decompressor ? with.decompressor(compressed, compression, limits)
                                                               : make_decompressor(compressed, compression, limits));
  if (with.decompressed_seen) {
    layer_stream* self = s.get();  // outlives decompressed_ (see ~layer_stream)
    s->decompressed_ = with.decompressed_seen(std::move(s->decompressed_), [self](byte_view c) { self->see(c); });
    s->seen_by_decorator_ = true;
  } else if (with.decompressed) {
    s->decompressed_ = with.decompressed(std::move(s->decompressed_));
  }
  return s;
}

layer_stream::~layer_stream() {
  // The decorated source first: its thread may call see() until it is
  // destroyed, and see() feeds diff_id_, a member that would go before it.
  decompressed_.reset();
}

result<byte_view> layer_stream::next() {
  if (!decompressed_) return byte_view{};
  OCIPIPE_ASSIGN_OR_RETURN(auto chunk, decompressed_->next());
  if (!seen_by_decorator_) see(chunk);
  return chunk;
}

void layer_stream::see(byte_view chunk) {
  diff_id_.update(chunk);
  tar_bytes_ += chunk.size();
}

result<layer_digests> layer_stream::finish() {
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, next());
    if (chunk.empty()) break;
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto d, finish_compressed_only());
  d.diff_id = diff_id_.finish();
  d.tar_bytes = tar_bytes_;
  return d;
}

result<layer_digests> layer_stream::finish_compressed_only() {
  // Compressed bytes past the end of the compressed stream still belong to
  // the blob: drain them so the blob digest covers every byte. The
  // decompressor (maybe decorated with a thread) lets go of them first.
  decompressed_.reset();
  byte_source& compressed = compressed_decorated_ ? *compressed_decorated_ : *compressed_;
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, compressed.next());
    if (chunk.empty()) break;
  }
  // A decorator's thread, if any, is done with the digester once joined.
  compressed_decorated_.reset();
  layer_digests d;
  d.digest = compressed_->digester_.finish();
  d.compressed_bytes = compressed_->bytes_;
  return d;
}

result<void> check_layer_digests(const layer_digests& got, const descriptor& layer,
                                 const digest* want_diff_id) {
  if (layer.digest.algorithm() != digest_algorithm::unregistered && !(got.digest == layer.digest))
    return fail(errc::digest_mismatch, "blob digest mismatch: descriptor says " +
                                           layer.digest.str() + ", content is " + got.digest.str());
  if (want_diff_id && !want_diff_id->empty() &&
      want_diff_id->algorithm() != digest_algorithm::unregistered && !(got.diff_id == *want_diff_id))
    return fail(errc::digest_mismatch, "diff_id mismatch: image config says " +
                                           want_diff_id->str() + ", uncompressed content is " +
                                           got.diff_id.str());
  return {};
}

}  // namespace ocipipe
