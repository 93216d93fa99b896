// ocipipe bench [--dir DIR] [--seconds S] [-j N] [--image REF] [--only NAME,...] [--json]
#include <cstdio>
#include <cstdlib>

#include "pipeline/cli/cli.h"
#include "pipeline/host_bench.h"

namespace ocipipe::cli {

namespace {

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Rates as people read them: decimal MB/s (as the issue and the peers quote
// them), whole files and entries per second.
std::string rate_text(const std::string& unit, double v) {
  return unit == "bytes/s" ? fixed(v / 1e6, 1) : fixed(v, 0);
}
std::string unit_text(const std::string& unit) { return unit == "bytes/s" ? "MB/s" : unit; }

std::string pad(const std::string& s, std::size_t w, bool right = false) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

void print_table(const std::vector<pipeline::bench_row>& rows, int threads) {
  const std::vector<std::string> head = {"measurement", "engine", "unit", "1 thread",
                                         std::to_string(threads) + (threads == 1 ? " thread" : " threads"), "scaling"};
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows)
    cells.push_back({r.name, r.engine, unit_text(r.unit), rate_text(r.unit, r.single), rate_text(r.unit, r.all),
                     r.single > 0 ? fixed(r.all / r.single, 2) + "x" : "-"});
  std::vector<std::size_t> w(head.size());
  for (std::size_t c = 0; c < head.size(); ++c) {
    w[c] = head[c].size();
    for (const auto& row : cells) w[c] = std::max(w[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (std::size_t c = 0; c < row.size(); ++c) s += (c ? "  " : "") + pad(row[c], w[c], c >= 3);
    out_line(s);
  };
  line(head);
  for (const auto& row : cells) line(row);
  for (const auto& r : rows)
    if (!r.note.empty()) out_line(r.note);
}

std::string seconds_text(double s) { return fixed(s, 3) + " s"; }

}  // namespace

verb add_bench(CLI::App& root, global_flags& g) {
  struct state {
    std::string dir;
    double seconds = 1.0;
    std::string image;
    std::vector<std::string> only;
    double data_mib = 32;
  };
  static state s;
  auto* app = root.add_subcommand("bench", "Measure this host: digests, inflate, tar, file creation, the unpack "
                                           "graph; per core and on all cores");
  app->add_option("--dir", s.dir, "Existing directory to create files and unpack in (default: $TMPDIR or /tmp); "
                                  "all bench writes there is removed at the end");
  app->add_option("--seconds", s.seconds, "Time per measurement and column (default 1.0)")
      ->check(CLI::Range(0.001, 3600.0));
  app->add_option("--image", s.image,
                  std::string("Also print the floor implied for this image (") + image_ref_help + ")");
  app->add_option("--only", s.only, "Only these measurements, comma-separated: sha256, sha512, inflate_isal (inflate_zlib without ISA-L), "
                                    "inflate_libdeflate, zstd, tar_parse, file_create, unpack_graph (--image "
                                    "adds those its floor needs)")
      ->delimiter(',');
  app->add_option("--size", s.data_mib, "MiB of generated input per measurement (default 32; the unpack_graph "
                                        "image holds twice this)")
      ->check(CLI::Range(0.01, 65536.0));
  add_global_flags(*app, g);
  app->footer(
      "Each measurement is checked once (a known digest, inflate output equal to its input, ...) and\n"
      "then timed on 1 thread and on -j N threads (N independent streams, their rates summed;\n"
      "unpack_graph: one unpack with -j1 and one with -jN). With --image, every layer of REF is read\n"
      "once (untimed) and the floor of unpack and validate on this host is printed: see\n"
      "pipeline/README.md \"The floor\". --json prints one JSON object. Exit 0 done, 2 could not run.\n\n"
      "Examples:\n"
      "  ocipipe bench\n"
      "  ocipipe bench --dir /mnt/target -j 16 --seconds 2\n"
      "  ocipipe bench --image oci:images/debian:latest --json");
  return {app, [&g] {
            pipeline::host_bench_options opts;
            opts.dir = s.dir;
            if (opts.dir.empty()) {
              const char* tmp = std::getenv("TMPDIR");
              opts.dir = tmp && *tmp ? tmp : "/tmp";
            }
            opts.seconds = s.seconds;
            opts.threads = g.jobs;
            opts.only = s.only;
            opts.data_bytes = static_cast<std::uint64_t>(s.data_mib * 1048576.0);
            opts.cancel = install_cancel_handlers();
            const bool progress = progress_enabled(g) && !g.json;
            if (progress) opts.on_start = [](std::string_view name) { progress_line("bench: " + std::string(name), false); };
            const auto host = pipeline::describe_host(g.jobs);

            std::optional<image_reference> ref;
            std::vector<pipeline::floor_layer> layers;
            if (!s.image.empty()) {
              auto r = parse_reference(s.image);
              if (!r) {
                err_line("bench: --image: " + r.error().message());
                return exit_failure;
              }
              ref = *r;
              if (progress) progress_line("bench: reading " + ref->str(), false);
              auto l = pipeline::measure_image_layers(*ref);
              if (!l) {
                err_line("bench: --image " + ref->str() + ": " + l.error().message());
                return exit_failure;
              }
              layers = std::move(*l);
              if (!opts.only.empty())
                for (auto& m : pipeline::floor_measurements(layers)) opts.only.push_back(m);
            }

            auto rows = pipeline::run_host_bench(opts);
            if (progress) progress_line("bench: done", true);
            if (!rows) {
              err_line(rows.error().message());
              return exit_failure;
            }
            std::optional<pipeline::floor_estimate> floor;
            if (ref) {
              auto f = pipeline::compute_floor(layers, pipeline::floor_rates_of(*rows, host.threads));
              if (!f) {
                err_line("bench: " + f.error().message());
                return exit_failure;
              }
              floor = *f;
            }

            if (g.json) {
              nlohmann::ordered_json j;
              j["host"] = {{"cpu_model", host.cpu_model},
                           {"online_cpus", host.online_cpus},
                           {"threads", host.threads},
                           {"kernel", host.kernel},
                           {"ocipipe", host.version}};
              j["seconds_per_measurement"] = opts.seconds;
              j["measurements"] = nlohmann::ordered_json::array();
              for (const auto& r : *rows)
                j["measurements"].push_back({{"name", r.name},
                                             {"engine", r.engine},
                                             {"unit", r.unit},
                                             {"single", r.single},
                                             {"all", r.all},
                                             {"threads", r.threads}});
              if (floor) {
                nlohmann::ordered_json fl;
                fl["image"] = ref->str();
                fl["layers"] = nlohmann::ordered_json::array();
                for (const auto& l : layers)
                  fl["layers"].push_back({{"digest", l.digest},
                                          {"compression", l.compression},
                                          {"compressed_bytes", l.compressed_bytes},
                                          {"tar_bytes", l.tar_bytes},
                                          {"entries", l.entries},
                                          {"decompress_seconds", l.decompress_seconds}});
                fl["cpu_seconds"] = floor->cpu_seconds;
                fl["apply_seconds"] = floor->apply_seconds;
                fl["unpack_floor_seconds"] = floor->unpack_floor_seconds;
                fl["validate_floor_seconds"] = floor->validate_floor_seconds;
                fl["unpack_bound"] = floor->unpack_bound;
                j["floor"] = std::move(fl);
              } else {
                j["floor"] = nullptr;
              }
              out_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
              return exit_ok;
            }

            if (!g.quiet) {
              out_line("host: " + host.cpu_model + ", " + std::to_string(host.online_cpus) + " online CPUs, " +
                       host.kernel + ", ocipipe " + host.version + "; " + fixed(opts.seconds, 2) +
                       " s per measurement");
            }
            print_table(*rows, host.threads);
            if (floor) {
              std::uint64_t c = 0, u = 0, e = 0;
              for (const auto& l : layers) c += l.compressed_bytes, u += l.tar_bytes, e += l.entries;
              const std::string n = std::to_string(host.threads);
              out_line("");
              out_line("floor for " + ref->str() + ": " + std::to_string(layers.size()) + " layers, " +
                       fixed(c / 1e6, 1) + " MB compressed, " + fixed(u / 1e6, 1) + " MB tar, " +
                       std::to_string(e) + " entries; N = " + n);
              out_line("  cpu work        " + seconds_text(floor->cpu_seconds) +
                       "  (digest, inflate, diff_id, tar parse at 1-thread rates; parallel)");
              out_line("  apply work      " + seconds_text(floor->apply_seconds) +
                       "  (file creation at 1-thread rates; serial)");
              out_line("  unpack floor    " + seconds_text(floor->unpack_floor_seconds) + "  (bound by " +
                       floor->unpack_bound +
                       (floor->unpack_bound == "cpu" ? ": (cpu + apply) / " + n + ")" : ": apply is serial)"));
              out_line("  validate floor  " + seconds_text(floor->validate_floor_seconds) + "  (cpu / " + n + ")");
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
