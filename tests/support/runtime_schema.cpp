#include "tests/support/runtime_schema.h"

#include <unistd.h>

#include <cstdlib>

#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

// argv: the schema directory, then the files to check. Prints one line per violation,
// "INDEX<TAB>/json/pointer<TAB>message", and exits 3 when there is one; any other failure
// (no jsonschema, no schema, a file that is not JSON) is a traceback and exit 1.
// RefResolver is deprecated in newer jsonschema but is what Debian 12's 4.10 offers.
constexpr const char* validator_script = R"PY(
import json, pathlib, sys, warnings
warnings.simplefilter("ignore")
import jsonschema
schema_dir = pathlib.Path(sys.argv[1]).resolve()
schema = json.loads((schema_dir / "config-schema.json").read_text())
resolver = jsonschema.RefResolver(base_uri=schema_dir.as_uri() + "/", referrer=schema)
validator = jsonschema.Draft4Validator(schema, resolver=resolver)
bad = 0
for i, name in enumerate(sys.argv[2:]):
    doc = json.loads(pathlib.Path(name).read_text())
    for e in validator.iter_errors(doc):
        bad += 1
        pointer = "/" + "/".join(str(p) for p in e.absolute_path)
        print(f"{i}\t{pointer}\t{e.message}".replace("\n", " "))
sys.exit(3 if bad else 0)
)PY";

std::string python3() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

}  // namespace

std::string runtime_schema_dir() {
  if (const char* d = std::getenv("OCIPIPE_RUNTIME_SCHEMA_DIR"); d != nullptr && *d != '\0')
    return d;
  return "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema";
}

::testing::AssertionResult match_runtime_schema(const std::vector<runtime_config_doc>& docs) {
  const std::string dir = runtime_schema_dir();
  if (!path_exists(dir + "/config-schema.json"))
    return ::testing::AssertionFailure()
           << "no runtime-spec schema at " << dir
           << "/config-schema.json: install golang-github-opencontainers-specs-dev "
              "(scripts/install-deps.sh)";
  temp_dir tmp("ocipipe-schema");
  std::vector<std::string> argv = {python3(), "-c", validator_script, dir};
  for (std::size_t i = 0; i < docs.size(); ++i) {
    argv.push_back(tmp.sub(std::to_string(i) + ".json"));
    write_bytes(argv.back(), docs[i].json);
  }
  const auto r = run_command(argv);
  if (r.ok()) return ::testing::AssertionSuccess();
  if (r.exit_code != 3)
    return ::testing::AssertionFailure() << "the schema check did not run (python3-jsonschema "
                                            "missing? scripts/install-deps.sh): "
                                         << r.describe();
  auto failure = ::testing::AssertionFailure()
                 << "config.json against runtime-spec config-schema.json:";
  for (const auto& line : lines_of(r.out)) {
    const auto tab = line.find('\t');
    const auto index = tab == std::string::npos ? docs.size() : std::stoul(line.substr(0, tab));
    failure << "\n  " << (index < docs.size() ? docs[index].name : "?") << ": "
            << (tab == std::string::npos ? line : line.substr(tab + 1));
  }
  return failure;
}

::testing::AssertionResult bundle_matches_runtime_schema(const std::string& bundle) {
  const std::string path = bundle + "/config.json";
  if (!path_exists(path)) return ::testing::AssertionFailure() << "no " << path;
  return match_runtime_schema({{path, read_bytes(path)}});
}

}  // namespace ocipipe::testing
