// ocipipe pull SRC DEST
#include "pipeline/cli/policy_flags.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_pull(CLI::App& root, global_flags& g) {
  struct state {
    std::string src, dst, platform;
    bool all_platforms = false;
    bool force = false;
    remote_flags remote;
    policy_options policy;
  };
  static state s;
  auto* app = root.add_subcommand("pull", "Download an image from a registry or a web-served image layout");
  app->add_option("SRC", s.src,
                  "Source: docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (a registry; tag default \"latest\"), "
                  "oci+https://HOST[:PORT]/PATH[:TAG|@DIGEST] (an image layout served as static files)")
      ->required();
  app->add_option("DEST", s.dst,
                  "Destination: oci:DIR[:TAG] (created when missing), oci-archive:FILE[:TAG], "
                  "docker-archive:FILE[:NAME:TAG]")
      ->required();
  auto* platform = app->add_option("--platform", s.platform,
                                   "OS/ARCH[/VARIANT]: the image to take out of an image index (default: the "
                                   "host's platform)");
  app->add_flag("--all-platforms", s.all_platforms, "Pull an image index whole, every platform's image")
      ->excludes(platform);
  app->add_flag("--force", s.force, "Replace an existing archive file DEST");
  add_transfer_remote_flags(*app, s.remote);
  add_policy_flags(*app, s.policy);
  add_global_flags(*app, g);
  app->footer(
      "Blobs are downloaded in parallel (-j), each digested as it arrives and committed only when its\n"
      "size and digest match; a dropped connection is continued with a Range request. Into an oci:\n"
      "DEST each blob streams into the layout's ingest area (.ocipipe-ingest/partial-<alg>-<hex>),\n"
      "so a pull that was interrupted, even killed, continues from the bytes it had when run again\n"
      "(`ocipipe gc` removes what is left of one never resumed). Blobs DEST holds already are not\n"
      "downloaded. Credentials go only to the registry's own host, never to a redirect target or a\n"
      "foreign layer URL. An oci+http:// source is allowed for localhost, or with --tls-verify=false.\n"
      "Human output may change; --json is stable.\n\n"
      "Examples:\n"
      "  ocipipe pull docker://registry.example.com/library/debian:12 oci:images:debian\n"
      "  ocipipe pull --creds user:secret docker://localhost:5000/app@sha256:… oci-archive:/tmp/app.tar\n"
      "  ocipipe pull --all-platforms docker://localhost:5000/multi oci:multi:latest\n"
      "  ocipipe pull oci+https://cdn.example.com/images/debian:12 oci:images:debian");
  return {app, [&g] {
            copy_options opts;
            opts.policy = s.policy;
            opts.force = s.force;
            opts.source_remote = source_remote_options(s.remote);
            opts.destination_remote = destination_remote_options(s.remote);
            return run_transfer(g, {"pull", "pulled", "written"}, s.src, s.dst, s.platform, std::move(opts),
                                [](const image_reference& src, const image_reference& dst, const copy_options& o) {
                                  return pull(src, dst, o, s.all_platforms);
                                });
          }};
}

}  // namespace ocipipe::cli
