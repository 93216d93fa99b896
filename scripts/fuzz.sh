#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in
# build-fuzz/ and runs each for N seconds, one after the other.
#   scripts/fuzz.sh [--seconds N] [--jobs N] [TARGET...]     (default: 60 s, -j1, every target)
# Each run starts from the committed seeds (tests/fuzz/corpus/TARGET, read only)
# and what earlier runs kept (build-fuzz/corpus/TARGET); new inputs land in a
# scratch directory and are merged (-merge=1) into build-fuzz/corpus/TARGET, never
# into the committed seeds: only a crashing input belongs there, beside a unit test.
# Prints per target: runs, exec/s, coverage, and the file of any finding
# (build-fuzz/findings/TARGET/). Exits 1 when a target found something, 2 on
# a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=$(scripts/fuzz-targets.sh | tr "\n" " ")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$all"
for t in "${targets[@]}"; do
  case " $all " in *" $t "*) ;; *) echo "fuzz.sh: no target $t (targets: $all)" >&2; exit 2 ;; esac
done

if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is not installed; libFuzzer comes with it: apt-get install clang libclang-rt-14-dev" >&2
  echo "         (scripts/install-deps.sh installs it too)" >&2
  exit 2
fi

build=build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DOCIPIPE_FUZZ=ON -DOCIPIPE_BUILD_TESTS=OFF -DOCIPIPE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}")

found=0
for t in "${targets[@]}"; do
  scratch="$build/scratch/$t" kept="$build/corpus/$t" findings="$build/findings/$t"
  log="$build/logs/$t.log"
  rm -rf "$scratch"
  mkdir -p "$scratch" "$kept" "$findings" "$build/logs"
  before=$(find "$findings" -type f | wc -l)
  rc=0
  started=$SECONDS
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: a bomb is a finding.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$scratch" "$kept" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  ran=$((SECONDS - started))
  "$build/tests/fuzz/fuzz_$t" -merge=1 "$kept" "$scratch" >>"$build/logs/$t.merge.log" 2>&1 || true
  rm -rf "$scratch"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
  new=$(find "$findings" -type f | wc -l)
  printf '%-18s %5ss  runs %-10s exec/s %-7s %s  corpus %s\n' "$t" "$ran" "${runs:-?}" "${rate:-?}" \
    "${cov:-cov: ?}" "$(find "$kept" -type f | wc -l)"
  if [ "$rc" -ne 0 ] || [ "$new" -gt "$before" ]; then
    found=1
    echo "  FINDING (exit $rc), log $log:" >&2
    grep -E 'Test unit written to|^==[0-9]+==ERROR|runtime error|fuzz finding' "$log" | head -5 | sed 's/^/    /' >&2
  fi
done
exit $found
