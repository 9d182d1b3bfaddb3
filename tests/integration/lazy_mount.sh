#!/usr/bin/env bash
# Lazy clusterfs mounts of registry images, through the throttling proxy
# (1 MB/s, 40 ms per response): the mount fetches only metadata, a small read
# moves a small fraction of the image, a big read moves about that file; the
# whole tree reads identical to the source; a network failure gives EIO (never
# wrong bytes) and reads work again once the network is back; a second mount
# on the same store reuses what the first fetched; `cimg pull` after a lazy
# mount fetches only the rest; a registry ignoring Range, a gzip (not
# lazily readable) image, --prefetch all (then no registry needed); and gc
# during a lazy mount keeps what the mount fetched, frees it after the unmount.
# The mount and its reads fetch each layer's TOC, never its tar-split (the
# proxy's request log says which bytes of each blob were read); the pull
# after them fetches it and stores the image with the source's digests, and
# --prefetch all leaves a complete image in the store (listed, and mounted
# again with the registry gone).
# A bring-up profile recorded on a mount (--record-profile), attached
# (cimg profile attach) and pushed: a lazy mount of that image fetches the
# profile's files in the background, and only those.
# Order: 1 2 4 5 6 on one store, then 10+3, 8, 9, 7, 11 on fresh stores.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup tar split cmp curl
cfs_setup

MiB=$((1024 * 1024))

# now: seconds since the epoch, with decimals
now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$(now)"; }

# pbytes STATS: response-body bytes the proxy sent since its last reset-stats
# (the stats file is rewritten when a response ends: give it a moment).
pbytes() {
  sleep 0.3
  reg_proxy_stat "$1" body_bytes
}
preqs() { reg_proxy_stat "$1" requests; }

# tarsplit_reads LOG REPO [FROM_LINE]: the GETs in proxy log LOG (from line
# FROM_LINE on) of a layer blob of REPO:v1 that read a byte of its tar-split
# (whole-blob GETs included)
tarsplit_reads() {
  manifest "$2" | python3 -c '
import json, re, sys
spans = {}
for l in json.load(sys.stdin)["layers"]:
    off, n, _ = l["annotations"]["io.github.containers.zstd-chunked.tarsplit-position"].split(":")
    spans[l["digest"]] = (int(off), int(off) + int(n))
hits = 0
for line in open(sys.argv[1]).readlines()[int(sys.argv[2]) - 1:]:
    m = re.search(r" GET \S*/blobs/(sha256:[0-9a-f]+) range=(\S+)", line)
    if not m or m.group(1) not in spans:
        continue
    lo, hi = spans[m.group(1)]
    r = re.match(r"bytes=(\d+)-(\d+)$", m.group(2))
    hits += not r or (int(r.group(1)) < hi and int(r.group(2)) >= lo)
print(hits)' "$1" "${3:-1}"
}
# meta_listing DIR: every entry's type, mode, owner, size (files), mtime and
# link target, sorted (lstat only: no file data is read)
meta_listing() {
  (cd "$1" && find . -mindepth 1 -printf '%P\t%y\t%m\t%U:%G\t%s\t%T@\t%l\n' |
    awk -F'\t' 'BEGIN{OFS="\t"} { if ($2 != "f") $5 = "-"; print }' | LC_ALL=C sort)
}
# loglines FILE: how many lines FILE has (0 when absent)
loglines() { if [[ -e "$1" ]]; then wc -l <"$1"; else echo 0; fi; }

# ------------------------------------------------------------ the source tree
SRC=$T/src
log "building the source tree"
mkdir -p "$SRC"/{a_small/d1,a_small/d2/sub/deeper,a_small/d3,big,etc,links,rand,owned,empty_dir}
text_file "$T/words.txt" $((1500 * 1024))
# a few hundred small text files, cut from one text_file output
split -a 3 -b 3000 <(head -c $((360 * 1024)) "$T/words.txt") "$SRC/a_small/d1/t_"
split -a 3 -b 7001 <(tail -c +$((360 * 1024 + 1)) "$T/words.txt" | head -c $((700 * 1024))) "$SRC/a_small/d2/sub/u_"
split -a 2 -b 1234 <(tail -c $((100 * 1024)) "$T/words.txt") "$SRC/a_small/d2/sub/deeper/v_"
split -a 2 -b 20000 <(tail -c $((300 * 1024)) "$T/words.txt") "$SRC/a_small/d3/w_"
text_file "$SRC/etc/app.conf" 3000
text_file "$SRC/etc/other.conf" 512
: >"$SRC/etc/empty"
printf '#!/bin/sh\necho tool\n' >"$SRC/etc/tool.sh"
chmod 0755 "$SRC/etc/tool.sh"
chmod 0600 "$SRC/etc/other.conf"
rand_file "$SRC/big/huge.bin" $((20 * MiB + 4321))
for i in 1 2 3 4 5; do rand_file "$SRC/rand/r$i.bin" $((i * MiB + i * 777)); done
ln "$SRC/rand/r1.bin" "$SRC/rand/r1-hardlink.bin"
ln "$SRC/a_small/d1/t_aaa" "$SRC/etc/hardlinked-text"
ln -s ../etc/app.conf "$SRC/links/rel"
ln -s /etc/passwd "$SRC/links/abs"
ln -s does/not/exist "$SRC/links/dangling"
ln -s ../rand "$SRC/links/dirlink"
echo owned >"$SRC/owned/file"
chown -R 1234:5678 "$SRC/owned"
find "$SRC" -mindepth 1 -exec touch -h -d @1700000000 {} +
NFILES=$(find "$SRC" -type f | wc -l)
SRC_BYTES=$(du -sb --apparent-size "$SRC" | cut -f1)
log "source: $NFILES files, $((SRC_BYTES / 1024)) KiB"
((NFILES >= 300)) || fail "fixture: expected a few hundred files, got $NFILES"

# name order in the layer: a_small/ big/ etc/ links/ owned/ rand/ -- rand/r3.bin
# (the network-cut file) is far from big/huge.bin in the blob
(cd "$SRC" && tar --sort=name --format=pax -cf "$T/layer.tar" -- *) || fail "tar of the source tree"
oci_build "$T/oci" v1 "$T/layer.tar" >/dev/null
SROOT=$T/src-root
cir "$SROOT" pull "oci:$T/oci:v1" --as lazy:v1 >/dev/null || fail "pull of the source image into the build store"

reg_start_plain reg
REG=$REG_REG_ADDR
cir "$SROOT" push lazy:v1 "$REG/lazy:v1" --tls-verify=false >/dev/null || fail "push (zstd:chunked) to $REG/lazy:v1"
cir "$SROOT" push lazy:v1 "$REG/lazy-gz:v1" --tls-verify=false --compression gzip >/dev/null ||
  fail "push --compression gzip to $REG/lazy-gz:v1"

# layer sizes and media types straight from the registry
manifest() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/$1/manifests/v1"
}
IMG_SIZE=$(manifest lazy | json_get 'sum(l["size"] for l in j["layers"])') || fail "no manifest for $REG/lazy:v1"
MT=$(manifest lazy | json_get '" ".join(l["mediaType"] for l in j["layers"])')
ANN=$(manifest lazy | json_get '" ".join(sorted(k for l in j["layers"] for k in l.get("annotations", {})))')
log "zstd:chunked image: $IMG_SIZE bytes of layers ($MT; annotations: $ANN)"
[[ "$MT" == *zstd* ]] || fail "the default push is not zstd: $MT"
GZ_MT=$(manifest lazy-gz | json_get '" ".join(l["mediaType"] for l in j["layers"])')
[[ "$GZ_MT" == *gzip* ]] || fail "push --compression gzip: layer media type $GZ_MT"
((IMG_SIZE > 30 * MiB)) || fail "image size $IMG_SIZE: the random data should not compress"

reg_start_proxy px "$REG" --rate 1000000 --rtt-ms 40
PX=$REG_PX_ADDR
CTL=$REG_PX_CTL
STATS=$REG_PX_STATS
PXLOG=$REG_PX_LOG
reg_proxy_ctl "$CTL" reset-stats
MARK=$(($(loglines "$PXLOG") + 1))

# ------------------------------------------------------ 1. mount + small file
mkdir -p "$T/m1" "$T/m2" "$T/m3" "$T/m4" "$T/m5" "$T/m6" "$T/m7"
log "1. lazy mount of $PX/lazy:v1 at 1 MB/s + 40 ms"
t0=$(now)
cfs_mount --tls-verify=false --log "$T/m1.log" "$PX/lazy:v1" "$T/m1"
MOUNT_S=$(elapsed "$t0")
MOUNT_BYTES=$(pbytes "$STATS")
log "   mount took ${MOUNT_S}s, $MOUNT_BYTES bytes, $(preqs "$STATS") requests"
# Behaviour, not time (CI is loaded): the mount fetched metadata, not layer data.
((MOUNT_BYTES * 20 < IMG_SIZE)) ||
  fail "the lazy mount moved $MOUNT_BYTES bytes: not < 5% of the image ($IMG_SIZE); it should fetch only metadata"
t0=$(now)
timeout 60 cat "$T/m1/etc/app.conf" >"$T/app.conf.out" || fail "cat of a small file on the lazy mount failed"
SMALL_S=$(elapsed "$t0")
SMALL_BYTES=$(pbytes "$STATS")
log "   first small file (3000 bytes): ${SMALL_S}s; $SMALL_BYTES bytes through the proxy so far" \
  "($(python3 -c "print('%.2f' % (100.0 * $SMALL_BYTES / $IMG_SIZE))")% of $IMG_SIZE)"
cmp "$SRC/etc/app.conf" "$T/app.conf.out" || fail "etc/app.conf read from the lazy mount differs from the source"
((SMALL_BYTES * 20 < IMG_SIZE)) ||
  fail "after the mount and one small read, $SMALL_BYTES bytes moved: not < 5% of the image ($IMG_SIZE)"
sleep 0.3 # (the log line is written when a response ends)
n=$(tarsplit_reads "$PXLOG" lazy "$MARK")
assert_eq 0 "$n" "requests reading a tar-split byte during the lazy mount and its first read"
grep -q 'GET [^ ]*/blobs/sha256:[0-9a-f]* range=bytes=' "$PXLOG" || fail "no Range request in the proxy log $PXLOG"
[[ "$(stat -c %s "$T/m1/big/huge.bin")" == "$(stat -c %s "$SRC/big/huge.bin")" ]] || fail "size of big/huge.bin"
ls -lR "$T/m1" >/dev/null || fail "ls -lR of the lazy mount"
# the metadata served from the TOCs alone is the source's (type, mode, owner,
# size, mtime, link target), read without fetching file data
meta_listing "$SRC" >"$T/meta.src"
meta_listing "$T/m1" >"$T/meta.m1"
diff -u "$T/meta.src" "$T/meta.m1" >&2 || fail "metadata of the lazy mount (from the TOCs) differs from the source"
b=$(pbytes "$STATS")
((b - SMALL_BYTES < 64 * 1024)) || fail "ls -lR (metadata only) moved $((b - SMALL_BYTES)) bytes"

# ----------------------------------------------------------- 2. one big file
log "2. the 20 MB file at 10 MB/s"
reg_proxy_ctl "$CTL" "rate 10000000" reset-stats
t0=$(now)
timeout 120 cat "$T/m1/big/huge.bin" >"$T/huge.out" || fail "cat big/huge.bin on the lazy mount failed"
BIG_S=$(elapsed "$t0")
BIG_BYTES=$(pbytes "$STATS")
BIG=$(stat -c %s "$SRC/big/huge.bin")
log "   ${BIG_S}s, $BIG_BYTES bytes in $(preqs "$STATS") requests ($(reg_proxy_stat "$STATS" range_requests) with Range) for a $BIG-byte file"
cmp "$SRC/big/huge.bin" "$T/huge.out" || fail "big/huge.bin read from the lazy mount differs from the source"
rm -f "$T/huge.out"
((BIG_BYTES * 100 >= BIG * 95)) || fail "reading the $BIG-byte file moved only $BIG_BYTES bytes"
((BIG_BYTES <= BIG * 110 / 100 + 512 * 1024)) ||
  fail "reading the $BIG-byte file moved $BIG_BYTES bytes (> 110% + 512 KiB; the image is $IMG_SIZE)"
# random-offset reads of the now local file
python3 - "$SRC/big/huge.bin" "$T/m1/big/huge.bin" <<'PY' || fail "random reads of big/huge.bin differ"
import os, random, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(a).st_size
r = random.Random(7)
for _ in range(300):
    off = r.randrange(0, size + 10); n = r.choice([1, 4096, 65536, 300000])
    if os.pread(a, n, off) != os.pread(b, n, off):
        sys.exit('differs at %d+%d' % (off, n))
PY
b=$(pbytes "$STATS")
((b - BIG_BYTES < 64 * 1024)) || fail "re-reading the fetched file moved $((b - BIG_BYTES)) more bytes"

# ------------------------------------------------------------ 4. network cut
log "4. every request fails (503): reading an unread file gives EIO, never wrong bytes"
CUT=rand/r3.bin
reg_proxy_ctl "$CTL" '503 *' reset-stats
t0=$(now)
rc=0
timeout 60 cat "$T/m1/$CUT" >"$T/cut.out" 2>"$T/cut.err" || rc=$?
CUT_S=$(elapsed "$t0")
log "   cat exited $rc after ${CUT_S}s: $(head -c 300 "$T/cut.err"); $(stat -c %s "$T/cut.out") bytes out;" \
  "$(preqs "$STATS") requests refused"
[[ $rc -ne 124 ]] || fail "cat of $CUT hung (60 s) while the registry answers 503"
[[ $rc -ne 0 ]] || fail "cat of $CUT succeeded while every registry request fails (expected EIO)"
grep -q 'Input/output error' "$T/cut.err" || fail "cat of $CUT: expected 'Input/output error', got: $(cat "$T/cut.err")"
n=$(stat -c %s "$T/cut.out")
((n == 0)) || cmp -n "$n" "$SRC/$CUT" "$T/cut.out" || fail "the $n bytes cat got before the EIO are wrong"
(($(preqs "$STATS") > 0)) || fail "no request reached the proxy while reading $CUT"
# a partial read at an offset, too
python3 - "$T/m1/$CUT" "$SRC/$CUT" <<'PY' || fail "pread of $CUT during the outage"
import errno, os, sys
fd, ref = os.open(sys.argv[1], os.O_RDONLY), open(sys.argv[2], 'rb').read()
try:
    d = os.pread(fd, 100000, 2 * 1024 * 1024)
except OSError as e:
    sys.exit(0 if e.errno == errno.EIO else 'errno %d, expected EIO' % e.errno)
sys.exit(0 if d == ref[2 * 1024 * 1024:2 * 1024 * 1024 + 100000] else 'pread during the outage returned wrong bytes')
PY
reg_proxy_ctl "$CTL" ok reset-stats
# (a read within 2 s of a failed fetch of the same chunks still gets EIO)
for i in 1 2 3 4 5; do
  timeout 60 cat "$T/m1/$CUT" >"$T/cut.out" 2>"$T/cut.err" && break
  [[ $i -lt 5 ]] || fail "cat of $CUT after the network came back: $(cat "$T/cut.err")"
  sleep 1
done
cmp "$SRC/$CUT" "$T/cut.out" || fail "$CUT read after the network came back differs from the source"
CUT_OK_BYTES=$(pbytes "$STATS")
log "   after 'ok': read back fine ($CUT_OK_BYTES bytes)"

# ----------------------------------------------- 5. second mount, same store
log "5. a second lazy mount on the same store while the first is live"
sleep 1.5 # fetched chunks become visible to other processes within ~1 s
reg_proxy_ctl "$CTL" reset-stats
t0=$(now)
cfs_mount --tls-verify=false --log "$T/m2.log" "$PX/lazy:v1" "$T/m2"
M2_BYTES=$(pbytes "$STATS")
log "   mount 2: $(elapsed "$t0")s, $M2_BYTES bytes"
reg_proxy_ctl "$CTL" reset-stats
for f in etc/app.conf big/huge.bin "$CUT"; do
  cmp "$SRC/$f" "$T/m2/$f" || fail "$f on the second mount differs from the source"
done
b=$(pbytes "$STATS")
log "   reading the 3 files mount 1 fetched, through mount 2: $b bytes, $(preqs "$STATS") requests"
((b < 64 * 1024)) || fail "mount 2 moved $b bytes reading files mount 1 had already fetched (expected ~0)"

# ------------------------------------------ 6. umount; pull fetches the rest
log "6. umount both; cimg pull fetches only the rest"
cfs_umount "$T/m2"
cfs_umount "$T/m1"
assert_fsck_clean
READ_BYTES=$(($(stat -c %s "$SRC/etc/app.conf") + BIG + $(stat -c %s "$SRC/$CUT")))
reg_proxy_ctl "$CTL" "rate 0" reset-stats
MARK=$(($(loglines "$PXLOG") + 1))
ci pull "$PX/lazy:v1" --tls-verify=false >"$T/pull.out" 2>&1 || fail "cimg pull after the lazy mount: $(cat "$T/pull.out")"
PULL_BYTES=$(pbytes "$STATS")
# the tar-split the lazy mount never fetched: the pull needs it (to rebuild
# the tar) and fetched it; the image is the source's, layer by layer
n=$(tarsplit_reads "$PXLOG" lazy "$MARK")
((n > 0)) || fail "cimg pull after the lazy mount read no tar-split (the layer cannot be complete without it)"
layers_of() { cir "$1" inspect --format '{{.Id}}{{range .Layers}} {{.DiffID}}{{end}}' "$2"; }
assert_eq "$(layers_of "$SROOT" lazy:v1)" "$(layers_of "$ROOT" "$PX/lazy:v1")" \
  "image ID and diffIDs of the pull after the lazy mount vs the source"
log "   pull: $PULL_BYTES bytes (image $IMG_SIZE, already read $READ_BYTES)"
((PULL_BYTES < IMG_SIZE - READ_BYTES * 9 / 10)) ||
  fail "cimg pull moved $PULL_BYTES bytes: not < image size $IMG_SIZE - 90% of what was read ($READ_BYTES)"
# nothing the lazy reads fetched is fetched again (slack: metadata fetched twice)
LAZY_BYTES=$((SMALL_BYTES + BIG_BYTES + CUT_OK_BYTES))
((LAZY_BYTES + PULL_BYTES <= IMG_SIZE + 256 * 1024)) ||
  fail "lazy reads ($LAZY_BYTES) + pull ($PULL_BYTES) = $((LAZY_BYTES + PULL_BYTES)) bytes > image size $IMG_SIZE + 256 KiB: data fetched twice"
assert_fsck_clean
log "   $FSCK_OUT"
# the image is local now: mounting it must not need the registry
reg_proxy_ctl "$CTL" '503 *' reset-stats
cfs_mount --tls-verify=false --log "$T/m3.log" "$PX/lazy:v1" "$T/m3"
compare_trees "$SRC" "$T/m3" "mount of the pulled image vs the source"
assert_eq 0 "$(preqs "$STATS")" "registry requests by a mount of the pulled (local) image"
cfs_umount "$T/m3"
reg_proxy_ctl "$CTL" ok

# ------------------------- 10 + 3. gc during a lazy mount; full lazy tree read
log "10. gc during a lazy mount (fresh store) keeps what the mount fetched"
ROOT_A=$ROOT
ROOT=$T/root-gc
reg_proxy_ctl "$CTL" reset-stats
cfs_mount --tls-verify=false --log "$T/m4.log" -o cache_mb=1 "$PX/lazy:v1" "$T/m4" # a small chunk cache: re-reads go to the store
cmp "$SRC/rand/r4.bin" "$T/m4/rand/r4.bin" || fail "rand/r4.bin on the lazy mount"
cmp "$SRC/big/huge.bin" "$T/m4/big/huge.bin" || fail "big/huge.bin on the lazy mount" # pushes r4 out of the chunk cache
sleep 2
assert_fsck_clean
gc_out=$(ci gc 2>&1) || fail "cimg gc during a lazy mount failed: $gc_out"
log "   gc during the mount: $gc_out"
[[ "$gc_out" == *"removed 0 chunks"* ]] || fail "gc during a lazy mount removed chunks: $gc_out"
assert_fsck_clean
drop_caches
reg_proxy_ctl "$CTL" '503 *' reset-stats
cmp "$SRC/rand/r4.bin" "$T/m4/rand/r4.bin" || fail "rand/r4.bin after gc, registry failing (gc removed fetched data?)"
cmp "$SRC/big/huge.bin" "$T/m4/big/huge.bin" || fail "big/huge.bin after gc, registry failing"
assert_eq 0 "$(preqs "$STATS")" "registry requests re-reading fetched files after gc"

log "3. full lazy tree read (rate unlimited)"
reg_proxy_ctl "$CTL" ok "rate 0" reset-stats
t0=$(now)
compare_trees "$SRC" "$T/m4" "lazily mounted image vs the source"
log "   full read: $(elapsed "$t0")s, $(pbytes "$STATS") bytes in $(preqs "$STATS") requests"
drop_caches
reg_proxy_ctl "$CTL" '503 *' reset-stats
compare_trees "$SRC" "$T/m4" "lazily mounted image after drop_caches, registry failing"
reg_proxy_ctl "$CTL" ok
assert_fsck_clean
cfs_umount "$T/m4"
gc_out=$(ci gc 2>&1) || fail "cimg gc after the unmount failed: $gc_out"
log "   gc after the unmount: $gc_out"
[[ "$gc_out" =~ removed\ ([0-9]+)\ chunks ]] || fail "unexpected gc output: $gc_out"
((BASH_REMATCH[1] > 0)) || fail "gc after the lazy mount's unmount freed no chunks: $gc_out"
assert_fsck_clean
log "   $FSCK_OUT"
ROOT=$ROOT_A

# ------------------------------------------------------------ 8. gzip image
log "8. a gzip image (not lazily readable)"
ROOT=$T/root-gz
rc=0
it_track_mount "$T/m6"
timeout -k 5 60 "$CLUSTERFS" mount --root "$ROOT" "$REG/lazy-gz:v1" "$T/m6" --tls-verify=false \
  >"$T/m6.out" 2>"$T/m6.err" || rc=$?
[[ $rc -eq 0 ]] || fail "clusterfs mount of the gzip image failed (exit $rc): $(head -c 2000 "$T/m6.err")"
is_mounted "$T/m6" || fail "clusterfs mount of the gzip image exited 0 but $T/m6 is not mounted"
grep -q 'not lazily readable' "$T/m6.err" ||
  fail "no 'not lazily readable' on the mount command's stderr: $(head -c 2000 "$T/m6.err")"
log "   $(grep -m1 'not lazily readable' "$T/m6.err")"
compare_trees "$SRC" "$T/m6" "mount of the gzip image vs the source"
cfs_umount "$T/m6"
assert_fsck_clean
ROOT=$ROOT_A

# ------------------------------------------------------- 9. --prefetch all
log "9. --prefetch all, then no registry"
ROOT=$T/root-prefetch
reg_proxy_ctl "$CTL" ok "rate 0" reset-stats
cfs_mount --tls-verify=false --prefetch all --log "$T/m7.log" "$PX/lazy:v1" "$T/m7"
t0=$(now)
for ((i = 0; i < 600; i++)); do
  grep -q 'prefetch complete' "$T/m7.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'prefetch complete' "$T/m7.log" || fail "no 'prefetch complete' in the log within 60 s:
$(tail -n 20 "$T/m7.log")"
log "   prefetch complete after $(elapsed "$t0")s: $(pbytes "$STATS") bytes; $(grep -m1 'prefetch complete' "$T/m7.log")"
# then the image is stored complete (its tar-splits fetched): wait for that
for ((i = 0; i < 600; i++)); do
  grep -q 'stored complete\|storing .* failed' "$T/m7.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'stored complete' "$T/m7.log" || fail "no 'stored complete' in the log after the prefetch:
$(tail -n 20 "$T/m7.log")"
log "   $(grep -m1 'stored complete' "$T/m7.log")"
reg_proxy_ctl "$CTL" '503 *' reset-stats # the mount's only way to the registry
drop_caches
compare_trees "$SRC" "$T/m7" "prefetched mount with the registry gone vs the source"
assert_eq 0 "$(preqs "$STATS")" "registry requests after 'prefetch complete'"
cfs_umount "$T/m7"
assert_fsck_clean
# a complete image of the store: listed, the source's digests, and mounted
# again with the registry gone (no request at all)
ci images --format '{{.Repository}}:{{.Tag}}' >"$T/images.out" || fail "cimg images after --prefetch all"
grep -qx "$PX/lazy:v1" "$T/images.out" || fail "cimg images does not list $PX/lazy:v1 after --prefetch all: $(cat "$T/images.out")"
assert_eq "$(layers_of "$SROOT" lazy:v1)" "$(layers_of "$ROOT" "$PX/lazy:v1")" \
  "image ID and diffIDs of the image --prefetch all stored vs the source"
cfs_mount --tls-verify=false --log "$T/m7b.log" "$PX/lazy:v1" "$T/m7"
compare_trees "$SRC" "$T/m7" "mount of the prefetched image, registry gone, vs the source"
assert_eq 0 "$(preqs "$STATS")" "registry requests by a mount of the image --prefetch all stored"
cfs_umount "$T/m7"
assert_fsck_clean
reg_proxy_ctl "$CTL" ok
ROOT=$ROOT_A

# ----------------------------------------------- 7. registry ignoring Range
log "7. a proxy that ignores Range"
reg_start_proxy pxnr "$REG" --ignore-range
ROOT=$T/root-norange
cfs_mount --tls-verify=false --log "$T/m5.log" "$REG_PXNR_ADDR/lazy:v1" "$T/m5"
cp "$T/.cfs_mount.err" "$T/m5.err" # lines logged before the mount was ready
compare_trees "$SRC" "$T/m5" "lazy mount through a Range-ignoring registry vs the source"
sleep 0.3
NR_BYTES=$(reg_proxy_stat "$REG_PXNR_STATS" body_bytes)
log "   $NR_BYTES bytes in $(reg_proxy_stat "$REG_PXNR_STATS" requests) requests"
cat "$T/m5.err" "$T/m5.log" 2>/dev/null | grep -i 'registry ignores Range requests' >/dev/null ||
  fail "no 'registry ignores Range requests' on the mount's stderr or in its log:
$(cat "$T/m5.err" "$T/m5.log" 2>/dev/null | tail -n 20)"
((NR_BYTES * 2 < IMG_SIZE * 3)) ||
  fail "through a Range-ignoring registry the mount moved $NR_BYTES bytes (image $IMG_SIZE): the layer should be fetched whole once"
cfs_umount "$T/m5"
assert_fsck_clean
ROOT=$ROOT_A

# ------------------------------------------------------- 11. a profile
log "11. a profile recorded on a mount, attached and pushed; a lazy mount fetches it first"
PROFILED=(etc/app.conf a_small/d3/w_ab rand/r2.bin a_small/d1/t_aac)
mkdir -p "$T/m8" "$T/m9"
ROOT=$SROOT # a mount of the image from the store records the profile
cfs_mount --record-profile "$T/app.profile" --log "$T/m8.log" lazy:v1 "$T/m8"
for f in "${PROFILED[@]}"; do cat "$T/m8/$f" >/dev/null || fail "cat $f on the recording mount"; done
cfs_umount "$T/m8"
for ((i = 0; i < 300; i++)); do [[ -s "$T/app.profile" ]] && break; sleep 0.1; done
[[ -s "$T/app.profile" ]] || fail "no profile written at the unmount: $(tail -n 5 "$T/m8.log")"
got=$(python3 -c 'import json, sys; print(" ".join(dict.fromkeys(json.loads(l)["path"] for l in open(sys.argv[1]))))' "$T/app.profile")
assert_eq "${PROFILED[*]}" "$got" "files of the recorded profile, in the order read"
cir "$SROOT" profile attach lazy:v1 "$T/app.profile" >/dev/null || fail "cimg profile attach"
cir "$SROOT" profile show lazy:v1 >"$T/app.profile.shown" || fail "cimg profile show"
cmp "$T/app.profile" "$T/app.profile.shown" || fail "cimg profile show differs from the attached file"
cir "$SROOT" push lazy:v1 "$REG/lazy:prof" --tls-verify=false >/dev/null || fail "push of the profiled image"
# cimg build --profile keeps one the same way
mkdir -p "$T/ctx" && echo built >"$T/ctx/f" && printf 'FROM scratch\nCOPY f /f\n' >"$T/ctx/Kubefile"
cir "$SROOT" build -t prof/built:1 --profile "$T/app.profile" "$T/ctx" >"$T/build.out" 2>&1 ||
  fail "cimg build --profile: $(tail -n 5 "$T/build.out")"
cir "$SROOT" profile show prof/built:1 >"$T/built.profile" || fail "cimg profile show of the built image"
cmp "$T/app.profile" "$T/built.profile" || fail "the profile cimg build --profile kept differs from the file"
ROOT=$T/root-profile
reg_proxy_ctl "$CTL" ok "rate 0" reset-stats
cfs_mount --tls-verify=false --log "$T/m9.log" "$PX/lazy:prof" "$T/m9"
for ((i = 0; i < 600; i++)); do
  grep -q 'profile fetched' "$T/m9.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'profile fetched' "$T/m9.log" || fail "no 'profile fetched' in the log: $(tail -n 20 "$T/m9.log")"
log "   $(grep -m1 'profile:' "$T/m9.log"); $(grep -m1 'profile fetched' "$T/m9.log")"
PROF_BYTES=$(pbytes "$STATS")
((PROF_BYTES * 4 < IMG_SIZE)) || fail "the profile fetch moved $PROF_BYTES bytes (image $IMG_SIZE): more than its files"
reg_proxy_ctl "$CTL" '503 *' reset-stats
drop_caches
for f in "${PROFILED[@]}"; do cmp "$SRC/$f" "$T/m9/$f" || fail "$f (profiled) on the lazy mount, registry gone"; done
assert_eq 0 "$(preqs "$STATS")" "registry requests reading the profiled files after 'profile fetched'"
# a file outside the profile was not fetched
if timeout 60 cat "$T/m9/rand/r5.bin" >/dev/null 2>&1; then fail "rand/r5.bin (not profiled) read with the registry gone"; fi
reg_proxy_ctl "$CTL" ok
cfs_umount "$T/m9"
assert_fsck_clean
ROOT=$ROOT_A
