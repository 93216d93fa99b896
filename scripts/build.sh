#!/usr/bin/env bash
# Configures and builds ocipipe into build/ (binary: build/ocipipe).
# Usage: scripts/build.sh [TARGET...]   (no target: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
