#!/usr/bin/env bash
# Installs every Debian package the build, tests and benchmarks need, then
# builds. Idempotent: apt-get runs only when something is missing.
# Usage: scripts/setup.sh [--asan]   (as root on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang
  librocksdb-dev libfuse3-dev libzstd-dev libarchive-dev libcurl4-openssl-dev libssl-dev
  libyaml-cpp-dev libssh2-1-dev libgtest-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libtomlplusplus-dev libsodium-dev libcrypt-dev
  # tests and peers
  fuse3 fuse-overlayfs skopeo umoci podman buildah docker-registry openssh-server attr python3 iproute2
  zstd casync xxd procps gzip util-linux apache2-utils curl openssl sudo openssh-client rocksdb-tools
  python3-cryptography python3-jsonschema
  # the example cluster image's runtime (copied in at build) and the container it runs
  containerd runc busybox-static
  shellcheck ccache tmux
  # packaging
  help2man dpkg-dev zsh
  # benchmarks
  debootstrap hyperfine bc rsync
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=${BUILD_DIR:-build}
# -g1: line tables (backtraces, perf) without full debug info, which makes
# the build about a third slower (CI time). Configure build/ yourself with
# plain RelWithDebInfo for a debugger.
ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
if [ "${1:-}" = "--asan" ]; then
  BUILD=${BUILD_DIR:-build-asan}
  ARGS=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0" -DCFS_SANITIZE=ON)
fi
# ccache: a rebuild of unchanged sources (another clone of the repo, a CI
# run after the last one) compiles nothing. Paths under the repo are hashed
# relative to it, so clones in other directories share the cache.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
ARGS+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" -G Ninja "${ARGS[@]}" >/dev/null
TARGETS=()
if [ "${1:-}" = "--asan" ]; then
  # The sanitizer pass runs the unit tests of the libraries that parse what
  # comes from outside and hold the store (base, layer, transport, chunkstore, store,
  # registry, lazy, the conformance suites): build just those binaries and the
  # libraries they link, not the tools, not fs/builder/deploy, and not the
  # power-cut test, which scripts/test.sh runs in the normal build only
  # (CI time).
  mapfile -t TARGETS < <(ninja -C "$BUILD" -t targets all |
    sed -n 's/^\(tests\/\)\{0,1\}\([a-z_]*_test\): CXX_EXECUTABLE_LINKER.*/\2/p' |
    grep -E '^(base|template|layer|transport|chunkstore|store|registry|lazy|conformance)_' | grep -vx store_power_cut_test)
fi
ninja -C "$BUILD" -j"$(nproc)" "${TARGETS[@]}"
echo "setup: built into $BUILD/"
