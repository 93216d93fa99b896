#include "pipeline/cli/report.h"

#include <unistd.h>

#include <cstdio>

namespace ocipipe::cli {

std::string mb(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

progress_callback make_progress(const global_flags& g, const std::string& label) {
  if (!progress_enabled(g)) return {};
  // Off a terminal (--progress=always into a log), one line per finished layer or blob.
  const bool terminal = ::isatty(STDERR_FILENO);
  return [label, terminal](const progress_update& u) {
    if (!terminal && !u.finished_one) return;
    const double pct = u.total_bytes ? 100.0 * static_cast<double>(u.done_bytes) / static_cast<double>(u.total_bytes) : 100.0;
    char frac[32];
    std::snprintf(frac, sizeof frac, " (%.0f%%)", pct);
    const std::string text = label + ": " + mb(u.done_bytes) + " of " + mb(u.total_bytes) + frac +
                             (u.current.empty() ? "" : ", " + u.current + (u.finished_one ? " done" : ""));
    if (terminal)
      progress_line(text, u.finished_one && u.done_bytes >= u.total_bytes);
    else
      err_line(text);
  };
}

void add_limit_flags(CLI::App& app, unpack_options& opts) {
  app.add_option("--max-layer-bytes", opts.max_layer_bytes,
                 "Refuse a layer whose uncompressed stream exceeds this many bytes (default 1 TiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-image-bytes", opts.max_image_bytes,
                 "Refuse an image whose layers exceed this many uncompressed bytes in all (default 4 TiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-entries", opts.max_entries_per_layer,
                 "Refuse a layer of more tar entries than this (default 16777216)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-path-bytes", opts.max_path_bytes,
                 "Refuse an entry path or link target longer than this (default 4096)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-depth", opts.max_depth, "Refuse an entry more directories deep than this (default 1024)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-pax-header-bytes", opts.max_pax_header_bytes,
                 "Refuse a PAX extended header bigger than this (default 1 MiB)")
      ->check(CLI::PositiveNumber);
}

std::optional<image_reference> parse_ref_or_report(const std::string& text) {
  auto ref = parse_reference(text);
  if (!ref) {
    err_line(ref.error().message());
    return std::nullopt;
  }
  return *ref;
}

std::optional<std::pair<image_reference, image_reference>> parse_transfer_refs(const global_flags& g,
                                                                               const std::string& verb,
                                                                               const std::string& src,
                                                                               const std::string& dst) {
  auto s = parse_reference(src);
  auto d = s ? parse_reference(dst) : result<image_reference>(tl::unexpected(s.error()));
  if (s && d) return std::pair{std::move(*s), std::move(*d)};
  const error& e = s ? d.error() : s.error();
  if (g.json)
    out_json(verb, {{"src", src},
                    {"dst", dst},
                    {"status", "error"},
                    {"error", {{"code", errc_name(e.code())}, {"message", e.message()}}}});
  err_line(e.message());
  return std::nullopt;
}

int render_image_result(const global_flags& g, const std::string& verb, const std::string& ref,
                        const std::string& target, const result<unpack_report>& r, double seconds) {
  if (g.json) {
    if (r) {
      for (const auto& l : r->layers)
        out_json("layer", {{"ref", ref},
                           {"index", l.index},
                           {"digest", l.layer.digest.str()},
                           {"media_type", l.layer.media_type},
                           {"diff_id", l.diff_id.str()},
                           {"compressed_bytes", l.compressed_bytes},
                           {"tar_bytes", l.tar_bytes},
                           {"entries", l.entries}});
      for (const auto& [rule, message] : r->warnings)
        out_json("diagnostic", {{"ref", ref}, {"rule", rule}, {"severity", "warning"},
                                {"location", target}, {"message", message}});
    }
    nlohmann::ordered_json end = {{"ref", ref}, {"target", target}, {"status", r ? "ok" : "error"}};
    if (r) {
      end["manifest_digest"] = r->image.manifest_descriptor.digest.str();
      end["config_digest"] = r->image.config_descriptor.digest.str();
      end["compressed_bytes"] = r->compressed_bytes;
      end["tar_bytes"] = r->tar_bytes;
      end["peak_queued_bytes"] = r->peak_queued_bytes;
      end["rootless"] = r->rootless;
    } else {
      end["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
    }
    end["seconds"] = seconds;
    out_json("end", std::move(end));
  } else if (r) {
    for (const auto& [rule, message] : r->warnings)
      if (!g.quiet) err_line("warning: " + message + " [" + rule + "]");
    if (!g.quiet) {
      char rate[64];
      std::snprintf(rate, sizeof rate, "%.2f s (%.0f MB/s)", seconds,
                    seconds > 0 ? static_cast<double>(r->tar_bytes) / 1e6 / seconds : 0.0);
      const auto n = r->layers.size();
      out_line(verb + " " + ref + " into " + target + ": " + std::to_string(n) +
               (n == 1 ? " layer, " : " layers, ") + mb(r->tar_bytes) + " in " + rate);
    }
  }
  if (!r) {
    err_line(r.error().message());
    return exit_failure;
  }
  return exit_ok;
}

int run_transfer(const global_flags& g, const transfer_verb& verb, const std::string& src_text,
                 const std::string& dst_text, const std::string& platform, copy_options opts,
                 const std::function<result<copy_report>(const image_reference&, const image_reference&,
                                                         const copy_options&)>& run) {
  auto refs = parse_transfer_refs(g, verb.name, src_text, dst_text);
  if (!refs) return exit_failure;
  const auto& [src, dst] = *refs;
  opts.jobs = g.jobs;
  opts.cancel = install_cancel_handlers();
  opts.progress = make_progress(g, std::string(verb.name) + " " + src.str());
  if (!platform.empty()) {
    auto p = parse_platform(platform);
    if (!p) {
      err_line(p.error().message());
      return exit_failure;
    }
    opts.platform = *p;
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = run(src, dst, opts);
  const double seconds = seconds_since(start);
  if (g.json) {
    nlohmann::ordered_json data = {{"src", src.str()}, {"dst", dst.str()}, {"status", r ? "ok" : "error"}};
    if (r) {
      data["manifest_digest"] = r->manifest.digest.str();
      data["media_type"] = r->manifest.media_type;
      data["size"] = r->manifest.size;
      data["tag"] = r->tag;
      data["images"] = r->images;
      data["blobs_copied"] = r->blobs_copied;
      data["blobs_skipped"] = r->blobs_skipped;
      data["blobs_mounted"] = r->blobs_mounted;
      data["bytes"] = r->bytes_copied;
      data["bytes_resumed"] = r->bytes_resumed;
    } else {
      data["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
    }
    data["seconds"] = seconds;
    out_json(verb.name, std::move(data));
  } else if (r && !g.quiet) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s", seconds);
    std::string line = std::string(verb.past) + " " + src.str() + " to " + dst.str() + ": " +
                       r->manifest.digest.str() + ", " + std::to_string(r->blobs_copied) +
                       (r->blobs_copied == 1 ? " blob" : " blobs") + " (" + mb(r->bytes_copied) + ") " +
                       verb.written + ", " + std::to_string(r->blobs_skipped) + " already there";
    if (r->blobs_mounted) line += ", " + std::to_string(r->blobs_mounted) + " mounted";
    if (r->bytes_resumed) line += ", " + mb(r->bytes_resumed) + " resumed";
    out_line(line + ", in " + secs);
  }
  if (!r) {
    err_line(r.error().message());
    return exit_code_after_signals(exit_failure);
  }
  return exit_ok;
}

}  // namespace ocipipe::cli
