// remote_options → io/ options, and the per-run cache of connections.
#include "pipeline/remote.h"

#include "io/registry_store.h"
#include "stages/auth_config.h"

namespace ocipipe::pipeline {

result<io::registry_options> registry_options_of(const remote_options& o) {
  io::registry_options out;
  out.tls.verify = o.tls_verify;
  out.tls.cert_dir = o.cert_dir;
  out.auth.auth_file = o.auth_file;
  if (!o.creds.empty()) {
    auto c = parse_creds_flag(o.creds);
    if (!c) return tl::unexpected(std::move(c).error().context("--creds"));
    out.auth.creds = std::move(*c);
  }
  out.attempts = std::max(1, o.attempts);
  return out;
}

remote_session::remote_session(remote_options opts) : opts_(std::move(opts)) {}

result<std::shared_ptr<io::registry_client>> remote_session::client(const std::string& host) {
  std::lock_guard lock(mu_);
  if (auto it = clients_.find(host); it != clients_.end()) return it->second;
  OCIPIPE_ASSIGN_OR_RETURN(auto ro, registry_options_of(opts_));
  OCIPIPE_ASSIGN_OR_RETURN(auto c, io::registry_client::connect(host, ro));
  clients_.emplace(host, c);
  return c;
}

result<std::shared_ptr<const io::remote_store>> remote_session::open_store(const image_reference& ref) {
  if (ref.kind == transport::docker) {
    OCIPIPE_ASSIGN_OR_RETURN(auto where, parse_registry_path(ref.path));
    OCIPIPE_ASSIGN_OR_RETURN(auto c, client(where.host));
    return std::shared_ptr<const io::remote_store>(
        std::make_shared<io::registry_store>(std::move(c), std::move(where.repository)));
  }
  if (ref.kind == transport::oci_url) {
    std::shared_ptr<io::http_client> http;
    {
      std::lock_guard lock(mu_);
      if (!http_) {
        OCIPIPE_ASSIGN_OR_RETURN(auto ro, registry_options_of(opts_));
        http_ = std::make_shared<io::http_client>(ro.tls, ro.user_agent);
      }
      http = http_;
    }
    return std::shared_ptr<const io::remote_store>(
        std::make_shared<io::http_layout_store>(std::move(http), ref.path, std::max(1, opts_.attempts)));
  }
  return fail(errc::invalid_argument, quote(ref.str()) + " names no image on a server (docker://, oci+https://)");
}

}  // namespace ocipipe::pipeline
