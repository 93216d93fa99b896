#!/usr/bin/env bash
# The README's second command: installs the packages, builds ocipipe, builds the
# real Debian images (cached) and runs the default suite (DESIGN.md §7):
#  - fast (unit tests) in build-asan/, under AddressSanitizer and
#    UndefinedBehaviorSanitizer (scripts/build-sanitized.sh; issue 10);
#  - interop (real images, registry, runc, skopeo, umoci) in build/, the
#    release build users run.
# Building the unit tests twice would not fit CI's 45 minutes on 2 cores, so
# each suite is built once, where it tells the most.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-layering.sh
scripts/build.sh ocipipe ocipipe_interop_tests
scripts/build-sanitized.sh
datasets/build.sh
failed=0
# A leak, a heap error or undefined behaviour fails the test that hit it,
# in the test binary and in every ocipipe it runs.
(cd build-asan &&
 ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}" \
 UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}" \
 ctest -L fast --output-on-failure -j"$(nproc)" --timeout 900) || failed=1
(cd build && ctest -L interop --output-on-failure -j"$(nproc)" --timeout 600) || failed=1
exit "$failed"
