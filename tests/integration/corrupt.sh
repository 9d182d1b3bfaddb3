#!/usr/bin/env bash
# One flipped byte inside a stored chunk frame: fsck names the chunk, push
# fails with one line and never writes a layer with wrong content.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo

IMG=$T/img
umoci_start "$IMG" t "$T/b"
R=$T/b/rootfs
rand_file "$R/r1" 300000
text_file "$R/t1" 200000
rand_file "$R/r2" 50000
mkdir "$R/d"
echo hi >"$R/d/hi"
umoci_commit "$IMG" t "$T/b"

ci pull "oci:$IMG:t" --as victim:1 >/dev/null
assert_fsck_clean
# a push before the damage works (so a later failure is the damage's doing)
umoci unpack --image "$IMG:t" "$T/orig" >/dev/null
push_compare victim:1 "$T/orig/rootfs"

shopt -s nullglob
packs=("$ROOT"/packs/*.pack)
[[ ${#packs[@]} -ge 1 ]] || fail "no pack files under $ROOT/packs"
PACK=${packs[0]}

# Walk the pack: [24-byte header] then records [u32 magic, u32 clen, u32 ulen,
# u32 flags, 32-byte digest] + clen frame bytes. Flip one byte in the middle
# of the first record's frame that is long enough.
read -r DIGEST OFF CLEN < <(python3 - "$PACK" <<'PY'
import struct, sys
p = sys.argv[1]
data = open(p, 'rb').read()
assert data[:8] == b'CFSPACK2', 'not a pack: %r' % data[:8]
off = 24
while off + 48 <= len(data):
    magic, clen, ulen, flags = struct.unpack_from('<IIII', data, off)
    assert magic == 0x4b4e4843, 'bad record magic at %d' % off
    if clen >= 64 and not flags & 1:
        flip = off + 48 + clen // 2
        print('sha256:' + data[off + 16:off + 48].hex(), flip, clen)
        sys.exit(0)
    off += 48 + clen
sys.exit('no record with a frame of >= 64 bytes')
PY
)
[[ -n "$DIGEST" ]] || fail "could not find a chunk record"
log "flipping byte $OFF of $(basename "$PACK") (chunk $DIGEST, frame $CLEN bytes)"
python3 - "$PACK" "$OFF" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x5a]))
PY

# fsck: non-zero, names the chunk
rc=0
out=$(ci fsck 2>&1) || rc=$?
echo "$out" | sed 's/^/    fsck: /'
[[ $rc -ne 0 ]] || fail "fsck exited 0 on a corrupt chunk"
grep -q "chunk $DIGEST" <<<"$out" || fail "fsck output does not name 'chunk $DIGEST'"
[[ "$(tail -n1 <<<"$out")" != *clean ]] || fail "fsck's last line still says clean"

# clusterfs: a read that needs the bad chunk fails with EIO; every read that
# succeeds returns exactly the original bytes.
cfs_setup
mkdir -p "$T/mnt"
cfs_mount victim:1 "$T/mnt"
bad=0
for f in r1 t1 r2 d/hi; do
  if cat "$T/mnt/$f" >"$T/read.out" 2>"$T/read.err"; then
    cmp -s "$T/read.out" "$T/orig/rootfs/$f" || fail "clusterfs served wrong bytes for $f"
  else
    grep -q "Input/output error" "$T/read.err" || fail "reading $f failed, but not with EIO: $(cat "$T/read.err")"
    bad=$((bad + 1))
  fi
done
[[ $bad -ge 1 ]] || fail "every file read fine through clusterfs although chunk $DIGEST is corrupt"
log "clusterfs: $bad file(s) refused with EIO, the others byte-exact"
cfs_umount "$T/mnt"

# push: fails with one line; nothing wrong lands in OUT
check_out_dir() { # DIR: no manifest for tag t, every blob matches its digest
  local d=$1
  if skopeo_ inspect "oci:$d:t" >/dev/null 2>&1; then
    fail "push failed but oci:$d:t is a readable image"
  fi
  [[ -d "$d/blobs/sha256" ]] || return 0
  local f
  for f in "$d"/blobs/sha256/*; do
    [[ "$(basename "$f")" == "$(sha256sum <"$f" | cut -d' ' -f1)" ]] ||
      fail "push left blob $(basename "$f") whose content does not match its digest"
  done
}
for comp in "" zstd gzip none; do
  out_dir=$T/out-${comp:-default}
  log "push --compression ${comp:-default} must fail"
  if [[ -n "$comp" ]]; then
    expect_one_line_error "" ci push victim:1 "oci:$out_dir:t" --compression "$comp"
  else
    expect_one_line_error "" ci push victim:1 "oci:$out_dir:t"
  fi
  echo "    $ERR_LINE"
  grep -Eqi "corrupt|digest|mismatch|decompress|$DIGEST" <<<"$ERR_LINE" ||
    fail "push error does not say what is wrong: $ERR_LINE"
  check_out_dir "$out_dir"
done

log "push to an oci-archive must fail too, leaving no readable archive"
expect_one_line_error "" ci push victim:1 "oci-archive:$T/out.tar:t"
echo "    $ERR_LINE"
if [[ -e "$T/out.tar" ]] && skopeo_ inspect "oci-archive:$T/out.tar:t" >/dev/null 2>&1; then
  fail "push failed but left a readable oci-archive $T/out.tar"
fi
log "save must fail too"
expect_one_line_error "" ci save -o "$T/save.tar" victim:1
echo "    $ERR_LINE"
if [[ -e "$T/save.tar" ]] && skopeo_ inspect "oci-archive:$T/save.tar:victim:1" >/dev/null 2>&1; then
  fail "save failed but left a readable archive"
fi
