// ocipipe pull SRC DEST: copy() from a registry or a web-served layout,
// narrowed to one platform as skopeo copy narrows. Into an oci: DEST the
// blobs go through the layout's ingest area (pipeline/blob_pull.h), so a
// restarted pull continues where the last one stopped.
#include "pipeline/api.h"
#include "pipeline/copy_plan.h"

namespace ocipipe {

result<copy_report> pull(const image_reference& src, const image_reference& dst, const copy_options& opts,
                         bool all_platforms) {
  const auto what = "pull " + src.str() + " to " + dst.str();
  if (src.kind != transport::docker && src.kind != transport::oci_url)
    return fail(errc::invalid_argument,
                what + ": the source must be a registry (docker://HOST/REPO[:TAG|@DIGEST]) or an image layout "
                       "on a web server (oci+https://HOST/PATH[:TAG|@DIGEST])");
  if (dst.kind == transport::docker || dst.kind == transport::oci_url)
    return fail(errc::invalid_argument,
                what + ": the destination must be oci:, oci-archive: or docker-archive: (push uploads to a registry)");
  if (all_platforms && opts.platform)
    return fail(errc::invalid_argument, what + ": --platform and --all-platforms exclude each other");
  copy_options narrowed = opts;
  // An empty selector is the host's platform: an image index gives the
  // host's image alone unless the whole index is asked for (skopeo --all).
  if (!all_platforms && !narrowed.platform) narrowed.platform = platform_selector{};
  return pipeline::copy_as("pull", src, dst, narrowed, all_platforms);
}

}  // namespace ocipipe
