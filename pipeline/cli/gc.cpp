// ocipipe gc [--dry-run] LAYOUT
#include "pipeline/cli/layout_cli.h"

namespace ocipipe::cli {

verb add_gc(CLI::App& root, global_flags& g) {
  struct state {
    std::string layout;
    bool dry_run = false;
  };
  static state s;
  auto* app = root.add_subcommand("gc", "Delete the blobs of an oci: layout that index.json does not reach");
  app->add_option("LAYOUT", s.layout, "Image layout: oci:DIR or DIR")->required();
  app->add_flag("--dry-run,-n", s.dry_run, "List what would be deleted and its size; delete nothing");
  add_global_flags(*app, g);
  app->footer(
      "Reachable: every index.json entry, through manifests and image indexes at any depth, and\n"
      "referrers (a manifest or index whose `subject` is reachable, repeated until nothing\n"
      "changes). A reachable manifest that cannot be read or parsed stops gc before anything is\n"
      "deleted. Files left in .ocipipe-ingest/ by a killed writer are removed too. The layout is\n"
      "locked for the whole run.\n\n"
      "Examples:\n  ocipipe gc --dry-run oci:images/debian\n  ocipipe gc images/debian");
  return {app, [&g] {
            auto ref = parse_layout_ref(g, s.layout);
            if (!ref) return exit_failure;
            gc_options opts;
            opts.dry_run = s.dry_run;
            auto r = gc(*ref, opts);
            if (!r) return report_failure(g, ref->str(), r.error());
            for (const auto& w : r->warnings)
              if (!g.quiet) err_line("warning: gc " + ref->str() + ": " + w);
            const std::string would = r->dry_run ? "would remove " : "removed ";
            if (g.json) {
              for (const auto& b : r->removed)
                out_json("removed", {{"ref", ref->str()}, {"digest", b.blob.str()}, {"size", b.size}, {"dry_run", r->dry_run}});
              for (const auto& [path, size] : r->stale_files)
                out_json("removed", {{"ref", ref->str()}, {"path", path}, {"size", size}, {"dry_run", r->dry_run}});
              out_json("summary", {{"ref", ref->str()},
                                   {"blobs", r->removed.size()},
                                   {"stale_files", r->stale_files.size()},
                                   {"bytes", r->bytes},
                                   {"kept", r->kept},
                                   {"dry_run", r->dry_run}});
              return exit_ok;
            }
            if (g.quiet) return exit_ok;
            if (r->dry_run || g.verbose > 0) {
              for (const auto& b : r->removed) out_line(would + b.blob.blob_path() + " (" + human_bytes(b.size) + ")");
              for (const auto& [path, size] : r->stale_files) out_line(would + printable(path) + " (" + human_bytes(size) + ")");
            }
            std::string line = would + std::to_string(r->removed.size()) + (r->removed.size() == 1 ? " blob" : " blobs");
            if (!r->stale_files.empty())
              line += " and " + std::to_string(r->stale_files.size()) + (r->stale_files.size() == 1 ? " stale file" : " stale files");
            line += ", " + human_bytes(r->bytes) + "; kept " + std::to_string(r->kept) + (r->kept == 1 ? " blob" : " blobs");
            out_line(line);
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
