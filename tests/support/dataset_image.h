#pragma once
// What interop tests compare against in a dataset image (datasets/build.sh): its
// manifest, config and layer digests. The images are debootstrapped from Debian's
// current packages, so their digests change whenever Debian's packages do; a test
// reads them from the layout instead of spelling them out.

#include <cstdint>
#include <string>
#include <vector>

namespace ocipipe::testing {

/// One layer descriptor of the manifest: digest ("sha256:<hex>") and size in bytes.
struct dataset_layer {
  std::string digest;
  std::uint64_t size = 0;
};

/// The image dataset_ref(name) names.
struct dataset_image {
  std::string manifest_digest;        ///< "sha256:<hex>" of index.json's entry tagged `name`
  std::uint64_t manifest_size = 0;    ///< that entry's size, bytes
  std::string config_digest;          ///< the manifest's config descriptor
  std::vector<dataset_layer> layers;  ///< the manifest's layers, in manifest order
  std::string error;                  ///< why the layout could not be read; "" when it was
};

/// Reads dataset `name`'s layout (dataset_layout(name)): index.json's entry whose
/// org.opencontainers.image.ref.name is `name`, then that manifest. Never throws;
/// a missing or unreadable layout sets `error` and leaves the rest empty.
[[nodiscard]] dataset_image read_dataset_image(const std::string& name);

}  // namespace ocipipe::testing
