# shellcheck shell=bash
# Shared helpers for the cimg integration tests. Sourced, not run: CMake
# excludes lib.sh from the test list.
#
# Every test: `source "$(dirname "$0")/lib.sh"`, then `it_setup TOOL...`, which
# checks root and the tools (failing loudly, never skipping), makes a fresh
# work dir $T (removed by an EXIT trap, even on failure) and a store root
# $ROOT under it. `ci ARGS` runs cimg on $ROOT; `cir DIR ARGS` on another root.

set -euo pipefail

# The Debian tools scripts/setup.sh installs come first: a version manager's
# shim (pyenv's python3) ahead of them costs up to a second a call on a
# loaded machine, and the tests call python3 hundreds of times.
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

IT_NAME=$(basename "${0%.sh}")
IT_START=$SECONDS
IT_BG_PIDS=()
IT_MOUNTS=()        # mount points to remove on exit (cfs_mount and it_track_mount add to it)
IT_CLEANUP_HOOKS=() # shell snippets run on exit after the unmounts (remove what a test created)

log() { printf '[%s %3ds] %s\n' "$IT_NAME" $((SECONDS - IT_START)) "$*" >&2; }
fail() {
  printf '[%s] FAIL: %s\n' "$IT_NAME" "$*" >&2
  exit 1
}

it_cleanup() {
  local rc=$?
  local p
  for p in "${IT_BG_PIDS[@]}"; do
    # only our own children that are still running (never a recycled pid)
    if [[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" == "$$" ]]; then
      kill -9 "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  # mounts first (newest first), so nothing below is removed through a mount
  local i h
  for ((i = ${#IT_MOUNTS[@]} - 1; i >= 0; i--)); do it_force_umount "${IT_MOUNTS[$i]}"; done
  for h in "${IT_CLEANUP_HOOKS[@]}"; do eval "$h" || true; done
  if [[ -n "${T:-}" && -d "$T" ]] && grep -qF " $T/" /proc/self/mountinfo; then
    # never rm -rf across a live mount (it would delete through it)
    echo "[$IT_NAME] WARNING: mounts left under $T, not removing it:" >&2
    grep -F " $T/" /proc/self/mountinfo | awk '{print "    " $5 " " $9}' >&2
    [[ $rc -ne 0 ]] || rc=1
  elif [[ -n "${T:-}" && -d "$T" ]]; then
    if [[ $rc -ne 0 && -n "${IT_KEEP:-}" ]]; then
      echo "[$IT_NAME] keeping $T for inspection" >&2
    else
      rm -rf "$T"
    fi
  fi
  if [[ $rc -eq 0 ]]; then
    echo "[$IT_NAME] PASS ($((SECONDS - IT_START))s)" >&2
  else
    echo "[$IT_NAME] FAILED with status $rc ($((SECONDS - IT_START))s)" >&2
  fi
  exit $rc
}

# it_setup [extra tools...]: root, tools, $CIMG, $T, $ROOT, trap.
it_setup() {
  [[ $(id -u) -eq 0 ]] || fail "must run as root (mknod, chown, trusted.* xattrs)"
  [[ -n "${CIMG:-}" ]] || fail "CIMG is not set (path to the built cimg binary)"
  [[ -x "$CIMG" ]] || fail "CIMG=$CIMG is not an executable file"
  local t
  for t in python3 sha256sum find sort awk stat getfattr ps "$@"; do
    command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is missing"
  done
  T=$(mktemp -d "${TMPDIR:-/tmp}/cimg-it-$IT_NAME.XXXXXX")
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  ROOT=$T/root
  export CIMG_ROOT=/nonexistent-cimg-root-use-dash-dash-root
}

ci() { "$CIMG" --root "$ROOT" -q "$@"; }
cir() {
  local r=$1
  shift
  "$CIMG" --root "$r" -q "$@"
}

# bg CMD...: start in the background, remember the pid for cleanup; pid in $BG_PID.
bg() {
  "$@" &
  BG_PID=$!
  IT_BG_PIDS+=("$BG_PID")
}

skopeo_() { skopeo --insecure-policy "$@"; }

# ---------------------------------------------------------------- assertions

assert_eq() { # expected actual what
  [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# assert_fsck_clean [ROOT]: exit 0 and last line ends with "clean". Prints the summary.
assert_fsck_clean() {
  local r=${1:-$ROOT} out rc=0
  out=$(cir "$r" fsck 2>&1) || rc=$?
  if [[ $rc -ne 0 || "$(tail -n1 <<<"$out")" != *clean ]]; then
    fail "fsck of $r not clean (exit $rc):
$out"
  fi
  # shellcheck disable=SC2034  # the result, for the calling test
  FSCK_OUT=$out
}

# fsck_garbage [ROOT]: number of garbage records in the last fsck summary.
fsck_garbage() {
  local r=${1:-$ROOT}
  cir "$r" fsck 2>/dev/null | tail -n1 | sed -n 's/.* \([0-9][0-9]*\) garbage records.*/\1/p'
}

# expect_one_line_error REGEX CMD...: CMD must exit non-zero with exactly one
# stderr line that starts "cimg: ", and that line must match REGEX (grep -Ei;
# "" skips). Sets ERR_LINE.
expect_one_line_error() {
  local re=$1
  shift
  local rc=0 errf=$T/.stderr.$$ outf=$T/.stdout.$$
  "$@" >"$outf" 2>"$errf" || rc=$?
  ERR_LINE=$(cat "$errf")
  local n
  n=$(wc -l <"$errf")
  if [[ $rc -eq 0 ]]; then
    fail "expected failure, got exit 0 from: $*
stdout: $(head -c 2000 "$outf")
stderr: $ERR_LINE"
  fi
  if [[ $rc -ge 128 ]]; then
    fail "command died from a signal (exit $rc): $*
stderr: $(head -c 2000 "$errf")"
  fi
  if [[ $n -ne 1 ]]; then
    fail "expected exactly one stderr line, got $n (exit $rc) from: $*
stderr:
$(head -c 4000 "$errf")"
  fi
  [[ "$ERR_LINE" == "cimg: "* ]] || fail "stderr line does not start 'cimg: ': $ERR_LINE"
  if [[ -n "$re" ]] && ! grep -Eqi -- "$re" <<<"$ERR_LINE"; then
    fail "error message does not match /$re/: $ERR_LINE (command: $*)"
  fi
  rm -f "$errf" "$outf"
}

# ------------------------------------------------------------ building images

# umoci_start IMGDIR TAG BUNDLE: a new empty image and an unpacked bundle of it.
umoci_start() {
  [[ -d "$1" ]] || umoci init --layout "$1"
  umoci new --image "$1:$2"
  umoci unpack --image "$1:$2" "$3" >/dev/null
}

# umoci_commit IMGDIR TAG BUNDLE: repack the bundle as a new layer.
umoci_commit() {
  umoci repack --refresh-bundle --image "$1:$2" "$3" >/dev/null
}

# rand_file PATH BYTES: random (incompressible) content.
rand_file() {
  head -c "$2" /dev/urandom >"$1"
}

# text_file PATH BYTES: compressible, but not trivially (random words).
text_file() {
  python3 - "$1" "$2" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
r = random.Random()
words = [''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(2000)]
out, size = [], 0
while size < n:
    line = ' '.join(r.choice(words) for _ in range(r.randint(3, 14))) + '\n'
    out.append(line); size += len(line)
open(path, 'w').write(''.join(out)[:n])
PY
}

# oci_config_digest IMGDIR TAG: config digest of oci:IMGDIR:TAG (first manifest with that ref name).
oci_config_digest() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(d + '/index.json'))
for m in idx['manifests']:
    if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == tag:
        man = json.load(open(d + '/blobs/' + m['digest'].replace(':', '/')))
        print(man['config']['digest']); break
else:
    sys.exit('no tag %s in %s' % (tag, d))
PY
}

# oci_manifest_json IMGDIR TAG: the manifest JSON.
oci_manifest_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(d + '/index.json'))
for m in idx['manifests']:
    if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == tag:
        print(open(d + '/blobs/' + m['digest'].replace(':', '/')).read()); break
else:
    sys.exit('no tag %s in %s' % (tag, d))
PY
}

# oci_diff_ids IMGDIR TAG: the config's rootfs.diff_ids, one a line.
oci_diff_ids() {
  local cfg
  cfg=$(oci_config_digest "$1" "$2")
  python3 -c 'import json,sys; [print(x) for x in json.load(open(sys.argv[1]))["rootfs"]["diff_ids"]]' \
    "$1/blobs/${cfg/://}"
}

# oci_multiarch DIR: an OCI layout with two one-layer images (tags amd64 and
# arm64, each with a file "arch" naming its arch) and an index of both
# tagged "multi".
oci_multiarch() {
  local d=$1 arch
  for arch in amd64 arm64; do
    mkdir -p "$T/mp-$arch"
    echo "$arch" >"$T/mp-$arch/arch"
    tar -C "$T/mp-$arch" -cf "$T/mp-$arch.tar" arch
    oci_build "$d" "$arch" --arch "$arch" "$T/mp-$arch.tar" >/dev/null
  done
  python3 - "$d" <<'PY'
import hashlib, json, sys
d = sys.argv[1]
idx = json.load(open(d + '/index.json'))
mans = [dict(m) for m in idx['manifests']]
for m in mans: m.pop('annotations', None)
nested = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json',
                     'manifests': mans}).encode()
dg = hashlib.sha256(nested).hexdigest()
open(d + '/blobs/sha256/' + dg, 'wb').write(nested)
idx['manifests'].append({'mediaType': 'application/vnd.oci.image.index.v1+json', 'digest': 'sha256:' + dg,
                         'size': len(nested), 'annotations': {'org.opencontainers.image.ref.name': 'multi'}})
json.dump(idx, open(d + '/index.json', 'w'))
PY
}

# oci_build OUTDIR TAG [--compress gzip|none] [--arch A] LAYER.tar...: a
# hand-made OCI layout (blobs, config with diff_ids, manifest, index.json
# carrying TAG). Several calls with different tags/arches add to one layout.
# Prints the manifest digest.
oci_build() {
  python3 - "$@" <<'PY'
import gzip, hashlib, json, os, sys, zlib
args = sys.argv[1:]
out, tag = args[0], args[1]
comp, arch, layers, i = 'gzip', 'amd64', [], 2
while i < len(args):
    if args[i] == '--compress': comp = args[i + 1]; i += 2
    elif args[i] == '--arch': arch = args[i + 1]; i += 2
    else: layers.append(args[i]); i += 1
os.makedirs(out + '/blobs/sha256', exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(out + '/blobs/sha256/' + d, 'wb') as f: f.write(data)
    return 'sha256:' + d
def put_file(path, compress):
    # streams, so big layers do not need to fit in memory twice
    h_raw, h_blob = hashlib.sha256(), hashlib.sha256()
    tmp = out + '/blobs/sha256/.tmp'
    with open(path, 'rb') as src, open(tmp, 'wb') as dst:
        gz = zlib.compressobj(1, zlib.DEFLATED, 31) if compress == 'gzip' else None
        while True:
            b = src.read(1 << 20)
            if not b: break
            h_raw.update(b)
            if gz: b = gz.compress(b)
            h_blob.update(b); dst.write(b)
        if gz:
            b = gz.flush(); h_blob.update(b); dst.write(b)
    size = os.path.getsize(tmp)
    os.rename(tmp, out + '/blobs/sha256/' + h_blob.hexdigest())
    return 'sha256:' + h_raw.hexdigest(), 'sha256:' + h_blob.hexdigest(), size
descs, diff_ids = [], []
mt = {'gzip': 'application/vnd.oci.image.layer.v1.tar+gzip', 'none': 'application/vnd.oci.image.layer.v1.tar'}[comp]
for l in layers:
    diff, blob, size = put_file(l, comp)
    diff_ids.append(diff)
    descs.append({'mediaType': mt, 'digest': blob, 'size': size})
config = json.dumps({'architecture': arch, 'os': 'linux', 'created': '2024-01-01T00:00:00Z',
                     'config': {'Env': ['ARCH=' + arch]},
                     'rootfs': {'type': 'layers', 'diff_ids': diff_ids},
                     'history': [{'created': '2024-01-01T00:00:00Z', 'created_by': 'oci_build layer %d' % n}
                                 for n in range(len(layers))]}, sort_keys=True).encode()
cd = put(config)
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                       'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': len(config)},
                       'layers': descs}, sort_keys=True).encode()
md = put(manifest)
with open(out + '/oci-layout', 'w') as f: json.dump({'imageLayoutVersion': '1.0.0'}, f)
ip = out + '/index.json'
idx = json.load(open(ip)) if os.path.exists(ip) else {'schemaVersion': 2, 'manifests': []}
idx['manifests'].append({'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md,
                         'size': len(manifest), 'platform': {'os': 'linux', 'architecture': arch},
                         'annotations': {'org.opencontainers.image.ref.name': tag}})
with open(ip, 'w') as f: json.dump(idx, f)
print(md)
PY
}

# ---------------------------------------------------------- comparing trees

# tree_listing DIR: one line per entry (path type mode uid gid size mtime
# target/rdev), then content hashes, xattrs and hard-link groups. Two trees
# are "identical" when their listings are equal.
tree_listing() {
  local d=$1
  (
    cd "$d"
    echo "## entries"
    # size only for regular files; %m includes the setuid/setgid/sticky bits
    find . -mindepth 1 -printf '%P\t%y\t%m\t%U:%G\t%s\t%T@\t%l\n' |
      awk -F'\t' 'BEGIN{OFS="\t"} { if ($2 != "f") $5 = "-"; split($6, t, "."); $6 = t[1]; print }' |
      LC_ALL=C sort
    echo "## devices"
    find . -mindepth 1 \( -type c -o -type b \) -exec stat -c '%n %F %t:%T' {} + | LC_ALL=C sort
    echo "## content"
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    echo "## xattrs"
    find . -mindepth 1 -print0 | LC_ALL=C sort -z |
      xargs -0 -r getfattr -h -d -m - --absolute-names 2>/dev/null |
      awk '/^# file: /{f=substr($0, 9); next} NF{print f "\t" $0}' | LC_ALL=C sort
    echo "## hardlinks"
    # group paths by inode (paths sorted within a group), print groups sorted;
    # inode numbers compare as strings (FUSE ones can exceed 2^53, awk's exact range)
    find . -type f -links +1 -printf '%i\t%P\n' | LC_ALL=C sort -t$'\t' -k1,1 -k2 |
      awk -F'\t' '($1 "") != last {if (NR > 1) print s; s = $2; last = $1 ""; next} {s = s " = " $2}
                   END {if (NR) print s}' |
      LC_ALL=C sort
  )
}

# compare_trees A B [what]: fail with a diff when the listings differ.
compare_trees() {
  local a=$1 b=$2 what=${3:-trees}
  tree_listing "$a" >"$T/.listing.a"
  tree_listing "$b" >"$T/.listing.b"
  if ! diff -u "$T/.listing.a" "$T/.listing.b" >"$T/.listing.diff"; then
    echo "--- $a" >&2
    echo "+++ $b" >&2
    head -n 80 "$T/.listing.diff" >&2
    fail "$what differ ($(grep -c '^[-+][^-+]' "$T/.listing.diff") lines)"
  fi
}

# unpack_pushed OCIDIR TAG BUNDLE: skopeo-recompress to gzip (proves skopeo
# decodes our layers; umoci 0.4.7 cannot read zstd), then umoci unpack.
unpack_pushed() {
  local src=$1 tag=$2 bundle=$3
  local gz=$T/gz.$RANDOM$RANDOM
  skopeo_ copy -q --dest-compress --dest-compress-format gzip "oci:$src:$tag" "oci:$gz:$tag" >/dev/null ||
    fail "skopeo could not copy oci:$src:$tag"
  umoci unpack --image "$gz:$tag" "$bundle" >/dev/null || fail "umoci could not unpack the copy of oci:$src:$tag"
  rm -rf "$gz"
}

# push_compare NAME ORIG_ROOTFS [compression]: push NAME, unpack, compare.
push_compare() {
  local name=$1 orig=$2 comp=${3:-}
  local out=$T/push.$RANDOM$RANDOM b=$T/bundle.$RANDOM$RANDOM
  if [[ -n "$comp" ]]; then
    ci push "$name" "oci:$out:t" --compression "$comp" >/dev/null || fail "push $name --compression $comp failed"
  else
    ci push "$name" "oci:$out:t" >/dev/null || fail "push $name failed"
  fi
  unpack_pushed "$out" t "$b"
  compare_trees "$orig" "$b/rootfs" "rootfs of $name (pushed ${comp:-default}) vs original"
  # shellcheck disable=SC2034  # the result, for the calling test
  PUSHED_DIR=$out
  rm -rf "$b"
}

# json_get EXPR: python expression over j = json from stdin.
json_get() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

image_id() { ci inspect "$1" | json_get 'j[0]["Id"]'; }
images_json_sorted() { # stable view of `cimg images --format json`
  cir "${1:-$ROOT}" images --format json | python3 -c '
import json,sys
j=json.load(sys.stdin)
for i in sorted(j, key=lambda x: x["Id"]): print(i["Id"], i["Digest"], i["Size"], ",".join(sorted(i["Names"])))'
}

# ------------------------------------------------------------------ clusterfs
#
# cfs_setup (after it_setup): /dev/fuse, fusermount3 and the clusterfs binary
# ($CLUSTERFS, default $CFS_BUILD_DIR/tools/clusterfs, else next to $CIMG).
# Mounts made with cfs_mount (or registered with it_track_mount) are removed on
# exit even when the test fails: fusermount3 -u, umount, then abort the FUSE
# connection and lazy-unmount.

cfs_setup() {
  [[ $(id -u) -eq 0 ]] || fail "must run as root (FUSE mounts, mknod, trusted.* xattrs)"
  [[ -e /dev/fuse ]] || fail "/dev/fuse is missing (modprobe fuse; in a container pass --device /dev/fuse)"
  [[ -c /dev/fuse ]] || fail "/dev/fuse is not a character device"
  local t
  for t in fusermount3 mount umount timeout "$@"; do
    command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is missing"
  done
  CLUSTERFS=${CLUSTERFS:-${CFS_BUILD_DIR:-$(dirname "$CIMG")/..}/tools/clusterfs}
  [[ -x "$CLUSTERFS" ]] || fail "CLUSTERFS=$CLUSTERFS is not an executable file (build clusterfs)"
  CLUSTERFS=$(readlink -f "$CLUSTERFS")
  export CLUSTERFS
}

# is_mounted DIR: DIR (absolute, canonical) is a mount point.
is_mounted() { awk -v m="$1" '$5 == m {f = 1} END {exit !f}' /proc/self/mountinfo; }

# fs_type DIR: the filesystem type of the mount at DIR ("fuse.clusterfs", ...).
fs_type() { awk -v m="$1" '$5 == m {for (i = 7; $i != "-"; i++); t = $(i + 1)} END {print t}' /proc/self/mountinfo; }

# cfs_daemon_pids DIR: pids of clusterfs processes with DIR as an argument.
cfs_daemon_pids() {
  local f p
  for f in /proc/[0-9]*/cmdline; do
    p=${f#/proc/}
    p=${p%/cmdline}
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == clusterfs* ]] || continue
    grep -qzxF -- "$1" "$f" 2>/dev/null && echo "$p"
  done
  return 0
}

it_track_mount() { IT_MOUNTS+=("$1"); }

# it_force_umount DIR: remove the mount at DIR, whatever it takes (cleanup path).
it_force_umount() {
  local m=$1 i dev
  is_mounted "$m" || return 0
  for i in 1 2 3 4 5; do
    fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || true
    is_mounted "$m" || return 0
    sleep 0.3
  done
  echo "[$IT_NAME] $m busy: aborting the connection, lazy unmount" >&2
  dev=$(awk -v m="$m" '$5 == m { split($3, a, ":"); print a[2] }' /proc/self/mountinfo | tail -n1)
  if [[ -n "$dev" && -w "/sys/fs/fuse/connections/$dev/abort" ]]; then
    echo 1 >"/sys/fs/fuse/connections/$dev/abort" || true
  fi
  umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
}

# cfs_mount ARGS... MNT: `clusterfs mount --root $ROOT ARGS... MNT`; fails the
# test unless it exits 0 with MNT mounted as fuse.clusterfs. Daemon pid in CFS_PID.
cfs_mount() {
  local m=${!#} rc=0
  it_track_mount "$m"
  timeout -k 5 60 "$CLUSTERFS" mount --root "$ROOT" "$@" >"$T/.cfs_mount.out" 2>"$T/.cfs_mount.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "clusterfs mount $* failed (exit $rc$([[ $rc -eq 124 ]] && echo ': hung for 60 s')): $(head -c 2000 "$T/.cfs_mount.err")"
  is_mounted "$m" || fail "clusterfs mount $* exited 0 but $m is not a mount point (the contract: ready when the command returns)"
  [[ "$(fs_type "$m")" == fuse.clusterfs ]] || fail "$m is mounted as '$(fs_type "$m")', expected fuse.clusterfs"
  CFS_PID=$(cfs_daemon_pids "$m" | sed -n 1p)
  [[ -n "$CFS_PID" ]] || fail "no clusterfs daemon process found for $m"
}

# cfs_umount MNT: `clusterfs umount MNT` must succeed, remove the mount, and the
# daemon must exit -- so its lease is gone when this returns.
cfs_umount() {
  local m=$1 pids rc=0
  pids=$(cfs_daemon_pids "$m")
  timeout -k 5 30 "$CLUSTERFS" umount "$m" 2>"$T/.cfs_umount.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "clusterfs umount $m failed (exit $rc): $(head -c 2000 "$T/.cfs_umount.err")"
  ! is_mounted "$m" || fail "clusterfs umount $m exited 0 but $m is still mounted"
  cfs_wait_exit "$m" $pids
}

# cfs_wait_exit MNT PID...: the daemons of MNT must exit after its unmount.
# What is asserted is that they exit; the 120 s bound only keeps a daemon
# that never exits from hanging the test (a loaded 2-core CI machine with
# sanitizer builds beside it is slow; how fast they go is benchmark matter).
cfs_wait_exit() {
  local m=$1 p i
  shift
  for p in "$@"; do
    for i in $(seq 1200); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    ! kill -0 "$p" 2>/dev/null || fail "clusterfs daemon $p of $m still running 120 s after unmount"
    [[ $i -le 50 ]] || log "clusterfs daemon $p of $m took $((i / 10)) s to exit after unmount"
  done
}

# drop_caches: so the next reads go to the FUSE daemon again (a hung sync fails the test).
drop_caches() {
  timeout 60 sync || fail "sync hung or failed"
  echo 3 >/proc/sys/vm/drop_caches
}
