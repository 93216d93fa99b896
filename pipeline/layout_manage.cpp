// Layout management verbs: ls, inspect, tag, rm, gc (pipeline/api.h). The
// writers take the layout lock through io::layout_writer for their whole
// read-modify-write; the index.json edits are stages/layout_index.h's.

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "io/image_layout.h"
#include "io/layout_writer.h"
#include "pipeline/api.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/verified_blob.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/layout_index.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

// Largest document (manifest, index, config) read whole; the parsers' own
// inputs are far smaller in practice.
constexpr std::size_t max_document_bytes = 16u << 20;
// Blobs larger than this are never taken for referrer candidates: a manifest
// of 4 MiB (the distribution spec's limit) is the largest a registry accepts.
constexpr std::uint64_t max_referrer_bytes = 4u << 20;

result<void> require_oci(const image_reference& ref, std::string_view verb) {
  if (ref.kind == transport::oci) return {};
  return fail(errc::unsupported, std::string(verb) + " " + quote(ref.str()) +
                                     ": only an oci: image layout can be changed; copy it into one first");
}

result<image_index> read_index(const io::layout_writer& w) {
  OCIPIPE_ASSIGN_OR_RETURN(auto text, w.read_index());
  auto idx = parse_image_index(text);
  if (!idx) return tl::unexpected(std::move(idx).error().context("layout " + quote(w.path()) + ": index.json"));
  return idx;
}

result<void> write_index(io::layout_writer& w, const image_index& idx) {
  return w.write_index(image_index_json(idx));
}

// A layout opened for a read-modify-write (tag, rm, gc): the writer, whose
// lock is held until it is destroyed, a read view, and index.json as it is.
struct layout_change {
  io::layout_writer writer;
  io::image_layout store;
  image_index index;
};

result<layout_change> open_for_change(const std::string& path) {
  OCIPIPE_ASSIGN_OR_RETURN(auto w, io::layout_writer::open(path, false));
  OCIPIPE_ASSIGN_OR_RETURN(auto store, w.reader());
  OCIPIPE_ASSIGN_OR_RETURN(auto index, read_index(w));
  return layout_change{std::move(w), std::move(store), std::move(index)};
}

std::string platform_text(const std::string& os, const std::string& arch, const std::string& variant) {
  return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
}

// ---- reachability (gc, rm --blobs) ----------------------------------------

// The set of blobs index.json reaches, following image-spec's graph:
// index.json -> manifests and indexes -> their config, layers, manifests and
// subject; then referrers (a document whose subject is reached) to a fixpoint.
class reachability {
 public:
  reachability(const io::image_layout& store, const io::layout_writer& writer)
      : store_(store), writer_(writer) {}

  result<void> add_roots(const image_index& index) {
    for (const auto& d : index.manifests) OCIPIPE_TRY(visit(d));
    if (index.subject) OCIPIPE_TRY(visit(*index.subject));
    return {};
  }

  // Adds every blob whose subject is reached, and what it reaches, until
  // nothing changes: referrers of referrers (a signature of an SBOM) stay too.
  result<void> add_referrers() {
    OCIPIPE_TRY(load_candidates());
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& c : candidates_) {
        if (reached_.count(c.self.digest.str()) || !reached_.count(c.subject.str())) continue;
        OCIPIPE_TRY(visit(c.self));
        changed = true;
      }
    }
    return {};
  }

  [[nodiscard]] bool reached(const digest& d) const { return reached_.count(d.str()) != 0; }
  [[nodiscard]] std::vector<std::string>& warnings() { return warnings_; }

 private:
  struct candidate {
    descriptor self;
    digest subject;
  };

  // Marks `root` and everything below it reached (iterative: a long chain of
  // nested indexes cannot overflow the stack).
  result<void> visit(const descriptor& root) {
    std::vector<descriptor> todo{root};
    while (!todo.empty()) {
      descriptor d = std::move(todo.back());
      todo.pop_back();
      reached_.insert(d.digest.str());
      if (!is_document(d) || !expanded_.insert(d.digest.str()).second) continue;
      OCIPIPE_ASSIGN_OR_RETURN(auto children, children_of(d));
      for (auto& c : children) todo.push_back(std::move(c));
    }
    return {};
  }

  // The children of a reached document. What cannot be known fails the run
  // rather than letting gc delete blobs a manifest may need.
  result<std::vector<descriptor>> children_of(const descriptor& d) {
    const bool known = media_type::is_image_manifest(d.media_type) || media_type::is_image_index(d.media_type);
    if (d.digest.algorithm() != digest_algorithm::unregistered && !writer_.has_blob(d.digest)) {
      // A missing manifest or index hides what it needs, which may still be
      // here: deleting it would lose an image that restoring the one blob
      // brings back. An artifact blob of another type is a leaf.
      if (!known) return std::vector<descriptor>{};
      return fail(errc::not_found,
                  "reachable " + std::string(media_type::is_image_index(d.media_type) ? "index " : "manifest ") +
                      d.digest.str() + " is missing, so what it needs cannot be known; restore it, or remove "
                      "what refers to it (ocipipe rm) first");
    }
    auto bytes = pipeline::read_verified_blob(store_, d, max_document_bytes);
    if (!bytes) {
      if (!known) return std::vector<descriptor>{};  // an unknown blob we cannot read: a leaf
      return tl::unexpected(std::move(bytes).error().context(
          "reachable " + std::string(media_type::is_image_index(d.media_type) ? "index " : "manifest ") +
          d.digest.str()));
    }
    auto children = document_children(d, *bytes);
    if (!children) {
      if (!known) return std::vector<descriptor>{};  // neither manifest nor index: a leaf
      return tl::unexpected(std::move(children).error().context("reachable document cannot be parsed"));
    }
    return std::move(*children);
  }

  // Every unreached blob small enough to be a document that parses as one
  // with a subject. Read once; the fixpoint loop reuses the list.
  result<void> load_candidates() {
    OCIPIPE_ASSIGN_OR_RETURN(auto blobs, writer_.list_blobs());
    for (const auto& b : blobs) {
      if (reached_.count(b.str())) continue;
      auto size = writer_.blob_size(b);
      if (!size || *size > max_referrer_bytes || *size < 2) continue;
      descriptor d;
      d.digest = b;
      d.size = static_cast<std::int64_t>(*size);
      auto bytes = store_.read_blob(d, max_referrer_bytes);
      if (!bytes) continue;
      const auto first = bytes->find_first_not_of(" \t\r\n");
      if (first == std::string::npos || (*bytes)[first] != '{') continue;
      auto subject = document_subject(d, *bytes);
      if (!subject || !*subject) continue;
      candidates_.push_back({std::move(d), (*subject)->digest});
    }
    return {};
  }

  const io::image_layout& store_;
  const io::layout_writer& writer_;
  std::unordered_set<std::string> reached_;
  std::unordered_set<std::string> expanded_;
  std::vector<candidate> candidates_;
  std::vector<std::string> warnings_;
};

result<reachability> reach_all(const io::image_layout& store, const io::layout_writer& w, const image_index& index) {
  reachability r(store, w);
  OCIPIPE_TRY(r.add_roots(index));
  OCIPIPE_TRY(r.add_referrers());
  return r;
}

// ---- ls ---------------------------------------------------------------------

// Walks one index.json entry for ls: distinct blob sizes and platforms.
class entry_walker {
 public:
  entry_walker(const io::image_layout& store, layout_entry& e) : store_(store), e_(e) {}

  void walk(const descriptor& d, bool want_platform, int depth) {
    if (seen_.insert(d.digest.str()).second) e_.total_size += static_cast<std::uint64_t>(std::max<std::int64_t>(d.size, 0));
    if (depth > media_type::max_index_depth) return problem("image indexes nested deeper than " +
                                                            std::to_string(media_type::max_index_depth));
    if (media_type::is_image_index(d.media_type)) {
      auto bytes = pipeline::read_verified_blob(store_, d, max_document_bytes);
      if (!bytes) return problem(bytes.error().message());
      auto idx = parse_image_index(*bytes);
      if (!idx) return problem("index " + d.digest.str() + ": " + idx.error().message());
      for (const auto& c : idx->manifests) {
        const bool named = c.platform && !(c.platform->os == "unknown" && c.platform->architecture == "unknown");
        if (named) add_platform(platform_text(c.platform->os, c.platform->architecture, c.platform->variant));
        // Attestations and other artifacts (platform unknown/unknown) count
        // towards the size but name no platform.
        walk(c, !c.platform, depth + 1);
      }
      return;
    }
    if (!media_type::is_image_manifest(d.media_type)) return;
    auto bytes = pipeline::read_verified_blob(store_, d, max_document_bytes);
    if (!bytes) return problem(bytes.error().message());
    auto m = parse_manifest(*bytes);
    if (!m) return problem("manifest " + d.digest.str() + ": " + m.error().message());
    add_size(m->config);
    for (const auto& l : m->layers) add_size(l);
    if (!want_platform) return;
    if (m->config.media_type != media_type::image_config && m->config.media_type != media_type::docker_config) {
      if (d.platform) add_platform(platform_text(d.platform->os, d.platform->architecture, d.platform->variant));
      return;  // an artifact: its config is no image config
    }
    auto cbytes = pipeline::read_verified_blob(store_, m->config, max_document_bytes);
    if (!cbytes) return problem(cbytes.error().message());
    auto cfg = parse_image_config(*cbytes);
    if (!cfg) return problem("image config " + m->config.digest.str() + ": " + cfg.error().message());
    add_platform(platform_text(cfg->os, cfg->architecture, cfg->variant));
  }

 private:
  void add_size(const descriptor& d) {
    if (seen_.insert(d.digest.str()).second) e_.total_size += static_cast<std::uint64_t>(std::max<std::int64_t>(d.size, 0));
  }
  void add_platform(std::string p) {
    if (std::find(e_.platforms.begin(), e_.platforms.end(), p) == e_.platforms.end()) e_.platforms.push_back(std::move(p));
  }
  void problem(std::string why) {
    if (e_.problem.empty()) e_.problem = std::move(why);
  }
  const io::image_layout& store_;
  layout_entry& e_;
  std::unordered_set<std::string> seen_;
};

// ---- tag ----------------------------------------------------------------------

// The descriptor `ref` names for tag: an index.json entry by tag or digest,
// the only entry, or a manifest/index blob of the layout by digest.
result<descriptor> tag_source(const io::layout_writer& w, const io::image_layout& store, const image_index& index,
                              const image_reference& ref) {
  if (!ref.tag.empty()) {
    const descriptor* found = nullptr;
    for (const auto& d : index.manifests) {
      if (d.ref_name() != ref.tag) continue;
      if (found && !(found->digest == d.digest))
        return fail(errc::malformed, "tag " + quote(ref.tag) + " names several manifests in index.json");
      found = &d;
    }
    if (!found) return fail(errc::not_found, "no tag " + quote(ref.tag) + " in index.json");
    return *found;
  }
  if (ref.manifest_digest) {
    for (const auto& d : index.manifests)
      if (d.digest == *ref.manifest_digest) return d;
    // A manifest below an index (one platform of it) may be tagged by digest.
    OCIPIPE_ASSIGN_OR_RETURN(auto size, w.blob_size(*ref.manifest_digest));
    descriptor d;
    d.digest = *ref.manifest_digest;
    d.size = static_cast<std::int64_t>(size);
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, pipeline::read_verified_blob(store, d, max_document_bytes));
    if (auto m = parse_manifest(bytes)) {
      d.media_type = m->media_type.empty() ? std::string(media_type::image_manifest) : m->media_type;
    } else if (auto i = parse_image_index(bytes)) {
      d.media_type = i->media_type.empty() ? std::string(media_type::image_index) : i->media_type;
    } else {
      return fail(errc::invalid_argument, "blob " + d.digest.str() + " is neither an image manifest nor an image index");
    }
    return d;
  }
  if (index.manifests.size() == 1) return index.manifests.front();
  if (index.manifests.empty()) return fail(errc::not_found, "index.json lists no manifests");
  return fail(errc::invalid_argument, "index.json lists " + std::to_string(index.manifests.size()) +
                                          " manifests; name one by tag or digest");
}

std::vector<blob_entry> sorted_entries(std::vector<blob_entry> v) {
  std::sort(v.begin(), v.end(), [](const blob_entry& a, const blob_entry& b) { return a.blob.str() < b.blob.str(); });
  return v;
}

}  // namespace

result<ls_report> list_layout(const image_reference& layout) {
  const auto what = "ls " + quote(layout.str());
  if (layout.kind != transport::oci && layout.kind != transport::oci_archive)
    return fail(errc::unsupported, what + ": only oci: and oci-archive: image layouts have tags to list");
  image_reference bare = layout;
  bare.tag.clear();
  bare.manifest_digest.reset();
  auto store = pipeline::open_store(bare);
  if (!store) return tl::unexpected(std::move(store).error().context(what));
  auto text = store->read_file("index.json");
  if (!text) return tl::unexpected(std::move(text).error().context(what));
  auto index = parse_image_index(*text);
  if (!index) return tl::unexpected(std::move(index).error().context(what + ": index.json"));
  ls_report out;
  out.layout = bare;
  for (const auto& d : index->manifests) {
    layout_entry e;
    e.tag = d.ref_name();
    e.manifest = d;
    entry_walker(*store, e).walk(d, true, 0);
    if (e.platforms.empty() && d.platform)
      e.platforms.push_back(platform_text(d.platform->os, d.platform->architecture, d.platform->variant));
    out.entries.push_back(std::move(e));
  }
  return out;
}

result<inspect_report> inspect(const image_reference& ref, const platform_selector& platform) {
  return inspect(ref, platform, remote_options{});
}

result<inspect_report> inspect(const image_reference& ref, const platform_selector& platform,
                               const remote_options& remote) {
  pipeline::remote_session session(remote);
  auto opened = pipeline::open_image(ref, platform, &session);
  if (!opened) return tl::unexpected(std::move(opened).error().context("inspect " + quote(ref.str())));
  inspect_report out;
  out.image = std::move(opened->image);
  const auto& img = out.image;
  // The manifest as stored; a docker-archive's is made by ocipipe from
  // manifest.json, so it is shown as ocipipe writes it.
  auto bytes = pipeline::read_verified_blob(opened->store, img.manifest_descriptor, max_document_bytes);
  out.manifest_json = bytes ? std::move(*bytes) : manifest_json(img.manifest);
  out.total_size = static_cast<std::uint64_t>(std::max<std::int64_t>(img.manifest_descriptor.size, 0)) +
                   static_cast<std::uint64_t>(std::max<std::int64_t>(img.config_descriptor.size, 0));
  for (const auto& l : img.manifest.layers) out.total_size += static_cast<std::uint64_t>(std::max<std::int64_t>(l.size, 0));
  return out;
}

result<tag_report> tag_image(const image_reference& ref, const std::string& new_tag) {
  const auto what = "tag " + quote(ref.str());
  auto ctx = [&](error e) { return tl::unexpected(std::move(e).context(what)); };
  OCIPIPE_TRY(require_oci(ref, "tag"));
  if (!valid_ref_name(new_tag))
    return fail(errc::invalid_argument, what + ": " + quote(new_tag) + " is not a valid tag (image-layout.md ref name)");
  auto l = open_for_change(ref.path);
  if (!l) return ctx(std::move(l).error());
  auto& w = l->writer;
  auto& store = l->store;
  auto& index = l->index;
  auto src = tag_source(w, store, index, ref);
  if (!src) return ctx(std::move(src).error());
  auto change = set_tag(index, *src, new_tag);
  if (!change) return ctx(std::move(change).error());
  if (change->changed)
    if (auto ok = write_index(w, index); !ok) return ctx(std::move(ok).error());
  tag_report out;
  out.source = ref;
  out.tag = new_tag;
  out.changed = change->changed;
  out.moved_from = std::move(change->moved_from);
  out.dropped = std::move(change->dropped);
  for (const auto& d : index.manifests)
    if (d.ref_name() == new_tag) out.target = d;
  return out;
}

result<rm_report> remove_image(const image_reference& ref, const rm_options& opts) {
  const auto what = "rm " + quote(ref.str());
  auto ctx = [&](error e) { return tl::unexpected(std::move(e).context(what)); };
  OCIPIPE_TRY(require_oci(ref, "rm"));
  if (ref.tag.empty() && !ref.manifest_digest)
    return fail(errc::invalid_argument, what + ": name the image to remove by tag (oci:DIR:TAG) or digest (oci:DIR@DIGEST)");
  auto l = open_for_change(ref.path);
  if (!l) return ctx(std::move(l).error());
  auto& w = l->writer;
  auto& store = l->store;
  auto& index = l->index;

  // What gc would keep before the removal: rm --blobs deletes what it keeps
  // now and would not keep after, so garbage that was there before stays for
  // gc, and blobs another tag shares stay.
  std::optional<reachability> before;
  if (opts.blobs) {
    auto r = reach_all(store, w, index);
    if (!r) return ctx(std::move(r).error());
    before.emplace(std::move(*r));
  }
  auto removed = ref.manifest_digest ? remove_digest(index, *ref.manifest_digest) : remove_tag(index, ref.tag);
  if (!removed) return ctx(std::move(removed).error());
  // index.json first: a run killed after this leaves garbage, never a tag
  // pointing at deleted blobs.
  if (auto ok = write_index(w, index); !ok) return ctx(std::move(ok).error());

  rm_report out;
  out.ref = ref;
  out.removed = std::move(*removed);
  if (!opts.blobs) return out;
  auto after = reach_all(store, w, index);
  if (!after) return ctx(std::move(after).error());
  auto blobs = w.list_blobs();
  if (!blobs) return ctx(std::move(blobs).error());
  for (const auto& b : *blobs) {
    if (!before->reached(b) || after->reached(b)) continue;
    auto size = w.blob_size(b);
    if (auto ok = w.remove_blob(b); !ok) return ctx(std::move(ok).error());
    out.blobs.push_back({b, size ? *size : 0});
    out.bytes += size ? *size : 0;
  }
  if (auto ok = w.sync(); !ok) return ctx(std::move(ok).error());
  out.blobs = sorted_entries(std::move(out.blobs));
  return out;
}

result<gc_report> gc(const image_reference& layout, const gc_options& opts) {
  const auto what = "gc " + quote(layout.str());
  auto ctx = [&](error e) { return tl::unexpected(std::move(e).context(what)); };
  OCIPIPE_TRY(require_oci(layout, "gc"));
  auto l = open_for_change(layout.path);
  if (!l) return ctx(std::move(l).error());
  auto& w = l->writer;
  auto& store = l->store;
  auto& index = l->index;
  // Everything is decided before anything is deleted: a failure of the walk
  // (an unreadable reachable manifest) deletes nothing.
  auto reach = reach_all(store, w, index);
  if (!reach) return ctx(std::move(reach).error());
  auto blobs = w.list_blobs();
  if (!blobs) return ctx(std::move(blobs).error());
  auto stale = w.stale_ingest();
  if (!stale) return ctx(std::move(stale).error());

  gc_report out;
  out.layout = layout;
  out.dry_run = opts.dry_run;
  out.warnings = std::move(reach->warnings());
  for (const auto& b : *blobs) {
    if (reach->reached(b)) {
      ++out.kept;
      continue;
    }
    auto size = w.blob_size(b);
    out.removed.push_back({b, size ? *size : 0});
    out.bytes += size ? *size : 0;
  }
  for (const auto& f : *stale) {
    out.stale_files.emplace_back(std::string(io::layout_ingest_dir) + "/" + f.name, f.size);
    out.bytes += f.size;
  }
  if (opts.dry_run) return out;
  for (const auto& b : out.removed)
    if (auto ok = w.remove_blob(b.blob); !ok && ok.error().code() != errc::not_found) return ctx(std::move(ok).error());
  if (auto ok = w.sync(); !ok) return ctx(std::move(ok).error());
  if (auto ok = w.remove_stale_ingest(); !ok) return ctx(std::move(ok).error());
  return out;
}

}  // namespace ocipipe
