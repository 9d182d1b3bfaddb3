#!/bin/bash
# Differential test of a FUSE overlay against the kernel's overlayfs.
#
#   run.sh IMPL      IMPL = kernel | fuse-overlayfs | 'COMMAND TEMPLATE'
#
# A template is run with bash -c after substituting %L (lowerdir list, top
# first, ':'-separated), %U (upperdir), %W (workdir), %M (mount point), e.g.
#   run.sh "clusterfs mount -o lowerdir=%L,upperdir=%U,workdir=%W,allow_other none %M"
# (allow_other: some ops run as nobody; a FUSE mount is private otherwise)
#
# Environment: KEEP=1 keeps the temp dir; KERNEL_OPTS overrides the extra
# kernel mount options; KNOWN=FILE overrides the known-differences file;
# SNAP_OPTS adds snapshot.py dump options (e.g. --atime).
# Must run as root.  Exit 0 only when every section passes.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMPL=${1:?usage: run.sh kernel|fuse-overlayfs|'CMD TEMPLATE with %L %U %W %M'}
KOPTS=${KERNEL_OPTS-redirect_dir=off,index=off,metacopy=off}
SNAP_OPTS=${SNAP_OPTS-}
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (trusted.* xattrs, mknod, chown)"; exit 2; }
# Our own mount namespace: our mounts are not copied into the namespaces that
# concurrent tests create (such a copy keeps an upper dir "in use", and the
# kernel with index=on then refuses to mount it again), and none outlives us.
if [ -z "${OVERLAY_DIFF_NS:-}" ]; then
  OVERLAY_DIFF_NS=1 exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@"
fi
# The FUSE daemons' umask: a common one, which must not leak into the modes of
# new files (ops.py sets the callers' umask itself, 0 for long_names)
umask 022
case "$IMPL" in
  kernel|fuse-overlayfs) IMPL_NAME=$IMPL ;;
  *) IMPL_NAME=$(basename "${IMPL%% *}") ;;
esac
KNOWN=${KNOWN-$HERE/known_differences_$IMPL_NAME.txt}
T=$(mktemp -d "${TMPDIR:-/tmp}/overlay_diff.XXXXXX")
MOUNTED=()      # every mount point we mounted, for the trap
DAEMONS=()      # pids of FUSE daemons serving our mounts
START=$SECONDS

log() { printf '[%3ds] %s\n' $((SECONDS - START)) "$*"; }

is_mounted() { grep -q "^[^ ]* [^ ]* [^ ]* [^ ]* $1 " /proc/self/mountinfo; }

unmount() {       # unmount $1 whatever it is; last resort: abort FUSE, lazy unmount
  local m=$1 i p alive dev
  is_mounted "$m" || return 0
  for i in 1 2 3 4 5; do
    fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null
    is_mounted "$m" || break
    sleep 0.3
  done
  if is_mounted "$m"; then
    echo "run.sh: $m busy, aborting/lazy unmount" >&2
    dev=$(awk -v m="$m" '$5 == m { split($3, a, ":"); print a[2] }' /proc/self/mountinfo)
    [ -n "$dev" ] && [ -w "/sys/fs/fuse/connections/$dev/abort" ] &&
      echo 1 > "/sys/fs/fuse/connections/$dev/abort"
    umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
  fi
  for i in $(seq 50); do        # let our FUSE daemons finish and exit
    alive=0
    for p in "${DAEMONS[@]}"; do
      grep -qzxF "$m" "/proc/$p/cmdline" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
}

cleanup() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do unmount "${MOUNTED[$i]}"; done
  if grep -qF " $T/" /proc/self/mountinfo; then
    echo "run.sh: WARNING: mounts left under $T" >&2
  elif [ "${KEEP:-0}" = 1 ]; then
    echo "kept $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mount_ovl KIND LOWERS UPPER WORK MNT  (KIND = kernel or the IMPL under test)
# Returns 1 (after cleaning up) when the mount fails or hangs for 30 s.
mount_ovl() {
  local kind=$1 l=$2 u=$3 w=$4 m=$5 cmd i p rc
  mkdir -p "$w" "$m"
  case "$kind" in
    kernel) cmd="mount -t overlay overlay -o lowerdir=$l,upperdir=$u,workdir=$w${KOPTS:+,$KOPTS} $m" ;;
    fuse-overlayfs) cmd="fuse-overlayfs -o lowerdir=$l,upperdir=$u,workdir=$w,allow_other $m" ;;
    *) cmd=${kind//%L/$l}; cmd=${cmd//%U/$u}; cmd=${cmd//%W/$w}; cmd=${cmd//%M/$m} ;;
  esac
  MOUNTED+=("$m")
  timeout -k 3 30 bash -c "$cmd" </dev/null >"$m.log" 2>&1; rc=$?
  grep -v 'unknown argument ignored: lazytime' "$m.log" >&2
  for i in $(seq 100); do is_mounted "$m" && break; [ $rc = 0 ] || break; sleep 0.1; done
  if [ "$kind" != kernel ]; then
    for p in $(grep -lzxF "$m" /proc/[0-9]*/cmdline 2>/dev/null); do
      p=${p#/proc/}; DAEMONS+=("${p%/cmdline}")
    done
  fi
  if ! is_mounted "$m" || [ $rc != 0 ]; then
    echo "run.sh: mount failed (rc=$rc$([ $rc = 124 ] && echo ", hung for 30 s")): $cmd" >&2
    unmount "$m"
    return 1
  fi
}

# build_fixture DIR: DIR/L/A (top lower), DIR/L/B (bottom lower), DIR/U (upper)
build_fixture() {
  python3 - "$1" <<'PY'
import os, sys
R = sys.argv[1]
A, B, U = R + "/L/A", R + "/L/B", R + "/U"
T0 = 978307200 * 10**9          # 2001-01-01: every fixture time
def f(path, data="", mode=0o644, uid=0, gid=0, xattrs=()):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    for k, v in xattrs:
        os.setxattr(path, k, v.encode())
def d(path, mode=0o755, xattrs=(), uid=0, gid=0):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    for k, v in xattrs:
        os.setxattr(path, k, v.encode())
def whiteout(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))
for x in (A, B, U):
    d(x)
# bottom lower
f(B + "/common.txt", "common from B\n")
f(B + "/only_b.txt", "only in B\n", 0o664, 11, 12)
f(B + "/whited.txt", "hidden by the upper whiteout\n")
f(B + "/dir_merged/b1.txt", "b1 from B\n", xattrs=[("user.b1", "yes")])
f(B + "/dir_merged/shared.txt", "shared from B\n")
f(B + "/dir_b_only/x.txt", "x\n")
f(B + "/dir_b_only/sub/y.txt", "y\n", 0o600, 5, 6)
f(B + "/shadowed_by_opaque/hidden.txt", "hidden by opaque upper dir\n")
f(B + "/opaque_probe/hidden.txt", "hidden by opaque upper dir\n")
f(B + "/wh_dir/inner.txt", "under a whited-out dir\n")
for i in range(4900, 5100):
    f(B + "/big/e%05d" % i, "B%d\n" % i)
# top lower
f(A + "/common.txt", "common from A\n")
f(A + "/only_a.txt", "only in A\n", 0o640, 1234, 2345,
  [("user.color", "blue"), ("trusted.test", "t1")])
d(A + "/dir_merged", 0o750, [("user.dirattr", "lower")])
f(A + "/dir_merged/a1.txt", "a1 from A\n")
f(A + "/dir_merged/shared.txt", "shared from A\n")
f(A + "/rename_me_dir/f.txt", "in a lower dir\n")
for n in ("f1", "f2", "sub/f3"):
    f(A + "/rmr_dir/" + n, n + "\n")
d(A + "/empty_dir", 0o700)
f(A + "/escape_probe/e.txt", "e\n")
f(A + "/chmod_dir/c.txt", "c\n")
f(A + "/overwrite.txt", "original content of overwrite\n", xattrs=[("user.o", "1")])
f(A + "/append.txt", "line1\n", 0o600, 100, 200)
f(A + "/trunc_short.txt", "0123456789abcdef\n")
f(A + "/trunc_long.txt", "short\n")
f(A + "/meta_chmod.txt", "chmod me\n", 0o644, 0, 0, [("user.keep", "1"), ("trusted.keep", "2")])
f(A + "/meta_chown.txt", "chown me\n", 0o4755, 1234, 2345)
f(A + "/meta_utime.txt", "utime me\n")
f(A + "/xattr_lower.txt", "xattrs\n", xattrs=[("user.a", "1"), ("user.b", "2"), ("trusted.t", "3")])
for n in ("rm_me.txt", "rename_src.txt", "rename_over_src.txt", "rename_over_dst.txt",
          "link_src.txt", "lock.txt", "fsync.txt", "ino_copyup.txt"):
    f(A + "/" + n, "content of %s\n" % n)
f(A + "/hl1", "hardlinked\n", 0o644, 7, 7, [("user.hl", "pair")])
os.link(A + "/hl1", A + "/hl2")
with open(A + "/sparse.bin", "wb") as fh:
    fh.write(b"S" * 65536)
    fh.seek(2 << 20)
    fh.write(b"T" * 65536)
    fh.truncate(4 << 20)
f(A + "/mmap.bin", "m" * 8192)
os.symlink("only_a.txt", A + "/sym_to_only_a")
os.symlink("does/not/exist", A + "/dangling")
os.mknod(A + "/chardev_lower", 0o666 | 0o020000, os.makedev(1, 3))
os.mkfifo(A + "/fifo_lower", 0o644)
d(A + "/big")
for i in range(5000):
    open(A + "/big/e%05d" % i, "w").close()
# upper: a whiteout, an opaque dir, merged dirs, upper-only files
whiteout(U + "/whited.txt")
whiteout(U + "/wh_dir")
d(U + "/shadowed_by_opaque", 0o755, [("trusted.overlay.opaque", "y")])
f(U + "/shadowed_by_opaque/visible.txt", "visible in opaque dir\n")
d(U + "/opaque_probe", 0o755, [("trusted.overlay.opaque", "y")])
f(U + "/opaque_probe/visible.txt", "visible in opaque dir\n")
d(U + "/dir_merged", 0o755)
f(U + "/dir_merged/u1.txt", "u1 from upper\n", 0o600, 3, 4)
f(U + "/upper_only.txt", "upper\n", xattrs=[("user.u", "1")])
f(U + "/upper_dir/inner.txt", "inner\n")
f(U + "/upper_dir/sub/deeper.txt", "deeper\n")
d(U + "/big")
whiteout(U + "/big/e00010")
f(U + "/big/u_extra.txt", "upper extra\n")
# rename of dirs owned by others (ops.py rename_dir_permission): world-writable
# parents; perm_src is merged (lower and upper), perm_dst lower only
NOBODY = 65534
d(A + "/perm_src", 0o777)
d(A + "/perm_src/other_lower", 0o755, uid=1234, gid=1234)
d(A + "/perm_src/mine_lower", 0o755, uid=NOBODY, gid=NOBODY)
d(A + "/perm_dst", 0o777)
d(U + "/perm_src", 0o777)
for n in ("other_upper", "other_upper_same_dir", "other_upper_root"):
    f(U + "/perm_src/%s/f.txt" % n, "owned by 1234\n", 0o644, 1234, 1234)
    d(U + "/perm_src/" + n, 0o755, uid=1234, gid=1234)
d(U + "/perm_src/mine_upper", 0o755, uid=NOBODY, gid=NOBODY)
d(A + "/perm_sticky", 0o1777)       # sticky: only a dir's owner may move it out
d(U + "/perm_sticky", 0o1777)
d(U + "/perm_sticky/other", 0o777, uid=1234, gid=1234)
d(U + "/perm_sticky/mine", 0o755, uid=NOBODY, gid=NOBODY)
# 255-byte names (NAME_MAX); one whited out, to be created again
f(A + "/" + "L" * 255, "long name in the lower\n")
f(A + "/" + "W" * 255, "long name, whited out\n")
whiteout(U + "/" + "W" * 255)
# rename onto removed lower dirs (ops.py rename_over_removed_dir)
f(A + "/rdw/old/f.txt", "in a lower dir that will be removed\n")
f(A + "/rdw/old_for_file/f.txt", "in a lower dir that will be removed\n")
f(A + "/rdw/old_from_elsewhere/f.txt", "in a lower dir that will be removed\n")
f(A + "/rdw/opq_src/f.txt", "in a lower dir that will be removed\n")
f(A + "/rdw/opq_dst/f.txt", "in a lower dir that will be removed\n")
f(A + "/rdw/keep.txt", "keep\n")
for top in (A, B, U):
    for root, dirs, files in os.walk(top, topdown=False):
        for n in dirs + files:
            os.utime(os.path.join(root, n), ns=(T0, T0), follow_symlinks=False)
    os.utime(top, ns=(T0, T0))
PY
}

# Each step has a time limit, so a hung FUSE daemon fails the run instead of
# blocking it; a missing result file fails the sections that need it.
snap() { timeout -k 5 120 python3 "$HERE/snapshot.py" dump $SNAP_OPTS "$1" -o "$2" ||
         echo "run.sh: snapshot of $1 failed" >&2; }
ops() { timeout -k 5 180 python3 "$HERE/ops.py" "$1" "$2" || echo "run.sh: ops.py on $1 failed" >&2; }

FAILED=0
section() {     # section NAME REF TEST
  if [ ! -s "$2" ]; then
    echo "FAIL $1: no reference result $2 (kernel side failed: see messages above)"
    FAILED=1
    return
  fi
  [ -s "$3" ] || echo "  no result $3 (mount, ops or snapshot failed or hung: see above)"
  python3 "$HERE/snapshot.py" diff "$1" "$2" "$3" --known "$KNOWN" || FAILED=1
}

log "impl: $IMPL   tmp: $T   known differences: $([ -f "$KNOWN" ] && echo "$KNOWN" || echo none)"
K=$T/kernel; I=$T/impl
build_fixture "$K" && build_fixture "$I" || { echo "fixture build failed"; exit 2; }
log "fixtures built"

mount_ovl kernel "$K/L/A:$K/L/B" "$K/U" "$K/W" "$K/M" || { echo "kernel overlayfs mount failed"; exit 2; }
mount_ovl "$IMPL" "$I/L/A:$I/L/B" "$I/U" "$I/W" "$I/M" && IMPL_UP=1 || IMPL_UP=0
log "mounted"
ops "$K/M" "$K/ops.jsonl"
[ $IMPL_UP = 1 ] && ops "$I/M" "$I/ops.jsonl"
log "ops done"
snap "$K/M" "$K/merged.json"
[ $IMPL_UP = 1 ] && snap "$I/M" "$I/merged.json"
log "merged views snapshotted"
unmount "$K/M"; unmount "$I/M"
snap "$K/U" "$K/upper.json"; snap "$I/U" "$I/upper.json"
snap "$K/L" "$K/lowers.json"; snap "$I/L" "$I/lowers.json"
log "unmounted; upper and lower dirs snapshotted"

# cross-compatibility: each upper dir under the kernel, the kernel's under IMPL
mount_ovl kernel "$K/L/A:$K/L/B" "$K/U" "$K/W2" "$K/M2" && snap "$K/M2" "$K/remount.json"
unmount "$K/M2"
mount_ovl kernel "$I/L/A:$I/L/B" "$I/U" "$I/W2" "$I/M2" && snap "$I/M2" "$I/remount_kernel.json"
unmount "$I/M2"
mount_ovl "$IMPL" "$K/L/A:$K/L/B" "$K/U" "$K/W3" "$K/M3" && snap "$K/M3" "$K/remount_impl.json"
unmount "$K/M3"
log "cross mounts snapshotted"

echo "=== results: kernel overlayfs (reference) vs $IMPL_NAME (tested) ==="
section ops "$K/ops.jsonl" "$I/ops.jsonl"
section merged "$K/merged.json" "$I/merged.json"
section upper "$K/upper.json" "$I/upper.json"
section lowers-untouched "$K/lowers.json" "$I/lowers.json"
section cross-impl-upper-under-kernel "$K/remount.json" "$I/remount_kernel.json"
section cross-kernel-upper-under-impl "$K/remount.json" "$K/remount_impl.json"
log "done"
if [ $FAILED = 0 ]; then echo "OVERALL: PASS"; else echo "OVERALL: FAIL"; fi
exit $FAILED
