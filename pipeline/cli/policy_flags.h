#pragma once
// The signature flags of the verbs that read an image (containers-policy.json(5),
// containers-registries.d(5)): --policy for unpack, create, pull and copy;
// --lookaside and --registries.d for those and for sign and verify.

#include <CLI/CLI.hpp>

#include "pipeline/api.h"

namespace ocipipe::cli {

/// --lookaside DIR|URL and --registries.d DIR, bound to `store`, in the
/// "Signatures" option group.
void add_signature_store_flags(CLI::App& app, signature_store_options& store);

/// --policy FILE plus add_signature_store_flags, bound to `policy`.
void add_policy_flags(CLI::App& app, policy_options& policy);

}  // namespace ocipipe::cli
