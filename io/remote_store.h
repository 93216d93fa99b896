#pragma once
// The bytes of an image that lives on a server: a registry repository
// (io/registry_store.h) or an image layout published as static files
// (io/http_layout_store.h). io::image_layout reads through this interface
// when opened with open_remote(), so unpack, create, validate and copy read
// a docker:// or oci+https:// image through the same view as a local one,
// streaming each blob from the network into the flow graph.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "stages/oci/byte_source.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::io {

/// Read access to a remote image store. Thread-safe: blobs are fetched from
/// many threads at once.
class remote_store {
 public:
  virtual ~remote_store() = default;

  /// "docker://host/repo" or the layout's base URL, for messages.
  [[nodiscard]] virtual const std::string& where() const = 0;

  /// A top-level file of an image layout ("index.json", "oci-layout"), at
  /// most `max_bytes`. A registry has none: `unsupported`. Errors:
  /// `not_found`, `resource_exhausted`, network errors.
  [[nodiscard]] virtual result<std::string> read_file(const std::string& name, std::size_t max_bytes) const = 0;

  /// The root descriptor a tag or digest names in a registry repository
  /// (GET of the manifest; its bytes are kept, so reading that descriptor
  /// next costs no second request). An image layout answers `unsupported`:
  /// its roots are in index.json. Errors: `not_found`, those of
  /// registry_client::get_manifest.
  [[nodiscard]] virtual result<descriptor> resolve_root(const std::string& tag_or_digest) const = 0;

  /// A blob whole (manifests and indexes through the registry's manifests
  /// endpoint), at most `max_bytes`, size checked; digest is the caller's.
  [[nodiscard]] virtual result<std::string> read_blob(const descriptor& d, std::size_t max_bytes) const = 0;

  /// Streams blob `d` from byte `offset` on, bounded by d.size.
  [[nodiscard]] virtual result<std::unique_ptr<byte_source>> open_blob(const descriptor& d,
                                                                       std::uint64_t offset = 0) const = 0;
};

}  // namespace ocipipe::io
