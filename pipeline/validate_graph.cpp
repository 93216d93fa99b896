// validate: the walk over each image layout (serial, small documents), then
// one flow graph that checks every distinct blob in parallel.
#include <oneapi/tbb/flow_graph.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "pipeline/graph_arena.h"
#include "pipeline/verified_blob.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/layer_stream.h"
#include "stages/oci/media_type.h"
#include "stages/schema_rules.h"
#include "stages/tar_path.h"
#include "stages/tar_reader.h"

namespace ocipipe {
namespace {

namespace flow = oneapi::tbb::flow;

// One distinct blob to check, and what it found (locations are added later,
// per reference that names it).
struct blob_job {
  descriptor desc;
  bool is_layer = false;
  std::optional<digest> diff_id;
  std::vector<finding> problems;  // location filled per reference
  std::uint64_t compressed_bytes = 0;
  std::uint64_t tar_bytes = 0;
};

struct blob_use {
  std::size_t image;
  std::size_t job;
  std::string location;
};

std::string rule_for(const error& e, bool layer_stage) {
  const auto& m = e.message();
  if (layer_stage && e.code() == errc::malformed) {
    if (m.find("gzip: ") != std::string::npos || m.find("zstd: ") != std::string::npos)
      return "layer.compression";
    if (m.find("tar: ") != std::string::npos) return "layer.tar";
    if (m.find("entry \"") != std::string::npos) return "layer.tar.entry";
  }
  if (m.find("diff_id mismatch") != std::string::npos) return "layer.diff_id";
  switch (e.code()) {
    case errc::not_found: return "blob.missing";
    case errc::size_mismatch: return "blob.size";
    case errc::digest_mismatch: return "blob.digest";
    case errc::unsafe_path: return layer_stage ? "layer.tar.path" : "blob.symlink";
    case errc::resource_exhausted: return "layer.limits";
    default: return layer_stage ? "layer.stream" : "blob.read";
  }
}

class image_walker {
 public:
  image_walker(std::size_t image_idx, image_validation& out, const io::image_layout& layout,
               std::vector<blob_job>& jobs, std::map<std::string, std::size_t>& job_keys,
               std::vector<blob_use>& uses, bool strict)
      : idx_(image_idx), out_(out), layout_(layout), jobs_(jobs), job_keys_(job_keys), uses_(uses),
        strict_(strict) {}

  void add(std::string rule, bool error, std::string location, std::string message) {
    out_.findings.push_back({std::move(rule), error, std::move(location), std::move(message)});
  }

  void add_document(std::string_view mt, std::string_view bytes, const std::string& location) {
    for (auto& d : check_document(mt, bytes)) {
      // manifest.md says layers SHOULD be non-empty; only the schema says MUST.
      const bool error = d.level == severity::error && (strict_ || d.rule != "manifest.layers.empty");
      add(d.rule, error, d.json_path.empty() ? location : location + ": " + d.json_path, d.message);
    }
  }

  // Docker v2.2 documents are checked by the OCI rules with the media types
  // renamed, as image-spec's backwards-compatibility tests do.
  void add_docker_document(std::string_view oci_mt, std::string bytes, const std::string& location) {
    static const std::pair<std::string_view, std::string_view> renames[] = {
        {media_type::docker_manifest_list, media_type::image_index},
        {media_type::docker_manifest, media_type::image_manifest},
        {media_type::docker_config, media_type::image_config},
        {media_type::docker_foreign_layer_gzip, media_type::layer_nondistributable_tar_gzip},
        {media_type::docker_layer_gzip, media_type::layer_tar_gzip}};
    for (const auto& [from, to] : renames)
      for (auto pos = bytes.find(from); pos != std::string::npos; pos = bytes.find(from, pos + to.size()))
        bytes.replace(pos, from.size(), to);
    add_document(oci_mt, bytes, location);
  }

  // Reads a small blob with its size and digest checked; problems become findings.
  std::optional<std::string> read_doc(const descriptor& d, const std::string& location) {
    auto bytes = pipeline::read_verified_blob(layout_, d);
    ++out_.blobs;
    if (!bytes) {
      add(rule_for(bytes.error(), false), true, location, bytes.error().message());
      return std::nullopt;
    }
    out_.blob_bytes += bytes->size();
    return std::move(*bytes);
  }

  // The document's own mediaType against its descriptor's (GHSA-77vh-xpmg-72qh).
  void check_embedded_media_type(std::string_view own, const descriptor& d, const std::string& location) {
    if (auto ok = check_media_type_matches(own, d); !ok)
      add("descriptor.mediaType.match", true, location, ok.error().message());
  }


  void visit(const descriptor& d, const std::string& location, int depth,
             const std::optional<platform>& want_platform) {
    const std::string loc = location + " (" + d.digest.short_str() + ")";
    // Indexes may share children (or name each other): each document is
    // checked once per reference, or fan-out grows exponentially with depth.
    if ((media_type::is_image_index(d.media_type) || media_type::is_image_manifest(d.media_type)) &&
        !visited_.insert(d.media_type + "|" + d.digest.str()).second)
      return;
    if (media_type::is_image_index(d.media_type)) {
      if (depth == media_type::max_index_depth) {
        add("index.depth", true, loc, "image indexes nested too deep");
        return;
      }
      auto bytes = read_doc(d, loc);
      if (!bytes) return;
      if (d.media_type == media_type::docker_manifest_list)
        add_docker_document(media_type::image_index, *bytes, loc);
      else
        add_document(media_type::image_index, *bytes, loc);
      auto index = parse_image_index(*bytes);
      if (!index) return;
      check_embedded_media_type(index->media_type, d, loc);
      for (std::size_t i = 0; i < index->manifests.size(); ++i) {
        const auto& child = index->manifests[i];
        visit(child, location + ".manifests[" + std::to_string(i) + "]", depth + 1, child.platform);
      }
      return;
    }
    if (media_type::is_image_manifest(d.media_type)) {
      visit_manifest(d, location, loc, want_platform);
      return;
    }
    add("descriptor.mediaType.unknown", false, loc,
        "media type " + quote(d.media_type) + " is not an image manifest or index; only its blob is checked");
    enqueue(d, false, std::nullopt, loc);
  }

  void visit_manifest(const descriptor& d, const std::string& location, const std::string& loc,
                      const std::optional<platform>& want_platform) {
    auto bytes = read_doc(d, loc);
    if (!bytes) return;
    if (d.media_type == media_type::docker_manifest)
      add_docker_document(media_type::image_manifest, *bytes, loc);
    else
      add_document(media_type::image_manifest, *bytes, loc);
    auto m = parse_manifest(*bytes);
    if (!m) return;
    check_embedded_media_type(m->media_type, d, loc);
    const std::string cloc = location + ".config (" + m->config.digest.short_str() + ")";
    const bool image_config = m->config.media_type == media_type::image_config ||
                              m->config.media_type == media_type::docker_config;
    std::optional<image_config_t> cfg;
    if (image_config) {
      if (auto cbytes = read_doc(m->config, cloc)) {
        if (m->config.media_type == media_type::docker_config)
          add_docker_document(media_type::image_config, *cbytes, cloc);
        else
          add_document(media_type::image_config, *cbytes, cloc);
        if (auto c = parse_image_config(*cbytes)) cfg = std::move(*c);
      }
    } else {
      enqueue(m->config, false, std::nullopt, cloc);
    }
    if (cfg && want_platform) {
      if (want_platform->os != cfg->os || want_platform->architecture != cfg->architecture ||
          (!want_platform->variant.empty() && want_platform->variant != cfg->variant))
        add("platform.match", true, loc,
            "index platform " + quote(want_platform->os + "/" + want_platform->architecture) +
                " differs from image config " + quote(cfg->os + "/" + cfg->architecture));
    }
    if (cfg && cfg->diff_ids.size() != m->layers.size())
      add("config.rootfs.diff_ids.count", true, cloc,
          "rootfs.diff_ids has " + std::to_string(cfg->diff_ids.size()) + " entries but the manifest has " +
              std::to_string(m->layers.size()) + " layers");
    for (std::size_t i = 0; i < m->layers.size(); ++i) {
      const auto& l = m->layers[i];
      const std::string lloc = location + ".layers[" + std::to_string(i) + "] (" + l.digest.short_str() + ")";
      const bool known = media_type::compression_of(l.media_type) != media_type::layer_compression::unknown;
      std::optional<digest> want;
      if (known && cfg && i < cfg->diff_ids.size()) want = cfg->diff_ids[i];
      enqueue(l, known && image_config, want, lloc);
    }
  }

  void enqueue(const descriptor& d, bool is_layer, std::optional<digest> diff_id,
               const std::string& location) {
    if (d.digest.algorithm() == digest_algorithm::unregistered)
      add("digest.algorithm.unregistered", false, location,
          "digest algorithm " + quote(d.digest.algorithm_name()) + " is not registered; content not verified");
    // Blobs of different layouts are different files: the key names the layout.
    std::string key = layout_.path() + "|" + d.digest.str() + "|" + std::to_string(d.size) + "|" + d.media_type + "|" +
                      (is_layer ? "L" : "B") + "|" + (diff_id ? diff_id->str() : "");
    auto [it, fresh] = job_keys_.emplace(key, jobs_.size());
    if (fresh) jobs_.push_back(blob_job{d, is_layer, std::move(diff_id), {}, 0, 0});
    uses_.push_back({idx_, it->second, location});
  }

 private:
  using image_config_t = ocipipe::image_config;
  std::size_t idx_;
  image_validation& out_;
  const io::image_layout& layout_;
  std::vector<blob_job>& jobs_;
  std::map<std::string, std::size_t>& job_keys_;
  std::vector<blob_use>& uses_;
  bool strict_;
  std::set<std::string> visited_;
};

void problem(blob_job& job, const error& e, bool layer_stage) {
  job.problems.push_back({rule_for(e, layer_stage), true, {}, e.message()});
}

// Checks one distinct blob: size and digest always; for layers also the
// compressed stream, the tar stream, entry paths and whiteout names, diff_id.
void check_blob(const io::image_layout& layout, blob_job& job) {
  auto blob = layout.open_blob(job.desc);
  if (!blob) return problem(job, blob.error(), false);
  if (!job.is_layer) {
    digester dg(job.desc.digest.algorithm() == digest_algorithm::sha512 ? digest_algorithm::sha512
                                                                         : digest_algorithm::sha256);
    for (;;) {
      auto chunk = (*blob)->next();
      if (!chunk) return problem(job, chunk.error(), false);
      if (chunk->empty()) break;
      dg.update(*chunk);
      job.compressed_bytes += chunk->size();
    }
    const auto got = dg.finish();
    if (job.desc.digest.algorithm() != digest_algorithm::unregistered && !(got == job.desc.digest))
      job.problems.push_back({"blob.digest", true, {},
                              "blob digest mismatch: descriptor says " + job.desc.digest.str() +
                                  ", content is " + got.str()});
    return;
  }
  const auto diff_alg = job.diff_id && job.diff_id->algorithm() == digest_algorithm::sha512
                            ? digest_algorithm::sha512
                            : digest_algorithm::sha256;
  auto stream = layer_stream::open(**blob, job.desc, {}, diff_alg);
  if (!stream) return problem(job, stream.error(), true);
  auto walk_tar = [&]() -> result<void> {
    tar_reader tar(**stream);
    for (;;) {
      OCIPIPE_ASSIGN_OR_RETURN(auto entry, tar.next_entry());
      if (!entry) return {};
      OCIPIPE_TRY(classify_entry(*entry));
    }
  };
  auto walked = walk_tar();
  if (!walked) {
    problem(job, walked.error(), true);
    if (walked.error().code() == errc::size_mismatch || walked.error().code() == errc::io) return;
    if (auto d = (*stream)->finish_compressed_only()) {
      job.compressed_bytes = d->compressed_bytes;
      if (auto r = check_layer_digests(*d, job.desc, nullptr); !r) problem(job, r.error(), true);
    } else {
      problem(job, d.error(), true);
    }
    return;
  }
  // Past the end-of-archive blocks only zero padding belongs to a tar stream.
  bool trailing = false;
  for (;;) {
    auto chunk = (*stream)->next();
    if (!chunk) return problem(job, chunk.error(), true);
    if (chunk->empty()) break;
    for (std::byte b : *chunk)
      if (b != std::byte{0}) trailing = true;
  }
  if (trailing)
    job.problems.push_back({"layer.tar.trailing_data", false, {},
                            "non-zero bytes after the tar end-of-archive marker"});
  auto d = (*stream)->finish();
  if (!d) return problem(job, d.error(), true);
  job.compressed_bytes = d->compressed_bytes;
  job.tar_bytes = d->tar_bytes;
  if (auto r = check_layer_digests(*d, job.desc, job.diff_id ? &*job.diff_id : nullptr); !r)
    problem(job, r.error(), true);
}

}  // namespace

bool image_validation::valid() const {
  if (failure) return false;
  for (const auto& f : findings)
    if (f.error) return false;
  return true;
}

std::vector<finding> validate_document(std::string_view mt, std::string_view json) {
  std::vector<finding> out;
  for (auto& d : check_document(mt, json))
    out.push_back({d.rule, d.level == severity::error, d.json_path, d.message});
  return out;
}

std::vector<image_validation> validate(const std::vector<image_reference>& refs,
                                       const validate_options& opts) {
  std::vector<image_validation> out(refs.size());
  std::vector<std::optional<io::image_layout>> layouts(refs.size());
  std::vector<blob_job> jobs;
  std::vector<std::size_t> job_layout;  // which layout reads each job's blob
  std::map<std::string, std::size_t> job_keys;
  std::vector<blob_use> uses;
  const auto start = std::chrono::steady_clock::now();

  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    auto& res = out[i];
    res.ref = ref.str();
    if (ref.kind != transport::oci) {
      res.failure = error(errc::unsupported, "transport not supported by validate yet; use oci:DIR[:TAG]");
      continue;
    }
    auto layout = io::image_layout::open(ref.path);
    if (!layout) {
      res.failure = std::move(layout).error();
      continue;
    }
    layouts[i] = std::move(*layout);
    image_walker w(i, res, *layouts[i], jobs, job_keys, uses, opts.strict);
    if (auto ol = layouts[i]->read_file("oci-layout"); !ol)
      w.add("layout.oci-layout", true, "oci-layout", ol.error().message());
    else
      w.add_document(media_type::oci_layout_header, *ol, "oci-layout");
    auto ib = layouts[i]->read_file("index.json");
    if (!ib) {
      w.add("layout.index", true, "index.json", ib.error().message());
      continue;
    }
    w.add_document(media_type::image_index, *ib, "index.json");
    auto index = parse_image_index(*ib);
    if (!index) continue;
    std::vector<std::size_t> picked;
    for (std::size_t m = 0; m < index->manifests.size(); ++m) {
      const auto& d = index->manifests[m];
      if (ref.manifest_digest ? d.digest == *ref.manifest_digest
          : !ref.tag.empty()  ? d.ref_name() == ref.tag
                              : true)
        picked.push_back(m);
    }
    if (!ref.tag.empty() && picked.size() > 1)
      w.add("index.ref.name.unique", false, "index.json",
            "tag " + quote(ref.tag) + " names " + std::to_string(picked.size()) +
                " manifests; unpack refuses it as ambiguous; all are checked");
    if (picked.empty() && (ref.manifest_digest || !ref.tag.empty())) {
      res.failure = error(errc::not_found, ref.manifest_digest ? "no manifest " + ref.manifest_digest->str() + " in index.json"
                                                                : "no tag " + quote(ref.tag) + " in index.json");
      continue;
    }
    if (!ref.manifest_digest && ref.tag.empty() && picked.size() > 1 && !opts.all) {
      std::string tags;
      for (auto m : picked) {
        const auto& d = index->manifests[m];
        tags += (tags.empty() ? "" : ", ") + (d.ref_name().empty() ? d.digest.str() : quote(d.ref_name()));
      }
      res.failure = error(errc::invalid_argument, "index.json lists " + std::to_string(picked.size()) +
                                                      " manifests; name one or use --all: " + tags);
      continue;
    }
    for (auto m : picked) {
      const auto& d = index->manifests[m];
      w.visit(d, "manifests[" + std::to_string(m) + "]", 0, d.platform);
    }
    job_layout.resize(jobs.size(), i);
  }

  pipeline::graph_arena arena(opts.jobs, 1);
  const int threads = arena.threads();
  arena.execute([&] {
    flow::graph g;
    // Largest blobs first, so one big layer does not start last and run alone.
    std::vector<std::size_t> order(jobs.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return jobs[a].desc.size > jobs[b].desc.size; });
    std::size_t next = 0;
    flow::input_node<std::size_t> blob_job_node(g, [&](oneapi::tbb::flow_control& fc) {
      if (next == order.size()) {
        fc.stop();
        return std::size_t{0};
      }
      return order[next++];
    });
    // Each check holds two 1 MiB buffers: concurrency bounds the memory.
    std::atomic<std::size_t> done{0};
    flow::function_node<std::size_t> check_blob_node(g, threads, [&](std::size_t j) {
      check_blob(*layouts[job_layout[j]], jobs[j]);
      if (opts.progress) opts.progress(++done, jobs.size(), jobs[j].desc.digest.str());
    });
    flow::make_edge(blob_job_node, check_blob_node);
    blob_job_node.activate();
    g.wait_for_all();
  });

  std::set<std::pair<std::size_t, std::size_t>> counted;  // (image, job): bytes count once
  for (const auto& u : uses) {
    auto& res = out[u.image];
    const auto& job = jobs[u.job];
    if (counted.emplace(u.image, u.job).second) {
      ++res.blobs;
      res.blob_bytes += job.compressed_bytes;
      res.tar_bytes += job.tar_bytes;
    }
    for (const auto& p : job.problems) res.findings.push_back({p.rule, p.error, u.location, p.message});
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& r : out) r.seconds = secs;
  return out;
}

}  // namespace ocipipe
