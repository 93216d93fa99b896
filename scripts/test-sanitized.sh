#!/usr/bin/env bash
# The fast suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (issue 10), in build-asan/ (scripts/build-sanitized.sh): a leak, a heap error
# or undefined behaviour in a test, or in any ocipipe a test runs, fails that
# test. .ci/run runs it after the default suite. UBSan's checks trap there
# (build-sanitized.sh says why): ASan prints the stack of a failed check
# ("ILL"); OCIPIPE_UBSAN_TRAP=0 rebuilds with UBSan's own reports. A
# sanitizer exits 86, a code ocipipe never uses, so no test mistakes it for
# ocipipe's own failure.
# The unit tests run as GoogleTest shards (ctest tests unit.shard.K); the fuzz
# corpus replays as fuzz.TARGET. To run some tests only:
#   GTEST_FILTER='Unpack*' scripts/test-sanitized.sh -R unit
# Usage: scripts/test-sanitized.sh [CTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-sanitized.sh
cd build-asan
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:handle_sigill=1:exitcode=86:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:suppressions=$PWD/../tests/sanitizers/ubsan.supp:${UBSAN_OPTIONS:-}" \
  ctest -L fast --output-on-failure -j"$(nproc)" --timeout 2400 "$@"
