// ocipipe version
#include <archive.h>
#if OCIPIPE_HAVE_ISAL
#include <isa-l.h>
#endif
#include <libdeflate.h>
#include <openssl/opensslv.h>
#include <oneapi/tbb/version.h>
#include <simdjson.h>
#include <zlib.h>
#include <zstd.h>

#include "pipeline/cli/cli.h"
#include "stages/decompress.h"

namespace ocipipe::cli {

verb add_version(CLI::App& root, global_flags& g) {
  auto* app = root.add_subcommand("version", "Print versions of ocipipe, the specs and libraries");
  app->add_flag("--json", g.json, "Write the versions as one JSON Lines record");
  app->footer("Example:\n  ocipipe version --json");
  return {app, [&g] {
            nlohmann::ordered_json v = {
                {"ocipipe", OCIPIPE_VERSION},
                {"image_spec", "1.1.1"},
                {"runtime_spec", "1.0.2"},
                {"oneTBB", TBB_VERSION_STRING},
                {"simdjson", std::to_string(simdjson::SIMDJSON_VERSION_MAJOR) + "." + std::to_string(simdjson::SIMDJSON_VERSION_MINOR) + "." + std::to_string(simdjson::SIMDJSON_VERSION_REVISION)},
                {"libarchive", ARCHIVE_VERSION_ONLY_STRING},
                {"zstd", ZSTD_VERSION_STRING},
#if OCIPIPE_HAVE_ISAL
                {"isa-l", std::to_string(ISAL_MAJOR_VERSION) + "." + std::to_string(ISAL_MINOR_VERSION) +
                              "." + std::to_string(ISAL_PATCH_VERSION)},
#else
                {"isa-l", "not built in (OCIPIPE_WITH_ISAL)"},
#endif
                {"libdeflate", LIBDEFLATE_VERSION_STRING},
                {"zlib", ZLIB_VERSION},
                // Which library inflates gzip layers in unpack and validate.
                {"gzip_inflate", std::string(gzip_inflater_name(default_gzip_inflater()))},
                {"openssl", OPENSSL_VERSION_TEXT}};
            if (g.json) {
              out_json("version", v);
            } else {
              for (const auto& [k, val] : v.items()) out_line(k + ": " + val.get<std::string>());
            }
            return exit_ok;
          }};
}

}  // namespace ocipipe::cli
