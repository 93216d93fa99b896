// ocipipe pull SRC DEST
#include <cstdio>

#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

verb add_pull(CLI::App& root, global_flags& g) {
  struct state {
    std::string src, dst, platform;
    bool all_platforms = false;
    bool force = false;
    remote_flags remote;
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
            auto refs = parse_transfer_refs(g, "pull", s.src, s.dst);
            if (!refs) return exit_failure;
            const auto* src = &refs->first;
            const auto* dst = &refs->second;
            copy_options opts;
            opts.jobs = g.jobs;
            opts.force = s.force;
            opts.source_remote = source_remote_options(s.remote);
            opts.destination_remote = destination_remote_options(s.remote);
            opts.cancel = install_cancel_handlers();
            opts.progress = make_progress(g, "pull " + src->str());
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) {
                err_line(p.error().message());
                return exit_failure;
              }
              opts.platform = *p;
            }
            const auto start = std::chrono::steady_clock::now();
            auto r = pull(*src, *dst, opts, s.all_platforms);
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
                data["bytes"] = r->bytes_copied;
                data["bytes_resumed"] = r->bytes_resumed;
              } else {
                data["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
              }
              data["seconds"] = seconds;
              out_json("pull", std::move(data));
            } else if (r && !g.quiet) {
              char secs[32];
              std::snprintf(secs, sizeof secs, "%.2f s", seconds);
              std::string line = "pulled " + src->str() + " to " + dst->str() + ": " + r->manifest.digest.str() + ", " +
                                 std::to_string(r->blobs_copied) + (r->blobs_copied == 1 ? " blob" : " blobs") + " (" +
                                 mb(r->bytes_copied) + ") written";
              if (r->bytes_resumed > 0) line += " (" + mb(r->bytes_resumed) + " resumed)";
              out_line(line + ", " + std::to_string(r->blobs_skipped) + " already there, in " + secs);
            }
            if (!r) {
              err_line(r.error().message());
              return exit_failure;
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
