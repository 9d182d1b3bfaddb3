#!/usr/bin/env bash
# Memory of a clusterfs mount of a 100,000-file image: after `find -ls` and a
# read of every file, the daemon's peak RSS (VmHWM) must stay under 100 MiB.
# Prints the figures (README): pull (which writes the stack index), mount
# (the index mapped; and once without it, built from the TOCs), RSS after
# mount, after listing every directory, after `find -ls`. bench/million.sh runs it with 1,000,000 files
# (READ_ALL=0 skips reading every file; LIMIT_MIB sets the peak limit).
source "$(dirname "$0")/lib.sh"
it_setup tar wc
cfs_setup

NFILES=${NFILES:-100000}
NDIRS=${NDIRS:-1000}
LIMIT_KIB=$((${LIMIT_MIB:-100} * 1024))
READ_ALL=${READ_ALL:-1}
now() { date +%s.%N; }
secs() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# OCI_CACHE=DIR (benchmarks): keep the generated image there and reuse it.
cached=${OCI_CACHE:+$OCI_CACHE/$NFILES-$NDIRS}
if [[ -n $cached && -f $cached/expected ]]; then
log "reusing the image in $cached"
cp "$cached/expected" "$T/expected"
ln -s "$cached/oci" "$T/oci"
else
log "generating an image of $NFILES small files in $NDIRS dirs (plain tar)"
python3 - "$T/layer.tar" "$NFILES" "$NDIRS" "$T/expected" <<'PY'
import hashlib, io, random, sys, tarfile
out, nfiles, ndirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(42)
words = [''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(3000)]
total, h = 0, hashlib.sha256()
with tarfile.open(out, 'w', format=tarfile.USTAR_FORMAT) as t:
    def entry(name, typ, size=0, mode=0o644):
        ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.size = size
        ti.mtime = 1700000000 + len(name); ti.uid = ti.gid = 0
        return ti
    for d in range(ndirs):
        t.addfile(entry('d%02d/s%04d' % (d % 40, d) if d >= 40 else 'd%02d' % d, tarfile.DIRTYPE, mode=0o755))
    per = nfiles // ndirs
    n = 0
    for d in range(ndirs):
        dname = 'd%02d/s%04d' % (d % 40, d) if d >= 40 else 'd%02d' % d
        for i in range(per if d < ndirs - 1 else nfiles - n):
            size = r.choice((0, r.randint(1, 200), r.randint(200, 4000), r.randint(4000, 20000)))
            line = ' '.join(r.choice(words) for _ in range(12)) + '\n'
            data = (line * (size // len(line) + 1))[:size].encode()
            t.addfile(entry('%s/f%05d.txt' % (dname, i), tarfile.REGTYPE, len(data)), io.BytesIO(data))
            total += len(data); n += 1
            h.update(data)
with open(sys.argv[4], 'w') as f:
    print(n, total, h.hexdigest(), file=f)
print('%d files, %d bytes of content' % (n, total), file=sys.stderr)
PY
read -r nfiles nbytes _ <"$T/expected"
assert_eq "$NFILES" "$nfiles" "files generated"
oci_build "$T/oci" big --compress none "$T/layer.tar" >/dev/null
rm -f "$T/layer.tar"
if [[ -n $cached ]]; then
  mkdir -p "$cached"
  mv "$T/oci" "$cached/oci"
  cp "$T/expected" "$cached/expected"
  ln -s "$cached/oci" "$T/oci"
fi
fi
read -r nfiles nbytes _ <"$T/expected"
log "pull"
t0=$(now)
ci pull "oci:$T/oci:big" --as many:1 >/dev/null || fail "pull failed"
t_pull=$(secs "$t0" "$(now)")
log "pulled in $t_pull s"
rm -rf "${T:?}/oci"

M=$T/mnt
mkdir -p "$M"
status() { grep -E "^$1:" "/proc/$PID/status" | awk '{print $2}'; }
# mount MNT: mounts many:1 and stats its first file; sets t_mount.
mount_timed() {
  local t0
  t0=$(now)
  cfs_mount many:1 "$M"
  stat "$M/d00/f00000.txt" >/dev/null || fail "stat of a file of the fresh mount failed"
  t_mount=$(secs "$t0" "$(now)")
  PID=$CFS_PID
  # exactly one daemon serves this mount point
  [[ "$(cfs_daemon_pids "$M" | wc -l)" -eq 1 ]] || fail "expected one clusterfs process for $M: $(cfs_daemon_pids "$M")"
}
# cimg pull wrote the stack index the mounts map; without it (a store of an
# older cimg) the first mount builds it from the TOCs.
[[ -n "$(ls "$ROOT/stack-index")" ]] || fail "cimg pull left no stack index in $ROOT/stack-index"
rm -rf "${ROOT:?}/stack-index"
mount_timed
t_mount1=$t_mount
log "mount without a stack index (built from the TOCs) + stat: $t_mount1 s; VmRSS $(status VmRSS) KiB, VmHWM $(status VmHWM) KiB"
[[ -n "$(ls "$ROOT/stack-index")" ]] || fail "the first mount left no stack index in $ROOT/stack-index"
cfs_umount "$M"
mount_timed
rss_mount=$(status VmRSS)
log "mount (stack index mapped) + stat: $t_mount s; VmRSS $rss_mount KiB, VmHWM $(status VmHWM) KiB"

t0=$(now)
n=$(timeout 600 find "$M" | wc -l) || fail "find on the mount failed or hung"
t_list=$(secs "$t0" "$(now)")
assert_eq $((NFILES + NDIRS + 1)) "$n" "entries listed by find"
rss_list=$(status VmRSS)
log "find (every directory listed): $n entries in $t_list s; VmRSS $rss_list KiB (RssAnon $(status RssAnon) KiB), VmHWM $(status VmHWM) KiB"

t0=$(now)
n=$(timeout 600 find "$M" -ls | wc -l) || fail "find -ls on the mount failed or hung"
t_find=$(secs "$t0" "$(now)")
assert_eq $((NFILES + NDIRS + 1)) "$n" "entries listed by find -ls"
rss_find=$(status VmRSS)
log "find -ls: $n entries in $t_find s; VmRSS $rss_find KiB (RssAnon $(status RssAnon) KiB), VmHWM $(status VmHWM) KiB"
echo "clusterfs, $NFILES files / $NDIRS dirs: pull ${t_pull}s; mount ${t_mount}s (index mapped), ${t_mount1}s (index built by the mount); VmRSS after mount $((rss_mount / 1024)) MiB, after find $((rss_list / 1024)) MiB, after find -ls $((rss_find / 1024)) MiB"
if [[ $READ_ALL == 0 ]]; then
  hwm=$(status VmHWM)
  echo "clusterfs daemon for $NFILES files / $NDIRS dirs: VmHWM $hwm KiB ($((hwm / 1024)) MiB) without reading the files"
  ((hwm < LIMIT_KIB)) || fail "clusterfs peak RSS (VmHWM) $hwm KiB >= $((LIMIT_KIB / 1024)) MiB"
  cfs_umount "$M"
  exit 0
fi

t0=$SECONDS
bytes=$(timeout 900 tar -cf - -C "$M" . | wc -c) || fail "tar of the whole mount failed or hung"
t_tar=$((SECONDS - t0))
((bytes > nbytes)) || fail "tar of the mount gave $bytes bytes, less than the $nbytes bytes of content"
log "tar -cf - (every file read): $bytes bytes in $t_tar s"
# the bytes read are the right ones
sum=$(cd "$M" && timeout 900 python3 -c '
import hashlib, os, sys
h = hashlib.sha256(); n = 0
dirs = sorted(os.listdir("."))
paths = []
for top in dirs:
    for d, ds, fs in os.walk(top):
        for f in fs: paths.append(os.path.join(d, f))
# the generator wrote files dir by dir in creation order; rebuild that order
def order(p):
    dn, fn = os.path.split(p)
    parts = dn.split("/")
    idx = int(parts[-1][1:])
    return (idx, fn)
for p in sorted(paths, key=order):
    with open(p, "rb") as f: h.update(f.read())
    n += 1
print(n, h.hexdigest())') || fail "reading the files back failed"
read -r _ _ want <"$T/expected"
assert_eq "$NFILES $want" "$sum" "file count and content hash read through the mount"

hwm=$(status VmHWM)
rss=$(status VmRSS)
echo "clusterfs daemon for $NFILES files / $NDIRS dirs: VmHWM $hwm KiB ($((hwm / 1024)) MiB), VmRSS $rss KiB ($((rss / 1024)) MiB); find -ls ${t_find}s, tar ${t_tar}s"
((hwm < LIMIT_KIB)) || fail "clusterfs peak RSS (VmHWM) $hwm KiB >= $((LIMIT_KIB / 1024)) MiB"
cfs_umount "$M"
