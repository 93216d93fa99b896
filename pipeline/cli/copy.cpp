// ocipipe copy SRC DST
#include <cstdio>

#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_copy(CLI::App& root, global_flags& g) {
  struct state {
    std::string src, dst, platform;
    bool force = false;
    remote_flags remote;
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
            auto refs = parse_transfer_refs(g, "copy", s.src, s.dst);
            if (!refs) return exit_failure;
            const auto* src = &refs->first;
            const auto* dst = &refs->second;
            copy_options opts;
            opts.jobs = g.jobs;
            opts.force = s.force;
            opts.source_remote = source_remote_options(s.remote);
            opts.destination_remote = destination_remote_options(s.remote);
            opts.cancel = install_cancel_handlers();
            opts.progress = make_progress(g, "copy " + src->str());
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) {
                err_line(p.error().message());
                return exit_failure;
              }
              opts.platform = *p;
            }
            const auto start = std::chrono::steady_clock::now();
            auto r = copy(*src, *dst, opts);
            const double seconds = seconds_since(start);
            if (g.json) {
              nlohmann::ordered_json data = {{"src", src->str()}, {"dst", dst->str()}, {"status", r ? "ok" : "error"}};
              if (r) {
                data["manifest_digest"] = r->manifest.digest.str();
                data["media_type"] = r->manifest.media_type;
                data["size"] = r->manifest.size;
                data["tag"] = r->tag;
                data["images"] = r->images;
                data["blobs_copied"] = r->blobs_copied;
                data["blobs_skipped"] = r->blobs_skipped;
                data["blobs_mounted"] = r->blobs_mounted;
                data["bytes"] = r->bytes_copied;
                data["bytes_resumed"] = r->bytes_resumed;
              } else {
                data["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
              }
              data["seconds"] = seconds;
              out_json("copy", std::move(data));
            } else if (r && !g.quiet) {
              char secs[32];
              std::snprintf(secs, sizeof secs, "%.2f s", seconds);
              std::string line = "copied " + src->str() + " to " + dst->str() + ": " + r->manifest.digest.str() +
                                 ", " + std::to_string(r->blobs_copied) +
                                 (r->blobs_copied == 1 ? " blob" : " blobs") + " (" + mb(r->bytes_copied) +
                                 ") written, " + std::to_string(r->blobs_skipped) + " already there";
              if (r->blobs_mounted) line += ", " + std::to_string(r->blobs_mounted) + " mounted";
              if (r->bytes_resumed) line += ", " + mb(r->bytes_resumed) + " resumed";
              out_line(line + ", in " + secs);
            }
            if (!r) {
              err_line(r.error().message());
              return exit_failure;
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
