// ocipipe tag REF NEW_TAG
#include <algorithm>

#include "pipeline/cli/layout_cli.h"

namespace ocipipe::cli {

verb add_tag(CLI::App& root, global_flags& g) {
  struct state {
    std::string ref, tag;
  };
  static state s;
  auto* app = root.add_subcommand("tag", "Give an image of an oci: layout another tag in the same layout");
  app->add_option("REF", s.ref, "Image: oci:DIR:TAG, oci:DIR@DIGEST, or oci:DIR when index.json has one entry")
      ->required();
  app->add_option("NEW_TAG", s.tag, "The tag to set (image-layout.md ref name grammar)")->required();
  add_global_flags(*app, g);
  app->footer(
      "A tag names one index.json entry: if NEW_TAG was on another image it moves (that entry is\n"
      "dropped when the tag was all it carried; `ocipipe gc` then reclaims its blobs). The\n"
      "layout is locked while index.json is rewritten, and index.json is replaced atomically.\n\n"
      "Examples:\n  ocipipe tag oci:images/debian:bookworm stable\n"
      "  ocipipe tag oci:images/debian@sha256:4c5f…e1 bookworm-amd64");
  return {app, [&g] {
            auto ref = parse_layout_ref(g, s.ref);
            if (!ref) return exit_failure;
            auto r = tag_image(*ref, s.tag);
            if (!r) return report_failure(g, ref->str(), r.error());
            if (g.json) {
              std::vector<std::string> moved, dropped;
              for (const auto& d : r->moved_from) moved.push_back(d.digest.str());
              for (const auto& d : r->dropped) dropped.push_back(d.digest.str());
              out_json("tagged", {{"ref", ref->str()},
                                  {"tag", r->tag},
                                  {"digest", r->target.digest.str()},
                                  {"media_type", r->target.media_type},
                                  {"changed", r->changed},
                                  {"moved_from", moved},
                                  {"dropped", dropped}});
              return exit_ok;
            }
            if (g.quiet) return exit_ok;
            std::string line = (r->changed ? "tagged " : "already tagged ") + printable(ref->str()) + " (" +
                               r->target.digest.short_str() + ") as " + printable(r->tag);
            for (const auto& d : r->moved_from)
              line += "; moved from " + d.digest.short_str() +
                      (std::any_of(r->dropped.begin(), r->dropped.end(),
                                   [&](const descriptor& x) { return x.digest == d.digest; })
                           ? " (entry dropped)"
                           : " (entry kept, untagged)");
            out_line(line);
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
