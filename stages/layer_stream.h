#pragma once
// The verified byte path of one layer blob: compressed bytes are digested
// (descriptor.digest), decompressed, and the tar stream is digested again
// (the layer's diff_id, image-spec config.md "rootfs"). Both digests are
// checked when the stream is finished.

#include <functional>
#include <memory>

#include "stages/decompress.h"
#include "stages/digester.h"
#include "stages/oci/descriptor.h"

namespace ocipipe {

/// What a finished layer stream measured.
struct layer_digests {
  ocipipe::digest digest;          ///< of the compressed bytes, in descriptor.digest's algorithm
  ocipipe::digest diff_id;         ///< of the uncompressed tar stream
  std::uint64_t compressed_bytes = 0;
  std::uint64_t tar_bytes = 0;
};

/// Yields the uncompressed tar stream of `blob` (which yields the blob's
/// compressed bytes and must outlive this). Not thread-safe.
class layer_stream final : public byte_source {
 public:
  using decorator = std::function<std::unique_ptr<byte_source>(std::unique_ptr<byte_source>)>;
  /// A decorator that also takes a function to call on every chunk.
  using seeing_decorator =
      std::function<std::unique_ptr<byte_source>(std::unique_ptr<byte_source>, std::function<void(byte_view)>)>;
  /// Makes the decompressor in place of make_decompressor, with its contract
  /// (decompress.h): `compressed` is borrowed and outlives what it returns.
  using decompressor_factory = std::function<result<std::unique_ptr<byte_source>>(
      byte_source& compressed, media_type::layer_compression, decompress_limits)>;
  /// How pipeline/ spreads one layer over threads; stages stay free of them.
  /// Every hook is optional; empty ones leave that step on the caller's thread.
  struct hooks {
    /// Wraps the compressed bytes after they are digested and counted (e.g.
    /// reading and digesting on a thread of their own, overlapped with inflate).
    decorator compressed;
    /// Replaces make_decompressor (e.g. a parallel gzip inflate).
    decompressor_factory decompressor;
    /// Wraps the decompressor before the diff_id digest sees its output (e.g.
    /// inflate on a thread of its own, overlapped with parsing).
    decorator decompressed;
    /// Used instead of `decompressed` when set, and takes the diff_id digest
    /// over: the source it returns calls the function it is given on every
    /// chunk once, in order, before handing the chunk out, never on two
    /// threads at once (e.g. on whichever of inflate's and parsing's threads
    /// is idle). The function may be called until that source is destroyed,
    /// which the layer_stream does first in its own destruction.
    seeing_decorator decompressed_seen;
  };

  /// Errors: `unsupported` for a layer media type with no known compression.
  /// `diff_id_algorithm` is that of the image config's diff_id (sha256 unless
  /// it says otherwise).
  static result<std::unique_ptr<layer_stream>> open(
      byte_source& blob, const descriptor& layer, decompress_limits limits = {},
      digest_algorithm diff_id_algorithm = digest_algorithm::sha256, const hooks& with = {});

  ~layer_stream() override;
  result<byte_view> next() override;

  /// Reads what is left (tar padding after the end-of-archive blocks counts
  /// towards the diff_id too) and returns both digests. Call once.
  [[nodiscard]] result<layer_digests> finish();

  /// After a decode error: reads the rest of the compressed blob and returns
  /// its digest and length alone (diff_id and tar_bytes stay empty), so a
  /// corrupt blob can still be checked against its descriptor.
  [[nodiscard]] result<layer_digests> finish_compressed_only();

 private:
  class counting_source;
  layer_stream() = default;
  std::unique_ptr<counting_source> compressed_;
  std::unique_ptr<byte_source> compressed_decorated_;  ///< reads compressed_, maybe on a thread
  std::unique_ptr<byte_source> decompressed_;
  digester diff_id_{digest_algorithm::sha256};
  std::uint64_t tar_bytes_ = 0;
  bool seen_by_decorator_ = false;  ///< decompressed_ calls see() itself
  void see(byte_view chunk);
};

/// Compares measured digests with what the image claims. `diff_id` may be
/// empty (not known). Errors: `digest_mismatch` naming both digests.
[[nodiscard]] result<void> check_layer_digests(const layer_digests& got, const descriptor& layer,
                                               const digest* want_diff_id);

}  // namespace ocipipe
