#!/usr/bin/env bash
# clusterfs command line: each mount error exits non-zero with exactly one
# stderr line naming the problem and leaves no mount and no daemon behind;
# --help works; the mount(8) paths (`mount -t fuse.clusterfs` and an fstab
# line through `mount -T`) work for an image and for `none -o lowerdir=...`;
# lowerdir mixes directories and image references (with '\:' escapes);
# options may follow the positionals; a lowerdir path that does not exist is
# an error naming it (never an image lookup that creates a store).
source "$(dirname "$0")/lib.sh"
it_setup umoci tar
cfs_setup unshare mknod

log "a small image and two directory lowers"
mkdir -p "$T/src/etc" "$T/src/data"
echo "from the image" >"$T/src/etc/motd"
echo "image version of shared" >"$T/src/shared"
rand_file "$T/src/data/blob" 200000
ln -s ../etc/motd "$T/src/data/motd-link"
touch -d '2010-01-01' "$T/src/etc/motd" "$T/src/shared" "$T/src/data/blob" "$T/src/etc" "$T/src/data"
tar -C "$T/src" -cf "$T/layer.tar" etc data shared
oci_build "$T/oci" 1 "$T/layer.tar" >/dev/null
umoci unpack --image "$T/oci:1" "$T/ref" >/dev/null
IREF=$T/ref/rootfs
ci pull "oci:$T/oci:1" --as img:1 >/dev/null || fail "pull"

D1=$T/d1 D2=$T/d2
mkdir -p "$D1/sub" "$D2/sub" "$D2/only2"
echo "top" >"$D1/shared"
echo "d1 file" >"$D1/sub/a"
echo "bottom" >"$D2/shared"
echo "d2 file" >"$D2/sub/b"
echo "only in d2" >"$D2/only2/c"
chmod 0750 "$D1/sub"
chown 5:6 "$D2/only2/c"
find "$D1" "$D2" -mindepth 1 -exec touch -h -d '2011-01-01' {} +
# what D1 over D2 looks like (no whiteouts involved: a plain copy, top last)
mkdir "$T/d12"
cp -a "$D2/." "$T/d12/"
cp -a "$D1/." "$T/d12/"
# D1 over the image
mkdir "$T/d1img"
cp -a "$IREF/." "$T/d1img/"
cp -a "$D1/." "$T/d1img/"

M=$T/mnt
mkdir -p "$M"

# expect_cfs_error MNT REGEX CMD...: non-zero exit (not a signal), exactly one
# non-empty stderr line matching REGEX, nothing mounted on MNT, no daemon left.
expect_cfs_error() {
  local m=$1 re=$2 rc=0 n before pids_before
  shift 2
  before=$(grep -c " $m " /proc/self/mountinfo || true)
  pids_before=$(cfs_daemon_pids "$m")
  timeout -k 5 60 "$@" >"$T/err.out" 2>"$T/err.err" || rc=$?
  ERR_LINE=$(cat "$T/err.err")
  n=$(wc -l <"$T/err.err")
  [[ $rc -ne 0 ]] || fail "expected failure, got exit 0 from: $*"
  [[ $rc -ne 124 ]] || fail "hung for 60 s: $*"
  [[ $rc -lt 128 ]] || fail "died from a signal (exit $rc): $* -- stderr: $ERR_LINE"
  [[ $n -eq 1 && -n "${ERR_LINE// /}" ]] || fail "expected exactly one stderr line, got $n (exit $rc) from: $*
$(head -c 3000 "$T/err.err")"
  grep -Eqi -- "$re" <<<"$ERR_LINE" || fail "error message does not match /$re/: '$ERR_LINE' (command: $*)"
  [[ "$(grep -c " $m " /proc/self/mountinfo || true)" == "$before" ]] || fail "a failed mount left a mount on $m: $*"
  sleep 0.2
  [[ "$(cfs_daemon_pids "$m")" == "$pids_before" ]] ||
    fail "a failed mount left a clusterfs process for $m (before: ${pids_before:-none}, now: $(cfs_daemon_pids "$m" | xargs)): $*"
  log "ok (exit $rc): $ERR_LINE"
}

log "--help"
for args in "--help" "mount --help" "umount --help"; do
  rc=0
  # shellcheck disable=SC2086
  "$CLUSTERFS" $args >"$T/help.out" 2>"$T/help.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "clusterfs $args exited $rc: $(head -c 1000 "$T/help.err")"
  [[ -s "$T/help.out" ]] || fail "clusterfs $args printed nothing on stdout"
done
"$CLUSTERFS" mount --help >"$T/help.out"
for w in --root --upper --work; do
  grep -q -- "$w" "$T/help.out" || fail "clusterfs mount --help does not mention $w"
done

log "error cases"
expect_cfs_error "$M" 'nosuch/image' "$CLUSTERFS" mount --root "$ROOT" nosuch/image:v9 "$M"
expect_cfs_error "$M" 'nosuch2' "$CLUSTERFS" mount --root "$ROOT" -o "lowerdir=$D1:nosuch2" none "$M"
expect_cfs_error "$M" 'nosuch3' "$CLUSTERFS" mount --root "$ROOT" -o "lowerdir=$D1" nosuch3 "$M"
expect_cfs_error "$T/no/such/dir" "$T/no/such/dir" "$CLUSTERFS" mount --root "$ROOT" img:1 "$T/no/such/dir"
# a lowerdir entry starting with '/' or '.' is a path, never an image name: a
# typo is an error naming it, and no store is created (--root, or the default)
FRESH=$T/fresh-root
expect_cfs_error "$M" "lowerdir $T/typo:" "$CLUSTERFS" mount --root "$FRESH" -o "lowerdir=$D1:$T/typo" none "$M"
expect_cfs_error "$M" 'lowerdir \./typo2:' "$CLUSTERFS" mount --root "$FRESH" -o "lowerdir=./typo2" none "$M"
expect_cfs_error "$M" "lowerdir $D1/shared: not a directory" \
  "$CLUSTERFS" mount --root "$FRESH" -o "lowerdir=$D1/shared" none "$M"
expect_cfs_error "$M" "$T/typo3.*lowerdir" "$CLUSTERFS" mount --root "$FRESH" "$T/typo3" "$M"
[[ ! -e "$FRESH" ]] || fail "a mistyped lowerdir created $FRESH: $(ls -la "$FRESH")"
expect_cfs_error "$M" "lowerdir $T/typo:" "$CLUSTERFS" mount -o "lowerdir=$T/typo" none "$M"
[[ ! -e "$CIMG_ROOT" ]] || fail "a mistyped lowerdir created the default store root $CIMG_ROOT"

# busy: a live clusterfs mount, and another filesystem's mount point
cfs_mount img:1 "$M"
expect_cfs_error "$M" 'busy|already' "$CLUSTERFS" mount --root "$ROOT" img:1 "$M"
compare_trees "$IREF" "$M" "the first mount after a refused second mount on it"
cfs_umount "$M"
mkdir -p "$T/tmpfsmnt"
mount -t tmpfs -o size=1m tmpfs "$T/tmpfsmnt"
it_track_mount "$T/tmpfsmnt"
expect_cfs_error "$T/tmpfsmnt" 'busy|already' "$CLUSTERFS" mount --root "$ROOT" img:1 "$T/tmpfsmnt"

# upper and work on different filesystems (a small tmpfs for one of them)
mkdir -p "$T/upper" "$T/work" "$T/tmpfsmnt/upper" "$T/tmpfsmnt/work"
expect_cfs_error "$M" 'file ?system|device|same' \
  "$CLUSTERFS" mount --root "$ROOT" --upper "$T/upper" --work "$T/tmpfsmnt/work" img:1 "$M"
expect_cfs_error "$M" 'file ?system|device|same' \
  "$CLUSTERFS" mount --root "$ROOT" --upper "$T/tmpfsmnt/upper" --work "$T/work" img:1 "$M"
expect_cfs_error "$M" 'file ?system|device|same' \
  "$CLUSTERFS" mount --root "$ROOT" -o "lowerdir=$D1,upperdir=$T/upper,workdir=$T/tmpfsmnt/work" none "$M"
# (the same dirs on one filesystem do mount)
cfs_mount --upper "$T/tmpfsmnt/upper" --work "$T/tmpfsmnt/work" img:1 "$M"
echo w >"$M/written" || fail "write to a mount with upper/work on a tmpfs"
[[ -f "$T/tmpfsmnt/upper/written" ]] || fail "the write did not land in the upper dir"
cfs_umount "$M"

# no /dev/fuse: a private mount namespace with /dev replaced
nofuse() { # MODE: tmpfs | file
  unshare -m bash -c '
    set -e
    mount --make-rprivate /
    if [[ $1 == tmpfs ]]; then
      mount -t tmpfs -o size=1m,mode=0755 tmpfs /dev
      mknod -m 0666 /dev/null c 1 3
    else
      : >"$T/empty-file"
      mount --bind "$T/empty-file" /dev/fuse
    fi
    rc=0
    timeout -k 5 60 "$CLUSTERFS" mount --root "$ROOT" img:1 "$M" >"$T/nofuse.out" 2>"$T/nofuse.err" || rc=$?
    echo $rc >"$T/nofuse.rc"
    if grep -q " $M " /proc/self/mountinfo; then echo mounted >"$T/nofuse.mounted"; umount -l "$M"; fi
  ' nofuse "$1"
}
export T ROOT M CLUSTERFS
for mode in tmpfs file; do
  rm -f "$T/nofuse.rc" "$T/nofuse.mounted"
  nofuse $mode || fail "unshare setup for the no-/dev/fuse case ($mode) failed"
  [[ -f "$T/nofuse.rc" ]] || fail "no-/dev/fuse case ($mode) did not run"
  [[ ! -f "$T/nofuse.mounted" ]] || fail "clusterfs mounted without a usable /dev/fuse ($mode)"
  rc=$(cat "$T/nofuse.rc")
  ERR_LINE=$(cat "$T/nofuse.err")
  [[ $rc -ne 0 && $rc -lt 124 ]] || fail "no /dev/fuse ($mode): expected a clean failure, got exit $rc: $ERR_LINE"
  [[ $(wc -l <"$T/nofuse.err") -eq 1 ]] || fail "no /dev/fuse ($mode): expected one stderr line, got:
$(head -c 3000 "$T/nofuse.err")"
  grep -q '/dev/fuse' <<<"$ERR_LINE" || fail "no /dev/fuse ($mode): message does not name /dev/fuse: $ERR_LINE"
  log "ok (no /dev/fuse, $mode, exit $rc): $ERR_LINE"
done
[[ -z "$(cfs_daemon_pids "$M")" ]] || fail "clusterfs processes left after the no-/dev/fuse cases"

# ------------------------------------------------------------ CLI forms
log "lowerdir forms: image ref with '\\:', image below lowerdirs"
cfs_mount -o "lowerdir=$D1:img\\:1" none "$M"
compare_trees "$T/d1img" "$M" "-o lowerdir=D1:img\\:1 vs D1 copied over the image"
cfs_umount "$M"
cfs_mount -o "lowerdir=$D1" img:1 "$M"
compare_trees "$T/d1img" "$M" "IMAGE with -o lowerdir=D1 vs D1 copied over the image"
cfs_umount "$M"
cfs_mount -o "lowerdir=$D1:$D2" none "$M"
compare_trees "$T/d12" "$M" "-o lowerdir=D1:D2 vs D1 copied over D2"
cfs_umount "$M"
log "options after the positionals (-o twice, then --tls-verify=false)"
rc=0
timeout -k 5 60 "$CLUSTERFS" mount --root "$ROOT" -o "lowerdir=$D1:$D2" -o nosuid none "$M" \
  --tls-verify=false >"$T/late.out" 2>"$T/late.err" || rc=$?
[[ $rc -eq 0 ]] || fail "clusterfs mount -o ... none MNT --tls-verify=false: exit $rc: $(head -c 2000 "$T/late.err")"
is_mounted "$M" || fail "clusterfs mount -o ... none MNT --tls-verify=false exited 0 but $M is not mounted"
compare_trees "$T/d12" "$M" "-o lowerdir=D1:D2 none MNT --tls-verify=false vs D1 copied over D2"
cfs_umount "$M"

# ------------------------------------------------------------ mount(8)
log "mount -t fuse.clusterfs and fstab lines (mount -T)"
HELPER=
if [[ ! -e /sbin/mount.fuse.clusterfs && ! -e /usr/sbin/mount.fuse.clusterfs ]]; then
  if [[ -x /sbin/mount.fuse || -x /usr/sbin/mount.fuse ]]; then
    log "using mount.fuse (mount(8) falls back to it for fuse.* types)"
  else
    command -v mount.fuse3 >/dev/null || fail "mount.fuse3 (fuse3 package) is missing"
    HELPER=/usr/sbin/mount.fuse.clusterfs
    ln -s "$(command -v mount.fuse3)" "$HELPER"
    IT_CLEANUP_HOOKS+=("rm -f $HELPER")
  fi
fi
# mount(8) runs its helpers without the caller's PATH (mount.fuse3 then finds
# the daemon with /bin/sh's default PATH), so clusterfs goes in /usr/local/bin;
# an existing other file there is moved aside and put back on exit.
BIN=/usr/local/bin/clusterfs
if [[ "$(readlink -f "$BIN" 2>/dev/null)" != "$CLUSTERFS" ]]; then
  if [[ -e "$BIN" || -L "$BIN" ]]; then
    mv "$BIN" "$T/clusterfs.moved-aside"
    IT_CLEANUP_HOOKS+=("rm -f $BIN; mv $T/clusterfs.moved-aside $BIN")
    log "moved the existing $BIN aside (restored on exit)"
  else
    IT_CLEANUP_HOOKS+=("rm -f $BIN")
  fi
  ln -s "$CLUSTERFS" "$BIN"
fi
# the store root reaches the daemon through the environment (mount(8) keeps it)
mnt8() { CIMG_ROOT=$ROOT timeout -k 5 60 mount "$@"; }

# check_mount8 MNT REF WHAT: mounted as fuse.clusterfs, reads like REF, read-only, umount(8) removes it
check_mount8() {
  local m=$1 ref=$2 what=$3 pids
  is_mounted "$m" || fail "$what: not mounted"
  [[ "$(fs_type "$m")" == fuse.clusterfs ]] || fail "$what: mounted as '$(fs_type "$m")'"
  compare_trees "$ref" "$m" "$what"
  ! touch "$m/newfile" 2>/dev/null || fail "$what: a read-only mount accepted a new file"
  pids=$(cfs_daemon_pids "$m")
  [[ -n "$pids" ]] || fail "$what: no clusterfs daemon for $m"
  umount "$m" || fail "$what: umount failed"
  ! is_mounted "$m" || fail "$what: still mounted after umount"
  # shellcheck disable=SC2086
  cfs_wait_exit "$m" $pids
}

it_track_mount "$M"
mnt8 -t fuse.clusterfs img:1 "$M" || fail "mount -t fuse.clusterfs img:1 failed"
check_mount8 "$M" "$IREF" "mount -t fuse.clusterfs img:1"
mnt8 -t fuse.clusterfs none "$M" -o "lowerdir=$D1:$D2" || fail "mount -t fuse.clusterfs none -o lowerdir= failed"
check_mount8 "$M" "$T/d12" "mount -t fuse.clusterfs none -o lowerdir=D1:D2"

M2=$T/mnt2
mkdir -p "$M2"
it_track_mount "$M2"
cat >"$T/fstab" <<EOF
# test fstab
img:1 $M fuse.clusterfs defaults 0 0
none $M2 fuse.clusterfs lowerdir=$D1:$D2,ro 0 0
EOF
mnt8 -T "$T/fstab" "$M" || fail "mount -T fstab of an image failed"
check_mount8 "$M" "$IREF" "fstab line for img:1"
mnt8 -T "$T/fstab" "$M2" || fail "mount -T fstab of none,lowerdir= failed"
check_mount8 "$M2" "$T/d12" "fstab line for none -o lowerdir=D1:D2"
