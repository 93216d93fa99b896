// One layer blob from tree entries: tar (io/layer_tar_writer) -> compress and
// digest (pipeline/layer_compressor) -> atomic blob ingest (io/layout_writer).
#include "pipeline/pack_layer.h"

#include <sys/stat.h>

#include <map>
#include <set>
#include <utility>

#include "io/layer_tar_writer.h"
#include "pipeline/layer_compressor.h"
#include "pipeline/progress_meter.h"

namespace ocipipe::pipeline {
namespace {

// xattrs that describe the host, not the image (umoci's ignoreXattrs): an
// SELinux label is policy of the machine that wrote the file, NFSv4 ACLs
// name that server's principals.
bool host_specific_xattr(const std::string& name) {
  return name == "security.selinux" || name == "system.nfs4_acl";
}

std::uint64_t round_up_512(std::uint64_t n) { return (n + 511) / 512 * 512; }

struct planned_layer {
  std::vector<io::layer_tar_item> items;
  std::uint64_t estimated_tar_bytes = 1024;  // the end-of-archive blocks
  std::vector<std::pair<std::string, std::string>> warnings;
};

// A file whose name starts with ".wh." would read as a whiteout (or, as
// ".wh..wh..opq", an opaque whiteout) to every unpacker: refused, as umoci
// refuses it, rather than packed into a layer that deletes what it names.
result<void> check_not_whiteout_name(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string_view base = slash == std::string::npos ? std::string_view(path) : std::string_view(path).substr(slash + 1);
  if (base.substr(0, 4) != ".wh.") return {};
  return fail(errc::invalid_argument, quote(path) + ": a name starting with \".wh.\" reads as a whiteout in a layer "
                                      "(image-spec layer.md \"Whiteouts\"); rename or remove it");
}

result<planned_layer> plan(const std::vector<layer_change>& changes) {
  planned_layer p;
  p.items.reserve(changes.size());
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> first_path;  // (dev, ino) -> path
  std::set<std::string> xattrs_warned;
  for (const auto& c : changes) {
    io::layer_tar_item item;
    item.path = c.path;
    switch (c.what) {
      case layer_change::kind::whiteout: item.what = io::layer_tar_item::kind::whiteout; break;
      case layer_change::kind::opaque_whiteout:
        item.what = io::layer_tar_item::kind::opaque_whiteout;
        break;
      case layer_change::kind::add: {
        OCIPIPE_TRY(check_not_whiteout_name(c.path));
        const auto type = c.entry.mode & S_IFMT;
        if (type == S_IFSOCK) {
          p.warnings.emplace_back("pack.socket", quote(c.path) + ": socket not stored (tar has no socket type)");
          continue;
        }
        item.entry = c.entry;
        for (auto it = item.entry.xattrs.begin(); it != item.entry.xattrs.end();) {
          if (!host_specific_xattr(it->first)) {
            ++it;
            continue;
          }
          if (xattrs_warned.insert(it->first).second)
            p.warnings.emplace_back("pack.xattr", "xattr " + quote(it->first) +
                                                      " not stored (host-specific); first on " + quote(c.path));
          it = item.entry.xattrs.erase(it);
        }
        if (type == S_IFREG && c.entry.nlink > 1) {
          auto [at, fresh] = first_path.try_emplace({c.entry.dev, c.entry.ino}, c.path);
          if (!fresh) {
            item.what = io::layer_tar_item::kind::hardlink;
            item.link_path = at->second;
          }
        }
        if (type == S_IFREG && item.what == io::layer_tar_item::kind::entry)
          p.estimated_tar_bytes += round_up_512(c.entry.size);
        break;
      }
    }
    p.estimated_tar_bytes += 512;  // the header (PAX headers are not counted)
    p.items.push_back(std::move(item));
  }
  return p;
}

}  // namespace

result<packed_layer> pack_layer(int root_fd, const std::vector<layer_change>& changes,
                                io::layout_writer& dest, const layer_pack_options& opts) {
  OCIPIPE_ASSIGN_OR_RETURN(planned_layer p, plan(changes));
  io::layer_tar_options tar_opts;
  tar_opts.source_date_epoch = opts.source_date_epoch;
  OCIPIPE_ASSIGN_OR_RETURN(auto tar, io::layer_tar_source::create(root_fd, p.items, tar_opts));
  OCIPIPE_ASSIGN_OR_RETURN(io::blob_ingest ingest, dest.begin_blob());

  progress_meter meter(opts.progress, p.estimated_tar_bytes);
  layer_compressor_options copts;
  copts.compression = opts.compression;
  copts.level = opts.level;
  copts.jobs = opts.jobs;
  if (meter.enabled()) copts.on_input_bytes = [&meter](std::uint64_t done) { meter.set(done, "layer"); };
  const byte_sink sink = [&ingest](byte_view bytes) { return ingest.write(bytes); };
  OCIPIPE_ASSIGN_OR_RETURN(const compressed_stream s, compress_stream(*tar, sink, copts));
  OCIPIPE_TRY(ingest.commit(s.stream_digest));
  meter.finished(s.input_bytes, "layer " + s.stream_digest.short_str());

  packed_layer out;
  out.layer.media_type = std::string(layer_media_type(opts.compression));
  out.layer.digest = s.stream_digest;
  out.layer.size = static_cast<std::int64_t>(s.stream_bytes);
  out.diff_id = s.diff_id;
  out.tar_bytes = s.input_bytes;
  out.entries = tar->entries();
  out.warnings = std::move(p.warnings);
  return out;
}

}  // namespace ocipipe::pipeline
