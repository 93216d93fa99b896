#pragma once
// remote_store over one registry repository (docker://HOST/REPO).

#include <map>
#include <memory>
#include <mutex>

#include "io/registry_client.h"
#include "io/remote_store.h"

namespace ocipipe::io {

/// A repository of a registry as a remote_store. Manifests and image indexes
/// (by media type) are read from /manifests/<digest>, everything else from
/// /blobs/. The documents resolve_root() fetched are kept in memory
/// (a few KiB each). Thread-safe.
class registry_store final : public remote_store {
 public:
  registry_store(std::shared_ptr<registry_client> client, std::string repository);
  [[nodiscard]] const std::string& where() const override;
  [[nodiscard]] result<std::string> read_file(const std::string& name, std::size_t max_bytes) const override;
  [[nodiscard]] result<descriptor> resolve_root(const std::string& tag_or_digest) const override;
  [[nodiscard]] result<std::string> read_blob(const descriptor& d, std::size_t max_bytes) const override;
  [[nodiscard]] result<std::unique_ptr<byte_source>> open_blob(const descriptor& d,
                                                               std::uint64_t offset = 0) const override;
  [[nodiscard]] registry_client& client() const noexcept { return *client_; }
  [[nodiscard]] const std::string& repository() const noexcept { return repository_; }

 private:
  std::shared_ptr<registry_client> client_;
  std::string repository_;
  std::string where_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::string> documents_;  ///< digest text → bytes
};

/// An image layout served as static files under `base_url` (oci+https://):
/// GET base/index.json, base/oci-layout, base/blobs/<alg>/<hex>, with
/// retries and Range resumption as the registry client does, no
/// credentials. Thread-safe.
class http_layout_store final : public remote_store {
 public:
  http_layout_store(std::shared_ptr<http_client> http, std::string base_url, int attempts);
  [[nodiscard]] const std::string& where() const override;
  [[nodiscard]] result<std::string> read_file(const std::string& name, std::size_t max_bytes) const override;
  [[nodiscard]] result<descriptor> resolve_root(const std::string& tag_or_digest) const override;
  [[nodiscard]] result<std::string> read_blob(const descriptor& d, std::size_t max_bytes) const override;
  [[nodiscard]] result<std::unique_ptr<byte_source>> open_blob(const descriptor& d,
                                                               std::uint64_t offset = 0) const override;

 private:
  std::shared_ptr<http_client> http_;
  std::string base_;
  int attempts_;
};

}  // namespace ocipipe::io
