#pragma once
// Shared pieces of the CLI: global flags, the stdout renderers (human lines
// or the --json JSON Lines envelope of DESIGN.md §4), and exit codes.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "stages/oci/error.h"

namespace ocipipe::cli {

/// What a REF argument may be (DESIGN.md §3), for every verb's --help.
inline constexpr const char* image_ref_help =
    "Image: oci:DIR[:TAG], oci:DIR@DIGEST, DIR[:TAG], oci-archive:FILE[:TAG], "
    "docker-archive:FILE[:NAME:TAG|:@N], docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (a registry; "
    "tag default \"latest\"), oci+https://HOST[:PORT]/PATH[:TAG|@DIGEST] (an image layout served "
    "as static files; oci+http:// for localhost)";

/// Exit codes (DESIGN.md §4).
inline constexpr int exit_ok = 0;
inline constexpr int exit_negative = 1;
inline constexpr int exit_failure = 2;

/// Flags every verb takes.
struct global_flags {
  int jobs = 0;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  std::string progress = "auto";
};

/// Adds the global flags to a subcommand.
void add_global_flags(CLI::App& app, global_flags& flags);

/// Writes one whole line to stdout. A closed stdout ends the run with 0.
void out_line(const std::string& line);
/// Writes one JSON Lines record {"type", "schema": 1, "data"} to stdout.
void out_json(std::string_view type, nlohmann::ordered_json data);
/// Writes "ocipipe: <message>" to stderr.
void err_line(const std::string& message);

/// A progress line on a terminal's stderr, redrawn in place (`last` ends it);
/// the next err_line clears it first.
void progress_line(const std::string& message, bool last);

/// A verb: registers its subcommand and returns the function that runs it.
using verb_runner = std::function<int()>;
struct verb {
  CLI::App* app;
  verb_runner run;
};

verb add_validate(CLI::App& root, global_flags& g);
verb add_unpack(CLI::App& root, global_flags& g);
verb add_create(CLI::App& root, global_flags& g);
verb add_version(CLI::App& root, global_flags& g);
verb add_pack(CLI::App& root, global_flags& g);
verb add_inspect(CLI::App& root, global_flags& g);
verb add_ls(CLI::App& root, global_flags& g);
verb add_tag(CLI::App& root, global_flags& g);
verb add_rm(CLI::App& root, global_flags& g);
verb add_gc(CLI::App& root, global_flags& g);
verb add_copy(CLI::App& root, global_flags& g);
verb add_pull(CLI::App& root, global_flags& g);
verb add_push(CLI::App& root, global_flags& g);
verb add_sign(CLI::App& root, global_flags& g);
verb add_verify(CLI::App& root, global_flags& g);

/// Whether progress lines go to stderr: --progress=always, or auto on a terminal.
bool progress_enabled(const global_flags& g);

/// Turns SIGINT, SIGTERM and SIGHUP into a cancel flag for the graph, so a
/// killed unpack still cleans up; returns the flag.
const std::atomic<bool>* install_cancel_handlers();
/// `rc`, or 128+N when signal N cancelled the run (DESIGN.md §4).
int exit_code_after_signals(int rc);

/// Seconds since `start` for reports.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace ocipipe::cli
