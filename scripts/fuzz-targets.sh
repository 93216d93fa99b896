#!/usr/bin/env bash
# Prints the fuzz targets' names, one per line, as tests/fuzz/CMakeLists.txt
# lists them in OCIPIPE_FUZZ_TARGETS (image_json, reference, ...). With
# --cmake, their CMake targets instead (fuzz_image_json, ...), as the build
# scripts pass them to `cmake --build --target`.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=""
[ "${1:-}" = --cmake ] && prefix=fuzz_
for t in $(sed -n 's/^set(OCIPIPE_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt); do echo "$prefix$t"; done
