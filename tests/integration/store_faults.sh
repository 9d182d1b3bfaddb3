#!/usr/bin/env bash
# The store never loses data: damage to packs and to the index, as an
# adversary (or a failing disk) would do it, on a store holding one ordinary
# image. After each: fsck's verdict is right, gc refuses (one line, nothing
# deleted: every pack byte-identical), and `fsck --repair` (or a re-pull)
# restores the image byte for byte.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo ldb zstd python3

IMG=$T/img
umoci_start "$IMG" t "$T/b"
R=$T/b/rootfs
rand_file "$R/big" 4000000 # ~60 chunks of 64 KiB on average
text_file "$R/notes" 100000
mkdir "$R/d"
echo hi >"$R/d/hi"
umoci_commit "$IMG" t "$T/b"
umoci unpack --image "$IMG:t" "$T/orig" >/dev/null

ci pull "oci:$IMG:t" --as victim:1 >/dev/null
assert_fsck_clean
PRISTINE=$T/pristine
cp -a "$ROOT" "$PRISTINE"
restore_pristine() { rm -rf "$ROOT" && cp -a "$PRISTINE" "$ROOT"; }
pack_sums() { (cd "$ROOT/packs" && sha256sum ./*.pack); }
the_pack() { ls "$ROOT"/packs/*.pack | sed -n 1p; }
[[ $(ls "$ROOT"/packs/*.pack | wc -l) -eq 1 ]] || fail "expected one pack in the fresh store"

# expect_fsck_problem REGEX: fsck exits non-zero, does not say clean, and
# one of its lines matches REGEX.
expect_fsck_problem() {
  local out rc=0
  out=$(ci fsck 2>&1) || rc=$?
  sed 's/^/    fsck: /' <<<"$out" | head -n 5
  [[ $rc -ne 0 ]] || fail "fsck exited 0 on a damaged store"
  [[ "$(tail -n1 <<<"$out")" != *" clean" ]] || fail "fsck said clean on a damaged store"
  grep -Eqi -- "$1" <<<"$out" || fail "fsck output does not match /$1/"
}

# expect_gc_refused: one-line error, every pack byte-identical, image listed.
# shellcheck disable=SC2120  # $1 (the expected message) is optional
expect_gc_refused() {
  local before
  before=$(pack_sums)
  expect_one_line_error "${1:-gc refused, nothing deleted}" ci gc
  echo "    $ERR_LINE"
  assert_eq "$before" "$(pack_sums)" "pack files after a refused gc"
}

expect_image_whole() {
  assert_fsck_clean
  push_compare victim:1 "$T/orig/rootfs"
  ci gc >/dev/null
  assert_fsck_clean
  push_compare victim:1 "$T/orig/rootfs"
}

# poke FILE OFFSET PYEXPR: replace the 4 bytes at OFFSET (u32le) with PYEXPR(old)
poke_u32() {
  python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
p, off, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(p, 'r+b') as f:
    f.seek(off); old = struct.unpack('<I', f.read(4))[0]
    f.seek(off); f.write(struct.pack('<I', eval(expr, {'old': old}) & 0xffffffff))
PY
}
flip_byte() {
  python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x5a]))
PY
}

# ------------------------------------------------------------------ pack header
log "case 1: one byte flipped in the pack header (offset 9, the pack id)"
flip_byte "$(the_pack)" 9
expect_fsck_problem "pack header"
expect_gc_refused
ci images | grep victim >/dev/null || fail "image no longer listed"
out=$(ci fsck --repair 2>&1) || fail "fsck --repair failed: $out"
grep -q "pack header rewritten" <<<"$out" || fail "repair did not say it rewrote the header: $out"
expect_image_whole
restore_pristine

# ------------------------------------------------------------ record length
log "case 2: the length field of a record in the middle inflated by 100 MB"
read -r OFF NREC < <(python3 - "$(the_pack)" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
off, recs = 24, []
while off + 48 <= len(data):
    magic, clen, ulen, flags = struct.unpack_from('<IIII', data, off)
    assert magic == 0x4b4e4843
    recs.append(off); off += 48 + clen
print(recs[len(recs) // 3], len(recs))
PY
)
log "record at $OFF of $NREC records"
[[ $NREC -ge 30 ]] || fail "expected a pack of many records, got $NREC"
poke_u32 "$(the_pack)" $((OFF + 4)) "old + 100000000"
expect_fsck_problem "past a damaged record|pack record header"
expect_gc_refused
out=$(ci fsck --repair 2>&1) || fail "fsck --repair failed: $out"
grep -q "record header rewritten" <<<"$out" || fail "repair did not rewrite the record header: $out"
expect_image_whole
restore_pristine

log "case 2b: a chunk's frame damaged too (no intact copy): repair drops it, the re-pull stores it"
damage_frame() { flip_byte "$(the_pack)" $(($1 + 48 + 10)); }
damage_frame "$OFF"
expect_fsck_problem "digest mismatch|cannot decompress"
out=$(ci fsck --repair 2>&1) || fail "fsck --repair failed: $out"
grep -q "dropped from the index" <<<"$out" || fail "repair did not drop the bad chunk: $out"
grep -q "pulled again from oci:" <<<"$out" || fail "repair did not pull the image again: $out"
expect_image_whole
restore_pristine

log "case 2c: the same damage mended by a plain re-pull of the image"
damage_frame "$OFF"
out=$(ci pull "oci:$IMG:t" --as victim:1) || fail "re-pull failed: $out"
grep -q "1 damaged chunk of the stored image replaced" <<<"$out" || fail "re-pull did not replace the chunk: $out"
expect_image_whole
restore_pristine

# ------------------------------------------------------------------- index
log "case 3: index/CURRENT removed"
rm "$ROOT/index/CURRENT"
before=$(pack_sums)
expect_one_line_error "index.*missing" ci images
expect_one_line_error "index.*missing" ci fsck
expect_one_line_error "index.*missing" ci gc
assert_eq "$before" "$(pack_sums)" "packs after commands on a store without CURRENT"
out=$(ci fsck --repair 2>&1) || fail "fsck --repair failed: $out"
grep -q "CURRENT restored" <<<"$out" || fail "repair did not restore CURRENT: $out"
expect_image_whole
restore_pristine

log "case 3b: the whole index directory removed"
rm -rf "$ROOT/index"
before=$(pack_sums)
expect_one_line_error "index.*missing" ci images
expect_one_line_error "index.*missing" ci gc
expect_one_line_error "index.*missing" ci pull "oci:$IMG:t" --as other:1
[[ ! -e "$ROOT/index/CURRENT" ]] || fail "a command created a new, empty index"
assert_eq "$before" "$(pack_sums)" "packs after commands on a store without an index"
restore_pristine

log "case 3c: the index's table files removed"
ssts=("$ROOT"/index/*.sst)
[[ -e "${ssts[0]}" ]] || fail "no .sst files in the index"
rm -f "$ROOT"/index/*.sst
before=$(pack_sums)
rc=0
out=$(ci fsck 2>&1) || rc=$?
echo "    fsck: $(tail -n1 <<<"$out")"
[[ $rc -ne 0 && "$(tail -n1 <<<"$out")" != *" clean" ]] || fail "fsck on an index without its tables: exit $rc: $out"
rc=0
out=$(ci gc 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "gc ran on an index without its tables: $out"
assert_eq "$before" "$(pack_sums)" "packs after gc on an index without its tables"
restore_pristine

# -------------------------------------------------------- altered TOC record
log "case 4: a TOC record with two chunk entries swapped (passes RocksDB's checksums)"
DIFF=$(oci_diff_ids "$IMG" t | sed -n 1p)
DIFF=${DIFF#sha256:}
KEY=0x74$DIFF
ldb --db="$ROOT/index" get --key_hex "$KEY" --value_hex | sed 's/^0x//' | xxd -r -p >"$T/toc.zst"
zstd -q -d -c "$T/toc.zst" >"$T/toc.raw"
python3 - "$T/toc.raw" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
def varint(pos):
    v = s = 0
    while True:
        x = b[pos]; pos += 1
        v |= (x & 0x7f) << s; s += 7
        if not x & 0x80: return v, pos
pos = 4 + 1 + 32
_, pos = varint(pos)           # tar size
n, pos = varint(pos)           # chunk count
ents = []
for _ in range(n):
    start = pos; pos += 32; _, pos = varint(pos); ents.append(bytes(b[start:pos]))
assert n >= 2, n
table_start = 4 + 1 + 32
# swap the first two chunk entries (both of the big file)
ents[0], ents[1] = ents[1], ents[0]
head_len = sum(len(e) for e in ents)
first = pos - head_len
b[first:pos] = b''.join(ents)
open(p, 'wb').write(bytes(b))
PY
zstd -q -f -3 "$T/toc.raw" -o "$T/toc2.zst"
ldb --db="$ROOT/index" put --key_hex "$KEY" --value_hex "0x$(xxd -p "$T/toc2.zst" | tr -d '\n')" >/dev/null
expect_fsck_problem "altered|checksum"
cfs_setup
mkdir -p "$T/mnt"
it_track_mount "$T/mnt"
if timeout -k 5 60 "$CLUSTERFS" mount --root "$ROOT" victim:1 "$T/mnt" 2>"$T/mount.err"; then
  if cat "$T/mnt/big" >"$T/big.out" 2>/dev/null; then
    cmp -s "$T/big.out" "$T/orig/rootfs/big" || fail "clusterfs served wrong bytes from an altered TOC"
    fail "clusterfs served a file from an altered TOC"
  fi
  cfs_umount "$T/mnt"
else
  log "mount refused: $(head -n1 "$T/mount.err")"
  grep -qi "checksum\|altered" "$T/mount.err" || fail "mount refused without naming the damage: $(cat "$T/mount.err")"
fi
expect_gc_refused
log "a re-pull replaces the altered record"
ci pull "oci:$IMG:t" --as victim:1 >/dev/null
expect_image_whole

log "all cases: no image data lost, fsck verdicts right, repaired"
