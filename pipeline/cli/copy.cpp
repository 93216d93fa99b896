// ocipipe copy SRC DST
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_copy(CLI::App& root, global_flags& g) {
  struct state {
    std::string src, dst, platform;
    bool force = false;
    remote_flags remote;
    policy_options policy;
  };
  static state s;
  auto* app = root.add_subcommand("copy", "Copy an image between image layouts, archives and registries");
  app->add_option("SRC", s.src, image_ref_help)->required();
  app->add_option("DST", s.dst,
                  "Destination: oci:DIR[:TAG] (created when missing), oci-archive:FILE[:TAG], "
                  "docker-archive:FILE[:NAME:TAG], docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (a registry)")
      ->required();
  app->add_option("--platform", s.platform,
                  "OS/ARCH[/VARIANT]: copy only that image out of an image index (default: the whole "
                  "index; a docker-archive takes the host's platform)");
  app->add_flag("--force", s.force, "Replace an existing archive file DST");
  add_transfer_remote_flags(*app, s.remote);
  add_policy_flags(*app, s.policy);
  add_global_flags(*app, g);
  app->footer(
      "Every blob is verified (size, digest; diff_id of layers written uncompressed) before it is\n"
      "committed. An oci: layout keeps manifest and index bytes, so digests stay the same; an image\n"
      "index is copied whole with every manifest it references unless --platform picks one. An\n"
      "oci: DST gets the blobs first and index.json last (under the layout's lock); an archive DST\n"
      "is written to a temporary file and renamed into place when complete. A docker-archive DST\n"
      "holds uncompressed layers and the files `docker load` and skopeo read. Human output may\n"
      "change; --json is stable.\n\n"
      "Examples:\n"
      "  ocipipe copy oci:images:debian oci-archive:/tmp/debian.tar:debian\n"
      "  ocipipe copy oci:images:debian docker-archive:/tmp/debian.tar:debian:12\n"
      "  ocipipe copy docker-archive:/tmp/saved.tar oci:images:imported\n"
      "  ocipipe copy docker://localhost:5000/app:1 docker://localhost:5000/team/app:1\n"
      "  ocipipe copy --platform linux/arm64 oci:multi:latest oci:arm64-only:latest");
  return {app, [&g] {
            copy_options opts;
            opts.policy = s.policy;
            opts.force = s.force;
            opts.source_remote = source_remote_options(s.remote);
            opts.destination_remote = destination_remote_options(s.remote);
            return run_transfer(g, {"copy", "copied", "written"}, s.src, s.dst, s.platform, std::move(opts),
                                [](const image_reference& src, const image_reference& dst, const copy_options& o) { return copy(src, dst, o); });
          }};
}

}  // namespace ocipipe::cli
