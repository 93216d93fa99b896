// --policy, --lookaside, --registries.d: the names skopeo and podman use.
#include "pipeline/cli/policy_flags.h"

namespace ocipipe::cli {

namespace {
constexpr const char* group = "Signatures";
}

void add_signature_store_flags(CLI::App& app, signature_store_options& store) {
  app.add_option("--lookaside", store.lookaside,
                 "Lookaside store of simple signatures: a directory, file:// URL or (reading) http(s):// URL, "
                 "laid out as containers-registries.d(5) says; used before registries.d")
      ->group(group);
  app.add_option("--registries.d", store.registries_d,
                 "Directory of registries.d YAML files naming lookaside stores per registry (default "
                 "~/.config/containers/registries.d, else /etc/containers/registries.d)")
      ->group(group);
}

void add_policy_flags(CLI::App& app, policy_options& policy) {
  app.add_option("--policy", policy.policy_file,
                 "containers-policy.json(5) file the image must satisfy (signedBy, sigstoreSigned, reject, "
                 "insecureAcceptAnything) before anything is written; a refusal is exit 2")
      ->group(group);
  add_signature_store_flags(app, policy.store);
}

}  // namespace ocipipe::cli
