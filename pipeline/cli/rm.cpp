// ocipipe rm [--blobs] REF
#include "pipeline/cli/layout_cli.h"

namespace ocipipe::cli {

verb add_rm(CLI::App& root, global_flags& g) {
  struct state {
    std::string ref;
    bool blobs = false;
  };
  static state s;
  auto* app = root.add_subcommand("rm", "Remove a tag (an index.json entry) from an oci: layout");
  app->add_option("REF", s.ref, "Image: oci:DIR:TAG or oci:DIR@DIGEST (every entry of that digest)")->required();
  app->add_flag("--blobs", s.blobs,
                "Also delete the blobs only the removed entries used (blobs another tag or a referrer "
                "still reaches stay)");
  add_global_flags(*app, g);
  app->footer(
      "index.json is replaced atomically before any blob is deleted, under the layout lock.\n"
      "Without --blobs the image's blobs stay until `ocipipe gc`.\n\n"
      "Examples:\n  ocipipe rm oci:images/debian:old\n  ocipipe rm --blobs oci:images/debian:old");
  return {app, [&g] {
            auto ref = parse_layout_ref(g, s.ref);
            if (!ref) return exit_failure;
            rm_options opts;
            opts.blobs = s.blobs;
            auto r = remove_image(*ref, opts);
            if (!r) return report_failure(g, ref->str(), r.error());
            if (g.json) {
              for (const auto& d : r->removed)
                out_json("untagged", {{"ref", ref->str()},
                                      {"tag", d.ref_name()},
                                      {"digest", d.digest.str()},
                                      {"media_type", d.media_type}});
              for (const auto& b : r->blobs)
                out_json("removed", {{"ref", ref->str()}, {"digest", b.blob.str()}, {"size", b.size}, {"dry_run", false}});
              out_json("summary", {{"ref", ref->str()},
                                   {"entries", r->removed.size()},
                                   {"blobs", r->blobs.size()},
                                   {"bytes", r->bytes}});
              return exit_ok;
            }
            if (g.quiet) return exit_ok;
            for (const auto& d : r->removed)
              out_line("removed " + (d.ref_name().empty() ? std::string("entry") : "tag " + printable(d.ref_name())) +
                       " (" + d.digest.short_str() + ")");
            if (g.verbose > 0)
              for (const auto& b : r->blobs) out_line("deleted " + b.blob.blob_path() + " (" + human_bytes(b.size) + ")");
            if (s.blobs)
              out_line("deleted " + std::to_string(r->blobs.size()) + (r->blobs.size() == 1 ? " blob, " : " blobs, ") +
                       human_bytes(r->bytes));
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
