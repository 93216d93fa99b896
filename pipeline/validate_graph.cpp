// validate's three steps (validate_run.h): a walk over each reference's
// documents (serial, small), one flow graph that checks the run's distinct
// blobs in parallel, then the per-use comparisons (diff_ids, hardlinks across
// layers); and validate() doing them in one process.
#include <oneapi/tbb/flow_graph.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <fcntl.h>

#include "io/image_layout.h"
#include "io/small_file.h"
#include "pipeline/api.h"
#include "pipeline/docker_archive.h"
#include "pipeline/graph_arena.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/validate_blob.h"
#include "pipeline/validate_run.h"
#include "pipeline/verified_blob.h"
#include "stages/cosign_signature.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"
#include "stages/schema_rules.h"

namespace ocipipe {
namespace pipeline {
namespace {

namespace flow = oneapi::tbb::flow;

place at_descriptor(std::string path, const descriptor& d) { return {std::move(path), d.digest.str()}; }

std::string location_of(const place& at, const std::string& json_path, const std::string& entry) {
  std::string s = at.path;
  if (!at.digest.empty()) s += " (" + at.digest.substr(0, at.digest.find(':') + 13) + ")";
  if (!json_path.empty()) s += (s.empty() ? "" : ": ") + json_path;
  if (!entry.empty()) s += (s.empty() ? "" : ": ") + std::string("entry ") + quote(entry);
  return s;
}

class image_walker {
 public:
  image_walker(std::size_t image_idx, image_validation& out, const io::image_layout& store, run_state& run,
               bool strict)
      : idx_(image_idx), out_(out), store_(store), run_(run), strict_(strict) {}

  void add(std::string rule, bool error, const place& at, std::string json_path, std::string message) {
    out_.findings.push_back(make_finding(std::move(rule), error, at, std::move(json_path), {}, std::move(message)));
  }

  void add_document(std::string_view mt, std::string_view bytes, const place& at) {
    for (auto& d : check_document(mt, bytes)) {
      // manifest.md says layers SHOULD be non-empty; only the schema says MUST.
      const bool error = d.level == severity::error && (strict_ || d.rule != "manifest.layers.empty");
      add(d.rule, error, at, d.json_path, d.message);
    }
  }

  // Docker v2.2 documents are checked by the OCI rules with the media types
  // renamed, as image-spec's backwards-compatibility tests do.
  void add_docker_document(std::string_view oci_mt, std::string bytes, const place& at) {
    static const std::pair<std::string_view, std::string_view> renames[] = {
        {media_type::docker_manifest_list, media_type::image_index},
        {media_type::docker_manifest, media_type::image_manifest},
        {media_type::docker_config, media_type::image_config},
        {media_type::docker_foreign_layer_gzip, media_type::layer_nondistributable_tar_gzip},
        {media_type::docker_layer_gzip, media_type::layer_tar_gzip}};
    for (const auto& [from, to] : renames)
      for (auto pos = bytes.find(from); pos != std::string::npos; pos = bytes.find(from, pos + to.size()))
        bytes.replace(pos, from.size(), to);
    add_document(oci_mt, bytes, at);
  }

  // Reads a small blob with its size and digest checked; problems become findings.
  std::optional<std::string> read_doc(const descriptor& d, const place& at) {
    auto bytes = read_verified_blob(store_, d);
    ++out_.blobs;
    if (!bytes) {
      add(blob_rule(bytes.error()), true, at, {}, bytes.error().message());
      return std::nullopt;
    }
    out_.blob_bytes += bytes->size();
    ++run_.documents;
    run_.document_bytes += bytes->size();
    return std::move(*bytes);
  }

  // oci: and oci-archive: image layouts. Returns an operational failure.
  std::optional<error> walk_layout(const image_reference& ref, bool all) {
    if (auto ol = store_.read_file("oci-layout"); !ol)
      add("layout.oci-layout", true, {"oci-layout", {}}, {}, ol.error().message());
    else
      add_document(media_type::oci_layout_header, *ol, {"oci-layout", {}});
    auto ib = store_.read_file("index.json", max_layout_index_bytes);
    if (!ib) {
      add("layout.index", true, {"index.json", {}}, {}, ib.error().message());
      return std::nullopt;
    }
    add_document(media_type::image_index, *ib, {"index.json", {}});
    auto index = parse_image_index(*ib);
    if (!index) return std::nullopt;
    std::vector<std::size_t> picked;
    for (std::size_t m = 0; m < index->manifests.size(); ++m) {
      const auto& d = index->manifests[m];
      if (ref.manifest_digest ? d.digest == *ref.manifest_digest : ref.tag.empty() || d.ref_name() == ref.tag)
        picked.push_back(m);
    }
    if (!ref.tag.empty() && picked.size() > 1)
      add("index.ref.name.unique", false, {"index.json", {}}, {},
          "tag " + quote(ref.tag) + " names " + std::to_string(picked.size()) +
              " manifests; unpack refuses it as ambiguous; all are checked");
    if (picked.empty() && (ref.manifest_digest || !ref.tag.empty()))
      return error(errc::not_found, ref.manifest_digest ? "no manifest " + ref.manifest_digest->str() + " in index.json"
                                                        : "no tag " + quote(ref.tag) + " in index.json");
    // An image was asked for and there is none (unpack fails the same way);
    // --all asks about the layout, and an empty one is valid.
    if (picked.empty() && !all) return error(errc::not_found, "index.json lists no manifests");
    if (!ref.manifest_digest && ref.tag.empty() && picked.size() > 1 && !all) {
      std::string tags;
      for (auto m : picked) {
        const auto& d = index->manifests[m];
        tags += (tags.empty() ? "" : ", ") + (d.ref_name().empty() ? d.digest.str() : quote(d.ref_name()));
      }
      return error(errc::invalid_argument, "index.json lists " + std::to_string(picked.size()) +
                                               " manifests; name one or use --all: " + tags);
    }
    for (auto m : picked) {
      const auto& d = index->manifests[m];
      visit(d, json_index_path("manifests", m), 0, d.platform);
    }
    return std::nullopt;
  }

  // docker://: the registry names the root by tag or digest; the layout
  // rules (oci-layout, index.json) have nothing to apply to. A root the
  // registry cannot give is an operational failure; one it gives wrong
  // (digest, size, media type) is a finding.
  std::optional<error> walk_registry(const image_reference& ref) {
    auto root = select_root(store_, ref);
    if (!root) {
      const errc code = root.error().code();
      if (code != errc::digest_mismatch && code != errc::size_mismatch && code != errc::malformed)
        return std::move(root).error();
      add(blob_rule(root.error()), true, {"root", {}}, {}, root.error().message());
      return std::nullopt;
    }
    visit(*root, "root", 0, std::nullopt);
    return std::nullopt;
  }

  // docker-archive: manifest.json, each entry's config and layer tars.
  std::optional<error> walk_docker_archive(const image_reference& ref, bool all) {
    const place list_at{"manifest.json", {}};
    auto text = store_.read_file("manifest.json", max_image_document_bytes);
    if (!text) {
      add("docker.manifest", true, list_at, {}, text.error().message());
      return std::nullopt;
    }
    auto list = parse_docker_manifest(*text);
    for (auto& p : list.problems) add(p.rule, true, list_at, p.json_path, p.message);
    std::vector<std::size_t> picked;
    if (list.images.empty() && list.problems.empty() && !all)
      return error(errc::not_found, "manifest.json lists no images");
    if (ref.tag.empty() && (all || list.images.size() <= 1)) {
      for (std::size_t n = 0; n < list.images.size(); ++n) picked.push_back(n);
    } else {
      auto n = select_docker_image(list.images, ref);
      if (!n) return std::move(n).error();
      picked.push_back(*n);
    }
    for (auto n : picked) {
      const auto at = json_index_path("", n);
      auto view = load_docker_image(store_, list.images[n], at);
      const place config_at{"manifest.json" + json_member_path(at, "Config"), {}};
      if (!view) {
        add(blob_rule(view.error()), true, config_at, {}, view.error().message());
        continue;
      }
      for (auto& p : view->problems) add(p.rule, true, list_at, p.json_path, p.message);
      ++out_.blobs;
      out_.blob_bytes += view->config_bytes.size();
      ++run_.documents;
      run_.document_bytes += view->config_bytes.size();
      add_document(media_type::image_config, view->config_bytes,
                   {config_at.path, view->manifest.config.digest.str()});
      layer_stack stack;
      const auto& layers = view->manifest.layers;
      for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto lpath = "manifest.json" + json_index_path(json_member_path(at, "Layers"), view->layer_member[i]);
        stack.uses.push_back(enqueue(layers[i], true, std::nullopt, at_descriptor(lpath, layers[i]), true));
      }
      run_.stacks.push_back(std::move(stack));
    }
    return std::nullopt;
  }

 private:
  // The document's own mediaType against its descriptor's (GHSA-77vh-xpmg-72qh).
  void check_embedded_media_type(std::string_view own, const descriptor& d, const place& at) {
    if (auto ok = check_media_type_matches(own, d); !ok)
      add("descriptor.mediaType.match", true, at, {}, ok.error().message());
  }

  void visit(const descriptor& d, const std::string& path, int depth, const std::optional<platform>& want_platform) {
    const place at = at_descriptor(path, d);
    // Indexes may share children (or name each other): each document is
    // checked once per reference, or fan-out grows exponentially with depth.
    if ((media_type::is_image_index(d.media_type) || media_type::is_image_manifest(d.media_type)) &&
        !visited_.insert(d.media_type + "|" + d.digest.str()).second)
      return;
    if (media_type::is_image_index(d.media_type)) {
      if (depth == media_type::max_index_depth) {
        add("index.depth", true, at, {}, "image indexes nested too deep");
        return;
      }
      auto bytes = read_doc(d, at);
      if (!bytes) return;
      if (d.media_type == media_type::docker_manifest_list)
        add_docker_document(media_type::image_index, *bytes, at);
      else
        add_document(media_type::image_index, *bytes, at);
      auto index = parse_image_index(*bytes);
      if (!index) return;
      check_embedded_media_type(index->media_type, d, at);
      for (std::size_t i = 0; i < index->manifests.size(); ++i) {
        const auto& child = index->manifests[i];
        visit(child, path + "." + json_index_path("manifests", i), depth + 1, child.platform);
      }
      return;
    }
    if (media_type::is_image_manifest(d.media_type)) {
      visit_manifest(d, path, at, want_platform);
      return;
    }
    add("descriptor.mediaType.unknown", false, at, {},
        "media type " + quote(d.media_type) + " is not an image manifest or index; only its blob is checked");
    enqueue(d, false, std::nullopt, at);
  }

  void visit_manifest(const descriptor& d, const std::string& path, const place& at,
                      const std::optional<platform>& want_platform) {
    auto bytes = read_doc(d, at);
    if (!bytes) return;
    if (d.media_type == media_type::docker_manifest)
      add_docker_document(media_type::image_manifest, *bytes, at);
    else
      add_document(media_type::image_manifest, *bytes, at);
    auto m = parse_manifest(*bytes);
    if (!m) return;
    check_embedded_media_type(m->media_type, d, at);
    const place cat = at_descriptor(path + ".config", m->config);
    // cosign's signature manifests name an image config with empty os and
    // architecture (they sign images, they are not run): their config is
    // checked as a blob only.
    const bool signature_manifest =
        !m->layers.empty() && std::all_of(m->layers.begin(), m->layers.end(), [](const descriptor& l) {
          return l.media_type == cosign_payload_media_type;
        });
    const bool image_config = !signature_manifest && (m->config.media_type == media_type::image_config ||
                                                      m->config.media_type == media_type::docker_config);
    std::optional<image_config_t> cfg;
    if (image_config) {
      if (auto cbytes = read_doc(m->config, cat)) {
        if (m->config.media_type == media_type::docker_config)
          add_docker_document(media_type::image_config, *cbytes, cat);
        else
          add_document(media_type::image_config, *cbytes, cat);
        if (auto c = parse_image_config(*cbytes)) cfg = std::move(*c);
      }
    } else {
      enqueue(m->config, false, std::nullopt, cat);
    }
    if (cfg && want_platform &&
        (want_platform->os != cfg->os || want_platform->architecture != cfg->architecture ||
         (!want_platform->variant.empty() && want_platform->variant != cfg->variant)))
      add("platform.match", true, at, {},
          "index platform " + quote(want_platform->os + "/" + want_platform->architecture) +
              " differs from image config " + quote(cfg->os + "/" + cfg->architecture));
    if (cfg && cfg->diff_ids.size() != m->layers.size())
      add("config.rootfs.diff_ids.count", true, cat, {},
          "rootfs.diff_ids has " + std::to_string(cfg->diff_ids.size()) + " entries but the manifest has " +
              std::to_string(m->layers.size()) + " layers");
    layer_stack stack;
    for (std::size_t i = 0; i < m->layers.size(); ++i) {
      const auto& l = m->layers[i];
      const bool known = media_type::compression_of(l.media_type) != media_type::layer_compression::unknown;
      std::optional<digest> want;
      if (known && cfg && i < cfg->diff_ids.size()) want = cfg->diff_ids[i];
      const auto use = enqueue(l, known && image_config, want, at_descriptor(path + "." + json_index_path("layers", i), l));
      if (known && image_config) stack.uses.push_back(use);
    }
    run_.stacks.push_back(std::move(stack));
  }

  std::size_t enqueue(const descriptor& d, bool is_layer, std::optional<digest> want_diff_id, const place& at,
                      bool digest_is_diff_id = false) {
    if (d.digest.algorithm() == digest_algorithm::unregistered)
      add("digest.algorithm.unregistered", false, at, {},
          "digest algorithm " + quote(d.digest.algorithm_name()) + " is not registered; content not verified");
    // Bulk mode: the same stored bytes (a file, hardlinked or not, or an
    // archive member) read the same way are one job, whoever names them.
    auto identity = store_.blob_identity(d);
    const auto diff_alg = want_diff_id && want_diff_id->algorithm() == digest_algorithm::sha512
                              ? digest_algorithm::sha512
                              : digest_algorithm::sha256;
    std::string key = (identity ? *identity : "unreadable:" + store_.path()) + "|" + d.digest.str() + "|" +
                      std::to_string(d.size) + "|" + d.media_type + "|" + (is_layer ? "L" : "B") +
                      (diff_alg == digest_algorithm::sha512 ? "512" : "") + (digest_is_diff_id ? "D" : "");
    auto [it, fresh] = run_.job_keys.emplace(std::move(key), run_.jobs.size());
    if (fresh) {
      blob_job job;
      job.desc = d;
      job.is_layer = is_layer;
      job.digest_is_diff_id = digest_is_diff_id;
      job.diff_id_algorithm = diff_alg;
      run_.jobs.push_back(std::move(job));
      run_.job_store.push_back(&store_);
    }
    run_.uses.push_back({idx_, it->second, at, std::move(want_diff_id)});
    return run_.uses.size() - 1;
  }

  using image_config_t = ocipipe::image_config;
  std::size_t idx_;
  image_validation& out_;
  const io::image_layout& store_;
  run_state& run_;
  bool strict_;
  std::set<std::string> visited_;
};

}  // namespace

int blobs_checked_at_once(int jobs, std::size_t blobs, bool any_remote, int cores) {
  std::size_t n = static_cast<std::size_t>(jobs > 0 ? jobs : std::max(cores, 1));
  n = std::min(n, std::max<std::size_t>(blobs, 1));
  if (!any_remote) n = std::min(n, static_cast<std::size_t>(std::max(cores, 1)));
  return static_cast<int>(n);
}

void check_blobs(run_state& run, const validate_options& opts, const std::function<bool(const blob_job&)>& pick) {
  // Largest blobs first, so one big layer does not start last and run alone.
  std::vector<std::size_t> order;
  for (std::size_t j = 0; j < run.jobs.size(); ++j)
    if (!pick || pick(run.jobs[j])) order.push_back(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return run.jobs[a].desc.size > run.jobs[b].desc.size; });
  const bool any_remote =
      std::any_of(order.begin(), order.end(), [&](std::size_t j) { return run.job_store[j]->is_remote(); });
  graph_arena arena(blobs_checked_at_once(opts.jobs, order.size(), any_remote, jobs_or_cores(0)), 1);
  const int threads = arena.threads();
  // Within a blob (parallel inflate), -j as asked: one big layer may use every core.
  const layer_threading within_blob = threading_for_jobs(jobs_or_cores(opts.jobs));
  arena.execute([&] {
    flow::graph g;
    std::size_t next = 0;
    flow::input_node<std::size_t> blob_job_node(g, [&](oneapi::tbb::flow_control& fc) {
      if (next == order.size()) {
        fc.stop();
        return std::size_t{0};
      }
      return order[next++];
    });
    // Each check holds two 1 MiB buffers: concurrency bounds the memory.
    std::uint64_t total_bytes = 0;
    for (auto j : order) total_bytes += run.jobs[j].desc.size > 0 ? static_cast<std::uint64_t>(run.jobs[j].desc.size) : 0;
    progress_meter meter(opts.progress, total_bytes);
    flow::function_node<std::size_t> check_blob_node(g, threads, [&](std::size_t j) {
      auto& job = run.jobs[j];
      check_blob(*run.job_store[j], job, &meter, within_blob);
      if (!meter.enabled()) return;
      // A blob cut short or missing still counts as done, in full.
      const auto size = job.desc.size > 0 ? static_cast<std::uint64_t>(job.desc.size) : 0;
      if (job.compressed_bytes < size) meter.add(size - job.compressed_bytes);
      meter.finished_item("blob", order.size(), job.desc.digest.short_str());
    });
    flow::make_edge(blob_job_node, check_blob_node);
    blob_job_node.activate();
    g.wait_for_all();
  });
}

namespace {

bool has(const std::vector<std::uint64_t>& sorted, std::uint64_t h) {
  return std::binary_search(sorted.begin(), sorted.end(), h);
}

// Whether a proper ancestor of `path` is in `sorted` (hashes of paths).
bool below_any(const std::vector<std::uint64_t>& sorted, const std::string& path) {
  if (sorted.empty()) return false;
  for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1))
    if (has(sorted, path_hash(std::string_view(path).substr(0, slash)))) return true;
  return false;
}

// Whether layer `job`'s whiteouts hide lower `path`: a whiteout of the path or
// of a directory above it, or an opaque whiteout of a directory above it.
bool hidden_by(const blob_job& job, const std::string& path) {
  if (job.whiteout_hashes.empty() && job.opaque_hashes.empty()) return false;
  if (has(job.whiteout_hashes, path_hash(path))) return true;
  for (std::size_t slash = path.size(); slash != std::string::npos && slash > 0;) {
    slash = path.rfind('/', slash - 1);
    const std::string_view parent = slash == std::string::npos ? std::string_view{} : std::string_view(path).substr(0, slash);
    const auto h = path_hash(parent);
    if (has(job.opaque_hashes, h) || (!parent.empty() && has(job.whiteout_hashes, h))) return true;
  }
  return false;
}

// image-spec layer.md "Hardlinks": a hardlink names a path that exists when it
// is applied: created before it in its own layer, or in a lower layer and not
// hidden since by a whiteout (its own layer's whiteouts hide lower paths too).
void check_hardlinks(const run_state& run, std::vector<image_validation>& out) {
  for (const auto& stack : run.stacks) {
    for (std::size_t k = 0; k < stack.uses.size(); ++k) {
      const auto& use = run.uses[stack.uses[k]];
      const auto& layer = run.jobs[use.job];
      for (const auto& [entry, target] : layer.open_hardlinks) {
        // Through a symlinked directory the target is not where its name
        // says; unpack resolves it in-root, a lexical check cannot judge it.
        bool through_symlink = false;
        for (std::size_t j = 0; j <= k && !through_symlink; ++j)
          through_symlink = below_any(run.jobs[run.uses[stack.uses[j]].job].symlink_hashes, target);
        if (through_symlink) continue;
        const auto h = path_hash(target);
        bool exists = false;
        bool directory = false;
        if (!hidden_by(layer, target))
          for (std::size_t j = k; j-- > 0;) {
            const auto& lower = run.jobs[run.uses[stack.uses[j]].job];
            if (has(lower.path_hashes, h)) {
              exists = true;
              directory = has(lower.dir_hashes, h);
              break;
            }
            if (hidden_by(lower, target)) break;
          }
        if (directory)
          out[use.image].findings.push_back(make_finding("layer.tar.hardlink", true, use.at, {}, entry,
                                                         "hardlink to " + quote(target) +
                                                             ", a directory; only files can be linked"));
        else if (!exists)
          out[use.image].findings.push_back(make_finding(
              "layer.tar.hardlink", true, use.at, {}, entry,
              "hardlink to " + quote(target) + ", which does not exist when it is applied: neither created before it "
              "in this layer nor in a lower layer without a whiteout hiding it since"));
      }
    }
  }
}

}  // namespace

finding make_finding(std::string rule, bool error, const place& at, std::string json_path, std::string entry,
                     std::string message) {
  finding f{std::move(rule), error, location_of(at, json_path, entry), std::move(message)};
  f.descriptor_path = at.path;
  f.digest = at.digest;
  f.json_path = std::move(json_path);
  f.entry = std::move(entry);
  return f;
}

void walk_references(const std::vector<image_reference>& refs, const validate_options& opts, validate_run& r) {
  r.images.assign(refs.size(), {});
  r.stores.resize(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    auto& res = r.images[i];
    res.ref = ref.str();
    auto store = open_store(ref, &r.remote);
    if (!store) {
      res.failure = std::move(store).error();
      continue;
    }
    r.stores[i] = std::make_unique<io::image_layout>(std::move(*store));
    image_walker w(i, res, *r.stores[i], r.run, opts.strict);
    res.failure = ref.kind == transport::docker_archive ? w.walk_docker_archive(ref, opts.all)
                  : ref.kind == transport::docker         ? w.walk_registry(ref)
                                                          : w.walk_layout(ref, opts.all);
  }
}

void finish_validation(const run_state& run, std::vector<image_validation>& images) {
  std::set<std::pair<std::size_t, std::size_t>> counted;  // (image, job): bytes count once
  for (const auto& u : run.uses) {
    auto& res = images[u.image];
    const auto& job = run.jobs[u.job];
    if (counted.emplace(u.image, u.job).second) {
      ++res.blobs;
      res.blob_bytes += job.compressed_bytes;
      res.tar_bytes += job.tar_bytes;
    }
    for (const auto& p : job.problems) res.findings.push_back(make_finding(p.rule, p.error, u.at, {}, p.entry, p.message));
    const bool untrusted = std::any_of(job.problems.begin(), job.problems.end(),
                                       [](const blob_problem& p) { return p.rule == "blob.digest"; });
    if (!untrusted && job.diff_id && u.want_diff_id && u.want_diff_id->algorithm() != digest_algorithm::unregistered &&
        !(*job.diff_id == *u.want_diff_id))
      res.findings.push_back(make_finding("layer.diff_id", true, u.at, {}, {},
                                          "diff_id mismatch: image config says " + u.want_diff_id->str() +
                                              ", uncompressed content is " + job.diff_id->str()));
  }
  check_hardlinks(run, images);
}

std::vector<image_validation> finish_run(validate_run& r, std::chrono::steady_clock::time_point start,
                                         validate_totals* totals) {
  finish_validation(r.run, r.images);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& img : r.images) img.seconds = secs;
  if (totals) {
    *totals = {};
    // Documents are read per reference, and counted so; blobs once per run.
    totals->blobs = r.run.jobs.size() + r.run.documents;
    totals->blob_bytes = r.run.document_bytes;
    for (const auto& j : r.run.jobs) {
      totals->blob_bytes += j.compressed_bytes;
      totals->tar_bytes += j.tar_bytes;
    }
    totals->seconds = secs;
  }
  return std::move(r.images);
}

}  // namespace pipeline

bool image_validation::valid() const {
  if (failure) return false;
  for (const auto& f : findings)
    if (f.error) return false;
  return true;
}

std::vector<finding> validate_document(std::string_view mt, std::string_view json) {
  std::vector<finding> out;
  for (auto& d : check_document(mt, json)) {
    finding f{d.rule, d.level == severity::error, d.json_path, d.message};
    f.json_path = d.json_path;
    out.push_back(std::move(f));
  }
  return out;
}

result<std::vector<finding>> validate_document_file(std::string_view mt, const std::string& path,
                                                    std::size_t max_bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto bytes, io::read_small_file(AT_FDCWD, path, max_bytes));
  return validate_document(mt, bytes);
}

std::vector<image_validation> validate(const std::vector<image_reference>& refs, const validate_options& opts,
                                       validate_totals* totals) {
  const auto start = std::chrono::steady_clock::now();
  pipeline::validate_run r(opts.remote);  // one connection per registry for the run
  pipeline::walk_references(refs, opts, r);
  pipeline::check_blobs(r.run, opts);
  return pipeline::finish_run(r, start, totals);
}

}  // namespace ocipipe
