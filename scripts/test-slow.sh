#!/usr/bin/env bash
# The slow suite (ctest label slow, DESIGN.md §7-8): big synthetic images built in the
# tests from fixed seeds (40 layers, 60,000 small files, one 1.5 GiB file), unpacked and
# validated, with peak RSS checked (about 2 minutes on 2 cores); and the full crash-safety
# and concurrency trials of issue 10 (tests/slow/layout_crash_full_test.cpp, about 4 more
# minutes; needs docker-registry). Needs about 4 GiB free under
# /var/tmp (or $TMPDIR). Installs the packages, builds ocipipe and the real Debian images
# (cached) first, as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
datasets/build.sh
cd build
ctest -L slow --output-on-failure --timeout 900
