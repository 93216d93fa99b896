// ocipipe pack DIR DEST [--base REF] · ocipipe pack --diff BUNDLE DEST
#include <cstdlib>
#include <cstdio>

#include <string>

#include "pipeline/cli/remote_flags.h"
#include "pipeline/cli/report.h"

namespace ocipipe::cli {

namespace {
// Which library deflates each gzip level in this build (stages/gzip_chunk.h).
#if OCIPIPE_HAVE_ISAL
constexpr const char* gzip_engines = "1-3 use ISA-L, 4-9 zlib";
constexpr const char* gzip_reproducible =
    "levels 4-9 (zlib) give the same bytes wherever the zlib version is the same, levels 1-3\n"
    "(ISA-L) on machines of the same CPU kind.";
#else
constexpr const char* gzip_engines = "all zlib: this build has no ISA-L";
constexpr const char* gzip_reproducible =
    "every level (zlib; this build has no ISA-L) gives the same bytes wherever the zlib version\n"
    "is the same; ISA-L builds write other bytes at levels 1-3.";
#endif

// --entrypoint / --cmd: a JSON array of strings ('["/bin/sh","-c","echo hi"]'),
// or any other text as a list of that one word (buildah's rule), "" as [].
result<std::vector<std::string>> parse_command_list(const std::string& flag, const std::string& text) {
  if (text.empty()) return std::vector<std::string>{};
  if (text.front() != '[') return std::vector<std::string>{text};
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array())
    return fail(errc::invalid_argument, flag + " " + quote(text) + ": not a JSON array of strings");
  std::vector<std::string> out;
  for (const auto& v : j) {
    if (!v.is_string())
      return fail(errc::invalid_argument, flag + " " + quote(text) + ": not a JSON array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// K=V pairs of --label / --annotation; K must not be empty.
result<std::map<std::string, std::string>> parse_pairs(const std::string& flag,
                                                       const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(errc::invalid_argument, flag + " " + quote(item) + ": not KEY=VALUE");
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// SOURCE_DATE_EPOCH (reproducible-builds.org): a decimal count of seconds
// since the epoch. Malformed values are an error, as the spec asks.
result<std::optional<std::int64_t>> source_date_epoch_from_env() {
  const char* v = std::getenv("SOURCE_DATE_EPOCH");
  if (v == nullptr || *v == '\0') return std::optional<std::int64_t>{};
  const std::string s = v;
  if (s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return fail(errc::invalid_argument,
                "SOURCE_DATE_EPOCH " + quote(s) + ": not a number of seconds since the epoch");
  return std::optional<std::int64_t>{std::stoll(s)};
}

}  // namespace

verb add_pack(CLI::App& root, global_flags& g) {
  struct state {
    std::string dir, dest, base, platform, workdir, user, author, created, history_comment;
    std::string entrypoint, cmd, compression = "gzip";
    std::vector<std::string> env, labels, annotations;
    int level = -1;
    bool diff = false;
    remote_flags remote;
  };
  static state s;
  auto* app = root.add_subcommand("pack", "Pack a directory (or a changed bundle) into a new image layer");
  app->add_option("DIR", s.dir, "Directory to pack; with --diff, a bundle or rootfs written by ocipipe "
                                "create/unpack")
      ->required();
  app->add_option("DEST", s.dest, "Image layout to write and tag: oci:DIR[:TAG] (created when missing; "
                                  "tag default \"latest\")")
      ->required();
  auto* diff = app->add_flag("--diff", s.diff,
                             "Pack only what changed in the bundle since it was unpacked, on top of the "
                             "image it came from (new and changed files, whiteouts for deletions)");
  app->add_option("--base", s.base, std::string("Image whose layers go below the new one. ") + image_ref_help)
      ->excludes(diff);
  app->add_option("--platform", s.platform,
                  "OS/ARCH[/VARIANT] of the new image (default: the base's, or linux and this host's "
                  "architecture); also picks the base from an image index");
  auto* entrypoint = app->add_option("--entrypoint", s.entrypoint,
                                     "config.Entrypoint: a JSON array ('[\"/bin/sh\",\"-c\"]') or one word; "
                                     "'' clears it");
  auto* cmd = app->add_option("--cmd", s.cmd,
                              "config.Cmd: a JSON array ('[\"echo\",\"hi\"]') or one word; '' clears it");
  app->add_option("--env", s.env, "NAME=VALUE for config.Env, repeatable: replaces NAME, else appended");
  auto* workdir = app->add_option("--workdir", s.workdir, "config.WorkingDir");
  auto* user = app->add_option("--user", s.user, "config.User (uid, uid:gid, name, name:group)");
  app->add_option("--label", s.labels, "KEY=VALUE added to config.Labels, repeatable");
  app->add_option("--annotation", s.annotations, "KEY=VALUE added to the manifest's annotations, repeatable");
  auto* author = app->add_option("--author", s.author, "author of the image and of its history entry");
  auto* created = app->add_option("--created", s.created,
                                  "RFC 3339 creation time (default: SOURCE_DATE_EPOCH when set, else now)");
  app->add_option("--history-comment", s.history_comment, "comment of the new layer's history entry");
  app->add_option("--compression", s.compression, "Layer compression: gzip (default), zstd, none")
      ->check(CLI::IsMember({"gzip", "zstd", "none"}));
  app->add_option("--level", s.level,
                  std::string("Compression level: gzip 1-9 (default 2; ") + gzip_engines + "), zstd 1-19 (default 3)");
  // A docker:// or oci+https:// --base, or the image a --diff rootfs was unpacked from.
  add_remote_flags(*app, s.remote);
  add_global_flags(*app, g);
  app->footer(
      "The layer is deterministic: entries in path order (component by component, bytewise; a\n"
      "whiteout where the path it hides would stand, an opaque whiteout right after its directory),\n"
      "numeric uid/gid, modes, xattrs and\n"
      "hardlinks kept, PAX headers only where ustar cannot hold a field, mtimes in whole seconds,\n"
      "clamped to $SOURCE_DATE_EPOCH when it is set (which also sets the default --created), so the\n"
      "same tree and flags give the same digests. gzip is one member compressed on all cores;\n" +
      std::string(gzip_reproducible) +
      " zstd uses libzstd's multithreaded mode.\n"
      "DIR's own directory is not a layer entry; sockets and the host-specific xattrs\n"
      "security.selinux and system.nfs4_acl are left out, with a warning.\n"
      "Prints the manifest digest; --json prints a \"pack\" record with every digest and size.\n\n"
      "Examples:\n"
      "  ocipipe pack rootfs/ oci:images/app:1.0 --base oci:images/debian:bookworm --cmd '[\"/app\"]'\n"
      "  SOURCE_DATE_EPOCH=1700000000 ocipipe pack --entrypoint /bin/sh rootfs/ oci:out:v1\n"
      "  ocipipe pack --diff bundle/ oci:images/app:1.1");
  return {app, [&g, entrypoint, cmd, workdir, user, author, created] {
            auto dest = parse_ref_or_report(s.dest);
            if (!dest) return exit_failure;
            pack_options opts;
            opts.jobs = g.jobs;
            opts.level = s.level;
            opts.compression = s.compression == "zstd"   ? layer_compression::zstd
                               : s.compression == "none" ? layer_compression::none
                                                         : layer_compression::gzip;
            auto usage = [](const error& e) {
              err_line(e.message());
              return exit_failure;
            };
            auto sde = source_date_epoch_from_env();
            if (!sde) return usage(sde.error());
            opts.source_date_epoch = *sde;
            image_edits& e = opts.edits;
            if (entrypoint->count() > 0) {
              auto v = parse_command_list("--entrypoint", s.entrypoint);
              if (!v) return usage(v.error());
              e.entrypoint = *v;
            }
            if (cmd->count() > 0) {
              auto v = parse_command_list("--cmd", s.cmd);
              if (!v) return usage(v.error());
              e.cmd = *v;
            }
            e.env = s.env;
            if (workdir->count() > 0) e.working_dir = s.workdir;
            if (user->count() > 0) e.user = s.user;
            auto labels = parse_pairs("--label", s.labels);
            if (!labels) return usage(labels.error());
            e.labels = *labels;
            auto annotations = parse_pairs("--annotation", s.annotations);
            if (!annotations) return usage(annotations.error());
            e.annotations = *annotations;
            if (!s.platform.empty()) {
              auto p = parse_platform(s.platform);
              if (!p) return usage(p.error());
              e.platform = s.platform;
              opts.base_platform = *p;
            }
            if (author->count() > 0) e.author = s.author;
            if (created->count() > 0) e.created = s.created;
            e.history_comment = s.history_comment;
            if (!s.base.empty()) {
              auto b = parse_ref_or_report(s.base);
              if (!b) return exit_failure;
              opts.base = *b;
            }
            opts.remote = remote_options_of(s.remote);
            opts.progress = make_progress(g, "pack " + dest->str());

            const auto start = std::chrono::steady_clock::now();
            auto r = s.diff ? pack_diff(s.dir, *dest, opts) : pack(s.dir, *dest, opts);
            const double seconds = seconds_since(start);
            if (g.json) {
              nlohmann::ordered_json d = {{"source", s.dir}, {"dest", dest->str()},
                                          {"diff", s.diff}, {"status", r ? "ok" : "error"}};
              if (r) {
                for (const auto& [rule, message] : r->warnings)
                  out_json("diagnostic", {{"ref", dest->str()}, {"rule", rule}, {"severity", "warning"},
                                          {"location", s.dir}, {"message", message}});
                d["manifest_digest"] = r->manifest.digest.str();
                d["manifest_size"] = r->manifest.size;
                d["config_digest"] = r->config.digest.str();
                d["config_size"] = r->config.size;
                // pack --diff of an unchanged rootfs adds no layer: null, not "".
                const bool layer = !r->layer.digest.empty();
                d["layer_digest"] = layer ? nlohmann::ordered_json(r->layer.digest.str()) : nullptr;
                d["layer_media_type"] = layer ? nlohmann::ordered_json(r->layer.media_type) : nullptr;
                d["layer_size"] = r->layer.size;
                d["diff_id"] = layer ? nlohmann::ordered_json(r->diff_id.str()) : nullptr;
                d["tar_bytes"] = r->tar_bytes;
                d["entries"] = r->entries;
                d["base_layers"] = r->base_layers;
                if (s.diff) {
                  d["changed"] = r->changed;
                  d["removed"] = r->removed;
                }
              } else {
                d["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
              }
              d["seconds"] = seconds;
              out_json("pack", std::move(d));
            } else if (r) {
              for (const auto& [rule, message] : r->warnings)
                if (!g.quiet) err_line("warning: " + message + " [" + rule + "]");
              out_line(r->manifest.digest.str());
              if (g.verbose > 0) {
                char rate[64];
                std::snprintf(rate, sizeof rate, "%.2f s (%.0f MB/s)", seconds,
                              seconds > 0 ? static_cast<double>(r->tar_bytes) / 1e6 / seconds : 0.0);
                err_line("packed " + s.dir + " into " + dest->str() + ": " + std::to_string(r->entries) +
                         " entries, " + mb(r->tar_bytes) + " tar, " +
                         (r->layer.digest.empty() ? std::string("no new layer")
                                                  : mb(static_cast<std::uint64_t>(r->layer.size)) + " " +
                                                        r->layer.media_type) +
                         ", on " + std::to_string(r->base_layers) + " base layers, in " + rate);
              }
            }
            if (!r) {
              err_line(r.error().message());
              return exit_failure;
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
