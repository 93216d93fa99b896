// Rendering helpers of the layout verbs.
#include "pipeline/cli/layout_cli.h"

#include <algorithm>
#include <cstdio>

#include "stages/image_json_write.h"

namespace ocipipe::cli {

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

nlohmann::ordered_json descriptor_value(const descriptor& d) {
  return nlohmann::ordered_json::parse(descriptor_json(d), nullptr, false);
}

int report_failure(const global_flags& g, const std::string& ref, const error& e) {
  if (g.json)
    out_json("error", {{"ref", ref}, {"code", errc_name(e.code())}, {"message", e.message()}});
  err_line(e.message());
  return exit_failure;
}

std::optional<image_reference> parse_layout_ref(const global_flags& g, const std::string& text) {
  auto ref = parse_reference(text);
  if (!ref) {
    report_failure(g, text, ref.error());
    return std::nullopt;
  }
  return *ref;
}

std::string printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return quote(s);
  return s;
}

std::vector<std::string> align_columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  std::vector<std::string> out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace ocipipe::cli
