#!/usr/bin/env bash
# Builds the fast suite with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-asan/ (issue 10): the library, the CLI the tests run,
# ocipipe_unit_tests and the fuzz corpus replays. No benchmarks.
# -O0: instrumented code at -O1 compiles 2-3 times slower than the release
# build, at -O0 about as fast; the hot loops (ISA-L, OpenSSL, libzstd) are
# uninstrumented system libraries either way, so the tests barely slow down.
# UBSan traps (OCIPIPE_UBSAN_TRAP, CMakeLists.txt): `ocipipe version` starts in
# 0.2 s instead of 1.4 s, and the tests start it thousands of times; a trap
# fails its test with ASan's stack of the check.
# OCIPIPE_UBSAN_TRAP=0 in the environment builds UBSan's runtime in instead:
# its report names the check, and it adds the vptr check.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DCMAKE_C_FLAGS_DEBUG="-O0 -g1" \
  -DOCIPIPE_SANITIZE=address,undefined -DOCIPIPE_BUILD_BENCH=OFF \
  -DOCIPIPE_UBSAN_TRAP="$([ "${OCIPIPE_UBSAN_TRAP:-1}" = 0 ] && echo OFF || echo ON)" >/dev/null
targets=(ocipipe ocipipe_unit_tests)
while read -r t; do targets+=("$t"); done < <(scripts/fuzz-targets.sh --cmake)
cmake --build build-asan -j"$(nproc)" $(printf -- '--target %s ' "${targets[@]}")
