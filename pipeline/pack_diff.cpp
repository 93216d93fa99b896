// pack --diff BUNDLE DEST: what changed in a rootfs since unpack or create
// recorded it becomes one new layer on top of the image it came from
// (api.h "pack (issue 6)"):
//   state file -> walk (lstat only) -> rootfs_diff -> xattrs and racy digests
//   of the changed paths only -> pack_layer -> write_packed_image.
// Unchanged files are never opened: their size, mtime, ctime and inode as
// recorded are the proof they are unchanged (git's index does the same).
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>

#include "io/layout_writer.h"
#include "io/rootfs_state.h"
#include "io/target_dir.h"
#include "io/tree_walk.h"
#include "io/unique_fd.h"
#include "pipeline/api.h"
#include "pipeline/layer_compressor.h"
#include "pipeline/pack_image.h"
#include "pipeline/pack_layer.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/rootfs_state_record.h"
#include "pipeline/verified_blob.h"
#include "stages/image_json.h"
#include "stages/reference.h"
#include "stages/rootfs_diff.h"

namespace ocipipe {
namespace {

bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Which rootfs `bundle` names: a bundle's rootfs/ with its state beside it,
// or a rootfs unpacked by `unpack` with PATH.ocipipe-state. Both at once (a
// rootfs unpacked into another one's rootfs/ directory) is ambiguous: which
// changes were meant cannot be guessed, so it is refused.
result<std::string> find_rootfs(const std::string& bundle) {
  const auto has_state = [](const std::string& rootfs) {
    auto p = io::rootfs_state_path(rootfs);
    struct stat st{};
    return p && ::lstat(p->c_str(), &st) == 0;
  };
  const std::string inner = bundle + "/rootfs";
  const bool as_bundle = is_dir(inner) && has_state(inner);
  if (!is_dir(bundle)) return fail(errc::not_found, "no such directory");
  const bool as_rootfs = has_state(bundle);
  if (as_bundle && as_rootfs)
    return fail(errc::invalid_argument,
                "ambiguous: both " + quote(inner + std::string(io::rootfs_state_suffix)) + " and " +
                    quote(bundle + std::string(io::rootfs_state_suffix)) +
                    " exist; name the rootfs meant (" + quote(inner) + ", or remove the other state file)");
  if (as_bundle) return inner;
  if (as_rootfs) return bundle;
  return fail(errc::not_found,
              "no recorded state: neither " + quote(inner + std::string(io::rootfs_state_suffix)) + " nor " +
                  quote(bundle + std::string(io::rootfs_state_suffix)) +
                  " exists (unpack and create record it, unless --no-state)");
}

// The image the rootfs was unpacked from, read again from the layout path
// and manifest digest recorded (not by tag: the tag may have moved since).
// A registry or web-served image (no layout path recorded) is read through
// its reference with `remote`, the run's own --creds, --tls-verify, ...
result<pipeline::opened_image> open_recorded_image(const io::rootfs_state& s, pipeline::remote_session& remote) {
  OCIPIPE_ASSIGN_OR_RETURN(image_reference ref, parse_reference(s.reference));
  const bool remote_image = pipeline::is_remote(ref.kind);
  if (remote_image) {
    ref.tag.clear();
    ref.manifest_digest = s.manifest.digest;
  } else {
    ref.path = s.layout_path;
  }
  if (ref.kind == transport::docker_archive) {
    // A docker-archive has no manifest blobs: resolve as unpack did, then check.
    OCIPIPE_ASSIGN_OR_RETURN(auto opened, pipeline::open_image(ref, {}));
    if (!(opened.image.manifest_descriptor.digest == s.manifest.digest))
      return fail(errc::not_found, "image " + quote(ref.str()) + " is now " +
                                       opened.image.manifest_descriptor.digest.str() + ", not the " +
                                       s.manifest.digest.str() + " unpacked");
    return opened;
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto store, pipeline::open_store(ref, remote_image ? &remote : nullptr));
  auto mbytes = pipeline::read_verified_blob(store, s.manifest);
  if (!mbytes) return tl::unexpected(std::move(mbytes).error().context("manifest " + s.manifest.digest.str()));
  auto m = parse_manifest(*mbytes);
  if (!m) return tl::unexpected(std::move(m).error().context("manifest " + s.manifest.digest.str()));
  if (!(m->config.digest == s.config_digest))
    return fail(errc::malformed, "manifest " + s.manifest.digest.str() + " names config " + m->config.digest.str() +
                                     ", not the " + s.config_digest.str() + " recorded");
  auto cbytes = pipeline::read_verified_blob(store, m->config);
  if (!cbytes) return tl::unexpected(std::move(cbytes).error().context("image config " + m->config.digest.str()));
  auto cfg = parse_image_config(*cbytes);
  if (!cfg) return tl::unexpected(std::move(cfg).error().context("image config " + m->config.digest.str()));
  resolved_image image;
  image.reference = ref;
  image.manifest_descriptor = s.manifest;
  image.config_descriptor = m->config;
  image.manifest = std::move(*m);
  image.config = std::move(*cfg);
  image.config_bytes = std::move(*cbytes);
  return pipeline::opened_image{std::move(image), std::move(store)};
}

}  // namespace

result<pack_report> pack_diff(const std::string& bundle, const image_reference& dest, const pack_options& opts) {
  const std::string what = "pack --diff " + quote(bundle);
  auto ctx = [&](error e) { return tl::unexpected(std::move(e).context(what)); };
  if (auto ok = pipeline::check_pack_destination(dest, what); !ok) return tl::unexpected(std::move(ok).error());
  if (opts.base) return fail(errc::invalid_argument, what + ": --base is for pack DIR; --diff packs onto the image unpacked");

  auto rootfs = find_rootfs(bundle);
  if (!rootfs) return ctx(std::move(rootfs).error());
  if (io::path_within(dest.path, *rootfs))
    return fail(errc::invalid_argument, what + ": destination layout " + quote(dest.path) + " is inside the rootfs");

  const auto io_opts = pipeline::image_options_of(opts, dest, "ocipipe pack --diff");
  // Refuse bad flags before any work.
  if (auto r = pipeline::check_image_write_options(io_opts); !r) return ctx(std::move(r).error());
  if (auto r = pipeline::resolve_level(opts.compression, opts.level); !r) return ctx(std::move(r).error());

  auto state = io::read_rootfs_state(*rootfs);
  if (!state) return ctx(std::move(state).error());
  if (!*state) return ctx(error(errc::not_found, "no recorded state"));
  const io::rootfs_state& recorded = **state;

  io::unique_fd root(::open(rootfs->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ctx(fail_errno("open " + quote(*rootfs), errno).value());
  struct stat root_st{};
  if (::fstat(root.get(), &root_st) != 0) return ctx(fail_errno("stat " + quote(*rootfs), errno).value());

  // The rootfs as it is now: lstat of every path, no file opened.
  auto walked = io::walk_tree(*rootfs);
  if (!walked) return ctx(std::move(walked).error());
  std::vector<path_record> now;
  now.reserve(walked->size());
  for (const auto& e : *walked) {
    // The walk does not descend into another filesystem; its recorded
    // children would read as deleted. Refuse rather than whiteout them.
    if (e.dev != static_cast<std::uint64_t>(root_st.st_dev))
      return ctx(error(errc::unsupported, quote(e.path) + ": another filesystem is mounted there; unmount it first"));
    now.push_back(pipeline::record_of(e));
  }
  auto diff = rootfs_diff(recorded.records, now);
  if (!diff) return ctx(std::move(diff).error().context("state file"));

  // The layer's entries: fresh lstat with xattrs for what changed; racy
  // files whose metadata all match are read and kept only if their content
  // differs from the digest recorded.
  std::vector<pipeline::layer_change> changes;
  changes.reserve(diff->size());
  std::uint64_t changed = 0, removed = 0;
  for (const auto& c : *diff) {
    pipeline::layer_change lc;
    lc.path = c.path;
    switch (c.what) {
      case rootfs_change::kind::whiteout: lc.what = pipeline::layer_change::kind::whiteout; break;
      case rootfs_change::kind::opaque_whiteout: lc.what = pipeline::layer_change::kind::opaque_whiteout; break;
      case rootfs_change::kind::add: {
        lc.what = pipeline::layer_change::kind::add;
        if (c.check_content) {
          const auto& rec = recorded.records[c.recorded];
          auto d = pipeline::digest_file_in_tree(root.get(), c.path, now[c.current].size);
          if (!d) return ctx(std::move(d).error());
          if (rec.content && *d == *rec.content) continue;  // racy, but unchanged
        }
        auto e = io::stat_in_tree(root.get(), c.path, /*xattrs=*/true);
        if (!e) return ctx(std::move(e).error());
        lc.entry = std::move(*e);
        // A socket cannot be stored (tar has no type for it), but what it may
        // have replaced must still go: a whiteout (a no-op where nothing was).
        if (S_ISSOCK(lc.entry.mode)) {
          pipeline::layer_change gone;
          gone.path = c.path;
          gone.what = pipeline::layer_change::kind::whiteout;
          changes.push_back(std::move(gone));
          ++removed;
        }
        break;
      }
    }
    (lc.what == pipeline::layer_change::kind::add ? changed : removed) += 1;
    changes.push_back(std::move(lc));
  }
  walked->clear();

  // The writer first: its lock keeps gc away from the base's blobs while
  // they are read and copied, and from the new blobs until the tag names them.
  pipeline::created_layout_guard created(dest.path);
  auto writer = io::layout_writer::open(dest.path, /*create=*/true);
  if (!writer) return ctx(std::move(writer).error());
  pipeline::remote_session remote(opts.remote);
  auto base = open_recorded_image(recorded, remote);
  if (!base) return ctx(std::move(base).error().context("image unpacked (" + recorded.reference + ")"));

  // Nothing changed: as umoci repack, no layer, only a new history entry
  // ("empty_layer": true) and manifest; an empty tar layer would be noise.
  std::optional<pipeline::packed_layer> layer;
  if (!changes.empty()) {
    auto packed = pipeline::pack_layer(root.get(), changes, *writer, pipeline::layer_options_of(opts));
    if (!packed) return ctx(std::move(packed).error());
    layer = std::move(*packed);
  }
  auto image = pipeline::write_packed_image(*writer, &*base, layer ? &*layer : nullptr, io_opts);
  if (!image) return ctx(std::move(image).error());

  auto r = pipeline::pack_report_of(*image, layer ? &*layer : nullptr);
  r.changed = changed;
  r.removed = removed;
  created.keep();
  return r;
}

}  // namespace ocipipe
