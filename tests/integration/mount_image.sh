#!/usr/bin/env bash
# clusterfs mounts of a store image: a 2-layer image (whiteouts, an opaque dir,
# hard links also across layers, symlinks, fifos, devices, xattrs, a 5 MB file)
# must read exactly like `umoci unpack` of the same image; writes to a read-only
# mount fail with EROFS; three mounts at once (2 read-only, 1 writable) while
# the writable one is written; cimg pull/images/fsck/rmi/gc on the same store
# while mounted (the mount's lease keeps its data), gc reclaiming it after the
# unmount; and a kill -9'ed daemon's dead mount cleaned by `clusterfs umount`.
source "$(dirname "$0")/lib.sh"
it_setup umoci setfattr getfattr mknod mkfifo tar
cfs_setup

IMG=$T/img
B=$T/build
log "building the image (layer 1 with umoci, layer 2 a hand-made tar)"
umoci_start "$IMG" v1 "$B"
R=$B/rootfs
mkdir -p "$R/etc" "$R/bin" "$R/data/sub" "$R/links" "$R/run" "$R/dev" "$R/somedir/oldsub" \
  "$R/olddir/inner" "$R/emptydir" "$R/owned"
text_file "$R/etc/app.conf" 2000
text_file "$R/etc/other.conf" 700
printf '' >"$R/etc/empty"
printf '#!/bin/sh\necho tool\n' >"$R/bin/tool"
chmod 0755 "$R/bin/tool"
rand_file "$R/big5m.bin" $((5 * 1024 * 1024 + 123))
text_file "$R/data/text-1m.txt" $((1024 * 1024))
echo "three names, one inode" >"$R/data/hl1"
ln "$R/data/hl1" "$R/data/hl2"
ln "$R/data/hl1" "$R/data/sub/hl3"
ln -s ../etc/app.conf "$R/links/rel"
ln -s /etc/passwd "$R/links/abs"
ln -s does/not/exist "$R/links/dangling"
ln -s ../data "$R/links/dirlink"
mkfifo -m 0640 "$R/run/fifo"
mknod -m 0666 "$R/dev/null0" c 1 3
mknod -m 0660 "$R/dev/blk" b 7 200
install -m 4755 /dev/null "$R/bin/suid"
echo x >>"$R/bin/suid"
chmod 4755 "$R/bin/suid"
mkdir -m 1777 "$R/tmpdir"
chmod 1777 "$R/tmpdir"
echo owned >"$R/owned/file"
chown -R 1234:5678 "$R/owned"
chown -h 1234:5678 "$R/links/rel"
setfattr -n user.comment -v "hello world" "$R/etc/app.conf"
setfattr -n user.bin -v 0x00ff10 "$R/big5m.bin"
setfattr -n trusted.secret -v t1 "$R/etc/other.conf"
setfattr -n user.dir -v d "$R/data"
echo bye >"$R/todelete.txt"
echo old1 >"$R/somedir/old1"
echo old2 >"$R/somedir/oldsub/old2"
echo inner >"$R/olddir/inner/f"
touch -d '2001-02-03 04:05:06' "$R/etc/app.conf"
umoci_commit "$IMG" v1 "$B"

python3 - "$T/layer2.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, typ, data=b'', mode=0o644, link='', uid=0, gid=0, xattrs=None, mtime='1700000000.123456789', dev=(0, 0)):
        ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.uid = uid; ti.gid = gid
        ti.devmajor, ti.devminor = dev
        ti.mtime = int(float(mtime)); ti.pax_headers = {'mtime': mtime}
        ti.linkname = link
        for k, v in (xattrs or {}).items():
            ti.pax_headers['SCHILY.xattr.' + k] = v
        ti.size = len(data) if typ == tarfile.REGTYPE else 0
        t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
    add('.wh.todelete.txt', tarfile.REGTYPE)            # whiteout of a file
    add('.wh.olddir', tarfile.REGTYPE)                  # whiteout of a whole dir
    add('somedir', tarfile.DIRTYPE, mode=0o750, uid=7, gid=8)
    add('somedir/.wh..wh..opq', tarfile.REGTYPE)        # opaque: old1, oldsub go
    add('somedir/new1', tarfile.REGTYPE, b'new one\n', xattrs={'user.l2': 'layer two'})
    add('somedir/newsub', tarfile.DIRTYPE, mode=0o700)
    add('somedir/newsub/new2', tarfile.REGTYPE, b'new two\n' * 1000, 0o640, uid=1000, gid=1000)
    add('etc', tarfile.DIRTYPE, mode=0o755)
    add('etc/app.conf', tarfile.REGTYPE, b'replaced in layer 2\n', 0o600)
    add('l2', tarfile.DIRTYPE)
    add('l2/a', tarfile.REGTYPE, b'layer-2 pair\n', 0o644, xattrs={'user.pair': '1'})
    add('l2/b', tarfile.LNKTYPE, link='l2/a')
    add('l2/tool-link', tarfile.LNKTYPE, link='bin/tool')  # a hard link to a layer-1 file
    add('l2/sym', tarfile.SYMTYPE, link='../somedir/new1', mode=0o777, xattrs={'trusted.sym': 'on a symlink'})
    add('l2/fifo', tarfile.FIFOTYPE, mode=0o600)
    add('l2/zero', tarfile.CHRTYPE, mode=0o666, dev=(1, 5))
PY
umoci raw add-layer --image "$IMG:v1" "$T/layer2.tar" >/dev/null
assert_eq 2 "$(oci_diff_ids "$IMG" v1 | wc -l)" "fixture layer count"

REF=$T/ref
umoci unpack --image "$IMG:v1" "$REF" >/dev/null
O=$REF/rootfs
# the fixture itself: umoci applied every feature we rely on
[[ ! -e "$O/todelete.txt" && ! -e "$O/olddir" ]] || fail "fixture: whiteouts not applied by umoci"
[[ ! -e "$O/somedir/old1" && ! -e "$O/somedir/oldsub" && -f "$O/somedir/newsub/new2" ]] ||
  fail "fixture: opaque dir not applied by umoci"
[[ "$(stat -c %i "$O/l2/tool-link")" == "$(stat -c %i "$O/bin/tool")" ]] ||
  fail "fixture: cross-layer hard link not made by umoci"
[[ "$(stat -c %h "$O/data/hl1")" == 3 ]] || fail "fixture: hard links"
[[ "$(getfattr -h --only-values -n trusted.sym "$O/l2/sym" 2>/dev/null)" == "on a symlink" ]] ||
  fail "fixture: umoci did not keep the symlink xattr"
[[ "$(getfattr --only-values -n trusted.secret "$O/etc/other.conf" 2>/dev/null)" == t1 ]] ||
  fail "fixture: umoci did not keep trusted.* xattrs"
[[ "$(stat -c %t:%T "$O/l2/zero")" == 1:5 && -p "$O/l2/fifo" && -p "$O/run/fifo" ]] || fail "fixture: devices/fifos"

log "pull"
ci pull "oci:$IMG:v1" --as img:v1 >/dev/null || fail "pull failed"
ID=$(image_id img:v1)
ID=${ID#sha256:}
mkdir -p "$T/m1" "$T/m2" "$T/m3" "$T/upper" "$T/work"

# ---------------------------------------------------------- read-only mount
log "read-only mount vs umoci unpack"
cfs_mount img:v1 "$T/m1"
compare_trees "$O" "$T/m1" "mounted image vs umoci unpack"
drop_caches
compare_trees "$O" "$T/m1" "mounted image vs umoci unpack (after drop_caches)"
cmp "$O/big5m.bin" "$T/m1/big5m.bin" || fail "5 MB file differs"
# random-offset reads of the big file (not only sequential)
python3 - "$O/big5m.bin" "$T/m1/big5m.bin" <<'PY' || fail "random reads of the 5 MB file differ"
import os, random, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(a).st_size
r = random.Random(1)
for _ in range(500):
    off = r.randrange(0, size + 10); n = r.choice([1, 100, 4096, 65536, 300000])
    if os.pread(a, n, off) != os.pread(b, n, off):
        sys.exit('differs at %d+%d' % (off, n))
PY
[[ "$(stat -c %i "$T/m1/l2/tool-link")" == "$(stat -c %i "$T/m1/bin/tool")" ]] ||
  fail "cross-layer hard link: l2/tool-link and bin/tool have different st_ino on the mount"

log "writes to the read-only mount must fail with EROFS"
python3 - "$T/m1" <<'PY' || fail "read-only mount accepted a write (see above)"
import errno, os, sys
M = sys.argv[1]
p = lambda s: os.path.join(M, s)
ops = [
    ("create", lambda: os.open(p("newfile"), os.O_CREAT | os.O_WRONLY, 0o644)),
    ("open O_WRONLY", lambda: os.open(p("etc/other.conf"), os.O_WRONLY)),
    ("open O_RDWR", lambda: os.open(p("big5m.bin"), os.O_RDWR)),
    ("open O_TRUNC", lambda: os.open(p("etc/other.conf"), os.O_WRONLY | os.O_TRUNC)),
    ("truncate", lambda: os.truncate(p("etc/other.conf"), 0)),
    ("unlink", lambda: os.unlink(p("etc/other.conf"))),
    ("mkdir", lambda: os.mkdir(p("newdir"))),
    ("rmdir", lambda: os.rmdir(p("emptydir"))),
    ("rename", lambda: os.rename(p("etc/other.conf"), p("etc/renamed"))),
    ("link", lambda: os.link(p("etc/other.conf"), p("etc/hardlink"))),
    ("symlink", lambda: os.symlink("x", p("newlink"))),
    ("mkfifo", lambda: os.mkfifo(p("newfifo"))),
    ("mknod", lambda: os.mknod(p("newdev"), 0o600 | 0o020000, os.makedev(1, 3))),
    ("chmod", lambda: os.chmod(p("etc/other.conf"), 0o600)),
    ("chown", lambda: os.chown(p("etc/other.conf"), 1, 1)),
    ("utime", lambda: os.utime(p("etc/other.conf"), (1, 1))),
    ("setxattr", lambda: os.setxattr(p("etc/other.conf"), "user.new", b"v")),
    ("removexattr", lambda: os.removexattr(p("etc/app.conf"), "user.comment")),
]
bad = 0
for name, op in ops:
    try:
        r = op()
        if isinstance(r, int):
            os.close(r)
        print("  %-14s succeeded (expected EROFS)" % name); bad += 1
    except OSError as e:
        if e.errno != errno.EROFS:
            print("  %-14s %s (expected EROFS)" % (name, errno.errorcode.get(e.errno, e.errno))); bad += 1
sys.exit(1 if bad else 0)
PY
compare_trees "$O" "$T/m1" "mounted image after the refused writes"

# ------------------------------------------------- three mounts, one writable
log "two more mounts: read-only by image ID prefix, writable with --upper/--work"
cfs_mount "${ID:0:12}" "$T/m2"
cfs_mount --upper "$T/upper" --work "$T/work" img:v1 "$T/m3"
compare_trees "$O" "$T/m3" "writable mount before any write"

# the writes, applied identically to a plain copy ($T/expect) and to m3
head -c $((700 * 1024)) /dev/urandom >"$T/payload"
apply_writes() {
  local d=$1 i
  mkdir "$d/new"
  for i in $(seq 1 150); do head -c $((i * 97)) "$T/payload" >"$d/new/f$i"; done
  echo "appended" >>"$d/etc/other.conf"                                     # copy-up by append
  dd if="$T/payload" of="$d/big5m.bin" bs=1k seek=1024 count=300 conv=notrunc status=none # in place, 5 MB copy-up
  echo "through one name" >>"$d/data/hl2"                                   # hard-link group copy-up
  rm "$d/bin/suid"                                                          # whiteout of a file
  rm -r "$d/somedir/newsub"                                                 # whiteout of a lower dir
  mkdir "$d/somedir/newsub"                                                 # ... and an opaque dir over it
  echo fresh >"$d/somedir/newsub/fresh"
  mv "$d/etc/empty" "$d/etc/empty-renamed"                                  # rename of a lower file
  chmod 0600 "$d/etc/app.conf"
  chown 42:43 "$d/data/text-1m.txt"
  setfattr -n user.added -v yes "$d/somedir/new1"
  mkfifo "$d/new/fifo"
  ln -s ../big5m.bin "$d/new/sym"
  ln "$d/new/f1" "$d/new/f1-link"
  # fixed times, so the listings compare: files first, then their dirs
  for i in $(seq 1 150); do touch -d @1650000001 "$d/new/f$i"; done
  for i in new/fifo new/sym etc/other.conf etc/empty-renamed etc/app.conf big5m.bin data/hl2 \
    data/text-1m.txt somedir/new1 somedir/newsub/fresh somedir/newsub somedir new etc data bin; do
    touch -h -d @1650000000 "$d/$i"
  done
}
cp -a "$O" "$T/expect"
apply_writes "$T/expect"

log "writing to m3 while reading m1, m2 and m3"
bg apply_writes "$T/m3" >"$T/writer.log" 2>&1
WPID=$BG_PID
rounds=0
while :; do
  running=0
  kill -0 "$WPID" 2>/dev/null && running=1
  compare_trees "$O" "$T/m1" "m1 (read-only) while m3 is written"
  compare_trees "$O" "$T/m2" "m2 (read-only) while m3 is written"
  timeout 120 python3 - "$T/m3" <<'PY' || fail "reading all of m3 while it is written failed"
import os, sys
# read every file; a name that goes away meanwhile is fine, any other error is not
for d, dirs, files in os.walk(sys.argv[1], onerror=lambda e: sys.exit('walk: %s' % e) if not isinstance(e, FileNotFoundError) else None):
    for n in files + dirs:
        p = os.path.join(d, n)
        try:
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, 'rb') as f:
                    while f.read(1 << 20):
                        pass
            else:
                os.listxattr(p, follow_symlinks=False)
        except FileNotFoundError:
            pass
        except OSError as e:
            sys.exit('%s: %s' % (p, e))
PY
  rounds=$((rounds + 1))
  [[ $running -eq 1 ]] || break
  drop_caches
done
wrc=0
wait "$WPID" || wrc=$?
[[ $wrc -eq 0 ]] || fail "the writes to m3 failed (exit $wrc): $(head -c 2000 "$T/writer.log")"
log "$rounds read rounds during the writes"
compare_trees "$T/expect" "$T/m3" "writable mount after the writes vs the same writes on a plain copy"
drop_caches
compare_trees "$T/expect" "$T/m3" "writable mount after the writes (after drop_caches)"
compare_trees "$O" "$T/m1" "m1 after m3's writes"
compare_trees "$O" "$T/m2" "m2 after m3's writes"
[[ "$(stat -c %i "$T/m3/data/hl1")" == "$(stat -c %i "$T/m3/data/hl2")" ]] ||
  fail "hard links broken by copy-up: data/hl1 and data/hl2 have different st_ino"
# the upper dir is in the kernel's format
U=$T/upper
[[ "$(stat -c '%F %t:%T' "$U/bin/suid" 2>&1)" == "character special file 0:0" ]] ||
  fail "upper: bin/suid should be a 0/0 whiteout, is: $(stat -c '%F %t:%T' "$U/bin/suid" 2>&1)"
[[ "$(getfattr -h --only-values -n trusted.overlay.opaque "$U/somedir/newsub" 2>/dev/null)" == y ]] ||
  fail "upper: somedir/newsub should carry trusted.overlay.opaque=y"
[[ -f "$U/new/f150" && -f "$U/big5m.bin" && -f "$U/data/text-1m.txt" ]] || fail "upper: new files or copy-ups missing"
[[ ! -e "$U/links" && ! -e "$U/run" && ! -e "$U/l2" ]] || fail "upper: untouched lower dirs were copied up: $(ls "$U")"
cmp -s "$T/expect/big5m.bin" "$U/big5m.bin" || fail "upper: big5m.bin copy-up content wrong"

# ----------------------------------------------- the store while mounted
log "cimg on the same store while mounted: pull, images, fsck, rmi, gc"
mkdir -p "$T/other"
echo "another image" >"$T/other/hello"
rand_file "$T/other/data.bin" 300000
tar -C "$T/other" -cf "$T/other.tar" hello data.bin
oci_build "$T/oci-other" o "$T/other.tar" >/dev/null
ci pull "oci:$T/oci-other:o" --as other:1 >/dev/null || fail "pull of another image while mounted failed"
imgs=$(ci images) || fail "cimg images failed while mounted"
grep -q 'img' <<<"$imgs" && grep -q 'other' <<<"$imgs" || fail "cimg images does not list both images: $imgs"
assert_fsck_clean
ci rmi img:v1 >/dev/null || fail "rmi of the mounted image failed"
! ci inspect img:v1 >/dev/null 2>&1 || fail "img:v1 still inspectable after rmi"
gc_out=$(ci gc) || fail "gc while mounted failed"
log "gc while mounted: $gc_out"
[[ "$gc_out" == *"removed 0 chunks, 0 layers"* ]] ||
  fail "gc while the image is mounted removed chunks or layers (the mounts' leases must keep them): $gc_out"
assert_fsck_clean
drop_caches
compare_trees "$O" "$T/m1" "m1 after rmi + gc"
compare_trees "$O" "$T/m2" "m2 after rmi + gc"
compare_trees "$T/expect" "$T/m3" "m3 after rmi + gc"
echo "written after gc" >"$T/m3/after-gc" && [[ "$(cat "$T/m3/after-gc")" == "written after gc" ]] ||
  fail "write to m3 after gc"

log "unmount all three; gc must now reclaim the image"
cfs_umount "$T/m3"
cfs_umount "$T/m2"
cfs_umount "$T/m1"
gc_out=$(ci gc) || fail "gc after unmount failed"
log "gc after unmount: $gc_out"
[[ "$gc_out" =~ removed\ ([0-9]+)\ chunks,\ ([0-9]+)\ layers ]] || fail "unexpected gc output: $gc_out"
((BASH_REMATCH[1] > 0)) || fail "gc after unmount removed no chunks: $gc_out"
assert_eq 2 "${BASH_REMATCH[2]}" "layers removed by gc after unmount"
assert_fsck_clean
imgs=$(ci images --format json | json_get 'sorted(n for i in j for n in i["Names"])')
assert_eq "['other:1']" "$imgs" "images after gc"
# the upper dir survives the unmount: a fresh mount of it over... the image is gone
ci pull "oci:$IMG:v1" --as img:v1 >/dev/null || fail "re-pull"
cfs_mount --upper "$T/upper" --work "$T/work" img:v1 "$T/m3"
rm -f "$T/expect/after-gc"
echo "written after gc" >"$T/expect/after-gc"
touch -d @1650000002 "$T/expect/after-gc" "$T/m3/after-gc"
compare_trees "$T/expect" "$T/m3" "remount of the upper dir over the re-pulled image"
cfs_umount "$T/m3"

# ------------------------------------------------------------ kill -9
log "kill -9 of a daemon leaves a dead mount; clusterfs umount cleans it"
mkdir -p "$T/m4"
cfs_mount other:1 "$T/m4"
cmp "$T/other/data.bin" "$T/m4/data.bin" || fail "other:1 content"
pid=$CFS_PID
kill -9 "$pid"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null || fail "daemon $pid survived kill -9"
is_mounted "$T/m4" || fail "expected a dead mount at $T/m4 after kill -9 (the mount vanished by itself)"
err=$(ls "$T/m4" 2>&1) && fail "ls of a dead mount succeeded: $err"
grep -qi 'not connected' <<<"$err" || fail "ls of a dead mount: expected ENOTCONN, got: $err"
rc=0
timeout -k 5 30 "$CLUSTERFS" umount "$T/m4" 2>"$T/umount.err" || rc=$?
[[ $rc -eq 0 ]] || fail "clusterfs umount of a dead mount failed (exit $rc): $(cat "$T/umount.err")"
! is_mounted "$T/m4" || fail "dead mount still there after clusterfs umount"
assert_fsck_clean
gc_out=$(ci gc) || fail "gc after kill -9 failed"
[[ "$gc_out" == *"removed 0 chunks, 0 layers"* ]] || fail "gc after kill -9 removed data of named images: $gc_out"
assert_fsck_clean
[[ -z "$(ls -A "$ROOT/leases" 2>/dev/null)" ]] || fail "stale lease files left after gc: $(ls -A "$ROOT/leases")"
cfs_mount other:1 "$T/m4"
cmp "$T/other/data.bin" "$T/m4/data.bin" || fail "other:1 content after remount"
cfs_umount "$T/m4"
assert_fsck_clean
