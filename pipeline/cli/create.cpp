// ocipipe create REF BUNDLE
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_create(CLI::App& root, global_flags& g) {
  struct state {
    std::string ref, bundle, platform, cwd, user;
    std::vector<std::string> args, arg, env;
    unpack_options limits;  // the limit flags' values
    bool force = false, tty = false, rootless = false, no_state = false;
    remote_flags remote;
    policy_options policy;
  };
  static state s;
  auto* app = root.add_subcommand("create", "Create an OCI runtime bundle (rootfs + config.json)");
  app->add_option("REF", s.ref, image_ref_help)->required();
  app->add_option("BUNDLE", s.bundle, "Bundle directory (created; must be empty)")->required();
  auto* args = app->add_option("--args", s.args, "Replace process.args (comma-separated)")->delimiter(',');
  app->add_option("--arg", s.arg,
                  "Replace process.args, one argument per --arg, taken verbatim (commas kept); "
                  "write --arg=-c for arguments starting with '-'")
      ->excludes(args);
  app->add_option("--env", s.env,
                  "KEY=VALUE for process.env, repeatable: replaces the image's Env entry of KEY, "
                  "else added");
  auto* cwd = app->add_option("--cwd", s.cwd,
                              "Replace the image's WorkingDir (absolute; created in the rootfs "
                              "when missing)");
  auto* user = app->add_option("--user", s.user,
                               "Replace the image's User: uid, uid:gid, name, name:group, "
                               "uid:group or name:gid, resolved in the rootfs");
  app->add_flag("--tty", s.tty, "Set process.terminal (default false: bundles are run by scripts)");
  app->add_flag("--rootless", s.rootless,
                "Unpack rootless and write config.json as `runc spec --rootless` does: a user "
                "namespace mapping the caller to 0:0, no network namespace, no cgroup settings "
                "(automatic when not root)");
  app->add_flag("--force", s.force, "Empty a non-empty BUNDLE first");
  app->add_option("--platform", s.platform, "OS/ARCH[/VARIANT] to pick from an image index");
  app->add_flag("--no-state", s.no_state,
                "Do not record the state of BUNDLE/rootfs in BUNDLE/rootfs.ocipipe-state (pack --diff needs it)");
  add_limit_flags(*app, s.limits);
  add_remote_flags(*app, s.remote);
  add_policy_flags(*app, s.policy);
  add_global_flags(*app, g);
  app->footer(
      "config.json follows image-spec conversion.md (args = Entrypoint + Cmd; env = Env, then\n"
      "PATH and HOME (from the rootfs's /etc/passwd) where Env has none; cwd; user resolved\n"
      "from the rootfs's /etc/passwd and /etc/group; Volumes as tmpfs mounts; annotations)\n"
      "and runc spec's defaults for the rest.\n\n"
      "Examples:\n  ocipipe create --args /bin/echo,ok oci:images/debian:bookworm /tmp/bundle\n"
      "  ocipipe create --user app --env HOME=/srv --cwd /srv oci-archive:img.tar /tmp/b1\n"
      "  ocipipe create --arg /bin/sh --arg=-c --arg 'echo a,b' oci:images/debian:bookworm /tmp/b2\n"
      "  runc run --bundle /tmp/bundle demo");
  return {app, [&g, cwd, user] {
            auto ref = parse_ref_or_report(s.ref);
            if (!ref) return exit_failure;
            create_options opts;
            opts.unpack = s.limits;
            opts.unpack.jobs = g.jobs;
            opts.unpack.force = s.force;
            opts.unpack.rootless = s.rootless;
            opts.unpack.record_state = !s.no_state;
            opts.unpack.remote = remote_options_of(s.remote);
            opts.unpack.policy = s.policy;
            opts.unpack.cancel = install_cancel_handlers();
            opts.unpack.progress = make_progress(g, ref->str());
            opts.terminal = s.tty;
            opts.env = s.env;
            if (cwd->count() > 0) opts.cwd = s.cwd;
            if (user->count() > 0) opts.user = s.user;
            if (!s.args.empty()) opts.args = s.args;
            if (!s.arg.empty()) opts.args = s.arg;
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) {
                err_line(p.error().message());
                return exit_failure;
              }
              opts.unpack.platform = *p;
            }
            if (g.json) out_json("begin", {{"ref", ref->str()}, {"target", s.bundle}});
            const auto start = std::chrono::steady_clock::now();
            auto r = create(*ref, s.bundle, opts);
            result<unpack_report> u = r ? result<unpack_report>(r->unpack)
                                        : result<unpack_report>(tl::unexpected(r.error()));
            // The conversion's warnings are reported with unpack's, the same way.
            if (r) u->warnings.insert(u->warnings.end(), r->warnings.begin(), r->warnings.end());
            return render_image_result(g, "created", ref->str(), s.bundle, u, seconds_since(start));
          }};
}

}  // namespace ocipipe::cli
