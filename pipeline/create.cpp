// create: an OCI runtime bundle from an image (image-spec conversion.md).
#include <unistd.h>

#include "io/rootfs_files.h"
#include "io/target_dir.h"
#include "pipeline/api.h"
#include "pipeline/rootfs_state_record.h"
#include "pipeline/signature_check.h"
#include "stages/config_edits.h"
#include "stages/image_user.h"
#include "stages/runtime_config.h"

namespace ocipipe {

result<create_report> create(const image_reference& ref, const std::string& bundle,
                             const create_options& opts) {
  auto where = [&](error e) { return tl::unexpected(std::move(e).context("create " + ref.str())); };
  const bool local = ref.kind != transport::docker && ref.kind != transport::oci_url;
  if (local && (io::path_within(ref.path, bundle) || io::path_within(bundle, ref.path)))
    return where(error(errc::invalid_argument,
                       "bundle " + quote(bundle) + " and the image layout being unpacked overlap"));
  // The edits are checked before anything is unpacked, so a bad --env costs nothing.
  const config_edits edits{opts.env, opts.cwd, opts.user};
  if (auto checked = apply_config_edits(image_config{}, edits); !checked)
    return where(std::move(checked).error());
  // --policy before the bundle exists; unpack then reads the accepted root.
  auto accepted = enforce_policy(ref, opts.unpack.policy, opts.unpack.remote);
  if (!accepted) return where(std::move(accepted).error());
  const image_reference source = *accepted ? pipeline::pinned_reference(ref, **accepted) : ref;
  // The bundle is private (0700): its rootfs holds the image's setuid files
  // and device nodes, which no other local user may reach.
  // The bundle's state (BUNDLE/rootfs.ocipipe-state) goes before --force
  // empties the bundle, as unpack does for a rootfs.
  std::vector<std::pair<std::string, std::string>> state_warnings;
  if (opts.unpack.force) pipeline::forget_rootfs_state(bundle + "/rootfs", state_warnings);
  auto created = io::prepare_empty_dir(bundle, opts.unpack.force, 0700);
  if (!created) return where(std::move(created).error());
  auto undo = [&](error e) { return io::discard_target(bundle, *created, std::move(e)); };

  const std::string rootfs = bundle + "/rootfs";
  // The state is recorded last, once config.json and WorkingDir are written too.
  unpack_options unpack_opts = opts.unpack;
  unpack_opts.record_state = false;
  unpack_opts.policy = {};
  auto unpacked = unpack(source, rootfs, unpack_opts);
  if (!unpacked) return tl::unexpected(undo(std::move(unpacked).error()));
  auto build = [&]() -> result<runtime_config> {
    OCIPIPE_ASSIGN_OR_RETURN(auto cfg, apply_config_edits(unpacked->image.config, edits));
    OCIPIPE_ASSIGN_OR_RETURN(auto passwd, io::read_file_in_root(rootfs, "/etc/passwd"));
    OCIPIPE_ASSIGN_OR_RETURN(auto group, io::read_file_in_root(rootfs, "/etc/group"));
    OCIPIPE_ASSIGN_OR_RETURN(auto user, resolve_user(cfg.config.user, passwd, group));
    runtime_config_options rc_opts;
    rc_opts.args = opts.args;
    rc_opts.terminal = opts.terminal;
    // A rootless rootfs (asked for, or unpacked by a user who is not root)
    // runs only in a user namespace: its files belong to the caller.
    if (unpacked->rootless) rc_opts.rootless = rootless_ids{::geteuid(), ::getegid()};
    OCIPIPE_ASSIGN_OR_RETURN(auto converted, make_runtime_config(cfg, user, rc_opts));
    // A WorkingDir the image never created must exist before runc chdirs (and
    // a read-only root, runc spec's default, would stop runc making it).
    // It belongs to the process user, as Docker makes it (podman#9040); in a
    // rootless bundle that user is the caller.
    if (!cfg.config.working_dir.empty()) {
      const auto owner =
          rc_opts.rootless
              ? process_user{rc_opts.rootless->host_uid, rc_opts.rootless->host_gid, {}}
              : user.user;
      OCIPIPE_TRY(io::make_dirs_in_root(rootfs, cfg.config.working_dir, owner.uid, owner.gid));
    }
    OCIPIPE_TRY(io::write_file_atomic(bundle, "config.json", converted.json));
    return converted;
  };
  auto converted = build();
  if (!converted) return where(undo(std::move(converted).error()));
  create_report rep;
  rep.unpack = std::move(*unpacked);
  rep.unpack.warnings.insert(rep.unpack.warnings.end(), state_warnings.begin(), state_warnings.end());
  if (opts.unpack.record_state)
    pipeline::record_rootfs_state(rootfs, ref, rep.unpack.image, rep.unpack.warnings, opts.unpack.jobs);
  rep.config_json = std::move(converted->json);
  rep.warnings = std::move(converted->warnings);
  return rep;
}

}  // namespace ocipipe
