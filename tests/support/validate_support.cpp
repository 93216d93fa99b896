#include "tests/support/validate_support.h"

#include "tests/support/report_text.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {

image_validation validate_ref(const image_reference& ref, validate_options opts) {
  auto out = validate({ref}, opts);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? image_validation{} : out.front();
}

image_validation validate_one(const built_image& img, validate_options opts) {
  return validate_ref(img.ref(), std::move(opts));
}

std::vector<finding> with_rule(const image_validation& v, const std::string& rule) {
  std::vector<finding> out;
  for (const auto& f : v.findings)
    if (f.rule == rule) out.push_back(f);
  return out;
}

std::string layer_location(std::size_t n) { return "manifests[0].layers[" + std::to_string(n) + "]"; }

::testing::AssertionResult has_error_at(const image_validation& v, const std::string& rule,
                                        const std::string& where) {
  const auto found = with_rule(v, rule);
  if (found.empty()) return ::testing::AssertionFailure() << "no " << rule << " finding:\n" << describe(v);
  for (const auto& f : found) {
    if (!f.error) return ::testing::AssertionFailure() << rule << " is a warning:\n" << describe(v);
    if (!contains(f.location, where) || !contains(f.descriptor_path, where))
      return ::testing::AssertionFailure() << rule << " at " << f.location << " (descriptor path "
                                           << f.descriptor_path << "), expected " << where << ":\n"
                                           << describe(v);
  }
  return ::testing::AssertionSuccess();
}

std::vector<layer_spec> three_layers() {
  return {layer({dir("etc/"), file("etc/hostname", "box")}),
          layer({file("big", std::string(30000, 'x'))}, layer_compression::zstd),
          layer({file(".wh.big"), file("small", "s")}, layer_compression::none)};
}

}  // namespace ocipipe::testing
