#!/usr/bin/env bash
# The fast suite of a build without ISA-L (issue 11 item 4), in build-noisal/:
# what an architecture Debian packages no ISA-L for gets, made here by
# -DOCIPIPE_WITH_ISAL=OFF. zlib then inflates gzip layers and deflates every
# gzip level (stages/decompress.h, stages/gzip_chunk.h); `build-noisal/ocipipe
# version` says "gzip_inflate: zlib". Not part of .ci/run (a third build does
# not fit CI's time): the zlib inflater is compared with ISA-L's in every
# build by GzipInflaters.* and the decompress fuzz target.
# Usage: scripts/test-without-isal.sh [CTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-noisal -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCIPIPE_WITH_ISAL=OFF \
  -DOCIPIPE_BUILD_BENCH=OFF >/dev/null
targets=(ocipipe ocipipe_unit_tests)
while read -r t; do targets+=("$t"); done < <(scripts/fuzz-targets.sh --cmake)
cmake --build build-noisal -j"$(nproc)" $(printf -- '--target %s ' "${targets[@]}")
build-noisal/ocipipe version | grep -x 'gzip_inflate: zlib'
cd build-noisal
ctest -L fast --output-on-failure -j"$(nproc)" "$@"
