#!/usr/bin/env bash
# An image of 1,000,000 small files (issue 18): pull time, mount time (stack
# index built, then mapped), the daemon's RSS after mount, after listing every
# directory and after `find -ls`, and its peak. Runs
# tests/integration/mount_rss.sh with a million files in 10,000 directories
# (about 4 GB of scratch under ${TMPDIR:-/tmp}; several minutes).
#   sudo bench/million.sh                         # from a build dir's parent
#   sudo NFILES=300000 NDIRS=3000 bench/million.sh
#   sudo READ_ALL=1 bench/million.sh              # also read every file back
# Needs a build: CFS_BUILD_DIR (default ./build) with tools/cimg and tools/clusterfs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${CFS_BUILD_DIR:-$PWD/build}
build=$(cd "$build" && pwd)
export CFS_BUILD_DIR=$build CIMG=$build/tools/cimg
export NFILES=${NFILES:-1000000} NDIRS=${NDIRS:-10000} READ_ALL=${READ_ALL:-0} LIMIT_MIB=${LIMIT_MIB:-200}
exec bash "$here/../tests/integration/mount_rss.sh"
