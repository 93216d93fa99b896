#!/usr/bin/env bash
# The fast suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (issue 10), in build-asan/ (scripts/build-sanitized.sh): a leak, a heap error
# or undefined behaviour in a test, or in any ocipipe a test runs, fails that
# test. About 15 minutes of building and 15 of testing on 2 cores.
# Usage: scripts/test-sanitized.sh [CTEST_ARGS...]   (e.g. -R Unpack)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-sanitized.sh
cd build-asan
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/../tests/sanitizers/ubsan.supp:${UBSAN_OPTIONS:-}" \
  ctest -L fast --output-on-failure -j"$(nproc)" --timeout 900 "$@"
