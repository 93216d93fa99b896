#!/usr/bin/env bash
# ThreadSanitizer over the tests that run the flow graphs and their threads
# (unpack, validate, copy, parallel inflate, prefetch, write avoidance):
# issue 10. Not part of CI: it needs its own oneTBB and a third build, about
# 20 minutes on 2 cores, which the CI budget has no room for.
#
# Debian's libtbb is not instrumented, and TSan then reports TBB's own
# lock-free hand-overs as races; so oneTBB is built first from Debian's source
# package with TBB_SANITIZE=thread, into build-tsan/onetbb (kept between runs).
# Usage: scripts/test-tsan.sh [GTEST_FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/build-tsan"
tbb="$root/onetbb"
filter="${1:-Unpack*:Validate*:ValidateBulk*:copy*:ParallelGzip*:PrefetchSource*:WriteAvoidance*:LayerThreads*:ProgressMeter*:UnpackProgress*:HostBench*}"

if [[ ! -f "$tbb/install/lib/cmake/TBB/TBBConfig.cmake" ]]; then
  mkdir -p "$tbb"
  # apt-get source needs a deb-src entry; Debian 12's images ship none.
  if ! apt-get source --print-uris onetbb >/dev/null 2>&1; then
    cat > /etc/apt/sources.list.d/ocipipe-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq
  fi
  (cd "$tbb" && rm -rf src && apt-get source -qq --download-only onetbb &&
   dpkg-source -x onetbb_*.dsc src >/dev/null)
  cmake -S "$tbb/src" -B "$tbb/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTBB_SANITIZE=thread -DTBB_TEST=OFF -DTBB_STRICT=OFF -DTBBMALLOC_BUILD=OFF \
    -DCMAKE_INSTALL_PREFIX="$tbb/install" >/dev/null
  cmake --build "$tbb/build" -j"$(nproc)"
  cmake --install "$tbb/build" >/dev/null
fi

cmake -S . -B "$root" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
  -DOCIPIPE_SANITIZE=thread -DOCIPIPE_BUILD_BENCH=OFF -DTBB_DIR="$tbb/install/lib/cmake/TBB" >/dev/null
cmake --build "$root" -j"$(nproc)" --target ocipipe ocipipe_unit_tests
# The tests find the TSan oneTBB through the build's RUNPATH; say so if not.
if ldd "$root/tests/ocipipe_unit_tests" | grep -q '/usr/lib/.*libtbb\.so'; then
  echo "test-tsan: ocipipe_unit_tests links Debian's uninstrumented libtbb, not $tbb/install" >&2
  exit 1
fi
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  "$root/tests/ocipipe_unit_tests" --gtest_brief=1 --gtest_filter="$filter"
