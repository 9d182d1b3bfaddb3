#!/usr/bin/env bash
# A full disk: a pull that runs out of space while writing packs, and one that
# runs out while writing the index, each fail with one "cimg: ..." line naming
# the store root (no RocksDB assertion, exit 1). On the full disk, images,
# inspect, fsck and a clusterfs mount still work and show the earlier image
# intact. What the
# failed pull left is gone at once or removed (and counted) by the next gc once
# there is room again; then the same pull works and fsck is clean.
#
# Sizes, not timing, decide where the space runs out: the store lives on a
# 40 MiB tmpfs and the second case puts the index on a 3 MiB tmpfs of its own
# (packs have room, the index does not).
source "$(dirname "$0")/lib.sh"
it_setup python3
cfs_setup

# mkimg NAME MIB NFILES: an image with MIB MiB of random data and NFILES empty
# files with 150-byte random names (their TOC and tar-split are the index's).
mkimg() {
  python3 - "$T/$1.tar" "$2" "$3" <<'PY'
import io, os, sys, tarfile
out, mib, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    for i in range(mib):
        data = os.urandom(1 << 20)
        ti = tarfile.TarInfo('data/%03d' % i); ti.size = len(data); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(data))
    for i in range(nfiles):
        ti = tarfile.TarInfo('names/' + os.urandom(75).hex()); ti.mtime = 1700000000
        t.addfile(ti)
PY
  oci_build "$T/img_$1" t --compress none "$T/$1.tar" >/dev/null
}

# fill DIR: files that take every free byte and every free inode of DIR's
# filesystem (with no inode left, a reader cannot make its secondary dir and
# opens the index read-only).
fill() {
  dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null || true
  dd if=/dev/zero of="$1/filler.tail" bs=4k 2>/dev/null || true
  [[ $(df --output=avail -k "$1" | tail -1) -eq 0 ]] || fail "could not fill $1"
  mkdir -p "$1/inodes"
  local i=0
  while : 2>/dev/null >"$1/inodes/$i"; do i=$((i + 1)); done
  [[ $(df --output=iavail "$1" | tail -1) -eq 0 ]] || fail "could not use up the inodes of $1"
}
unfill() { rm -rf "$1/filler" "$1/filler.tail" "$1/inodes"; }

pack_bytes() { du -sb "$1/packs" | cut -f1; }

# readers_work ROOT NAME...: images, inspect and fsck exit 0 and show NAMEs.
readers_work() {
  local r=$1 n out
  shift
  out=$(cir "$r" images --format json) || fail "cimg images fails on the full disk"
  for n in "$@"; do
    grep -q "\"$n\"" <<<"$out" || fail "cimg images does not list $n: $out"
    cir "$r" inspect "$n" >/dev/null || fail "cimg inspect $n fails on the full disk"
  done
  assert_fsck_clean "$r"
}

FS=$T/fs
mkdir -p "$FS" "$T/mnt"
mount -t tmpfs -o size=40m,nr_inodes=4000 tmpfs "$FS"
it_track_mount "$FS"
mkimg small 2 10
mkimg big 60 0
mkimg names 1 25000

log "case 1: out of space while writing packs"
R1=$FS/root1
cir "$R1" pull "oci:$T/img_small:t" --as small:1 >/dev/null
before=$(pack_bytes "$R1")
expect_one_line_error "store $R1 is out of space.*write pack.*No space left" \
  cir "$R1" pull "oci:$T/img_big:t" --as big:1
log "  $ERR_LINE"
assert_eq "$before" "$(pack_bytes "$R1")" "pack bytes after the failed pull (its packs removed at once)"
fill "$FS"
! mkdir "$R1/tmp/probe" 2>/dev/null || fail "the full disk still takes a directory"
readers_work "$R1" small:1  # read-only opens: no room for a secondary
# A mount on the full disk: its lease takes the room the store keeps for it.
ROOT=$R1 cfs_mount small:1 "$T/mnt"
assert_eq 1048576 "$(wc -c <"$T/mnt/data/000")" "a file read through the mount on the full disk"
[[ -n "$(ls "$R1/leases")" ]] || fail "the mount on the full disk holds no lease"
cfs_umount "$T/mnt"
unfill "$FS"

log "case 2: out of space while writing the index (its own 3 MiB tmpfs)"
R2=$FS/root2
mkdir -p "$R2" "$T/ix"
mount -t tmpfs -o size=3m,nr_inodes=2000 tmpfs "$T/ix"
it_track_mount "$T/ix"
mkdir "$T/ix/index"
ln -s "$T/ix/index" "$R2/index"
cir "$R2" pull "oci:$T/img_small:t" --as small:1 >/dev/null
before=$(pack_bytes "$R2")
expect_one_line_error "store $R2 is out of space.*index.*No space left" \
  cir "$R2" pull "oci:$T/img_names:t" --as names:1
log "  $ERR_LINE"
[[ $(pack_bytes "$R2") -gt $before ]] || fail "case 2 failed before its packs were written: $ERR_LINE"
fill "$T/ix"
readers_work "$R2" small:1
log "  room again: gc removes what the failed pull left, and counts it"
unfill "$T/ix"
mount -o remount,size=64m "$T/ix"
out=$(cir "$R2" gc) || fail "gc fails after space was freed"
log "  $out"
[[ "$out" =~ ([1-9][0-9]*)\ packs ]] || fail "gc removed no pack of the failed pull: $out"
assert_eq "$before" "$(pack_bytes "$R2")" "pack bytes after gc"
cir "$R2" pull "oci:$T/img_names:t" --as names:1 >/dev/null || fail "the pull fails with room again"
readers_work "$R2" small:1 names:1

log "case 1 again with room: the big image pulls"
mount -o remount,size=200m "$FS"
out=$(cir "$R1" gc) || fail "gc fails after space was freed"
log "  $out"
cir "$R1" pull "oci:$T/img_big:t" --as big:1 >/dev/null || fail "the big pull fails with room again"
readers_work "$R1" small:1 big:1
