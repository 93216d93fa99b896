#pragma once
// Write avoidance's early knowledge (pipeline/README.md "Write avoidance"):
// the changes of the layers above the one being applied, read from their tar
// headers on a thread of its own while the lower layers are applied.

#include <atomic>
#include <string_view>
#include <thread>
#include <vector>

#include "io/image_layout.h"
#include "pipeline/layer_decode.h"
#include "pipeline/resolve.h"
#include "stages/layer_changes.h"

namespace ocipipe::pipeline {

/// The layers above layer 0 are scanned only when their blobs together are at
/// most this share of all layer bytes: a scan inflates its layer a second
/// time, which pays off when small upper layers delete much of a big base
/// (slimming and clean-up layers), and not when the upper layers are the
/// image's bulk.
inline constexpr double prescan_max_share = 0.4;

/// Unpack scans only from this many jobs: the scan is a second inflate, which
/// pays only with a core to spare beside decode and apply.
inline constexpr int prescan_min_jobs = 4;

/// Scans layers 1..n-1 of `image`, in order, on a std::thread started by the
/// constructor: each layer's blob is read whole, its digest and diff_id
/// checked (a scan of bytes that are not the image's must never decide what
/// is written), and its entries recorded as layer_changes. A layer whose scan
/// fails is not published, and neither is any layer above it. Nothing is
/// scanned when the image does not qualify (prescan_max_share) or has one layer.
/// `layout`, `image` and `limits` must outlive this object.
class layer_prescan {
 public:
  layer_prescan(const io::image_layout& layout, const resolved_image& image, const decode_limits& limits);
  ~layer_prescan();  ///< stops the scan between entries and joins
  layer_prescan(const layer_prescan&) = delete;
  layer_prescan& operator=(const layer_prescan&) = delete;

  /// Whether the regular file layer `layer` writes at `path` (cleaned) is
  /// removed by the layers above it, as far as they are scanned now.
  /// Thread-safe (the apply thread asks while the scan goes on).
  [[nodiscard]] bool dead(std::size_t layer, std::string_view path) const;

  /// Layers published so far, from layer 1 up (for reports and tests).
  [[nodiscard]] std::size_t scanned() const noexcept { return published_.load(std::memory_order_acquire); }

 private:
  void run();

  const io::image_layout& layout_;
  const resolved_image& image_;
  const decode_limits& limits_;
  std::vector<layer_changes> changes_;  ///< [i] for layer i; written before publication
  std::atomic<std::size_t> published_{0};               ///< layers 1..published_ are complete
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ocipipe::pipeline
