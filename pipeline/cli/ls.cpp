// ocipipe ls LAYOUT
#include "pipeline/cli/layout_cli.h"

namespace ocipipe::cli {

verb add_ls(CLI::App& root, global_flags& g) {
  struct state {
    std::string layout;
  };
  static state s;
  auto* app = root.add_subcommand("ls", "List the tags of an image layout");
  app->add_option("LAYOUT", s.layout, "Image layout: oci:DIR, DIR or oci-archive:FILE")->required();
  add_global_flags(*app, g);
  app->footer(
      "One row per index.json entry: its tag (<none> when untagged), manifest digest, media\n"
      "type, platforms (of an image index's entries, or the image config's os/arch/variant) and\n"
      "size (manifest + config + layers, each blob counted once). -q prints the tags only.\n\n"
      "Examples:\n  ocipipe ls oci:images/debian\n  ocipipe ls --json images/debian | jq -r .data.tag");
  return {app, [&g] {
            auto ref = parse_layout_ref(g, s.layout);
            if (!ref) return exit_failure;
            auto r = list_layout(*ref);
            if (!r) return report_failure(g, ref->str(), r.error());
            std::vector<std::vector<std::string>> rows;
            if (!g.quiet && !g.json) rows.push_back({"TAG", "DIGEST", "MEDIA TYPE", "PLATFORMS", "SIZE"});
            for (const auto& e : r->entries) {
              if (!e.problem.empty())
                err_line("warning: ls " + r->layout.str() + ": " + (e.tag.empty() ? e.manifest.digest.str() : quote(e.tag)) +
                         ": " + e.problem + " (size and platforms may be incomplete)");
              if (g.json) {
                nlohmann::ordered_json d = {{"layout", r->layout.str()},
                                            {"tag", e.tag},
                                            {"digest", e.manifest.digest.str()},
                                            {"media_type", e.manifest.media_type},
                                            {"size", e.manifest.size},
                                            {"platforms", e.platforms},
                                            {"total_size", e.total_size},
                                            {"annotations", e.manifest.annotations}};
                if (!e.problem.empty()) d["problem"] = e.problem;
                out_json("tag", std::move(d));
                continue;
              }
              if (g.quiet) {
                out_line(e.tag.empty() ? e.manifest.digest.str() : printable(e.tag));
                continue;
              }
              std::string platforms;
              for (const auto& p : e.platforms) platforms += (platforms.empty() ? "" : ",") + p;
              rows.push_back({e.tag.empty() ? "<none>" : printable(e.tag), e.manifest.digest.short_str(),
                              printable(e.manifest.media_type),
                              platforms.empty() ? "-" : printable(platforms), human_bytes(e.total_size)});
            }
            for (const auto& line : align_columns(rows)) out_line(line);
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
