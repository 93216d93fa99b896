#include "pipeline/layer_prescan.h"

#include "stages/tar_path.h"
#include "stages/tar_reader.h"

namespace ocipipe::pipeline {
namespace {

bool qualifies(const resolved_image& image) {
  const auto& layers = image.manifest.layers;
  if (layers.size() < 2) return false;
  double all = 0, upper = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const double n = layers[i].size > 0 ? static_cast<double>(layers[i].size) : 0;
    all += n;
    if (i > 0) upper += n;
  }
  return all > 0 && upper <= prescan_max_share * all;
}

result<void> scan(const io::image_layout& layout, const descriptor& layer, const digest* diff_id,
                  const decode_limits& limits, const std::atomic<bool>& stop, layer_changes& out) {
  OCIPIPE_ASSIGN_OR_RETURN(auto blob, layout.open_blob(layer));
  OCIPIPE_ASSIGN_OR_RETURN(auto stream, layer_stream::open(*blob, layer, limits.decompress,
                                                           diff_id ? diff_id->algorithm() : digest_algorithm::sha256));
  tar_reader tar(*stream, limits.tar);
  std::uint64_t entries = 0;
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) return fail(errc::cancelled, "cancelled");
    OCIPIPE_ASSIGN_OR_RETURN(auto entry, tar.next_entry());
    if (!entry) break;
    if (++entries > limits.max_entries) return fail(errc::resource_exhausted, "too many entries");
    OCIPIPE_ASSIGN_OR_RETURN(auto action, classify_entry(*entry));
    switch (action.kind) {
      case whiteout_kind::whiteout:
        out.add_whiteout(action.target);
        break;
      case whiteout_kind::opaque:
        out.add_opaque(action.target);
        break;
      case whiteout_kind::reserved:
        break;
      case whiteout_kind::none:
        out.add_entry(action.target, entry->type, entry->type == entry_type::hardlink ? entry->link_target : "");
        break;
    }
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto digests, stream->finish());
  return check_layer_digests(digests, layer, diff_id);
}

}  // namespace

layer_prescan::layer_prescan(const io::image_layout& layout, const resolved_image& image, const decode_limits& limits)
    : layout_(layout), image_(image), limits_(limits), changes_(image.manifest.layers.size()) {
  if (qualifies(image_)) thread_ = std::thread([this] { run(); });
}

layer_prescan::~layer_prescan() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void layer_prescan::run() {
  const auto& layers = image_.manifest.layers;
  const auto& diff_ids = image_.config.diff_ids;
  for (std::size_t i = 1; i < layers.size(); ++i) {
    // Filled in place: readers look only at layers already published.
    if (!scan(layout_, layers[i], i < diff_ids.size() ? &diff_ids[i] : nullptr, limits_, stop_, changes_[i])) return;
    published_.store(i, std::memory_order_release);
  }
}

bool layer_prescan::dead(std::size_t layer, std::string_view path) const {
  const std::size_t known = published_.load(std::memory_order_acquire);
  if (known <= layer) return false;
  return dead_in_later_layers(std::span<const layer_changes>(changes_).subspan(layer + 1, known - layer), path);
}

}  // namespace ocipipe::pipeline
