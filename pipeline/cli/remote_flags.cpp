// skopeo's registry flags and how the per-side ones override the plain ones.
#include "pipeline/cli/remote_flags.h"

namespace ocipipe::cli {
namespace {

constexpr const char* group = "Registry (docker://, oci+https://)";

remote_options side(const remote_flags& f, const std::string& creds, const std::string& cert_dir,
                    const CLI::Option* tls_opt, bool tls_verify) {
  remote_options o = remote_options_of(f);
  if (!creds.empty()) o.creds = creds;
  if (!cert_dir.empty()) o.cert_dir = cert_dir;
  if (tls_opt && tls_opt->count() > 0) o.tls_verify = tls_verify;
  return o;
}

}  // namespace

void add_remote_flags(CLI::App& app, remote_flags& f) {
  app.add_option("--creds", f.creds, "USER[:PASSWORD] for the registry (else --authfile, then anonymous)")
      ->group(group);
  app.add_option("--authfile", f.authfile,
                 "Credentials file (default: $REGISTRY_AUTH_FILE, containers' auth.json, then "
                 "~/.docker/config.json with its credential helpers)")
      ->group(group);
  f.tls_verify_opt =
      app.add_flag("--tls-verify", f.tls_verify,
                   "Check TLS certificates (default true); --tls-verify=false also allows plain http "
                   "to any host (else only to localhost)")
          ->group(group);
  app.add_option("--cert-dir", f.cert_dir, "DIR with *.crt CA certificates and client.cert/client.key")
      ->group(group);
  app.add_option("--retry-times", f.retry_times,
                 "Retries of a request that failed on the network, 429 or 5xx (default 4)")
      ->check(CLI::Range(0, 100))
      ->group(group);
}

void add_transfer_remote_flags(CLI::App& app, remote_flags& f) {
  add_remote_flags(app, f);
  app.add_option("--src-creds", f.src_creds, "USER[:PASSWORD] for SRC's registry")->group(group);
  app.add_option("--dest-creds", f.dest_creds, "USER[:PASSWORD] for DEST's registry")->group(group);
  f.src_tls_verify_opt =
      app.add_flag("--src-tls-verify", f.src_tls_verify, "--tls-verify for SRC only")->group(group);
  f.dest_tls_verify_opt =
      app.add_flag("--dest-tls-verify", f.dest_tls_verify, "--tls-verify for DEST only")->group(group);
  app.add_option("--src-cert-dir", f.src_cert_dir, "--cert-dir for SRC only")->group(group);
  app.add_option("--dest-cert-dir", f.dest_cert_dir, "--cert-dir for DEST only")->group(group);
}

remote_options remote_options_of(const remote_flags& f) {
  remote_options o;
  o.creds = f.creds;
  o.auth_file = f.authfile;
  o.tls_verify = f.tls_verify;
  o.cert_dir = f.cert_dir;
  if (f.retry_times >= 0) o.attempts = f.retry_times + 1;
  return o;
}

remote_options source_remote_options(const remote_flags& f) {
  return side(f, f.src_creds, f.src_cert_dir, f.src_tls_verify_opt, f.src_tls_verify);
}

remote_options destination_remote_options(const remote_flags& f) {
  return side(f, f.dest_creds, f.dest_cert_dir, f.dest_tls_verify_opt, f.dest_tls_verify);
}

}  // namespace ocipipe::cli
