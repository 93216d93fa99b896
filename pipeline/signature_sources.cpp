// Where signatures come from: the signed root of a reference, simple
// signatures in files and lookaside stores (containers-registries.d(5)), key
// signatures stored beside the image.
#include <climits>
#include <cstdlib>
#include <memory>

#include "io/http_client.h"
#include "io/lookaside_store.h"
#include "io/small_file.h"
#include "pipeline/remote.h"
#include "pipeline/resolve.h"
#include "pipeline/signature_check.h"
#include "pipeline/sigstore_attachments.h"
#include "pipeline/verified_blob.h"
#include "stages/docker_reference.h"
#include "stages/registries_d.h"

namespace ocipipe::pipeline {

namespace {

// Keys, keyrings and policies are small; a cap keeps /dev/zero out.
constexpr std::size_t max_key_file_bytes = std::size_t{16} << 20;

}  // namespace

result<signed_root> open_signed_root(const image_reference& ref, remote_session* remote) {
  if (ref.kind == transport::docker_archive) {
    OCIPIPE_ASSIGN_OR_RETURN(auto opened, open_image(ref, platform_selector{}, remote));
    return signed_root{std::move(opened.store), opened.image.manifest_descriptor};
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto store, open_store(ref, remote));
  OCIPIPE_ASSIGN_OR_RETURN(auto root, select_root(store, ref));
  // The digest signed is the root's; its bytes must really hash to it.
  auto bytes = read_verified_blob(store, root);
  if (!bytes) return tl::unexpected(std::move(bytes).error().context("manifest " + root.digest.str()));
  return signed_root{std::move(store), std::move(root)};
}

image_reference pinned_reference(const image_reference& ref, const descriptor& root) {
  if (ref.kind == transport::docker_archive) return ref;
  image_reference pinned = ref;
  pinned.tag.clear();
  pinned.manifest_digest = root.digest;
  return pinned;
}

result<std::string> read_key_file(const std::string& path, std::string_view what) {
  auto bytes = io::read_linked_file(path, max_key_file_bytes);
  if (!bytes) return tl::unexpected(std::move(bytes).error().context(std::string(what) + " " + quote(path)));
  return bytes;
}

std::string absolute_image_path(const image_reference& ref) {
  if (ref.kind == transport::docker || ref.kind == transport::oci_url) return "";
  char buf[PATH_MAX];
  if (::realpath(ref.path.c_str(), buf)) return buf;
  return ref.path;
}

result<std::vector<stored_simple_signature>> collect_simple_signatures(
    const image_reference& ref, const digest& root, const std::vector<std::string>& files,
    const signature_store_options& store, const std::optional<docker_reference>& located_by,
    const remote_options& remote) {
  std::vector<stored_simple_signature> out;
  for (const auto& f : files) {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, read_key_file(f, "--signature"));
    out.push_back({f, std::move(bytes)});
  }
  if (!located_by) {
    // A lookaside store is laid out by repository: without one there is nowhere to look.
    if (!store.lookaside.empty() || !store.registries_d.empty())
      return fail(errc::invalid_argument,
                  std::string(store.lookaside.empty() ? "--registries.d" : "--lookaside") + ": " + ref.str() +
                      " has no docker reference to look its signatures up by; name one (--identity HOST/REPO:TAG, "
                      "or with --policy a signedIdentity of exactReference or exactRepository)");
    return out;
  }
  const std::string& repo_path = located_by->path;
  std::vector<std::string> bases;
  if (!store.lookaside.empty()) bases.push_back(store.lookaside);
  const std::string dir = store.registries_d.empty() ? io::default_registries_d() : store.registries_d;
  OCIPIPE_ASSIGN_OR_RETURN(auto config, io::load_registries_d(dir));
  const auto entry = registries_d_lookup(config, located_by->name());
  if (entry.lookaside && !entry.lookaside->empty() && *entry.lookaside != store.lookaside)
    bases.push_back(*entry.lookaside);
  std::unique_ptr<io::http_client> http;
  for (const auto& base : bases) {
    if (!http && (base.starts_with("http://") || base.starts_with("https://"))) {
      OCIPIPE_ASSIGN_OR_RETURN(auto ro, registry_options_of(remote));
      http = std::make_unique<io::http_client>(ro.tls, ro.user_agent);
    }
    auto sigs = io::read_lookaside_signatures(base, repo_path, root, http.get());
    if (!sigs) return tl::unexpected(std::move(sigs).error().context("lookaside " + quote(base)));
    for (std::size_t i = 0; i < sigs->size(); ++i)
      out.push_back({lookaside_signature_url(base, repo_path, root.str(), static_cast<unsigned>(i + 1)),
                     std::move((*sigs)[i])});
  }
  return out;
}

std::string key_signatures_unkept(const image_reference& ref) {
  if (ref.kind == transport::docker_archive) return "key signatures are not kept in docker-archive: images";
  return "";
}

result<std::vector<stored_key_signature>> collect_key_signatures(const image_reference& ref, const signed_root& root,
                                                                 remote_session* remote) {
  std::vector<stored_key_signature> out;
  if (!key_signatures_unkept(ref).empty()) return out;
  OCIPIPE_ASSIGN_OR_RETURN(auto found, read_attached_signatures(ref, root.store, root.root.digest, remote));
  for (auto& s : found)
    out.push_back({std::move(s.source), std::move(s.payload), std::move(s.signature_base64), std::move(s.problem)});
  return out;
}

}  // namespace ocipipe::pipeline
