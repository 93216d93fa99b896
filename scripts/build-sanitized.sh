#!/usr/bin/env bash
# Builds the fast suite with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-asan/ (issue 10): the library, the CLI the tests run, and
# ocipipe_unit_tests. -O1 keeps the stacks readable and the build short; no
# benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
  -DOCIPIPE_SANITIZE=address,undefined -DOCIPIPE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)" --target ocipipe ocipipe_unit_tests
