// ocipipe validate [--all] REF...  |  validate --shard K/N [--facts FILE] REF...
//   |  validate --merge FACTS...  |  validate --media-type MT FILE
#include <algorithm>

#include "io/output_file.h"
#include "pipeline/api.h"
#include "pipeline/cli/cli.h"
#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"
#include "pipeline/verified_blob.h"
#include "stages/oci/media_type.h"

namespace ocipipe::cli {
namespace {

nlohmann::ordered_json finding_json(const std::string& ref, const finding& f) {
  return {{"ref", ref},
          {"rule", f.rule},
          {"severity", f.error ? "error" : "warning"},
          {"location", f.location},
          {"descriptor_path", f.descriptor_path},
          {"json_path", f.json_path},
          {"digest", f.digest},
          {"entry", f.entry},
          {"message", f.message}};
}

void print_finding(const global_flags& g, const std::string& ref, const finding& f) {
  if (g.json) return out_json("diagnostic", finding_json(ref, f));
  if (!f.error && g.quiet) return;
  out_line(std::string(f.error ? "FAIL: " : "WARN: ") + ref + ": " +
           (f.location.empty() ? "" : f.location + ": ") + f.message + " [" + f.rule + "]");
}

int validate_one_document(const global_flags& g, const std::string& mt, const std::string& file) {
  static const std::string_view known[] = {media_type::image_manifest, media_type::image_index,
                                           media_type::image_config, media_type::descriptor,
                                           media_type::oci_layout_header};
  if (std::find(std::begin(known), std::end(known), mt) == std::end(known)) {
    std::string list;
    for (auto k : known) list += std::string(list.empty() ? "" : ", ") + std::string(k);
    err_line("validate: --media-type " + quote(mt) + " has no rules; use one of: " + list);
    return exit_failure;
  }
  // The largest document an image may hold (index.json's cap): parsing costs ~15x its size.
  auto read = validate_document_file(mt, file, pipeline::max_layout_index_bytes);
  if (!read) {
    err_line("validate: " + read.error().message());
    return exit_failure;
  }
  const auto& findings = *read;
  bool ok = true;
  if (g.json) out_json("begin", {{"ref", file}, {"media_type", mt}});
  for (const auto& f : findings) {
    ok = ok && !f.error;
    print_finding(g, file, f);
  }
  if (g.json)
    out_json("end", {{"ref", file}, {"status", ok ? "valid" : "invalid"}});
  else if (ok && !g.quiet)
    out_line("PASS: " + file);
  return ok ? exit_ok : exit_negative;
}

// The report of a whole run (unsharded, or merged): the findings, a line (or
// begin/end records) per reference, the summary. Returns the exit code.
int report_validation(const global_flags& g, const std::vector<image_validation>& results,
                      const validate_totals& totals) {
  int rc = exit_ok;
  std::size_t valid = 0;
  for (const auto& r : results) {
    if (g.json) out_json("begin", {{"ref", r.ref}});
    for (const auto& f : r.findings) print_finding(g, r.ref, f);
    if (r.failure) {
      err_line("validate " + r.ref + ": " + r.failure->message());
      rc = exit_failure;
    } else if (!r.valid() && rc == exit_ok) {
      rc = exit_negative;
    }
    const char* status = r.failure ? "error" : r.valid() ? "valid" : "invalid";
    if (g.verbose > 0)
      err_line(r.ref + ": " + status + ", " + std::to_string(r.blobs) + " blobs, " +
               std::to_string(r.blob_bytes) + " blob bytes, " + std::to_string(r.tar_bytes) +
               " tar bytes digested");
    if (r.valid()) ++valid;
    std::size_t errors = 0;
    for (const auto& f : r.findings) errors += f.error ? 1 : 0;
    if (g.json) {
      nlohmann::ordered_json end = {{"ref", r.ref}, {"status", status}, {"errors", errors},
                                    {"warnings", r.findings.size() - errors}, {"blobs", r.blobs},
                                    {"blob_bytes", r.blob_bytes}, {"tar_bytes", r.tar_bytes},
                                    {"seconds", r.seconds}};
      if (r.failure)
        end["error"] = {{"code", errc_name(r.failure->code())}, {"message", r.failure->message()}};
      out_json("end", std::move(end));
    } else if (r.valid() && !g.quiet) {
      out_line("PASS: " + r.ref);
    } else if (!r.failure && !g.quiet) {
      out_line("FAIL: " + r.ref + ": " + std::to_string(errors) + " problem(s)");
    }
  }
  std::size_t failed = 0;
  for (const auto& r : results) failed += r.failure ? 1 : 0;
  if (g.json)
    out_json("summary", {{"images", results.size()}, {"valid", valid},
                         {"invalid", results.size() - valid - failed}, {"failed", failed},
                         {"blobs", totals.blobs}, {"blob_bytes", totals.blob_bytes},
                         {"tar_bytes", totals.tar_bytes}, {"seconds", totals.seconds}});
  else if (g.verbose > 0)
    err_line("validate: " + std::to_string(results.size()) + " images, " + std::to_string(totals.blobs) +
             " distinct blobs, " + std::to_string(totals.blob_bytes) + " blob bytes, " +
             std::to_string(totals.tar_bytes) + " tar bytes in " + std::to_string(totals.seconds) + " s");
  return rc;
}

// A shard's facts: to stdout ("-"), or written whole to FILE and renamed into
// place, so that a merge never reads a shard cut short under its final name; a
// rerun of the shard replaces its own facts.
int write_facts(const global_flags& g, const std::vector<image_reference>& refs, const validate_options& opts,
                const validate_shard& shard, const std::string& facts_file) {
  std::string facts;
  const bool to_stdout = facts_file == "-";
  validate_totals totals;
  auto done = validate_shard_facts(refs, opts, shard,
                                   [&](std::string_view line) -> result<void> {
                                     if (to_stdout) {
                                       out_line(std::string(line));
                                     } else {
                                       facts.append(line);
                                       facts.push_back('\n');
                                     }
                                     return {};
                                   },
                                   &totals);
  if (done && !to_stdout) done = io::write_output_file(facts_file, facts, 0644, true);
  if (!done) {
    err_line("validate --shard: " + done.error().message());
    return exit_failure;
  }
  if (g.verbose > 0)
    err_line("validate: shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) + ": " +
             std::to_string(totals.blobs) + " distinct blobs, " + std::to_string(totals.blob_bytes) + " blob bytes, " +
             std::to_string(totals.tar_bytes) + " tar bytes in " + std::to_string(totals.seconds) + " s");
  return exit_ok;
}

}  // namespace

verb add_validate(CLI::App& root, global_flags& g) {
  struct state {
    std::vector<std::string> refs;
    std::string media_type;
    bool all = false;
    bool strict = false;
    std::string shard;
    std::string facts = "-";
    bool merge = false;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("validate", "Validate images against the OCI image-spec");
  app->add_option("REF", s.refs,
                  std::string(image_ref_help) + " (several); with --media-type, one FILE; with --merge, FACTS files");
  app->add_flag("--all", s.all, "Validate every manifest of a layout or archive given without a tag");
  app->add_flag("--strict", s.strict,
                "Schema mode: where the spec's prose says SHOULD and its schema MUST (empty layers), fail");
  app->add_option("--media-type", s.media_type,
                  "Check FILE alone as this media type (manifest, index, config, descriptor, layout header)");
  auto* shard_opt = app->add_option("--shard", s.shard,
                                "Check only shard K of N of the distinct blobs (K/N, K from 0; auto/N or auto: from "
                                "JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_*) and write the run's facts for --merge");
  app->add_option("--facts", s.facts, "With --shard: write the facts (JSON Lines) to FILE, a regular file renamed "
                                      "into place when complete (default -: stdout)")
      ->needs(shard_opt);
  auto* merge = app->add_flag("--merge", s.merge,
                              "The arguments are the facts of every shard of one run: report as one unsharded run");
  merge->excludes(shard_opt);
  add_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "Checks oci-layout, index.json, every manifest, image index and image config against the\n"
      "image-spec's schemas and rules, every blob's size and digest, every layer's diff_id and tar\n"
      "stream. Reports every problem with its location and rule id. Exit 0 valid (warnings\n"
      "allowed), 1 invalid, 2 could not check. Human output may change; --json is stable.\n\n"
      "Each distinct blob is read once per run, however many of the images name it. A docker://\n"
      "image is checked as the registry serves it: documents, every blob's size and digest, diff_ids\n"
      "and tar streams (a registry has no oci-layout or index.json to check).\n\n"
      "Examples:\n  ocipipe validate oci:images/debian:bookworm\n"
      "  ocipipe validate --all mirror/*            # bulk: every image of every layout\n"
      "  ocipipe validate docker-archive:saved.tar oci-archive:image.tar\n"
      "  ocipipe validate --media-type application/vnd.oci.image.manifest.v1+json manifest.json\n"
      "  ocipipe validate --all --shard 2/8 --facts facts/2.jsonl mirror/*   # one of 8 machines\n"
      "  ocipipe validate --merge facts/*.jsonl                             # the verdicts of all 8\n\n"
      "Sharded (README \"Sharded validation\"): each shard walks every image's documents and checks\n"
      "the distinct blobs whose digest falls to it; --merge applies the image-level rules to the\n"
      "facts of all N and reports exactly as one unsharded run would. A shard exits 0 once its\n"
      "facts are written, whatever they say.");
  return {app, [&g, shard_opt] {
            if (!s.media_type.empty()) {
              if (s.merge || shard_opt->count() > 0) {
                err_line("validate --media-type checks one document; --shard and --merge are for images");
                return exit_failure;
              }
              if (s.refs.size() != 1) {
                err_line("validate --media-type takes exactly one FILE");
                return exit_failure;
              }
              return validate_one_document(g, s.media_type, s.refs.front());
            }
            if (s.refs.empty()) {
              err_line(s.merge ? "validate --merge needs the facts files of every shard (- reads one from stdin)"
                               : "validate needs a REF (or --media-type MT FILE)");
              return exit_failure;
            }
            if (s.merge) {
              if (s.all || s.strict) {
                err_line("validate --merge: --all and --strict belong to the shards' runs (their facts carry them)");
                return exit_failure;
              }
              std::vector<std::string> files = s.refs;
              for (auto& f : files)
                if (f == "-") f = "/dev/stdin";
              validate_totals totals;
              auto merged = validate_merge(files, &totals);
              if (!merged) {
                err_line("validate --merge: " + merged.error().message());
                return exit_failure;
              }
              return report_validation(g, *merged, totals);
            }
            std::vector<image_reference> refs;
            for (const auto& text : s.refs) {
              auto r = parse_reference(text);
              if (!r) {
                err_line(r.error().message());
                return exit_failure;
              }
              refs.push_back(std::move(*r));
            }
            validate_options opts;
            opts.jobs = g.jobs;
            opts.all = s.all;
            opts.strict = s.strict;
            opts.remote = remote_options_of(s.remote);
            opts.progress = make_progress(g, "validate");
            if (shard_opt->count() > 0) {
              if (s.facts.empty()) {
                err_line("validate --facts needs a file name (- for stdout)");
                return exit_failure;
              }
              auto shard = parse_validate_shard(s.shard);
              if (!shard) {
                err_line(shard.error().message());
                return exit_failure;
              }
              return write_facts(g, refs, opts, *shard, s.facts);
            }
            validate_totals totals;
            const auto results = validate(refs, opts, &totals);
            return report_validation(g, results, totals);
          }};
}

}  // namespace ocipipe::cli
