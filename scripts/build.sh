#!/usr/bin/env bash
# Configures and builds ocipipe into build/ (binary: build/ocipipe).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
