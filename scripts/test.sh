#!/usr/bin/env bash
# The README's second command: installs the packages, builds ocipipe and its
# tests, builds the real Debian images (cached) and runs the default suite:
# ctest labels fast and interop (DESIGN.md §7).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-layering.sh
# What the default suite runs (the slow tests and the benchmarks build in
# scripts/test-slow.sh and scripts/demo.sh): CI's 45 minutes also hold the
# sanitized build (.ci/run).
# ocipipe_shared and ocipipe_static: what `cmake --install` installs (tests/interop/install_test).
targets=(ocipipe ocipipe_shared ocipipe_static ocipipe_unit_tests ocipipe_interop_tests)
while read -r t; do targets+=("$t"); done < <(scripts/fuzz-targets.sh --cmake)
scripts/build.sh "${targets[@]}"
datasets/build.sh
cd build
ctest -L 'fast|interop' --output-on-failure -j"$(nproc)" --timeout 600
