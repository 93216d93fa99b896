// create: an OCI runtime bundle from an image (image-spec conversion.md).
#include "io/rootfs_files.h"
#include "io/target_dir.h"
#include "pipeline/api.h"
#include "stages/image_user.h"
#include "stages/runtime_config.h"

namespace ocipipe {

result<create_report> create(const image_reference& ref, const std::string& bundle,
                             const create_options& opts) {
  auto where = [&](error e) { return tl::unexpected(std::move(e).context("create " + ref.str())); };
  if (io::path_within(ref.path, bundle) || io::path_within(bundle, ref.path))
    return where(error(errc::invalid_argument, "bundle " + quote(bundle) +
                                                   " and the image layout being unpacked overlap"));
  // The bundle is private (0700): its rootfs holds the image's setuid files
  // and device nodes, which no other local user may reach.
  auto created = io::prepare_empty_dir(bundle, opts.unpack.force, 0700);
  if (!created) return where(std::move(created).error());
  auto undo = [&](error e) { return io::discard_target(bundle, *created, std::move(e)); };

  const std::string rootfs = bundle + "/rootfs";
  auto unpacked = unpack(ref, rootfs, opts.unpack);
  if (!unpacked) return tl::unexpected(undo(std::move(unpacked).error()));
  auto build = [&]() -> result<std::string> {
    const auto& cfg = unpacked->image.config;
    OCIPIPE_ASSIGN_OR_RETURN(auto passwd, io::read_file_in_root(rootfs, "/etc/passwd"));
    OCIPIPE_ASSIGN_OR_RETURN(auto group, io::read_file_in_root(rootfs, "/etc/group"));
    OCIPIPE_ASSIGN_OR_RETURN(auto user, resolve_user(cfg.config.user, passwd, group));
    runtime_config_options rc_opts;
    rc_opts.args = opts.args;
    rc_opts.terminal = opts.terminal;
    OCIPIPE_ASSIGN_OR_RETURN(auto json, make_runtime_config(cfg, user, rc_opts));
    // A WorkingDir the image never created must exist before runc chdirs.
    if (!cfg.config.working_dir.empty())
      OCIPIPE_TRY(io::make_dirs_in_root(rootfs, cfg.config.working_dir, user.uid, user.gid));
    OCIPIPE_TRY(io::write_file_atomic(bundle, "config.json", json));
    return json;
  };
  auto json = build();
  if (!json) return where(undo(std::move(json).error()));
  create_report rep;
  rep.unpack = std::move(*unpacked);
  rep.config_json = std::move(*json);
  return rep;
}

}  // namespace ocipipe
