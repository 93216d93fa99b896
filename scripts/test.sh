#!/usr/bin/env bash
# The README's second command: installs the packages, builds ocipipe and its
# tests, builds the real Debian images (cached) and runs the default suite:
# ctest labels fast and interop (DESIGN.md §7).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-layering.sh
scripts/build.sh
datasets/build.sh
cd build
ctest -L 'fast|interop' --output-on-failure -j"$(nproc)" --timeout 600
