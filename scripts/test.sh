#!/usr/bin/env bash
# Runs every test: setup (packages + build), unit and integration tests on
# the normal build, then the unit tests again under ASan+UBSan.
# Usage: scripts/test.sh [--quick]   (--quick: skip the sanitizer pass)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "test: integration tests need root (mounts, mknod, namespaces)" >&2; exit 1; fi
[ -e /dev/fuse ] || { echo "test: /dev/fuse is missing" >&2; exit 1; }

scripts/setup.sh
rc=0
echo "== unit and integration tests (build/)"
(cd build && ctest --output-on-failure -j2 --timeout 900) || rc=1

echo "== clang -Wthread-safety over the libraries (build-tsa/)"
CXX=clang++ cmake -S . -B build-tsa -G Ninja -DCFS_THREAD_SAFETY=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-O0 >/dev/null
ninja -C build-tsa -j"$(nproc)" cfs_store cfs_fs cfs_registry cfs_builder cfs_deploy || rc=1

if [ "${1:-}" != "--quick" ]; then
  echo "== unit tests under ASan+UBSan (build-asan/)"
  scripts/setup.sh --asan
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure -j2 -LE integration --timeout 900) || rc=1
fi
exit $rc
