// ocipipe push SRC docker://…: copy() into a registry, narrowed to one
// platform as skopeo copy narrows (pipeline/copy_registry.cpp writes it).
#include "pipeline/api.h"
#include "pipeline/copy_plan.h"

namespace ocipipe {

result<copy_report> push(const image_reference& src, const image_reference& dst, const copy_options& opts,
                         bool all_platforms) {
  if (dst.kind != transport::docker)
    return fail(errc::invalid_argument, "push " + src.str() + " to " + dst.str() +
                                            ": the destination must be a registry, docker://HOST/REPO[:TAG|@DIGEST]");
  if (all_platforms && opts.platform)
    return fail(errc::invalid_argument,
                "push " + src.str() + " to " + dst.str() + ": --platform and --all-platforms exclude each other");
  copy_options narrowed = opts;
  // skopeo copy's default: an image index gives the host's image alone
  // (an empty selector is the host's platform), --all the whole index.
  if (!all_platforms && !narrowed.platform) narrowed.platform = platform_selector{};
  return pipeline::copy_as("push", src, dst, narrowed, all_platforms);
}

}  // namespace ocipipe
