#pragma once
// Helpers for tests of ocipipe::validate(): running it on one image, picking findings out of
// the report, and asserting where an error was found.

#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"

namespace ocipipe::testing {

/// validate() of `ref` alone: expects (EXPECT) exactly one result and returns it, or an
/// empty image_validation when there is none.
[[nodiscard]] image_validation validate_ref(const image_reference& ref, validate_options opts = {});

/// validate_ref(img.ref(), opts).
[[nodiscard]] image_validation validate_one(const built_image& img, validate_options opts = {});

/// The findings of `v` whose rule id is `rule`, in report order.
[[nodiscard]] std::vector<finding> with_rule(const image_validation& v, const std::string& rule);

/// "manifests[0].layers[<n>]": the descriptor path of layer `n` of the first manifest.
[[nodiscard]] std::string layer_location(std::size_t n);

/// Success when `v` has a `rule` finding and every one is an error naming `where` (a
/// descriptor path such as manifests[0].layers[1]) in its location and its descriptor_path;
/// otherwise a failure carrying describe(v).
[[nodiscard]] ::testing::AssertionResult has_error_at(const image_validation& v, const std::string& rule,
                                                      const std::string& where);

/// Three small layers of different compression (gzip, zstd, none), something for every
/// check to look at: etc/ and etc/hostname; a 30000-byte file "big"; its whiteout and "small".
[[nodiscard]] std::vector<layer_spec> three_layers();

}  // namespace ocipipe::testing
