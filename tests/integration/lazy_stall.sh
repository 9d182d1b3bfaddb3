#!/usr/bin/env bash
# Every network wait has a deadline: a lazy mount, a pull and a push against a
# registry that accepts requests and never answers (throttle_proxy `hang`), or
# answers one byte a minute (`drip`).
#  1. a lazy read of a file the store lacks gets EIO (never a hang, never
#     wrong bytes), and the same read passes once the registry answers again;
#     the same for a registry that drips;
#  2. `clusterfs umount` of a lazy mount whose prefetch waits on the hung
#     registry returns, and the daemon is gone, promptly; its command line
#     (ps, /proc/PID/cmdline) never shows the --creds password;
#  3. a lazy mount attempt, a pull and a push against the hung registry fail
#     with one line.
# The bounds asserted are hang guards for a loaded 2-core CI machine (EIO
# within 60 s, the daemon gone within 20 s, a mount/pull/push failed within
# 150 s); the measured figures are logged (README quotes them).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup tar cmp curl ps
cfs_setup

MiB=$((1024 * 1024))
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---------------------------------------------------------------- fixture
SRC=$T/src
mkdir -p "$SRC/d"
for i in 1 2 3 4; do rand_file "$SRC/d/f$i.bin" $((2 * MiB + i * 1000)); done
echo "small" >"$SRC/small.txt"
(cd "$SRC" && tar --sort=name --format=pax -cf "$T/layer.tar" -- *) || fail "tar of the source tree"
oci_build "$T/oci" v1 "$T/layer.tar" >/dev/null
SROOT=$T/src-root
cir "$SROOT" pull "oci:$T/oci:v1" --as stall:v1 >/dev/null || fail "pull of the source image"
reg_start_plain reg
REG=$REG_REG_ADDR
cir "$SROOT" push stall:v1 "$REG/stall:v1" --tls-verify=false >/dev/null || fail "push to $REG/stall:v1"
LAYER=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REG/v2/stall/manifests/v1" | json_get 'j["layers"][0]["digest"]') || fail "no manifest"
reg_start_proxy px "$REG"
PX=$REG_PX_ADDR CTL=$REG_PX_CTL STATS=$REG_PX_STATS
stat_() { sleep 0.2; reg_proxy_stat "$STATS" "$1"; }

# expect_eio FILE WHAT: reading FILE fails with EIO (within the 60 s hang
# guard, a hang is a failure); the measured time in EIO_S.
expect_eio() {
  local f=$1 what=$2 t0=$EPOCHREALTIME rc=0
  timeout -k 5 120 cat "$f" >"$T/eio.out" 2>"$T/eio.err" || rc=$?
  EIO_S=$(secs_since "$t0")
  [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$what: the read of $f hung (120 s)"
  [[ $rc -ne 0 ]] || fail "$what: the read of $f succeeded (expected EIO)"
  grep -q 'Input/output error' "$T/eio.err" || fail "$what: expected EIO, got: $(cat "$T/eio.err")"
  local n
  n=$(stat -c %s "$T/eio.out")
  ((n == 0)) || cmp -n "$n" "$SRC/${f#"$3"/}" "$T/eio.out" || fail "$what: the $n bytes read before the EIO are wrong"
  below "$EIO_S" 60 || fail "$what: EIO after ${EIO_S}s (hang guard 60 s; README promises about 30 s)"
  log "   $what: EIO after ${EIO_S}s"
}

# read_back REL WHAT: REL on mount 1 reads like the source once the registry
# answers again. A read within 2 s of the failure of a fetch of the same
# chunks may still get EIO (LazyOptions::failure_hold_ms): up to 10 tries,
# 1 s apart.
read_back() {
  local i
  for i in $(seq 10); do
    if timeout -k 5 60 cmp "$SRC/$1" "$T/m1/$1" 2>"$T/rb.err"; then
      log "   $2: $1 reads back fine (try $i)"
      return 0
    fi
    sleep 1
  done
  fail "$2: $1 still does not read back after the registry answers again: $(cat "$T/rb.err")"
}

# umount_timed MNT PID WHAT: `clusterfs umount MNT` succeeds and daemon PID is
# gone within 20 s of it (hang guard); the figures in UMOUNT_S and GONE_S.
umount_timed() {
  local m=$1 pid=$2 t0=$EPOCHREALTIME rc=0 i
  timeout -k 5 60 "$CLUSTERFS" umount "$m" 2>"$T/umount.err" || rc=$?
  UMOUNT_S=$(secs_since "$t0")
  [[ $rc -eq 0 ]] || fail "clusterfs umount ($3): exit $rc: $(cat "$T/umount.err")"
  ! is_mounted "$m" || fail "$m still mounted after clusterfs umount ($3)"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  GONE_S=$(secs_since "$t0")
  ! kill -0 "$pid" 2>/dev/null || fail "daemon $pid still running ${GONE_S}s after clusterfs umount ($3; hang guard 20 s)"
  log "   umount ($3): clusterfs umount returned after ${UMOUNT_S}s, daemon gone after ${GONE_S}s"
}

# ------------------------------------------------- 1. reads with a hung registry
log "1. lazy reads while the registry accepts and never answers, then drips"
mkdir -p "$T/m1" "$T/m2" "$T/m3"
cfs_mount --tls-verify=false --log "$T/m1.log" "$PX/stall:v1" "$T/m1"
cmp "$SRC/small.txt" "$T/m1/small.txt" || fail "small.txt on the lazy mount"
reg_proxy_ctl "$CTL" "hang * $LAYER" reset-stats
expect_eio "$T/m1/d/f1.bin" "hung registry" "$T/m1"
HANG_EIO_S=$EIO_S
(($(stat_ hangs) >= 1)) || fail "no request reached the hung proxy"
reg_proxy_ctl "$CTL" ok
read_back d/f1.bin "after 'ok'"

reg_proxy_ctl "$CTL" "drip-seconds 60" "drip * $LAYER" reset-stats
expect_eio "$T/m1/d/f2.bin" "registry sending one byte a minute" "$T/m1"
DRIP_EIO_S=$EIO_S
(($(stat_ drips) >= 1)) || fail "no request reached the dripping proxy"
reg_proxy_ctl "$CTL" ok
read_back d/f2.bin "after 'ok'"
umount_timed "$T/m1" "$CFS_PID" "nothing in flight"

# -------------------------- 2. umount with a transfer in flight; --creds hidden
log "2. umount while the prefetch waits on the hung registry; --creds not in ps"
PW="s3cret-$RANDOM-pw"
# the layer's TOC is in the store now (mount 1): mount 2 needs only the
# manifest and the config, its prefetch then waits on the layer
reg_proxy_ctl "$CTL" "auth alice:$PW" "hang * $LAYER" reset-stats
cfs_mount --tls-verify=false --creds "alice:$PW" --prefetch all --log "$T/m2.log" "$PX/stall:v1" "$T/m2"
PID2=$CFS_PID
cmp "$SRC/small.txt" "$T/m2/small.txt" || fail "small.txt on the mount with --creds"
for ((i = 0; i < 600; i++)); do
  (($(reg_proxy_stat "$STATS" hangs) >= 1)) && break
  sleep 0.1
done
(($(reg_proxy_stat "$STATS" hangs) >= 1)) || fail "the prefetch sent no layer request within 60 s"
tr '\0' ' ' <"/proc/$PID2/cmdline" >"$T/cmdline"
log "   daemon $PID2 command line: $(cat "$T/cmdline")"
! grep -qF -- "$PW" "/proc/$PID2/cmdline" || fail "the password is in /proc/$PID2/cmdline: $(cat "$T/cmdline")"
! ps -eo pid,args | grep -F -- "$PW" | grep -v grep >"$T/ps.out" || fail "ps shows the password: $(cat "$T/ps.out")"
umount_timed "$T/m2" "$PID2" "the prefetch waiting on the hung registry"
grep -q 'cancel' "$T/m2.log" || fail "no cancel line in the mount log: $(tail -n 5 "$T/m2.log")"
reg_proxy_ctl "$CTL" ok "auth off"
assert_fsck_clean

# --------------------------------- 3. mount, pull, push against a hung registry
log "3. a lazy mount, a pull and a push against the hung registry fail with one line"
reg_proxy_ctl "$CTL" "hang *" reset-stats
t0=$EPOCHREALTIME
expect_one_line_error_timed() { # WHAT REGEX CMD...
  local what=$1 re=$2 rc=0 t=$EPOCHREALTIME
  shift 2
  timeout -k 5 150 "$@" >"$T/$what.out" 2>"$T/$what.err" || rc=$?
  local s n
  s=$(secs_since "$t")
  n=$(wc -l <"$T/$what.err")
  [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$what against a hung registry hung (150 s)"
  [[ $rc -ne 0 ]] || fail "$what against a hung registry succeeded"
  [[ $n -eq 1 ]] || fail "$what: expected one stderr line, got $n: $(head -c 2000 "$T/$what.err")"
  grep -Eqi -- "$re" "$T/$what.err" || fail "$what: message does not match /$re/: $(cat "$T/$what.err")"
  log "   $what failed after ${s}s: $(cat "$T/$what.err")"
}
it_track_mount "$T/m3"
expect_one_line_error_timed mount 'slow|time|answer' \
  "$CLUSTERFS" mount --root "$T/root-m3" --tls-verify=false "$PX/stall:v1" "$T/m3"
! is_mounted "$T/m3" || fail "a failed mount left $T/m3 mounted"
# pull and push at once (the probe /v2/ answers; every repository request hangs)
reg_proxy_ctl "$CTL" ok "hang * /v2/stall" reset-stats
expect_one_line_error_timed pull 'slow|time|answer' "$CIMG" -q --root "$T/root-pull" pull "$PX/stall:v1" --tls-verify=false &
P1=$!
expect_one_line_error_timed push 'slow|time|answer' "$CIMG" -q --root "$SROOT" push stall:v1 "$PX/stall:v2" --tls-verify=false &
P2=$!
wait $P1 || fail "the pull case failed (above)"
wait $P2 || fail "the push case failed (above)"
reg_proxy_ctl "$CTL" ok

log "figures: EIO after ${HANG_EIO_S}s (hung) / ${DRIP_EIO_S}s (1 byte/min); umount ${UMOUNT_S}s," \
  "daemon gone ${GONE_S}s after umount with a transfer in flight"
