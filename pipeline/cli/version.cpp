// ocipipe version
#include <archive.h>
#include <openssl/opensslv.h>
#include <oneapi/tbb/version.h>
#include <simdjson.h>
#include <zstd.h>

#include "pipeline/cli/cli.h"

namespace ocipipe::cli {

verb add_version(CLI::App& root, global_flags& g) {
  auto* app = root.add_subcommand("version", "Print versions of ocipipe, the specs and libraries");
  add_global_flags(*app, g);
  return {app, [&g] {
            nlohmann::ordered_json v = {
                {"ocipipe", OCIPIPE_VERSION},
                {"image_spec", "1.1.1"},
                {"runtime_spec", "1.0.2"},
                {"oneTBB", TBB_VERSION_STRING},
                {"simdjson", std::to_string(simdjson::SIMDJSON_VERSION_MAJOR) + "." + std::to_string(simdjson::SIMDJSON_VERSION_MINOR) + "." + std::to_string(simdjson::SIMDJSON_VERSION_REVISION)},
                {"libarchive", ARCHIVE_VERSION_ONLY_STRING},
                {"zstd", ZSTD_VERSION_STRING},
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
