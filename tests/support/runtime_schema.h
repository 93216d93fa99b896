#pragma once
// The runtime-spec JSON schema check of config.json documents, for tests: runtime-spec's
// config-schema.json (JSON Schema draft 4) as Debian's golang-github-opencontainers-specs-dev
// installs it, applied by python3-jsonschema (both from scripts/install-deps.sh). An
// independent judge of what `ocipipe create` writes, beside runc itself.

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ocipipe::testing {

/// The directory holding runtime-spec's config-schema.json and the defs*.json files its
/// $refs name: $OCIPIPE_RUNTIME_SCHEMA_DIR when set and non-empty, else where Debian's
/// golang-github-opencontainers-specs-dev puts them
/// (/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema).
[[nodiscard]] std::string runtime_schema_dir();

/// One config.json to check: a name for messages (a test case, a bundle path) and its text.
struct runtime_config_doc {
  std::string name;
  std::string json;
};

/// Validates each of `docs` against config-schema.json with python3's jsonschema
/// (Draft4Validator, $refs resolved relative to runtime_schema_dir()), all in one python run.
/// Success when every document validates; otherwise a failure naming each document and each
/// violation (its JSON pointer and jsonschema's message). A missing python3, jsonschema or
/// schema is a failure too, never a skip: the packages are part of the test set-up. Debian's
/// /usr/bin/python3 is used when present (python3-jsonschema installs for it), else python3
/// from PATH.
[[nodiscard]] ::testing::AssertionResult match_runtime_schema(
    const std::vector<runtime_config_doc>& docs);

/// match_runtime_schema() of BUNDLE/config.json, named by its path.
[[nodiscard]] ::testing::AssertionResult bundle_matches_runtime_schema(const std::string& bundle);

}  // namespace ocipipe::testing
