#pragma once
// Rendering of unpack/create reports, shared by those two verbs.

#include <chrono>
#include <optional>
#include <utility>

#include "pipeline/api.h"
#include "pipeline/cli/cli.h"

namespace ocipipe::cli {

/// Prints the report of one image (human line, or layer + end JSON records)
/// and returns its exit code. `verb` names the action ("unpacked", "created").
int render_image_result(const global_flags& g, const std::string& verb, const std::string& ref,
                        const std::string& target, const result<unpack_report>& r,
                        double seconds);

/// The progress callback the CLI passes to unpack, create and validate when
/// progress is enabled (DESIGN.md §4), else an empty one: bytes done of the
/// total and the layer or blob at hand, on one redrawn stderr line on a
/// terminal; elsewhere one line per finished layer or blob.
progress_callback make_progress(const global_flags& g, const std::string& label);

/// Registers the limit flags of unpack and create (--max-layer-bytes,
/// --max-image-bytes, --max-entries, --max-path-bytes, --max-depth,
/// --max-pax-header-bytes), bound to `opts`'s fields (which keep their defaults).
void add_limit_flags(CLI::App& app, unpack_options& opts);

/// Bytes as "12.3 MB" (10^6 bytes), for human output.
std::string mb(std::uint64_t bytes);

/// Parses REF or prints a usage error. Returns nullopt on error.
std::optional<image_reference> parse_ref_or_report(const std::string& text);

/// SRC and DST of copy, pull or push (`verb`, the --json record type). A
/// reference that does not parse gives its message on stderr and, with
/// --json, the verb's record with status "error", the texts as given and
/// error {code, message}, as any other failure of the verb does. nullopt then.
std::optional<std::pair<image_reference, image_reference>> parse_transfer_refs(const global_flags& g,
                                                                               const std::string& verb,
                                                                               const std::string& src,
                                                                               const std::string& dst);

/// What copy, pull and push say about themselves.
struct transfer_verb {
  const char* name;     ///< "copy": the --json record type and the progress label
  const char* past;     ///< "copied": the human line's first word
  const char* written;  ///< "written", "uploaded": what happened to the blobs copied
};

/// The part of copy, pull and push after their own flags: parses SRC and DST,
/// fills the options every transfer shares (jobs, cancel, progress,
/// --platform text), runs `run`, prints the human line or the JSON record
/// and returns the exit code (128+N after signal N).
int run_transfer(const global_flags& g, const transfer_verb& verb, const std::string& src_text,
                 const std::string& dst_text, const std::string& platform, copy_options opts,
                 const std::function<result<copy_report>(const image_reference&, const image_reference&,
                                                         const copy_options&)>& run);

}  // namespace ocipipe::cli
