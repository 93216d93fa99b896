// ocipipe push SRC docker://HOST/REPO[:TAG|@DIGEST]
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_push(CLI::App& root, global_flags& g) {
  struct state {
    std::string src, dst, platform, state_dir;
    bool all_platforms = false;
    std::uint64_t chunk_bytes = 16u << 20;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("push", "Push an image into a registry");
  app->add_option("SRC", s.src, image_ref_help)->required();
  app->add_option("DEST", s.dst, "Destination: docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (tag default: latest)")
      ->required();
  auto* platform = app->add_option("--platform", s.platform,
                                   "OS/ARCH[/VARIANT]: push that image of an image index (default: the host's)");
  app->add_flag("--all-platforms", s.all_platforms, "Push an image index whole, with every image it references")
      ->excludes(platform);
  app->add_option("--chunk-size", s.chunk_bytes,
                  "Upload blobs larger than this in chunks of this size, resumable by a later push "
                  "(default 16MiB; suffixes KiB, MiB, GiB; 0: every blob in one request)")
      ->transform(CLI::AsSizeValue(false));
  app->add_option("--upload-state-dir", s.state_dir,
                  "Where unfinished chunked uploads are recorded for a later push to resume "
                  "(default: $XDG_CACHE_HOME/ocipipe/uploads, else ~/.cache/ocipipe/uploads)");
  add_transfer_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "Blobs the repository has already are skipped (HEAD); blobs of another repository of the same\n"
      "registry named by a docker:// SRC are mounted; the rest are uploaded in parallel (-j), each\n"
      "digested while it streams. A blob larger than --chunk-size goes up in PATCH chunks, and the\n"
      "upload session is recorded after each one, so a push that was interrupted and is run again\n"
      "goes on from the bytes the registry holds. Manifests follow, children first, their bytes\n"
      "unchanged (digests stay the same); the image (or image index) last, under DEST's tag or digest.\n"
      "An image index is narrowed to the host's platform unless --all-platforms or --platform.\n"
      "Human output may change; --json is stable.\n\n"
      "Examples:\n"
      "  ocipipe push oci:images:debian docker://localhost:5000/debian:12\n"
      "  ocipipe push --all-platforms oci-archive:multi.tar docker://registry.example/team/app:v2\n"
      "  ocipipe push --creds user:pass --cert-dir ./certs oci:img docker://registry.example:5443/app");
  return {app, [&g] {
            copy_options opts;
            opts.chunk_bytes = s.chunk_bytes;
            opts.upload_state_dir = s.state_dir;
            opts.source_remote = source_remote_options(s.remote);
            opts.destination_remote = destination_remote_options(s.remote);
            return run_transfer(g, {"push", "pushed", "uploaded"}, s.src, s.dst, s.platform, std::move(opts),
                                [](const image_reference& src, const image_reference& dst, const copy_options& o) {
                                  return push(src, dst, o, s.all_platforms);
                                });
          }};
}

}  // namespace ocipipe::cli
