# Helpers shared by the cimg build tests (build.sh, build_remote.sh). Sourced
# after lib.sh, not run (CMake skips *_lib.sh). BUILD_FLAGS (an array, default
# empty) is put before the other arguments of every `bld`.

FAILED_CHECKS=()
BUILD_FLAGS=()
# check WHAT FUNC [ARGS...]: FUNC runs in a subshell with errexit in force;
# its failure (fail or any failing command) is recorded as WHAT.
check() {
  local what=$1 rc=0
  shift
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    FAILED_CHECKS+=("$what")
    log "CHECK FAILED: $what"
  fi
}

# bld NAME CTX [ARGS...]: `cimg build BUILD_FLAGS -t NAME ARGS CTX` (not quiet:
# the STEP log is kept); must succeed. Sets BUILD_ID (from stdout), BUILD_OUT,
# BUILD_ERR (files) and BUILD_SECS.
bld() {
  local name=$1 ctx=$2 rc=0 t0 t1
  shift 2
  BUILD_OUT=$T/.build.out BUILD_ERR=$T/.build.err
  t0=$(date +%s%N)
  "$CIMG" --root "$ROOT" build "${BUILD_FLAGS[@]}" -t "$name" "$@" "$ctx" >"$BUILD_OUT" 2>"$BUILD_ERR" || rc=$?
  t1=$(date +%s%N)
  BUILD_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
  [[ $rc -eq 0 ]] || fail "cimg build -t $name $* $ctx failed (exit $rc):
$(tail -n 30 "$BUILD_ERR")"
  BUILD_ID=$(sed -n "s/^$(sed 's/[][\.*^$/]/\\&/g' <<<"$name")  \(sha256:[0-9a-f]\{64\}\)\$/\1/p" "$BUILD_OUT")
  [[ -n "$BUILD_ID" ]] || fail "cimg build -t $name: no \"$name  sha256:<id>\" line on stdout:
$(cat "$BUILD_OUT")"
}

# step_outcomes [FILE]: the layer steps of a build log as "KW:cached|layer|none", space separated.
step_outcomes() {
  awk '/^STEP [0-9]+\/[0-9]+: / {kw = $3; next}
       /^ --> cached/ {s = s " " kw ":cached"}
       /^ --> layer / {s = s " " kw ":layer"}
       /^ --> no changes/ {s = s " " kw ":none"}
       END {print substr(s, 2)}' "${1:-$BUILD_ERR}"
}

# names: every image name in the store, sorted, one line.
names() {
  ci images --format json | python3 -c 'import json,sys; print(" ".join(sorted(n for i in json.load(sys.stdin) for n in i["Names"])))'
}

# paths DIR: "path type" for every entry, sorted (what is there, nothing about metadata).
paths() { (cd "$1" && find . -mindepth 1 -printf '%P %y\n' | LC_ALL=C sort); }

# no_build_leftovers: no in-process build mount under this test's store (other
# tests may be building at the same time) and no build temp dir remain.
no_build_leftovers() {
  local m
  m=$(grep -F " $ROOT/" /proc/self/mountinfo | grep ' cimg-build ' || true)
  [[ -z "$m" ]] || fail "a cimg-build mount is left: $m"
  local left
  left=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-*' 2>/dev/null | sed -n 1,3p)
  [[ -z "$left" ]] || fail "build temp dirs left in $ROOT/tmp: $left"
}
