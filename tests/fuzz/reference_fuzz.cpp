// Fuzzes image references: skopeo's transport syntax (stages/reference:
// oci:, oci-archive:, docker-archive:, docker://, oci+https://), the docker://
// path split (parse_registry_path), docker references as signature identities
// and policy scopes (stages/docker_reference), digests and layout tag names.
// Findings beyond crashes (abort): a parsed reference whose canonical text
// (str()) does not parse back to the same reference. Messages, JSON output and
// recorded state (upload sessions, signatures' identities) carry str(), and
// later runs parse it again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stages/docker_reference.h"
#include "stages/layout_index.h"
#include "stages/oci/digest.h"
#include "stages/reference.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ocipipe;

namespace {

void check_image_reference(std::string_view text) {
  auto ref = parse_reference(text);
  if (!ref) return;
  FUZZ_CHECK(!ref->path.empty(), "empty path from %s", std::string(text).c_str());
  FUZZ_CHECK(ref->tag.empty() || !ref->manifest_digest, "both tag and digest from %s", std::string(text).c_str());
  const std::string once = ref->str();
  auto again = parse_reference(once);
  FUZZ_CHECK(again.has_value(), "str() %s of %s does not parse: %s", once.c_str(), std::string(text).c_str(),
             again.error().message().c_str());
  FUZZ_CHECK(again->kind == ref->kind && again->path == ref->path && again->tag == ref->tag &&
                 again->manifest_digest == ref->manifest_digest,
             "str() %s of %s parses to another reference %s", once.c_str(), std::string(text).c_str(),
             again->str().c_str());
  if (ref->kind == transport::docker) {
    auto split = parse_registry_path(ref->path);
    FUZZ_CHECK(split.has_value(), "docker path %s accepted, then refused", ref->path.c_str());
    FUZZ_CHECK(!split->host.empty() && !split->repository.empty(), "docker path %s splits empty",
               ref->path.c_str());
    (void)docker_reference_of(*ref);
  }
}

void check_docker_reference(std::string_view text) {
  auto ref = parse_docker_reference(text);
  if (!ref) return;
  FUZZ_CHECK(is_docker_domain(ref->domain), "domain %s of %s", ref->domain.c_str(), std::string(text).c_str());
  const std::string once = ref->str();
  auto again = parse_docker_reference(once);
  FUZZ_CHECK(again.has_value(), "str() %s of %s does not parse: %s", once.c_str(), std::string(text).c_str(),
             again.error().message().c_str());
  FUZZ_CHECK(again->str() == once, "str() %s of %s normalizes again to %s", once.c_str(),
             std::string(text).c_str(), again->str().c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_image_reference(text);
  check_docker_reference(text);
  (void)parse_registry_path(text);
  (void)is_docker_domain(text);
  (void)valid_ref_name(text);
  if (auto d = digest::parse(text)) {
    auto again = digest::parse(d->str());
    FUZZ_CHECK(again.has_value() && *again == *d, "digest %s does not parse back", d->str().c_str());
  }
  return 0;
}
