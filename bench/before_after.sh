#!/usr/bin/env bash
# Before/after: the same benchmarks on two builds of cimg and clusterfs, side
# by side in one run, so that a change can be shown not to make a figure worse
# (the machine's state is the same for both). The two builds alternate
# (before, after, after, before, ...) so that a drift during the run (page
# cache, thermal) does not favour one.
#
# Usage: bench/before_after.sh OLD_BUILD_DIR [NEW_BUILD_DIR]   (as root)
#   OLD_BUILD_DIR, NEW_BUILD_DIR: build directories holding tools/cimg and
#   tools/clusterfs (NEW defaults to build/). To make OLD:
#     git worktree add /var/tmp/before REV && cmake -S /var/tmp/before -B /var/tmp/before/build \
#       -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C /var/tmp/before/build cimg clusterfs
# Environment:
#   BENCHES="ingest fs"   which of bench/ingest.sh and bench/fs.sh to run
#   ROUNDS=1              before/after pairs per benchmark (each is a whole
#                         benchmark run, itself a median of RUNS)
#   ONLY=clusterfs-dir,clusterfs-store   passed to bench/fs.sh (the peers do
#                         not change between two builds of ours)
# Prints each run's table under a "== BENCH: before|after (DIR)" line.
set -euo pipefail
case "${1:-}" in
  ""|-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit $? ;;
esac
cd "$(dirname "$0")/.."
OLD=$(cd "$1" && pwd)
NEW=$(cd "${2:-build}" && pwd)
BENCHES=${BENCHES:-ingest fs}
ROUNDS=${ROUNDS:-1}
export ONLY=${ONLY:-clusterfs-dir,clusterfs-store}
for dir in "$OLD" "$NEW"; do
  for t in cimg clusterfs; do
    [ -x "$dir/tools/$t" ] || { echo "before_after: $dir/tools/$t is not built" >&2; exit 1; }
  done
done

run() {  # run BENCH SIDE DIR
  echo "== $1: $2 ($3)"
  CIMG="$3/tools/cimg" CLUSTERFS="$3/tools/clusterfs" "bench/$1.sh"
  echo
}

for b in $BENCHES; do
  [ -x "bench/$b.sh" ] || { echo "before_after: no bench/$b.sh" >&2; exit 1; }
  for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then
      run "$b" before "$OLD"; run "$b" after "$NEW"
    else
      run "$b" after "$NEW"; run "$b" before "$OLD"
    fi
  done
done
