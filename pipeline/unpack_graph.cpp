// The unpack flow graph (DESIGN.md §2):
//
//   layer_index_node ─► decode_limiter ─► decode_node (parallel) ─► layer_sequencer ─► apply_node (serial)
//                            ▲                                                            │ (applied)
//                            └────────────────────────────────────────────────────────────┘
//
// decode_node announces each layer to the sequencer as soon as it starts and
// then streams batches into that layer's bounded channel; apply_node drains
// the channels in manifest order. A layer leaves the limiter's window only
// once it is applied, so at most `decoders` channels hold bytes at any time:
// decoded-but-unapplied layers can never pile up behind a slow disk. The
// arena has one thread more than there are decoders, so apply always has one.
#include <oneapi/tbb/flow_graph.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "io/image_layout.h"
#include "pipeline/resolve.h"
#include "io/rootfs_writer.h"
#include "io/target_dir.h"
#include "pipeline/api.h"
#include "pipeline/graph_arena.h"
#include "pipeline/dropped_files.h"
#include "pipeline/layer_decode.h"
#include "pipeline/layer_prescan.h"
#include "pipeline/layer_threads.h"
#include "pipeline/progress_meter.h"
#include "pipeline/remote.h"
#include "pipeline/rootfs_state_record.h"
#include "pipeline/signature_check.h"
#include "stages/layer_paths.h"

namespace ocipipe {
namespace {

namespace flow = oneapi::tbb::flow;

struct unpack_run {
  const resolved_image& image;
  const io::image_layout& layout;
  io::rootfs_writer& writer;
  std::vector<std::unique_ptr<pipeline::layer_channel>> channels;
  std::vector<pipeline::decode_stats> stats;
  std::vector<layer_report> reports;
  std::mutex mu;
  std::optional<error> failure;
  std::atomic<bool> failed{false};
  pipeline::progress_meter& progress;
  std::uint64_t applied_blob_bytes = 0;  // of the layers applied so far
  const std::atomic<bool>* cancel = nullptr;
  const pipeline::layer_prescan* prescan = nullptr;
  int jobs = 1;  // the run's -j, or the cores

  void fail_with(error e) {
    {
      std::lock_guard lock(mu);
      if (!failure) failure = std::move(e);
    }
    failed = true;
    for (auto& ch : channels) ch->cancel();
  }

  std::string layer_name(std::size_t i) const {
    return "layer " + std::to_string(i) + " (" + image.manifest.layers[i].digest.short_str() + ")";
  }
  std::string progress_name(std::size_t i) const {
    return "layer " + std::to_string(i) + " of " + std::to_string(channels.size()) + " (" +
           image.manifest.layers[i].digest.short_str() + ")";
  }
};

// What the apply stage keeps while it applies one layer.
struct layer_apply {
  std::size_t index = 0;
  const pipeline::layer_prescan* prescan = nullptr;  // null: write everything (-j1, remote images)
  layer_paths written;  // only above layer 0: it grows with the layer's entries
  pipeline::dropped_files dropped;

  // Whether a lower layer exists for this one's whiteouts to hide: layer 0
  // goes into an empty rootfs (prepare_target_dir), so its whiteouts hide
  // nothing and what it wrote need not be remembered.
  [[nodiscard]] bool below_anything() const noexcept { return index > 0; }
};

// Write avoidance: a regular file a scanned later layer removes is not
// written (pipeline/README.md). False when it must be written after all.
result<bool> drop_if_dead(io::rootfs_writer& w, const pipeline::apply_op& op, layer_apply& layer) {
  if (!layer.prescan || op.entry.type != entry_type::regular || !layer.dropped.room_for(op.entry.size) ||
      !layer.prescan->dead(layer.index, op.path))
    return false;
  OCIPIPE_ASSIGN_OR_RETURN(const bool dropped, w.drop_entry(op.path));
  if (dropped) layer.dropped.begin(op.entry, op.path);
  return dropped;
}

// A hardlink to a file this layer dropped: the first is made as a copy of it,
// the others link to that copy.
result<void> link_to_dropped(io::rootfs_writer& w, const pipeline::apply_op& op, pipeline::dropped_files::dropped& d) {
  if (!d.made_at.empty()) {
    tar_entry e = op.entry;
    e.link_target = d.made_at;
    return w.begin_entry(e, op.path);
  }
  OCIPIPE_TRY(w.begin_entry(d.entry, op.path));
  OCIPIPE_TRY(w.write_content(0, byte_view(reinterpret_cast<const std::byte*>(d.content.data()), d.content.size())));
  OCIPIPE_TRY(w.end_entry());
  d.made_at = op.path;
  return {};
}

result<void> apply_entry(io::rootfs_writer& w, const pipeline::apply_op& op, layer_apply& layer) {
  OCIPIPE_ASSIGN_OR_RETURN(const bool dropped, drop_if_dead(w, op, layer));
  if (dropped) return {};
  auto* d = op.entry.type == entry_type::hardlink ? layer.dropped.find(op.entry.link_target) : nullptr;
  OCIPIPE_TRY(d ? link_to_dropped(w, op, *d) : w.begin_entry(op.entry, op.path));
  if (layer.below_anything()) layer.written.add(w.last_entry_path());
  return {};
}

result<void> apply_batch(io::rootfs_writer& w, const pipeline::apply_batch& b, layer_apply& layer) {
  const auto keep = [&](const std::string& p) { return layer.written.wrote_at_or_below(p); };
  for (const auto& op : b.ops) {
    if (op.what != pipeline::apply_op::kind::content) {
      OCIPIPE_TRY(w.end_entry());
      layer.dropped.end();
    }
    switch (op.what) {
      case pipeline::apply_op::kind::entry: {
        auto r = apply_entry(w, op, layer);
        if (!r) return tl::unexpected(std::move(r).error().context("entry " + quote(op.path)));
        break;
      }
      case pipeline::apply_op::kind::content: {
        const byte_view bytes(b.arena.data() + op.arena_offset, op.length);
        if (layer.dropped.receiving())
          layer.dropped.content(op.offset, bytes);
        else
          OCIPIPE_TRY(w.write_content(op.offset, bytes));
        break;
      }
      case pipeline::apply_op::kind::whiteout: {
        if (!layer.below_anything()) break;
        auto r = w.remove_lower(op.path, keep);
        if (!r) return tl::unexpected(std::move(r).error().context("whiteout of " + quote(op.path)));
        break;
      }
      case pipeline::apply_op::kind::opaque_whiteout: {
        if (!layer.below_anything()) break;
        auto r = w.clear_lower_children(op.path, keep);
        if (!r)
          return tl::unexpected(std::move(r).error().context("opaque whiteout of " + quote(op.path)));
        break;
      }
    }
  }
  return {};
}

// One batch of layer `i` applied; false (and the run failed) on an error.
bool apply_one(unpack_run& run, std::size_t i, const pipeline::apply_batch& batch, layer_apply& layer) {
  if (run.cancel && run.cancel->load(std::memory_order_relaxed)) {
    run.fail_with(error(errc::cancelled, "cancelled"));
    return false;
  }
  if (auto r = apply_batch(run.writer, batch, layer); !r) {
    run.fail_with(std::move(r).error().context(run.layer_name(i)));
    return false;
  }
  if (run.progress.enabled()) run.progress.set(run.applied_blob_bytes + batch.blob_bytes_read, run.progress_name(i));
  return true;
}

// Layer `i` is applied: its outcome checked (digests), its report made.
void finish_layer(unpack_run& run, std::size_t i, pipeline::layer_channel& ch) {
  if (auto r = run.writer.end_entry(); !r) {
    run.fail_with(std::move(r).error().context(run.layer_name(i)));
    return;
  }
  auto outcome = ch.outcome();
  if (!outcome) {
    if (!run.failed) run.fail_with(std::move(outcome).error().context(run.layer_name(i)));
    return;
  }
  auto& rep = run.reports[i];
  rep.index = i;
  rep.layer = run.image.manifest.layers[i];
  rep.diff_id = outcome->diff_id;
  rep.compressed_bytes = outcome->compressed_bytes;
  rep.tar_bytes = outcome->tar_bytes;
  rep.entries = run.stats[i].entries;
  run.applied_blob_bytes += rep.layer.size > 0 ? static_cast<std::uint64_t>(rep.layer.size) : 0;
  run.progress.finished(run.applied_blob_bytes, run.progress_name(i));
}

// The serial stage: layer `i`, in manifest order.
void apply_layer(unpack_run& run, std::size_t i) {
  auto& ch = *run.channels[i];
  if (run.failed) return;
  layer_apply layer{i, run.prescan};
  const bool hand_over = pipeline::producer_applies(run.image.manifest.layers[i].size, run.jobs);
  if (!ch.apply_all([&](const pipeline::apply_batch& b) { return apply_one(run, i, b, layer); }, hand_over)) return;
  finish_layer(run, i, ch);
}

// -j1: each layer decoded and applied on this thread, batch by batch, with
// no queue between them: one core, as asked.
result<void> run_serial(unpack_run& run, const pipeline::decode_limits& limits) {
  const auto& diff_ids = run.image.config.diff_ids;
  for (std::size_t i = 0; i < run.image.manifest.layers.size() && !run.failed; ++i) {
    layer_apply layer{i, nullptr};
    pipeline::layer_channel ch([&](const pipeline::apply_batch& b) { return apply_one(run, i, b, layer); });
    pipeline::decode_layer(run.layout, run.image.manifest.layers[i], i < diff_ids.size() ? &diff_ids[i] : nullptr,
                           limits, ch, run.stats[i]);
    if (!run.failed) finish_layer(run, i, ch);
  }
  if (run.failure) return tl::unexpected(*run.failure);
  return {};
}

result<void> run_graph(unpack_run& run, pipeline::graph_arena& arena, std::size_t in_flight_layers,
                       const pipeline::decode_limits& limits) {
  const std::size_t n = run.image.manifest.layers.size();
  const auto& diff_ids = run.image.config.diff_ids;
  arena.execute([&] {
    flow::graph g;
    std::size_t next = 0;
    flow::input_node<std::size_t> layer_index_node(g, [&](oneapi::tbb::flow_control& fc) {
      if (next == n) {
        fc.stop();
        return std::size_t{0};
      }
      return next++;
    });
    flow::limiter_node<std::size_t> decode_limiter(g, in_flight_layers);
    using decode_node_t = flow::multifunction_node<std::size_t, std::tuple<std::size_t>>;
    decode_node_t decode_node(g, flow::unlimited, [&](std::size_t i, decode_node_t::output_ports_type& ports) {
      std::get<0>(ports).try_put(i);  // apply may start on this layer now
      if (!run.failed) {
        const digest* want = i < diff_ids.size() ? &diff_ids[i] : nullptr;
        pipeline::decode_layer(run.layout, run.image.manifest.layers[i], want, limits,
                               *run.channels[i], run.stats[i]);
      } else {
        run.channels[i]->close(fail(errc::cancelled, "cancelled"));
      }
    });
    flow::sequencer_node<std::size_t> layer_sequencer(g, [](std::size_t i) { return i; });
    flow::function_node<std::size_t, flow::continue_msg> apply_node(g, flow::serial, [&](std::size_t i) {
      apply_layer(run, i);
      return flow::continue_msg();
    });
    flow::make_edge(layer_index_node, decode_limiter);
    flow::make_edge(decode_limiter, decode_node);
    flow::make_edge(flow::output_port<0>(decode_node), layer_sequencer);
    flow::make_edge(layer_sequencer, apply_node);
    flow::make_edge(apply_node, decode_limiter.decrementer());
    layer_index_node.activate();
    g.wait_for_all();
  });
  if (run.failure) return tl::unexpected(*run.failure);
  return {};
}

}  // namespace

result<bool> prepare_target_dir(const std::string& dir, bool force) {
  return io::prepare_empty_dir(dir, force);
}

result<unpack_report> unpack(const image_reference& ref, const std::string& rootfs,
                             const unpack_options& opts) {
  auto where = [&](error e) { return tl::unexpected(std::move(e).context("unpack " + ref.str())); };
  // --policy first: nothing is written for a refused image, and what is
  // read is exactly the root the policy accepted.
  auto accepted = enforce_policy(ref, opts.policy, opts.remote);
  if (!accepted) return where(std::move(accepted).error());
  pipeline::remote_session remote(opts.remote);
  auto opened = pipeline::open_image(*accepted ? pipeline::pinned_reference(ref, **accepted) : ref, opts.platform,
                                     &remote);
  if (!opened) return where(std::move(opened).error());
  auto* image = &opened->image;
  const io::image_layout* layout = &opened->store;
  const auto& layers = image->manifest.layers;
  if (layers.size() != image->config.diff_ids.size())
    return where(error(errc::malformed, "manifest has " + std::to_string(layers.size()) +
                                            " layers but image config rootfs.diff_ids has " +
                                            std::to_string(image->config.diff_ids.size())));
  // descriptor.md: content is verified before it is used. A digest in an
  // algorithm we cannot compute would let an unverified layer into the rootfs.
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (const digest* d : std::initializer_list<const digest*>{&layers[i].digest, &image->config.diff_ids[i]})
      if (d->algorithm() == digest_algorithm::unregistered)
        return where(error(errc::unsupported, "layer " + std::to_string(i) + ": digest " + quote(d->str()) +
                                                  " uses an algorithm ocipipe cannot verify"));
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (media_type::compression_of(layers[i].media_type) == media_type::layer_compression::unknown)
      return where(error(errc::unsupported, "layer " + std::to_string(i) + " (" +
                                                layers[i].digest.short_str() + "): media type " +
                                                quote(layers[i].media_type) + " is not a layer"));
  // (A docker:// or oci+https:// path is no directory here.)
  if (!pipeline::is_remote(ref.kind) && (io::path_within(ref.path, rootfs) || io::path_within(rootfs, ref.path)))
    return where(error(errc::invalid_argument, "rootfs " + quote(rootfs) +
                                                   " and the image layout being unpacked overlap"));
  // A state file beside the rootfs describes what was there before. With
  // --force it goes before the rootfs is emptied: a run that fails or is
  // killed while emptying must not leave it describing a rootfs that is gone
  // (pack --diff would take every missing path for a deletion).
  std::vector<std::pair<std::string, std::string>> state_warnings;
  if (opts.force) pipeline::forget_rootfs_state(rootfs, state_warnings);
  auto created = prepare_target_dir(rootfs, opts.force);
  if (!created) return where(std::move(created).error());
  if (!opts.force) pipeline::forget_rootfs_state(rootfs, state_warnings);
  auto writer = io::rootfs_writer::open(rootfs, {.rootless = opts.rootless});
  if (!writer) return where(std::move(writer).error());

  // Decoders, plus one thread for apply: it must never wait for a thread
  // while decoders block on their full channels.
  const int decoders = pipeline::jobs_or_cores(opts.jobs);
  // No more layers decode at once than there are.
  const std::size_t in_flight = std::min(static_cast<std::size_t>(decoders), std::max<std::size_t>(layers.size(), 1));
  pipeline::graph_arena arena(decoders + 1, 2, in_flight + 1);
  const std::size_t per_channel = pipeline::channel_bytes(opts.max_bytes_in_flight, in_flight);

  std::uint64_t total_blob_bytes = 0;
  for (const auto& l : layers) total_blob_bytes += l.size > 0 ? static_cast<std::uint64_t>(l.size) : 0;
  pipeline::progress_meter meter(opts.progress, total_blob_bytes);
  unpack_run run{*image, *layout, *writer, {}, {}, {}, {}, {}, {}, meter, 0, opts.cancel};
  for (std::size_t i = 0; i < layers.size(); ++i)
    run.channels.push_back(std::make_unique<pipeline::layer_channel>(per_channel));
  run.stats.resize(layers.size());
  run.jobs = decoders;
  run.reports.resize(layers.size());

  std::atomic<std::uint64_t> image_bytes{0};
  pipeline::decode_limits limits;
  limits.decompress.max_output_bytes = opts.max_layer_bytes;
  limits.decompress.max_output_name = "--max-layer-bytes";
  // No file is bigger than its layer's tar stream.
  limits.tar.max_entry_size = opts.max_layer_bytes;
  limits.tar.max_entry_size_name = "--max-layer-bytes";
  limits.tar.max_path_bytes = opts.max_path_bytes;
  limits.tar.max_path_name = "--max-path-bytes";
  limits.max_entries = opts.max_entries_per_layer;
  limits.max_depth = opts.max_depth;
  limits.max_pax_header_bytes = opts.max_pax_header_bytes;
  limits.image_bytes = &image_bytes;
  limits.max_image_bytes = opts.max_image_bytes;
  limits.threading = pipeline::threading_for_jobs(decoders);
  // Write avoidance needs a core of its own to scan upper layers on: on two
  // cores the second inflate costs more than the writes it saves (debian-slim
  // -j2: 0.70 s with it, 0.61 s without); and a second read of a remote blob
  // costs more than it saves anywhere.
  std::optional<pipeline::layer_prescan> prescan;
  if (decoders >= pipeline::prescan_min_jobs && !pipeline::is_remote(ref.kind))
    prescan.emplace(*layout, *image, limits);
  run.prescan = prescan ? &*prescan : nullptr;
  auto ok = decoders > 1 ? run_graph(run, arena, in_flight, limits) : run_serial(run, limits);
  prescan.reset();
  if (ok) ok = writer->finish();
  if (!ok) {
    // Leave nothing half-applied behind: the target was empty before.
    return where(io::discard_target(rootfs, *created, std::move(ok).error()));
  }
  unpack_report rep;
  rep.layers = std::move(run.reports);
  for (const auto& l : rep.layers) {
    rep.compressed_bytes += l.compressed_bytes;
    rep.tar_bytes += l.tar_bytes;
  }
  for (auto& ch : run.channels) rep.peak_queued_bytes = std::max(rep.peak_queued_bytes, ch->high_water_bytes());
  rep.rootless = writer->rootless();
  rep.warnings = writer->warnings();
  for (std::size_t i = 0; i < run.stats.size(); ++i)
    if (!run.stats[i].warning.empty())
      rep.warnings.emplace_back("layer.compression", "layer " + std::to_string(i) + " (" +
                                                         layers[i].digest.short_str() + "): " + run.stats[i].warning);
  rep.warnings.insert(rep.warnings.end(), state_warnings.begin(), state_warnings.end());
  // Last, once the rootfs is complete: what pack --diff compares with.
  if (opts.record_state) pipeline::record_rootfs_state(rootfs, ref, *image, rep.warnings, decoders);
  rep.image = std::move(*image);
  return rep;
}

}  // namespace ocipipe
