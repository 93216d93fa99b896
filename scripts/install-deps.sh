#!/usr/bin/env bash
# Installs everything ocipipe builds, tests and benchmarks with, from Debian 12's
# packages. Idempotent: when every package is present it only checks and exits.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  libtbb-dev libsimdjson-dev libdeflate-dev libisal-dev libzstd-dev libarchive-dev zlib1g-dev
  libssl-dev libcurl4-openssl-dev libgpgme-dev libsodium-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # datasets and test peers
  debootstrap debian-archive-keyring umoci skopeo runc oci-image-tool isal zstd
  docker-registry gnupg python3 python3-cryptography python3-nacl openssl tar gzip util-linux coreutils findutils attr
  # bench/plot.sh
  gnuplot-nox
  # scripts/fuzz.sh: clang and its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # the runtime-spec JSON schemas and a validator for them (create's config.json)
  golang-github-opencontainers-specs-dev python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (apt-get)" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
