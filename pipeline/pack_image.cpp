// A packed layer becomes an image: base blobs, config, manifest, tag.
#include "pipeline/pack_image.h"


#include <unistd.h>

#include <oneapi/tbb/parallel_for_each.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "io/target_dir.h"
#include "pipeline/blob_copy.h"
#include "pipeline/graph_arena.h"
#include "stages/config_edits.h"  // env_name
#include "stages/digester.h"
#include "stages/image_config_write.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/layout_index.h"
#include "stages/oci/media_type.h"

namespace ocipipe::pipeline {
namespace {

bool digits(std::string_view s, std::size_t from, std::size_t n) {
  if (from + n > s.size()) return false;
  for (std::size_t i = from; i < from + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// RFC 3339 date-time (config.md "created"): YYYY-MM-DDTHH:MM:SS, optional
// fraction, then Z or +HH:MM / -HH:MM. Shape only; the calendar is the
// user's business.
bool is_rfc3339(std::string_view s) {
  if (!digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
      !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2) || s[13] != ':' ||
      !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
    return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(s, i + 1, 2) &&
         s[i + 3] == ':' && digits(s, i + 4, 2);
}

// A base layer's descriptor as the new manifest carries it: OCI media types
// (a Docker layer type names the same bytes as its OCI equal), and none of
// ocipipe's own reading annotations (the docker-archive member name).
descriptor as_oci_layer(descriptor d) {
  if (d.media_type == media_type::docker_layer_gzip)
    d.media_type = std::string(media_type::layer_tar_gzip);
  else if (d.media_type == media_type::docker_foreign_layer_gzip)
    d.media_type = std::string(media_type::layer_nondistributable_tar_gzip);
  d.annotations.erase(std::string(io::image_layout::member_annotation));
  return d;
}

result<void> copy_base_blobs(io::layout_writer& dest, const opened_image& base, int jobs) {
  std::vector<descriptor> missing;
  for (const auto& l : base.image.manifest.layers)
    if (!dest.has_blob(l.digest)) missing.push_back(l);
  if (missing.empty()) return {};
  std::optional<error> first;
  std::mutex mu;
  graph_arena arena(jobs, 1, missing.size());
  arena.execute([&] {
    oneapi::tbb::parallel_for_each(missing.begin(), missing.end(), [&](const descriptor& d) {
      if (auto r = copy_blob(base.store, d, dest); !r) {
        std::lock_guard lock(mu);
        if (!first) first = std::move(r).error().context("copy base layer " + d.digest.short_str());
      }
    });
  });
  if (first) return tl::unexpected(std::move(*first));
  return {};
}

result<descriptor> put_document(io::layout_writer& dest, std::string_view media_type,
                                const std::string& bytes) {
  descriptor d;
  d.media_type = std::string(media_type);
  d.digest = digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())));
  d.size = static_cast<std::int64_t>(bytes.size());
  OCIPIPE_TRY(dest.put_blob(d.digest, bytes));
  return d;
}

}  // namespace

std::string rfc3339_utc(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

result<void> check_image_write_options(const image_write_options& opts) {
  const image_edits& e = opts.edits;
  if (!opts.tag.empty() && !valid_ref_name(opts.tag))
    return fail(errc::invalid_argument, "tag " + quote(opts.tag) + ": not a valid image-layout ref name");
  if (e.created && !is_rfc3339(*e.created))
    return fail(errc::invalid_argument, "--created " + quote(*e.created) +
                                            ": not an RFC 3339 date-time (2024-01-02T03:04:05Z)");
  if (e.platform) {
    OCIPIPE_ASSIGN_OR_RETURN(const platform_selector p, parse_platform(*e.platform));
    if (p.os.empty() || p.architecture.empty())
      return fail(errc::invalid_argument, "--platform " + quote(*e.platform) + ": needs OS/ARCH[/VARIANT]");
  }
  for (const auto& entry : e.env)
    if (!env_name(entry))
      return fail(errc::invalid_argument, "--env " + quote(entry) + ": not NAME=value with a non-empty NAME");
  return {};
}

result<packed_image> write_packed_image(io::layout_writer& dest, const opened_image* base,
                                        const packed_layer& layer, const image_write_options& opts) {
  return write_packed_image(dest, base, &layer, opts);
}

result<packed_image> write_packed_image(io::layout_writer& dest, const opened_image* base,
                                        const packed_layer* layer, const image_write_options& opts) {
  OCIPIPE_TRY(check_image_write_options(opts));
  if (!base && !layer)
    return fail(errc::invalid_argument, "image: no base and no new layer (an image needs one of them)");
  const image_edits& e = opts.edits;
  const std::string tag = opts.tag.empty() ? "latest" : opts.tag;

  // The config.
  image_config_changes c;
  if (layer) c.diff_id = layer->diff_id;
  c.empty_layer = layer == nullptr;
  if (e.created) {
    c.created = *e.created;
  } else if (opts.source_date_epoch) {
    c.created = rfc3339_utc(*opts.source_date_epoch);
  } else {
    c.created = rfc3339_utc(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  }
  c.created_by = opts.created_by;
  c.comment = e.history_comment;
  c.author = e.author;
  c.entrypoint = e.entrypoint;
  c.cmd = e.cmd;
  c.env = e.env;
  c.working_dir = e.working_dir;
  c.user = e.user;
  c.labels = e.labels;
  if (e.platform) {
    OCIPIPE_ASSIGN_OR_RETURN(const platform_selector p, parse_platform(*e.platform));
    c.os = p.os;
    c.architecture = p.architecture;
    c.variant = p.variant;
  } else if (!base) {
    c.os = "linux";
    c.architecture = host_architecture();
  }

  if (base) OCIPIPE_TRY(copy_base_blobs(dest, *base, opts.jobs));

  OCIPIPE_ASSIGN_OR_RETURN(
      const std::string config_json,
      write_image_config(base ? std::optional<std::string_view>(base->image.config_bytes) : std::nullopt, c));
  OCIPIPE_ASSIGN_OR_RETURN(const descriptor config_d,
                           put_document(dest, media_type::image_config, config_json));

  // The manifest.
  manifest m;
  m.media_type = std::string(media_type::image_manifest);
  m.config = config_d;
  if (base)
    for (const auto& l : base->image.manifest.layers) m.layers.push_back(as_oci_layer(l));
  if (layer) m.layers.push_back(layer->layer);
  if (base)
    m.annotations["org.opencontainers.image.base.digest"] = base->image.manifest_descriptor.digest.str();
  for (const auto& [k, v] : e.annotations) m.annotations[k] = v;
  const std::string manifest_bytes = manifest_json(m);
  OCIPIPE_ASSIGN_OR_RETURN(descriptor manifest_d,
                           put_document(dest, media_type::image_manifest, manifest_bytes));

  // The tag, last: until index.json names it, the new image is just blobs.
  OCIPIPE_ASSIGN_OR_RETURN(const std::string index_text, dest.read_index());
  auto index = parse_image_index(index_text);
  if (!index) return tl::unexpected(std::move(index).error().context("index.json of " + quote(dest.path())));
  OCIPIPE_TRY(set_tag(*index, manifest_d, tag));
  OCIPIPE_TRY(dest.write_index(image_index_json(*index)));

  packed_image out;
  manifest_d.annotations[std::string(ref_name_annotation)] = tag;
  out.manifest = std::move(manifest_d);
  out.config = config_d;
  out.base_layers = base ? base->image.manifest.layers.size() : 0;
  return out;
}

result<void> check_pack_destination(const image_reference& dest, const std::string& what) {
  if (dest.kind != transport::oci)
    return fail(errc::invalid_argument, what + ": destination " + quote(dest.str()) + " is not an oci: image layout");
  if (dest.manifest_digest)
    return fail(errc::invalid_argument, what + ": destination " + quote(dest.str()) + " names a digest; give a tag");
  return {};
}

image_write_options image_options_of(const pack_options& opts, const image_reference& dest,
                                      std::string created_by) {
  image_write_options o;
  o.edits = opts.edits;
  o.source_date_epoch = opts.source_date_epoch;
  o.tag = dest.tag;
  o.jobs = opts.jobs;
  o.created_by = std::move(created_by);
  return o;
}

layer_pack_options layer_options_of(const pack_options& opts) {
  layer_pack_options lo;
  lo.jobs = opts.jobs;
  lo.compression = opts.compression;
  lo.level = opts.level;
  lo.source_date_epoch = opts.source_date_epoch;
  lo.progress = opts.progress;
  return lo;
}

pack_report pack_report_of(const packed_image& image, packed_layer* layer) {
  pack_report r;
  r.manifest = image.manifest;
  r.config = image.config;
  r.base_layers = image.base_layers;
  if (layer) {
    r.layer = layer->layer;
    r.diff_id = layer->diff_id;
    r.tar_bytes = layer->tar_bytes;
    r.entries = layer->entries;
    r.warnings = std::move(layer->warnings);
  }
  return r;
}

created_layout_guard::created_layout_guard(std::string path)
    : path_(std::move(path)), armed_(::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) {}

created_layout_guard::~created_layout_guard() {
  if (!armed_ || ::access(path_.c_str(), F_OK) != 0) return;
  // Another run may have opened the layout this one created, and tagged its
  // own image there, while this one failed (two packs into one new layout at
  // once): so the layout goes only under its lock, and only while index.json
  // lists no image. The run's own writer is closed by now (declared after
  // this guard), so this waits only for other processes. Waiters find the
  // layout gone and start over (io::layout_writer::open).
  auto w = io::layout_writer::open(path_, /*create=*/true);
  if (!w) return;  // no longer a layout, and not empty: not ours to remove
  auto text = w->read_index();
  if (!text) return;
  auto index = parse_image_index(*text);
  if (!index || !index->manifests.empty()) return;
  (void)w->remove_layout();
}

}  // namespace ocipipe::pipeline
