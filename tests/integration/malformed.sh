#!/usr/bin/env bash
# Hostile and broken inputs: every case fails with exactly one "cimg: ..."
# line, a non-zero status, and leaves the store as it was (fsck clean, the
# image list unchanged).
source "$(dirname "$0")/lib.sh"
it_setup umoci gzip truncate

# mktar OUT JSON: a tar from a list of entries. Each entry:
#   {"n": name, "t": "f"|"d"|"l"|"h", "size": N (random bytes) | "data": str,
#    "target": for l/h}
mktar() {
  python3 - "$1" "$2" <<'PY'
import io, json, os, sys, tarfile
out, spec = sys.argv[1], json.loads(sys.argv[2])
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    for e in spec:
        ti = tarfile.TarInfo(e['n']); ti.mtime = 1700000000; ti.mode = e.get('mode', 0o644)
        typ = e.get('t', 'f')
        if typ == 'f':
            data = e['data'].encode() if 'data' in e else os.urandom(e.get('size', 100))
            ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        else:
            ti.type = {'d': tarfile.DIRTYPE, 'l': tarfile.SYMTYPE, 'h': tarfile.LNKTYPE}[typ]
            if typ == 'd': ti.mode = 0o755
            ti.linkname = e.get('target', '')
            t.addfile(ti)
PY
}

# oci_edit DIR TAG ACTION ARGS: rewrite an image in a layout, keeping it
# self-consistent except for the one thing the action breaks.
#   layer-blob IDX FILE   layer IDX becomes FILE (digest/size fixed in the manifest)
#   diff-id IDX DIGEST    config diff_ids[IDX] = DIGEST (config re-digested)
oci_edit() {
  python3 - "$@" <<'PY'
import hashlib, json, os, shutil, sys
d, tag, action, *args = sys.argv[1:]
def blob(dg): return os.path.join(d, 'blobs', *dg.split(':'))
def put(data):
    dg = 'sha256:' + hashlib.sha256(data).hexdigest()
    open(blob(dg), 'wb').write(data); return dg
ip = os.path.join(d, 'index.json')
idx = json.load(open(ip))
ent = next(m for m in idx['manifests'] if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == tag)
man = json.load(open(blob(ent['digest'])))
if action == 'layer-blob':
    i, f = int(args[0]), args[1]
    data = open(f, 'rb').read()
    man['layers'][i]['digest'] = put(data); man['layers'][i]['size'] = len(data)
elif action == 'diff-id':
    i, newid = int(args[0]), args[1]
    cfg = json.load(open(blob(man['config']['digest'])))
    cfg['rootfs']['diff_ids'][i] = newid
    data = json.dumps(cfg).encode()
    man['config']['digest'] = put(data); man['config']['size'] = len(data)
else:
    sys.exit('unknown action ' + action)
data = json.dumps(man).encode()
ent['digest'] = put(data); ent['size'] = len(data)
json.dump(idx, open(ip, 'w'))
PY
}

# oci_build_blob DIR TAG MEDIATYPE BLOBFILE DIFFID [BLOBDIGEST]: one-layer image
# whose layer blob is BLOBFILE (hard-linked, so a sparse 1 GiB file stays sparse).
oci_build_blob() {
  python3 - "$@" <<'PY'
import hashlib, json, os, sys
d, tag, mt, f, diff = sys.argv[1:6]
os.makedirs(d + '/blobs/sha256', exist_ok=True)
if len(sys.argv) > 6:
    bd = sys.argv[6].split(':')[1]
else:
    h = hashlib.sha256()
    with open(f, 'rb') as fh:
        for b in iter(lambda: fh.read(1 << 20), b''): h.update(b)
    bd = h.hexdigest()
if not os.path.exists(d + '/blobs/sha256/' + bd): os.link(f, d + '/blobs/sha256/' + bd)
def put(data):
    x = hashlib.sha256(data).hexdigest(); open(d + '/blobs/sha256/' + x, 'wb').write(data); return 'sha256:' + x
cfg = json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': [diff]}}).encode()
cd = put(cfg)
man = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                  'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': len(cfg)},
                  'layers': [{'mediaType': mt, 'digest': 'sha256:' + bd, 'size': os.path.getsize(f)}]}).encode()
md = put(man)
open(d + '/oci-layout', 'w').write('{"imageLayoutVersion":"1.0.0"}')
json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md,
           'size': len(man), 'annotations': {'org.opencontainers.image.ref.name': tag}}]}, open(d + '/index.json', 'w'))
PY
}

# a valid image with the given entries: $T/NAME/layer.tar and layout $T/NAME/oci:t
mkimage() {
  local name=$1 spec=$2
  mkdir -p "$T/$name"
  mktar "$T/$name/layer.tar" "$spec"
  oci_build "$T/$name/oci" t "$T/$name/layer.tar" >/dev/null
}
first_layer_blob() { # DIR TAG -> path of the first layer blob
  local dg
  dg=$(oci_manifest_json "$1" "$2" | json_get 'j["layers"][0]["digest"]')
  echo "$1/blobs/${dg/://}"
}

# --- a store with something in it, so "unchanged" means something
mkimage base '[{"n":"etc","t":"d"},{"n":"etc/base.conf","data":"base\n"},{"n":"blob","size":300000}]'
ci pull "oci:$T/base/oci:t" --as base:1 >/dev/null || fail "the well-formed baseline image does not pull"
assert_fsck_clean
BEFORE=$(images_json_sorted)
# the builder itself makes good images: a fresh random one pulls into a scratch root
mkimage sanity '[{"n":"d","t":"d"},{"n":"d/f","size":5000},{"n":"l","t":"l","target":"d/f"},{"n":"h","t":"h","target":"d/f"}]'
cir "$T/scratch" pull "oci:$T/sanity/oci:t" >/dev/null || fail "builder sanity: a well-formed hand-made image does not pull"
rm -rf "$T/scratch"

NCASES=0
# case LABEL REGEX CMD...: one malformed input
case_() {
  local label=$1 re=$2
  shift 2
  NCASES=$((NCASES + 1))
  local s=$SECONDS
  expect_one_line_error "$re" "$@"
  printf '  %-34s ok (%ds): %s\n' "$label" $((SECONDS - s)) "$ERR_LINE"
  local out rc=0
  out=$(ci fsck 2>&1) || rc=$?
  [[ $rc -eq 0 && "$(tail -n1 <<<"$out")" == *clean ]] || fail "$label: fsck not clean afterwards:
$out"
  local after
  after=$(images_json_sorted)
  [[ "$after" == "$BEFORE" ]] || fail "$label: image list changed:
before: $BEFORE
after:  $after"
}

log "building the malformed inputs"
# (a) truncated gzip
mkimage a '[{"n":"x","size":400000},{"n":"y","size":400000}]'
blob=$(first_layer_blob "$T/a/oci" t)
head -c $(($(stat -c %s "$blob") / 2)) "$blob" >"$T/a/trunc.gz"
oci_edit "$T/a/oci" t layer-blob 0 "$T/a/trunc.gz"
# (a2) gzip header but garbage deflate data
mkimage a2 '[{"n":"x","size":100000}]'
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + os.urandom(5000))' "$T/a2/bad.gz"
oci_edit "$T/a2/oci" t layer-blob 0 "$T/a2/bad.gz"
# (b) ../evil, and a sneakier a/../../evil
mkimage b '[{"n":"ok","size":10},{"n":"../evil","data":"pwned\n"}]'
mkimage b2 '[{"n":"a","t":"d"},{"n":"a/../../evil","data":"pwned\n"}]'
# (b3) hard link whose target leaves the root
mkimage b3 '[{"n":"ok","size":10},{"n":"hl","t":"h","target":"../../etc/passwd"}]'
# (c) absolute path
mkimage c '[{"n":"ok","size":10},{"n":"/etc/evil","data":"pwned\n"}]'
# (d) write through a symlink that points out of the root
mkimage d '[{"n":"a","t":"l","target":"/etc"},{"n":"a/passwd","data":"root::0:0::/:/bin/sh\n"}]'
mkimage d2 '[{"n":"a","t":"l","target":"../../../etc"},{"n":"a/passwd","data":"x\n"}]'
# (e) 1 GiB of zeros, plain and as a gzip bomb
mkdir -p "$T/e" "$T/e2"
truncate -s 1G "$T/e/zeros.tar"
ZDIFF=sha256:$(sha256sum <"$T/e/zeros.tar" | cut -d' ' -f1)
oci_build_blob "$T/e/oci" t application/vnd.oci.image.layer.v1.tar "$T/e/zeros.tar" "$ZDIFF" "$ZDIFF"
head -c 1G /dev/zero | gzip -1 >"$T/e2/bomb.gz"
oci_build_blob "$T/e2/oci" t application/vnd.oci.image.layer.v1.tar+gzip "$T/e2/bomb.gz" "$ZDIFF"
# (f) blob content does not match its digest (same length, one byte flipped)
mkimage f '[{"n":"x","size":50000}]'
blob=$(first_layer_blob "$T/f/oci" t)
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=1; open(p,"wb").write(b)' "$blob"
# (f2) the config blob tampered with
mkimage f2 '[{"n":"x","size":500}]'
cfg=$(oci_config_digest "$T/f2/oci" t)
sed -i 's/amd64/arm64/' "$T/f2/oci/blobs/${cfg/://}"
# (g) config diff_ids do not match the layer
mkimage g '[{"n":"x","size":5000}]'
oci_edit "$T/g/oci" t diff-id 0 "sha256:$(printf wrong | sha256sum | cut -d' ' -f1)"
# (h) missing layer blob
mkimage h '[{"n":"x","size":5000}]'
rm "$(first_layer_blob "$T/h/oci" t)"
# (i) malformed index.json
mkimage i '[{"n":"x","size":500}]'
echo '{"schemaVersion": 2, "manifests": [ {"mediaType": ' >"$T/i/oci/index.json"
# (j) oci-archive with a ../x member (next to a valid layout)
mkimage j '[{"n":"x","size":500}]'
python3 - "$T/j/oci" "$T/j/evil.tar" <<'PY'
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, 'w') as t:
    t.add(src, arcname='.')
    ti = tarfile.TarInfo('../x'); data = b'escaped\n'; ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
PY
# (l) 1 KiB of random bytes
head -c 1024 /dev/urandom >"$T/random.bin"
# (m) a plain tar layer cut in the middle of a file
mkimage m '[{"n":"x","size":100000}]'
head -c 60000 "$T/m/layer.tar" >"$T/m/short.tar"
python3 - "$T/m/oci" "$T/m/short.tar" <<'PY'
import hashlib, json, os, sys
d, f = sys.argv[1], sys.argv[2]
data = open(f, 'rb').read(); dg = hashlib.sha256(data).hexdigest()
open(d + '/blobs/sha256/' + dg, 'wb').write(data)
def put(b):
    x = hashlib.sha256(b).hexdigest(); open(d + '/blobs/sha256/' + x, 'wb').write(b); return 'sha256:' + x
idx = json.load(open(d + '/index.json')); ent = idx['manifests'][0]
man = json.load(open(d + '/blobs/' + ent['digest'].replace(':', '/')))
cfg = json.load(open(d + '/blobs/' + man['config']['digest'].replace(':', '/')))
cfg['rootfs']['diff_ids'] = ['sha256:' + dg]; c = json.dumps(cfg).encode()
man['config'] = {'mediaType': man['config']['mediaType'], 'digest': put(c), 'size': len(c)}
man['layers'] = [{'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': 'sha256:' + dg, 'size': len(data)}]
m = json.dumps(man).encode(); ent['digest'] = put(m); ent['size'] = len(m)
json.dump(idx, open(d + '/index.json', 'w'))
PY

log "running the cases"
declare -A PRE_EXISTING
for p in /evil /etc/evil "$T/evil" "$T/x" "$(dirname "$T")/evil" "$(dirname "$T")/x"; do
  PRE_EXISTING[$p]=$(stat -c '%i %Y' "$p" 2>/dev/null || true)
done
case_ "(a) truncated gzip" 'gzip|truncat|unexpected end|eof|decompress|short' ci pull "oci:$T/a/oci:t"
case_ "(a2) corrupt deflate data" 'gzip|deflate|decompress|corrupt|invalid' ci pull "oci:$T/a2/oci:t"
case_ "(b) member ../evil" '\.\.|outside|escape' ci pull "oci:$T/b/oci:t"
case_ "(b2) member a/../../evil" '\.\.|outside|escape' ci pull "oci:$T/b2/oci:t"
case_ "(b3) hard link to ../../etc/passwd" '\.\.|outside|escape|link' ci pull "oci:$T/b3/oci:t"
case_ "(c) absolute /etc/evil" 'absolute' ci pull "oci:$T/c/oci:t"
case_ "(d) a -> /etc, then a/passwd" 'symlink' ci pull "oci:$T/d/oci:t"
case_ "(d2) a -> ../../../etc, then a/passwd" 'symlink' ci pull "oci:$T/d2/oci:t"
case_ "(e) 1 GiB of zeros" 'limit|end of archive|too (large|big|many)|exceed|zero' ci pull "oci:$T/e/oci:t"
case_ "(e2) gzip bomb (1 GiB of zeros)" 'limit|end of archive|too (large|big|many)|exceed|zero|bomb|ratio' ci pull "oci:$T/e2/oci:t"
case_ "(f) layer blob != its digest" 'digest' ci pull "oci:$T/f/oci:t"
case_ "(f2) config blob != its digest" 'digest' ci pull "oci:$T/f2/oci:t"
case_ "(g) diff_ids do not match" 'diff.?id|uncompressed digest|digest' ci pull "oci:$T/g/oci:t"
case_ "(h) missing blob" 'missing|not found|no such' ci pull "oci:$T/h/oci:t"
case_ "(i) malformed index.json" 'index\.json|json|parse' ci pull "oci:$T/i/oci:t"
case_ "(j) oci-archive member ../x" '\.\.|outside|escape' ci pull "oci-archive:$T/j/evil.tar:t"
case_ "(j2) load of that archive" '\.\.|outside|escape' ci load -i "$T/j/evil.tar"
case_ "(k) unknown transport dir:" 'transport|dir' ci pull "dir:$T/nothing"
# A name without a transport is a registry reference (docker.io/library/foo:bar, as in docker);
# only 127.0.0.1 is ever contacted by the tests: a closed port.
case_ "(k2) a registry that does not answer" 'connect|refused' ci pull 127.0.0.1:1/foo:bar --tls-verify=false
case_ "(l) oci-archive of random bytes" 'archive|tar|invalid|format|not' ci pull "oci-archive:$T/random.bin"
case_ "(l2) docker-archive of random bytes" 'archive|tar|invalid|format|not' ci pull "docker-archive:$T/random.bin"
case_ "(l3) load of random bytes" 'archive|tar|invalid|format|not' ci load -i "$T/random.bin"
case_ "(m) plain tar cut short" 'truncat|short|eof|unexpected end' ci pull "oci:$T/m/oci:t"
case_ "(n) no such directory" 'no such|not found|missing' ci pull "oci:$T/does-not-exist:t"
case_ "(o) no such tag" 'tag|no image|not found' ci pull "oci:$T/base/oci:nope"
case_ "(q) --as with a digest" 'name|digest' ci pull "oci:$T/base/oci:t" --as sha256:0123

# nothing escaped onto the host (paths that already existed before the test
# are judged by their inode and mtime instead)
for p in /evil /etc/evil "$T/evil" "$T/x" "$(dirname "$T")/evil" "$(dirname "$T")/x"; do
  now=$(stat -c '%i %Y' "$p" 2>/dev/null || true)
  [[ "$now" == "${PRE_EXISTING[$p]:-}" ]] || fail "a malformed layer wrote $p"
done
grep -q '^root::0:0::/:/bin/sh' /etc/passwd && fail "/etc/passwd was overwritten!"
log "$NCASES cases"
