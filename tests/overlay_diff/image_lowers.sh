#!/bin/bash
# Runs the overlay differential test with the lower dirs imported as a store
# image: a run.sh template (DO set KNOWN, run.sh would name the file after "bash";
# the image variant's expected differences are clusterfs's plus the image-only ones):
#
#   cat known_differences_clusterfs.txt known_differences_image_lowers.txt >/tmp/known
#   KNOWN=/tmp/known run.sh "bash tests/overlay_diff/image_lowers.sh %L %U %W %M"
#
# (tests/integration/overlay_diff_clusterfs.sh does exactly that.)
#
#   image_lowers.sh LOWERS UPPER WORK MNT
#       LOWERS: kernel overlay lowerdir list (top first, ':'-separated, '\:'
#       escapes a ':' in a path). Converts it into one OCI image with one layer
#       per lower dir (bottom first), imports it with `cimg pull` into a private
#       store next to WORK (DIR(WORK)/image_lowers.BASENAME(WORK)/, removed with
#       the test's temp dir), then `clusterfs mount --root STORE --upper UPPER
#       --work WORK IMAGE MNT`.
#   image_lowers.sh --build-oci LOWERS OCIDIR TAG
#       only the conversion.
#   image_lowers.sh --selftest
#       checks the conversion is faithful (no clusterfs needed): for run.sh's
#       fixture, the kernel's read-only overlay of the lowers vs `umoci unpack`
#       of the converted layout and of `cimg push --compression gzip` of the
#       imported image (snapshot.py dumps; see SELFTEST_KNOWN below).
#
# The conversion: a char 0/0 whiteout becomes an OCI ".wh.NAME" entry, a dir
# with trusted.overlay.opaque=y gets a ".wh..wh..opq" entry (trusted.overlay.*
# xattrs are overlay metadata and are not copied); owners, modes, mtimes (ns,
# pax), xattrs (SCHILY.xattr.*), hard links (within a lower), devices, fifos
# and symlinks are kept. Sparse files are written in full (OCI layers and the
# store have no holes). Sockets cannot be in a tar and are left out.
#
# Environment: CIMG, CLUSTERFS (default: $CFS_BUILD_DIR or <repo>/build, tools/).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${CFS_BUILD_DIR:-$REPO/build}
CIMG=${CIMG:-$BUILD/tools/cimg}
CLUSTERFS=${CLUSTERFS:-$BUILD/tools/clusterfs}

die() {
  echo "image_lowers.sh: $*" >&2
  exit 2
}

# build_oci LOWERS OCIDIR TAG
build_oci() {
  python3 - "$@" <<'PY'
import hashlib, io, json, os, re, stat, sys, tarfile
lowers_arg, out, tag = sys.argv[1:4]
# kernel lowerdir syntax: ':' separates, '\:' is a literal ':' (and '\\' a '\')
lowers = [re.sub(r'\\(.)', r'\1', x) for x in re.split(r'(?<!\\):', lowers_arg)]
for l in lowers:
    if not os.path.isdir(l):
        sys.exit('image_lowers.sh: lower %r is not a directory' % l)
os.makedirs(out + '/blobs/sha256', exist_ok=True)

def xattrs(path):
    res = {}
    for name in os.listxattr(path, follow_symlinks=False):
        if name.startswith('trusted.overlay.'):
            continue
        val = os.getxattr(path, name, follow_symlinks=False)
        res['SCHILY.xattr.' + name] = val.decode('utf-8', 'surrogateescape')
    return res

def set_mtime(ti, st):
    ns = st.st_mtime_ns
    ti.mtime = ns // 10**9
    if ns % 10**9:
        ti.pax_headers['mtime'] = '%d.%09d' % (ns // 10**9, ns % 10**9)

def write_layer(root, tarpath):
    seen = {}                       # (dev, ino) -> first tar name, for hard links
    with tarfile.open(tarpath, 'w', format=tarfile.PAX_FORMAT) as t:
        def walk(rel):
            d = os.path.join(root, rel) if rel else root
            for name in sorted(os.listdir(d)):
                r = rel + '/' + name if rel else name
                p = os.path.join(root, r)
                st = os.lstat(p)
                m = st.st_mode
                ti = tarfile.TarInfo(r)
                ti.uid, ti.gid, ti.uname, ti.gname = st.st_uid, st.st_gid, '', ''
                ti.mode = stat.S_IMODE(m)
                set_mtime(ti, st)
                if stat.S_ISCHR(m) and st.st_rdev == 0:          # overlay whiteout
                    wh = tarfile.TarInfo((rel + '/' if rel else '') + '.wh.' + name)
                    wh.mode, wh.mtime, wh.uname, wh.gname = 0o600, ti.mtime, '', ''
                    t.addfile(wh)
                    continue
                ti.pax_headers.update(xattrs(p))
                if stat.S_ISDIR(m):
                    ti.type = tarfile.DIRTYPE
                    t.addfile(ti)
                    try:
                        opaque = os.getxattr(p, 'trusted.overlay.opaque', follow_symlinks=False)
                    except OSError:
                        opaque = b''
                    if opaque == b'y':
                        o = tarfile.TarInfo(r + '/.wh..wh..opq')
                        o.mode, o.mtime, o.uname, o.gname = 0o600, ti.mtime, '', ''
                        t.addfile(o)
                    walk(r)
                elif stat.S_ISREG(m):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in seen:
                        ti.type = tarfile.LNKTYPE
                        ti.linkname = seen[key]
                        t.addfile(ti)
                        continue
                    seen[key] = r
                    ti.type = tarfile.REGTYPE
                    ti.size = st.st_size
                    with open(p, 'rb') as f:
                        t.addfile(ti, f)
                elif stat.S_ISLNK(m):
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = os.readlink(p)
                    t.addfile(ti)
                elif stat.S_ISFIFO(m):
                    ti.type = tarfile.FIFOTYPE
                    t.addfile(ti)
                elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
                    ti.type = tarfile.CHRTYPE if stat.S_ISCHR(m) else tarfile.BLKTYPE
                    ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                    t.addfile(ti)
                else:
                    print('image_lowers.sh: skipping %s (a socket cannot be in a tar)' % p, file=sys.stderr)
        walk('')

def put_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    d = h.hexdigest()
    os.rename(path, out + '/blobs/sha256/' + d)
    return 'sha256:' + d, os.path.getsize(out + '/blobs/sha256/' + d)

def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(out + '/blobs/sha256/' + d, 'wb') as f:
        f.write(data)
    return 'sha256:' + d

descs, diff_ids = [], []
for i, l in enumerate(reversed(lowers)):          # bottom layer first
    tmp = out + '/blobs/layer%d.tar' % i
    write_layer(l, tmp)
    dg, size = put_file(tmp)
    diff_ids.append(dg)
    descs.append({'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': dg, 'size': size})
arch = {'x86_64': 'amd64', 'aarch64': 'arm64'}.get(os.uname().machine, os.uname().machine)
config = json.dumps({'architecture': arch, 'os': 'linux', 'created': '2001-01-01T00:00:00Z',
                     'rootfs': {'type': 'layers', 'diff_ids': diff_ids},
                     'history': [{'created': '2001-01-01T00:00:00Z', 'created_by': 'lower %s' % l}
                                 for l in reversed(lowers)]}, sort_keys=True).encode()
cd = put(config)
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                       'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd,
                                  'size': len(config)},
                       'layers': descs}, sort_keys=True).encode()
md = put(manifest)
with open(out + '/oci-layout', 'w') as f:
    json.dump({'imageLayoutVersion': '1.0.0'}, f)
with open(out + '/index.json', 'w') as f:
    json.dump({'schemaVersion': 2, 'manifests': [{
        'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md, 'size': len(manifest),
        'platform': {'os': 'linux', 'architecture': arch},
        'annotations': {'org.opencontainers.image.ref.name': tag}}]}, f)
PY
}

# Differences the self-test accepts between the kernel's overlay of the lowers
# and the unpacked image; each is a property of the comparison, not of the data.
SELFTEST_KNOWN='*:/:* the root dir: the layers carry no entry for it (umoci makes its own rootfs dir)
*:dir_nlink the kernel reports 1 for merged dirs
*:/sparse.bin:hole_mib layers are written non-sparse'

selftest() {
  [[ $(id -u) -eq 0 ]] || die "--selftest must run as root"
  local t
  for t in umoci python3 mount umount; do command -v $t >/dev/null || die "required tool '$t' is missing"; done
  [[ -x "$CIMG" ]] || die "CIMG=$CIMG is not an executable file"
  T=$(mktemp -d "${TMPDIR:-/tmp}/image_lowers_selftest.XXXXXX")
  # shellcheck disable=SC2154  # m is the loop variable inside the trap text
  trap 'for m in "$T"/ovl*; do mountpoint -q "$m" && umount "$m"; done; rm -rf "$T"' EXIT
  echo "$SELFTEST_KNOWN" >"$T/known.txt"
  # run.sh's own fixture (the python between build_fixture's <<'PY' and PY)
  awk '/^build_fixture\(\) \{/ {f = 1} f && /<<.PY.$/ {g = 1; next} g && /^PY$/ {exit} g {print}' \
    "$HERE/run.sh" >"$T/fixture.py"
  [[ -s "$T/fixture.py" ]] || die "could not extract build_fixture from run.sh"
  python3 "$T/fixture.py" "$T/fx" || die "fixture build failed"
  # ns times must survive too (the fixture's are whole seconds)
  touch -h -d @978307200.123456789 "$T/fx/L/A/only_a.txt" "$T/fx/L/A/sym_to_only_a" "$T/fx/L/A/dir_merged"
  local F=$T/fx n=0 lowers rc=0 what
  # the fixture's lowers, and its upper dir (whiteouts, opaque dirs) used as a top lower
  for lowers in "$F/L/A:$F/L/B" "$F/U:$F/L/A:$F/L/B"; do
    n=$((n + 1))
    echo "== lowers $n: ${lowers//$F\//}"
    mkdir -p "$T/ovl$n"
    mount -t overlay overlay -o "lowerdir=$lowers" "$T/ovl$n"
    python3 "$HERE/snapshot.py" dump "$T/ovl$n" -o "$T/kernel$n.json"
    umount "$T/ovl$n"
    build_oci "$lowers" "$T/oci$n" t
    umoci unpack --image "$T/oci$n:t" "$T/direct$n" >/dev/null
    python3 "$HERE/snapshot.py" dump "$T/direct$n/rootfs" -o "$T/direct$n.json"
    what="converted-layout-$n"
    python3 "$HERE/snapshot.py" diff "$what" "$T/kernel$n.json" "$T/direct$n.json" --known "$T/known.txt" || rc=1
    "$CIMG" --root "$T/store" -q pull "oci:$T/oci$n:t" --as "lowers$n:t" >/dev/null
    "$CIMG" --root "$T/store" -q push "lowers$n:t" "oci:$T/pushed$n:t" --compression gzip >/dev/null
    umoci unpack --image "$T/pushed$n:t" "$T/pushed$n.b" >/dev/null
    python3 "$HERE/snapshot.py" dump "$T/pushed$n.b/rootfs" -o "$T/pushed$n.json"
    what="cimg-pull-push-$n"
    python3 "$HERE/snapshot.py" diff "$what" "$T/kernel$n.json" "$T/pushed$n.json" --known "$T/known.txt" || rc=1
  done
  "$CIMG" --root "$T/store" -q fsck >/dev/null || { echo "fsck of the self-test store failed"; rc=1; }
  if [[ $rc -eq 0 ]]; then echo "image_lowers self-test: PASS"; else echo "image_lowers self-test: FAIL"; fi
  return $rc
}

case "${1:-}" in
  --build-oci)
    [[ $# -eq 4 ]] || die "usage: image_lowers.sh --build-oci LOWERS OCIDIR TAG"
    build_oci "$2" "$3" "$4"
    ;;
  --selftest)
    selftest
    ;;
  -*|"")
    die "usage: image_lowers.sh LOWERS UPPER WORK MNT | --build-oci LOWERS OCIDIR TAG | --selftest"
    ;;
  *)
    [[ $# -eq 4 ]] || die "usage: image_lowers.sh LOWERS UPPER WORK MNT"
    L=$1 U=$2 W=$3 M=$4
    [[ -x "$CIMG" ]] || die "CIMG=$CIMG is not an executable file"
    [[ -x "$CLUSTERFS" ]] || die "CLUSTERFS=$CLUSTERFS is not an executable file"
    BASE=$(dirname "$W")/image_lowers.$(basename "$W")
    rm -rf "$BASE"
    mkdir -p "$BASE"
    build_oci "$L" "$BASE/oci" lowers
    "$CIMG" --root "$BASE/store" -q pull "oci:$BASE/oci:lowers" --as lowers:latest >/dev/null
    rm -rf "$BASE/oci"
    exec "$CLUSTERFS" mount --root "$BASE/store" --upper "$U" --work "$W" -o allow_other lowers:latest "$M"
    ;;
esac
