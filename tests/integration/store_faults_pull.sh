#!/usr/bin/env bash
# Pull refuses every layer that mount or deploy would refuse later
# (layer/layer_rules.h): bad whiteout names, whiteouts that are directories or
# have children, hard links to later, missing or directory members, name
# components over 255 bytes, zero or missing diffIDs. Each refusal is one
# "cimg: ..." line naming the layer and the member; nothing is stored (no new
# pack, tmp/ empty, image list unchanged) and fsck stays clean. The bad layers
# go through oci:, oci-archive:, docker-archive:, cimg load and a registry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup skopeo python3 tar

# mkbad DIR: one tar per case in DIR (python's tarfile, PAX format).
mkbad() {
  python3 - "$1" <<'PY'
import io, os, sys, tarfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def f(name, data=b'data\n'): return ('f', name, data)
def d(name): return ('d', name, None)
def h(name, target): return ('h', name, target)
cases = {
    'wh_empty':       [d('etc'), f('etc/.wh.', b'')],
    'wh_dot':         [f('.wh..', b'')],
    'wh_dotdot':      [f('ok', os.urandom(5000)), f('.wh...', b'')],
    'wh_dir_kids':    [d('.wh.etc'), f('.wh.etc/passwd', b'root\n')],
    'wh_dir':         [d('usr'), d('usr/.wh.lib')],
    'opq_dir':        [d('var'), d('var/.wh..wh..opq')],
    'hl_later':       [h('link', 'file'), f('file', os.urandom(3000))],
    'hl_missing':     [f('a', os.urandom(3000)), h('link', 'nowhere')],
    'hl_dir':         [d('dir'), h('link', 'dir')],
    'long_name':      [d('d'), f('d/' + 'n' * 256, b'x\n')],
}
for case, entries in cases.items():
    with tarfile.open(os.path.join(out, case + '.tar'), 'w', format=tarfile.PAX_FORMAT) as t:
        for kind, name, arg in entries:
            ti = tarfile.TarInfo(name); ti.mtime = 1700000000
            if kind == 'f':
                ti.mode = 0o644; ti.size = len(arg); t.addfile(ti, io.BytesIO(arg))
            elif kind == 'd':
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            else:
                ti.type = tarfile.LNKTYPE; ti.linkname = arg; t.addfile(ti)
PY
}

# set_diff_ids DIR TAG JSON: replaces the config's rootfs.diff_ids (JSON
# list, or null to drop the key), re-digesting config, manifest and index.
set_diff_ids() {
  python3 - "$@" <<'PY'
import hashlib, json, os, sys
d, tag, ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def blob(dg): return os.path.join(d, 'blobs', *dg.split(':'))
def put(data):
    dg = 'sha256:' + hashlib.sha256(data).hexdigest()
    open(blob(dg), 'wb').write(data); return dg
ip = os.path.join(d, 'index.json')
idx = json.load(open(ip))
ent = next(m for m in idx['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == tag)
man = json.load(open(blob(ent['digest'])))
cfg = json.load(open(blob(man['config']['digest'])))
if ids is None: del cfg['rootfs']['diff_ids']
else: cfg['rootfs']['diff_ids'] = ids
data = json.dumps(cfg).encode()
man['config']['digest'] = put(data); man['config']['size'] = len(data)
data = json.dumps(man).encode()
ent['digest'] = put(data); ent['size'] = len(data)
json.dump(idx, open(ip, 'w'))
PY
}

packs_count() { find "$ROOT/packs" -name '*.pack' 2>/dev/null | wc -l; }

# refused LABEL REGEX CMD...: one line matching REGEX, nothing stored, fsck clean.
NCASES=0
refused() {
  local label=$1 re=$2
  shift 2
  expect_one_line_error "$re" "$@"
  NCASES=$((NCASES + 1))
  printf '  %-28s %s\n' "$label" "$ERR_LINE" >&2
  assert_eq "$PACKS" "$(packs_count)" "$label: pack files after the refusal"
  local left
  left=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 ! -name 'secondary-*' 2>/dev/null | wc -l)
  assert_eq 0 "$left" "$label: scratch left in $ROOT/tmp"
  assert_eq "$BEFORE" "$(images_json_sorted)" "$label: image list"
  assert_fsck_clean
}

log "a good image first, so 'unchanged' means something"
mkdir -p "$T/good"
python3 - "$T/good/layer.tar" <<'PY'
import io, os, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    for name, data in [('etc/base.conf', b'base\n'), ('blob', os.urandom(200000))]:
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo('blob2'); ti.type = tarfile.LNKTYPE; ti.linkname = 'blob'; t.addfile(ti)
PY
oci_build "$T/good/oci" t "$T/good/layer.tar" >/dev/null
ci pull "oci:$T/good/oci:t" --as good:1 >/dev/null || fail "the well-formed image does not pull"
BEFORE=$(images_json_sorted)
PACKS=$(packs_count)
assert_fsck_clean

log "bad layers over oci: (each is one layer over the good image's layer)"
mkbad "$T/bad"
declare -A WANT=(
  [wh_empty]='member "etc/\.wh\.": whiteout names no valid file'
  [wh_dot]='member "\.wh\.\.": whiteout names no valid file'
  [wh_dotdot]='member "\.wh\.\.\.": whiteout names no valid file'
  [wh_dir_kids]='member "\.wh\.etc": whiteout is a directory'
  [wh_dir]='member "usr/\.wh\.lib": whiteout is a directory'
  [opq_dir]='member "var/\.wh\.\.wh\.\.opq": whiteout is a directory'
  [hl_later]='member "link": hard link to "file", which comes later in the layer'
  [hl_missing]='member "link": hard link to "nowhere"'
  [hl_dir]='member "link": hard link to directory "dir"'
  [long_name]='member "d/n{256}": name component of 256 bytes'
)
for c in "${!WANT[@]}"; do
  oci_build "$T/img_$c" t "$T/good/layer.tar" "$T/bad/$c.tar" >/dev/null
  refused "oci: $c" "layer 2/2 sha256:[0-9a-f]{64}: ${WANT[$c]}" \
    ci pull "oci:$T/img_$c:t" --as "bad-$c:1"
done
# A whiteout directory's child alone (no entry for the directory itself).
python3 - "$T/bad/wh_kid.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo('.wh.etc/x'); ti.size = 2; t.addfile(ti, io.BytesIO(b'x\n'))
PY
oci_build "$T/img_wh_kid" t "$T/bad/wh_kid.tar" >/dev/null
refused "oci: whiteout child" 'layer 1/1 sha256:[0-9a-f]{64}: member "\.wh\.etc/x": lies inside whiteout' \
  ci pull "oci:$T/img_wh_kid:t"

log "diffIDs: all zeros, missing, one too many"
ZERO=sha256:$(printf '0%.0s' {1..64})
oci_build "$T/img_zero" t "$T/good/layer.tar" >/dev/null
set_diff_ids "$T/img_zero" t "[\"$ZERO\"]"
refused "diffID all zeros" 'diff_ids\[0\] is all zeros' ci pull "oci:$T/img_zero:t"
oci_build "$T/img_nodiff" t "$T/good/layer.tar" >/dev/null
set_diff_ids "$T/img_nodiff" t null
refused "diffIDs missing" '0 diff_ids for 1 layers' ci pull "oci:$T/img_nodiff:t"
oci_build "$T/img_extra" t "$T/good/layer.tar" >/dev/null
good_id=$(oci_diff_ids "$T/img_extra" t)
set_diff_ids "$T/img_extra" t "[\"$good_id\", \"$good_id\"]"
refused "diffIDs one too many" '2 diff_ids for 1 layers' ci pull "oci:$T/img_extra:t"

log "the same refusals through the other transports"
tar -C "$T/img_wh_dir_kids" -cf "$T/wh.oci.tar" .
refused "oci-archive:" 'layer 2/2 sha256:[0-9a-f]{64}: member "\.wh\.etc": whiteout is a directory' \
  ci pull "oci-archive:$T/wh.oci.tar:t"
refused "cimg load (oci archive)" 'member "\.wh\.etc": whiteout is a directory' \
  ci load -i "$T/wh.oci.tar"
skopeo_ copy -q "oci:$T/img_hl_later:t" "docker-archive:$T/hl.docker.tar:bad/hl:1"
refused "docker-archive:" 'layer 2/2 sha256:[0-9a-f]{64}: member "link": hard link to "file", which comes later' \
  ci pull "docker-archive:$T/hl.docker.tar"
refused "cimg load (docker archive)" 'member "link": hard link to "file", which comes later' \
  ci load -i "$T/hl.docker.tar"
reg_start_plain R
skopeo_ copy -q --dest-tls-verify=false "oci:$T/img_long_name:t" "docker://$REG_R_ADDR/bad/long:1"
refused "registry" 'layer 2/2 sha256:[0-9a-f]{64}: member "d/n{256}": name component of 256 bytes' \
  ci pull --tls-verify=false "$REG_R_ADDR/bad/long:1"
skopeo_ copy -q --dest-tls-verify=false "oci:$T/img_zero:t" "docker://$REG_R_ADDR/bad/zero:1" ||
  fail "skopeo cannot push the zero-diffID image"
refused "registry: zero diffID" 'diff_ids\[0\] is all zeros' \
  ci pull --tls-verify=false "$REG_R_ADDR/bad/zero:1"

log "a hard link to a file a lower layer leaves is fine, and the good image still mounts"
python3 - "$T/upper.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo('blob3'); ti.type = tarfile.LNKTYPE; ti.linkname = 'blob'; t.addfile(ti)
PY
oci_build "$T/img_lower_link" t "$T/good/layer.tar" "$T/upper.tar" >/dev/null
ci pull "oci:$T/img_lower_link:t" --as lowerlink:1 >/dev/null || fail "a link into the lower layer is refused"
assert_fsck_clean
log "PASS: $NCASES refusals, each one line, nothing stored, fsck clean"
