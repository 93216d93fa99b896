#pragma once
// skopeo's registry flags (skopeo-copy(1), skopeo-inspect(1)), shared by
// every verb that reads or writes a docker:// or oci+https:// image.

#include <CLI/CLI.hpp>

#include "pipeline/api.h"

namespace ocipipe::cli {

/// The values of the flags, as parsed.
struct remote_flags {
  std::string creds;       ///< --creds USER[:PASSWORD]
  std::string authfile;    ///< --authfile PATH
  bool tls_verify = true;  ///< --tls-verify[=false]
  std::string cert_dir;    ///< --cert-dir DIR
  int retry_times = -1;    ///< --retry-times N; -1: the default attempts
  // copy, pull and push: one side only; each wins over its plain flag.
  std::string src_creds, dest_creds, src_cert_dir, dest_cert_dir;
  bool src_tls_verify = true, dest_tls_verify = true;
  // Set by the add_* functions: whether the tls flags were given.
  CLI::Option* tls_verify_opt = nullptr;
  CLI::Option* src_tls_verify_opt = nullptr;
  CLI::Option* dest_tls_verify_opt = nullptr;
};

/// --creds, --authfile, --tls-verify, --cert-dir, --retry-times (unpack,
/// create, validate, inspect), in the "Registry" option group.
void add_remote_flags(CLI::App& app, remote_flags& f);

/// add_remote_flags plus --src-creds/--dest-creds, --src-tls-verify/
/// --dest-tls-verify, --src-cert-dir/--dest-cert-dir (copy, pull, push); the
/// plain flags apply to both sides.
void add_transfer_remote_flags(CLI::App& app, remote_flags& f);

/// The options for a verb with one image.
[[nodiscard]] remote_options remote_options_of(const remote_flags& f);
/// The options of SRC and DEST of copy, pull and push.
[[nodiscard]] remote_options source_remote_options(const remote_flags& f);
[[nodiscard]] remote_options destination_remote_options(const remote_flags& f);

}  // namespace ocipipe::cli
