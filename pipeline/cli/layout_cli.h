#pragma once
// Rendering helpers shared by the layout verbs (ls, inspect, tag, rm, gc).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/api.h"
#include "pipeline/cli/cli.h"

namespace ocipipe::cli {

/// "512 B", "1.5 KiB", "28.3 MiB", "1.02 GiB" (IEC units, 3 significant digits).
[[nodiscard]] std::string human_bytes(std::uint64_t bytes);

/// A descriptor as a JSON value, with the keys and order image-spec uses
/// (stages/image_json_write.h), for --json records.
[[nodiscard]] nlohmann::ordered_json descriptor_value(const descriptor& d);

/// Reports a failed run: the message on stderr, and with --json an `error`
/// record {"ref", "code", "message"} on stdout. Returns exit_failure.
int report_failure(const global_flags& g, const std::string& ref, const error& e);

/// Parses a LAYOUT or REF argument, reporting a bad one as report_failure
/// does. Returns nullopt on error.
[[nodiscard]] std::optional<image_reference> parse_layout_ref(const global_flags& g, const std::string& text);

/// `s` as is when every byte is printable (or UTF-8), else quote(s): a
/// hostile tag or annotation cannot move the cursor of the terminal.
[[nodiscard]] std::string printable(const std::string& s);

/// Lines of text, left-aligned columns separated by two spaces; the last
/// column is not padded.
[[nodiscard]] std::vector<std::string> align_columns(const std::vector<std::vector<std::string>>& rows);

}  // namespace ocipipe::cli
