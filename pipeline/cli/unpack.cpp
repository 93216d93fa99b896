// ocipipe unpack REF ROOTFS
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_unpack(CLI::App& root, global_flags& g) {
  struct state {
    std::string ref, rootfs, platform;
    unpack_options limits;  // the limit flags' values
    bool force = false, rootless = false, no_state = false;
    remote_flags remote;
    policy_options policy;
  };
  static state s;
  auto* app = root.add_subcommand("unpack", "Unpack an image's layers into a rootfs directory");
  app->add_option("REF", s.ref, image_ref_help)->required();
  app->add_option("ROOTFS", s.rootfs, "Target directory (created; must be empty)")->required();
  app->add_flag("--force", s.force, "Empty a non-empty ROOTFS first");
  app->add_flag("--rootless", s.rootless,
                "No chown, no device nodes; owners kept in the user.rootlesscontainers xattr "
                "(automatic when not root)");
  app->add_option("--platform", s.platform, "OS/ARCH[/VARIANT] to pick from an image index");
  app->add_flag("--no-state", s.no_state,
                "Do not record the state of ROOTFS in ROOTFS.ocipipe-state (pack --diff needs it)");
  add_limit_flags(*app, s.limits);
  add_remote_flags(*app, s.remote);
  add_policy_flags(*app, s.policy);
  add_global_flags(*app, g);
  app->footer(
      "Layers are verified (digest, size, diff_id) while they stream and are applied in order\n"
      "with whiteouts; nothing is written outside ROOTFS. A failed unpack leaves ROOTFS empty.\n"
      "Human output may change; --json is stable.\n\n"
      "From a registry (docker://) or a web-served layout (oci+https://) the layers stream from the\n"
      "network into the unpack, several at once (-j), without being stored first.\n\n"
      "Examples:\n  ocipipe unpack oci:images/debian:bookworm /tmp/rootfs\n"
      "  ocipipe unpack --creds user:secret docker://registry.example.com/debian:12 /tmp/rootfs");
  return {app, [&g] {
            auto ref = parse_ref_or_report(s.ref);
            if (!ref) return exit_failure;
            unpack_options opts = s.limits;
            opts.jobs = g.jobs;
            opts.force = s.force;
            opts.rootless = s.rootless;
            opts.record_state = !s.no_state;
            opts.remote = remote_options_of(s.remote);
            opts.policy = s.policy;
            opts.cancel = install_cancel_handlers();
            opts.progress = make_progress(g, ref->str());
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) {
                err_line(p.error().message());
                return exit_failure;
              }
              opts.platform = *p;
            }
            if (g.json) out_json("begin", {{"ref", ref->str()}, {"target", s.rootfs}});
            const auto start = std::chrono::steady_clock::now();
            auto r = unpack(*ref, s.rootfs, opts);
            return render_image_result(g, "unpacked", ref->str(), s.rootfs, r, seconds_since(start));
          }};
}

}  // namespace ocipipe::cli
