// pack DIR DEST: a directory tree becomes one new layer of an image
// (api.h "pack (issue 6)"): walk -> pack_layer -> write_packed_image.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "io/layout_writer.h"
#include "io/target_dir.h"
#include "io/tree_walk.h"
#include "io/unique_fd.h"
#include "pipeline/api.h"
#include "pipeline/layer_compressor.h"
#include "pipeline/pack_image.h"
#include "pipeline/pack_layer.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"

namespace ocipipe {
result<pack_report> pack(const std::string& dir, const image_reference& dest, const pack_options& opts) {
  const std::string what = "pack " + quote(dir);
  auto ctx = [&](error e) { return tl::unexpected(std::move(e).context(what)); };
  if (auto ok = pipeline::check_pack_destination(dest, what); !ok) return tl::unexpected(std::move(ok).error());
  if (io::path_within(dest.path, dir))
    return fail(errc::invalid_argument, what + ": destination layout " + quote(dest.path) + " is inside the directory packed");

  const auto io_opts = pipeline::image_options_of(opts, dest, "ocipipe pack");
  // Refuse bad flags before the (long) walk and layer.
  if (auto r = pipeline::check_image_write_options(io_opts); !r) return ctx(std::move(r).error());
  if (auto r = pipeline::resolve_level(opts.compression, opts.level); !r) return ctx(std::move(r).error());

  io::unique_fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    if (errno == ENOENT) return fail(errc::not_found, what + ": no such directory");
    if (errno == ENOTDIR) return fail(errc::invalid_argument, what + ": not a directory");
    return ctx(fail_errno("open", errno).value());
  }

  // The writer first: its lock keeps gc away from base blobs while they are
  // resolved and copied, and from the new blobs until the tag names them.
  pipeline::created_layout_guard created(dest.path);
  auto writer = io::layout_writer::open(dest.path, /*create=*/true);
  if (!writer) return ctx(std::move(writer).error());

  pipeline::remote_session remote(opts.remote);  // a docker:// or oci+https:// base's connections
  std::optional<pipeline::opened_image> base;
  if (opts.base) {
    auto b = pipeline::open_image(*opts.base, opts.base_platform, &remote);
    if (!b) return ctx(std::move(b).error().context("base " + opts.base->str()));
    base = std::move(*b);
  }

  io::tree_walk_options walk_opts;
  walk_opts.xattrs = true;
  auto entries = io::walk_tree(dir, walk_opts);
  if (!entries) return ctx(std::move(entries).error());
  std::vector<pipeline::layer_change> changes;
  changes.reserve(entries->size());
  for (auto& e : *entries) {
    pipeline::layer_change c;
    c.path = e.path;
    c.entry = std::move(e);
    changes.push_back(std::move(c));
  }
  entries->clear();

  auto layer = pipeline::pack_layer(root.get(), changes, *writer, pipeline::layer_options_of(opts));
  if (!layer) return ctx(std::move(layer).error());

  auto image = pipeline::write_packed_image(*writer, base ? &*base : nullptr, *layer, io_opts);
  if (!image) return ctx(std::move(image).error());

  auto r = pipeline::pack_report_of(*image, &*layer);
  created.keep();
  return r;
}

}  // namespace ocipipe
