#!/usr/bin/env bash
# Makes a sysroot of Debian 12's packages for a foreign architecture, for
# cross-compiling ocipipe and running its tests under qemu-user:
#   scripts/cross-sysroot.sh ARCH DIR        (ARCH: arm64 or ppc64el)
# DIR gets the target's -dev packages of the build (the same list as
# scripts/install-deps.sh), their run-time libraries and libc, each .deb
# unpacked with dpkg -x: nothing is installed into this system, so a mirror
# whose foreign-architecture packages lag the host's (multiarch co-installation
# wants equal versions) does not matter. The same DIR is qemu's -L prefix.
# Needs the architecture added (dpkg --add-architecture ARCH; apt-get update).
set -euo pipefail
arch=${1:?usage: cross-sysroot.sh ARCH DIR}
dir=${2:?usage: cross-sysroot.sh ARCH DIR}

dev=(libc6-dev libstdc++-12-dev libtbb-dev libsimdjson-dev libdeflate-dev libisal-dev libzstd-dev
     libarchive-dev zlib1g-dev libssl-dev libcurl4-openssl-dev libgpgme-dev libgpg-error-dev libsodium-dev
     libyaml-cpp-dev libgtest-dev libgmock-dev)
headers_only=(libcli11-dev nlohmann-json3-dev libexpected-dev)

# apt resolves the set as for an empty ARCH system (a status file of its own,
# ARCH the only architecture), so the host's installed packages play no part,
# and only downloads it.
debs="$dir.debs"
mkdir -p "$debs/partial" "$dir"
: > "$debs/status"
apt-get -q -y -o Dir::State::status="$debs/status" -o APT::Architecture="$arch" -o APT::Architectures::="$arch" \
  -o Dir::Cache::archives="$debs" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Debug::NoLocking=1 \
  --download-only --no-install-recommends install "${dev[@]}" "${headers_only[@]}" >"$debs/apt.log"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$dir"; done
# Absolute symlinks inside the sysroot (libfoo.so -> /lib/...) must point into
# it: made relative, so the sysroot may be moved.
find "$dir" -type l -lname '/*' | while read -r link; do
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$(readlink "$link")")" "$link"
done
echo "cross-sysroot: $dir: $(ls "$debs"/*.deb | wc -l) packages for $arch"
