#!/usr/bin/env bash
# The README's first command: installs the packages, builds ocipipe, builds the
# real Debian images (datasets/build.sh, cached) and runs the main job on
# debian-slim: validate, unpack and create, one line per step.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
datasets/build.sh

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ocipipe"
image=debian-slim
ref="oci:$cache/layouts/$image:$image"
work="$(mktemp -d "${TMPDIR:-/tmp}/ocipipe-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Bytes each step moves: validate and unpack read every layer; MB/s is of the
# uncompressed layer bytes, as in the bench runner.
tar_bytes="$(build/ocipipe validate --json "$ref" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == "end": print(r["data"]["tar_bytes"])')"

step() {
  local name="$1"; shift
  local start end rc=0
  start=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>&1 || rc=$?
  end=$(date +%s.%N)
  python3 - "$name" "$ref" "$rc" "$start" "$end" "$tar_bytes" <<'PY'
import sys
name, ref, rc, start, end, nbytes = sys.argv[1:]
secs = float(end) - float(start)
result = "ok" if rc == "0" else f"FAILED (exit {rc})"
print(f"{name:<9} {ref}  {result}  {secs:6.2f} s  {int(nbytes) / 1e6 / secs:7.1f} MB/s")
PY
  if [ "$rc" != 0 ]; then cat "$work/$name.out" >&2; exit "$rc"; fi
}

step validate build/ocipipe validate "$ref"
step unpack build/ocipipe unpack "$ref" "$work/rootfs"
step create build/ocipipe create --args /bin/echo,ok "$ref" "$work/bundle"
