#!/usr/bin/env bash
# cimg build against gc and kill -9 (store/work_dir.h):
#  1. gc while a build runs a RUN step (the RUN waits on a fifo the test
#     writes): gc removes neither the build's work dir nor the layers it uses
#     (its FROM image was removed by rmi before that gc; a COPY layer of this
#     build is in no image yet); the build then completes and its image holds
#     the base, the COPY and the RUN content; fsck clean.
#  2. kill -9 of a build during RUN (the step left a background process):
#     its FUSE mount and the step's processes stay behind; the next `cimg gc`
#     kills the processes, detaches the mount and removes the work dir; fsck
#     clean, and a later build works.
# Every wait is on an event (a fifo opened by the RUN step, a process exit),
# with generous upper bounds only as hang guards.
source "$(dirname "$0")/lib.sh"
it_setup mkfifo timeout
cfs_setup
source "$(dirname "$0")/build_lib.sh"
BUILD_FLAGS=(--ignored-image-list /dev/null)

MNT=$T/mnt
mkdir -p "$MNT"

# wait_fifo FIFO WHAT: the RUN step writes a line into FIFO when it is running.
wait_fifo() {
  local line
  line=$(timeout 300 cat "$1") || fail "$2: the RUN step never started (5 min hang guard)"
  [[ -n "$line" ]] || fail "$2: empty line from the RUN step"
  echo "$line"
}

# gone PID: the process has exited (or is a zombie nobody reaped yet).
gone() {
  local s
  s=$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ') || return 0
  [[ -z "$s" || "$s" == Z* ]]
}

# wait_gone PID WHAT: hang guard 60 s; the kill that ends it has been sent.
wait_gone() {
  local i
  for i in $(seq 600); do
    gone "$1" && return 0
    sleep 0.1
  done
  fail "$2: process $1 still alive 60 s after gc"
}

build_mounts() { grep -F " $ROOT/" /proc/self/mountinfo | grep ' cimg-build ' || true; }

# ============================================================ 1. gc during RUN
log "1. gc while a build runs a RUN step"
BASE=$T/ctx-base
mkdir -p "$BASE/etc"
echo base-content >"$BASE/etc/base.txt"
printf 'FROM scratch\nCOPY . .\n' >"$BASE/Kubefile"
bld base:1 "$BASE"

CTX=$T/ctx1
mkdir -p "$CTX"
head -c 300000 /dev/urandom >"$CTX/payload.bin"
mkfifo "$T/started1" "$T/go1"
cat >"$CTX/Kubefile" <<EOF
FROM base:1
COPY payload.bin /data/payload.bin
RUN echo running >'$T/started1' && read x <'$T/go1' && echo "\$x" >"\$ROOTFS/etc/run.txt"
EOF
"$CIMG" --root "$ROOT" build "${BUILD_FLAGS[@]}" -t app:1 "$CTX" >"$T/b1.out" 2>"$T/b1.err" &
B1=$!
IT_BG_PIDS+=("$B1")
wait_fifo "$T/started1" "build app:1" >/dev/null
WD=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-*')
[[ -n "$WD" ]] || fail "no build-* work dir under $ROOT/tmp while the build runs"
ci rmi base:1 >/dev/null || fail "rmi base:1 during the build"
ci gc >"$T/gc1.out" 2>&1 || fail "gc during the build: $(cat "$T/gc1.out")"
[[ -d "$WD" ]] || fail "gc removed the running build's work dir $WD"
[[ -n "$(build_mounts)" ]] || fail "gc took the running build's mount away"
echo from-test >"$T/go1"
rc=0
timeout 300 tail --pid="$B1" -f /dev/null || fail "build app:1 did not end 5 min after its RUN was released"
wait "$B1" || rc=$?
[[ $rc -eq 0 ]] || fail "build app:1 failed after a gc during its RUN (exit $rc): $(tail -n 20 "$T/b1.err")"
cfs_mount app:1 "$MNT"
assert_eq base-content "$(cat "$MNT/etc/base.txt")" "base file (FROM an image rmi'd + gc'd during the build)"
cmp "$CTX/payload.bin" "$MNT/data/payload.bin" || fail "COPY content differs after gc during the build"
assert_eq from-test "$(cat "$MNT/etc/run.txt")" "RUN output"
cfs_umount "$MNT"
[[ -z "$(build_mounts)" ]] || fail "build mount left: $(build_mounts)"
[[ ! -e "$WD" ]] || fail "the build left its work dir $WD"
assert_fsck_clean

# ============================================================ 2. kill -9 during RUN
log "2. kill -9 of a build during RUN, then gc"
CTX2=$T/ctx2
mkdir -p "$CTX2"
echo two >"$CTX2/two.txt"
mkfifo "$T/started2" "$T/go2"
# The step leaves a background process (sleep) and waits on go2, which nobody
# writes: only a kill ends it.
cat >"$CTX2/Kubefile" <<EOF
FROM app:1
COPY two.txt /two.txt
RUN sleep 100000 & echo "\$\$ \$!" >'$T/started2'; read x <'$T/go2'
EOF
"$CIMG" --root "$ROOT" build "${BUILD_FLAGS[@]}" -t app:2 "$CTX2" >"$T/b2.out" 2>"$T/b2.err" &
B2=$!
IT_BG_PIDS+=("$B2")
read -r SH_PID SLEEP_PID <<<"$(wait_fifo "$T/started2" "build app:2")"
[[ -n "$SH_PID" && -n "$SLEEP_PID" ]] || fail "no pids from the RUN step"
kill -9 "$B2"
wait "$B2" 2>/dev/null || true
# What a killed build leaves: the step's processes and its (dead) FUSE mount.
LEFT=$(build_mounts | awk '{print $5}')
for m in $LEFT; do it_track_mount "$m"; done # cleanup, should the test fail
IT_CLEANUP_HOOKS+=("kill -9 $SH_PID $SLEEP_PID 2>/dev/null")
gone "$SLEEP_PID" && fail "precondition: the step's background process died with the build"
[[ -n "$LEFT" ]] || fail "precondition: the killed build left no mount"
ci gc >"$T/gc2.out" 2>&1 || fail "gc after kill -9: $(cat "$T/gc2.out")"
[[ -z "$(build_mounts)" ]] || fail "gc left the dead build's mount: $(build_mounts)"
wait_gone "$SLEEP_PID" "the RUN step's background process"
wait_gone "$SH_PID" "the RUN step's shell"
left=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-*')
[[ -z "$left" ]] || fail "gc left the dead build's work dir: $left"
! ci inspect app:2 >/dev/null 2>&1 || fail "a killed build tagged app:2"
assert_fsck_clean
log "a build after the cleanup"
printf 'FROM app:1\nCOPY two.txt /two.txt\nRUN echo ok >"$ROOTFS/ok"\n' >"$CTX2/Kubefile"
bld app:2 "$CTX2"
cfs_mount app:2 "$MNT"
assert_eq ok "$(cat "$MNT/ok")" "RUN output of the build after the cleanup"
assert_eq two "$(cat "$MNT/two.txt")" "COPY output of the build after the cleanup"
cfs_umount "$MNT"
no_build_leftovers
assert_fsck_clean
