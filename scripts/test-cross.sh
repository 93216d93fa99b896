#!/usr/bin/env bash
# Cross-compiles ocipipe for another Debian architecture and runs the fast
# suite there under qemu-user (issue 11):
#   scripts/test-cross.sh arm64|ppc64el [CTEST ARGS...]
# 1. installs the host's cross toolchain and qemu-user-static (apt-get) and
#    adds the architecture to dpkg's list (for its package lists only);
# 2. makes a sysroot of the target's -dev packages (scripts/cross-sysroot.sh,
#    kept in build-ARCH-sysroot/ for the next run);
# 3. registers qemu with binfmt_misc, so that the tests' own child processes
#    (build-ARCH/ocipipe) run too, with the sysroot as qemu's library prefix;
# 4. builds ocipipe, the unit tests and the fuzz corpus replays into
#    build-ARCH/ (cmake/cross-toolchain.cmake) and runs `ctest -L fast`.
# Needs root (apt-get, binfmt_misc). Exit status: ctest's, 2 on a set-up error.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: scripts/test-cross.sh arm64|ppc64el [CTEST ARGS...]}
shift
case "$arch" in
  arm64) qemu=aarch64 ;;
  ppc64el) qemu=ppc64le ;;
  *) echo "test-cross.sh: ARCH is arm64 or ppc64el, not $arch" >&2; exit 2 ;;
esac

export DEBIAN_FRONTEND=noninteractive
host_packages=(crossbuild-essential-"$arch" qemu-user-static cmake ninja-build pkg-config)
missing=()
for p in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
  # A mirror may be mid-sync for one architecture's security lists: the main
  # archive's lists are what the sysroot needs.
  apt-get update -q || echo "test-cross.sh: apt-get update reported errors; going on with the lists it got" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

sysroot=$PWD/build-$arch-sysroot
if [ ! -f "$sysroot/.complete" ]; then
  rm -rf "$sysroot"
  scripts/cross-sysroot.sh "$arch" "$sysroot"
  touch "$sysroot/.complete"
fi

binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/qemu-$qemu" ]; then
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" || {
    echo "test-cross.sh: cannot mount binfmt_misc (a container without the privilege?): the tests start" >&2
    echo "               build-$arch/ocipipe themselves, which needs qemu registered there" >&2
    exit 2
  }
  cat "/usr/lib/binfmt.d/qemu-$qemu.conf" > "$binfmt/register"
fi
export QEMU_LD_PREFIX=$sysroot
# The few tests that depend on it skip seccomp and scale their timeouts (tests/support/emulation.h).
export OCIPIPE_TEST_EMULATOR=qemu-user

build=build-$arch
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/cross-toolchain.cmake" -DOCIPIPE_CROSS_ARCH="$arch" \
  -DOCIPIPE_CROSS_SYSROOT="$sysroot" -DOCIPIPE_BUILD_BENCH=OFF >/dev/null
targets=(ocipipe ocipipe_unit_tests)
while read -r t; do targets+=("$t"); done < <(scripts/fuzz-targets.sh --cmake)
cmake --build "$build" -j"$(nproc)" $(printf -- '--target %s ' "${targets[@]}")

command -v file >/dev/null && echo "test-cross.sh: build-$arch/ocipipe: $(file -b "$build/ocipipe" | cut -d, -f1-2)"
"$build/ocipipe" version
cd "$build"
ctest -L fast --output-on-failure -j"$(nproc)" --timeout 2400 "$@"
