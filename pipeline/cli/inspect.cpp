// ocipipe inspect REF
#include "pipeline/cli/layout_cli.h"
#include "pipeline/cli/remote_flags.h"

namespace ocipipe::cli {
namespace {

std::string join_json(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void field(const std::string& name, const std::string& value) {
  out_line(name + std::string(name.size() < 13 ? 13 - name.size() : 1, ' ') + value);
}

// A list shown one item a line under its label.
void field_lines(const std::string& name, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) field(i == 0 ? name : "", printable(values[i]));
}

std::vector<std::string> key_values(const annotations& a) {
  std::vector<std::string> out;
  for (const auto& [k, v] : a) out.push_back(k + "=" + v);
  return out;
}

void print_human(const inspect_report& r) {
  const auto& img = r.image;
  const auto& c = img.config;
  const auto& m = img.manifest;
  field("Reference:", printable(img.reference.str()));
  field("Manifest:", img.manifest_descriptor.digest.str());
  field("", printable(img.manifest_descriptor.media_type) + ", " + std::to_string(img.manifest_descriptor.size) + " bytes");
  field("Config:", img.config_descriptor.digest.str());
  field("", printable(img.config_descriptor.media_type) + ", " + std::to_string(img.config_descriptor.size) + " bytes");
  field("Platform:", printable(c.os + "/" + c.architecture + (c.variant.empty() ? "" : "/" + c.variant)));
  if (!c.created.empty()) field("Created:", printable(c.created));
  if (!c.author.empty()) field("Author:", printable(c.author));
  field("Size:", human_bytes(r.total_size) + " (" + std::to_string(r.total_size) + " bytes: manifest, config, " +
                     std::to_string(m.layers.size()) + (m.layers.size() == 1 ? " layer)" : " layers)"));
  if (c.config.has_entrypoint) field("Entrypoint:", printable(join_json(c.config.entrypoint)));
  if (c.config.has_cmd) field("Cmd:", printable(join_json(c.config.cmd)));
  field_lines("Env:", c.config.env);
  if (!c.config.working_dir.empty()) field("WorkingDir:", printable(c.config.working_dir));
  if (!c.config.user.empty()) field("User:", printable(c.config.user));
  field_lines("ExposedPorts:", c.config.exposed_ports);
  field_lines("Volumes:", c.config.volumes);
  if (!c.config.stop_signal.empty()) field("StopSignal:", printable(c.config.stop_signal));
  field_lines("Labels:", key_values(c.config.labels));
  field_lines("Annotations:", key_values(m.annotations));
  if (m.subject) field("Subject:", m.subject->digest.str());
  out_line("Layers:");
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    out_line("  " + std::to_string(i + 1) + "  " + l.digest.str() + "  " + printable(l.media_type) + "  " +
             human_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(l.size, 0))));
    if (i < c.diff_ids.size()) out_line("     diff_id " + c.diff_ids[i].str());
  }
  // History is not in the parsed config: read it from the document itself.
  auto cfg = nlohmann::json::parse(img.config_bytes, nullptr, false);
  if (cfg.is_object() && cfg.contains("history") && cfg["history"].is_array() && !cfg["history"].empty()) {
    out_line("History:");
    for (const auto& h : cfg["history"]) {
      if (!h.is_object()) continue;
      auto str = [&](const char* k) { return h.contains(k) && h[k].is_string() ? h[k].get<std::string>() : std::string(); };
      std::string line = "  " + (str("created").empty() ? std::string("-") : str("created")) + "  ";
      line += str("created_by").empty() ? str("comment") : str("created_by");
      if (h.contains("empty_layer") && h["empty_layer"] == true) line += "  (empty layer)";
      out_line(printable(line));
    }
  }
}

}  // namespace

verb add_inspect(CLI::App& root, global_flags& g) {
  struct state {
    std::string ref, platform;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("inspect", "Show an image's manifest, config and layers");
  app->add_option("REF", s.ref, image_ref_help)->required();
  app->add_option("--platform", s.platform, "OS/ARCH[/VARIANT] to pick from an image index");
  add_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "Human output is for reading and may change; --json writes one `inspect` record with the\n"
      "manifest descriptor, the manifest and image config documents, and the total size.\n\n"
      "Examples:\n  ocipipe inspect oci:images/debian:bookworm\n"
      "  ocipipe inspect --json docker-archive:debian.tar | jq .data.config.config.Env");
  return {app, [&g] {
            auto ref = parse_layout_ref(g, s.ref);
            if (!ref) return exit_failure;
            platform_selector platform;
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) return report_failure(g, ref->str(), p.error());
              platform = *p;
            }
            auto r = inspect(*ref, platform, remote_options_of(s.remote));
            if (!r) return report_failure(g, ref->str(), r.error());
            if (g.json) {
              const auto& img = r->image;
              out_json("inspect", {{"ref", ref->str()},
                                   {"descriptor", descriptor_value(img.manifest_descriptor)},
                                   {"manifest", nlohmann::ordered_json::parse(r->manifest_json, nullptr, false)},
                                   {"config_descriptor", descriptor_value(img.config_descriptor)},
                                   {"config", nlohmann::ordered_json::parse(img.config_bytes, nullptr, false)},
                                   {"total_size", r->total_size}});
              return exit_ok;
            }
            print_human(*r);
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
