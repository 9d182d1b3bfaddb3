#!/usr/bin/env bash
# A 3-layer image with every kind of tar entry, whiteouts and an opaque dir goes
# through cimg pull -> push (zstd:chunked, gzip, none) and must unpack to the
# same tree as the original, byte-exact for the uncompressed export. Then a
# delta bundle (cimg save --since) carries the next version of an image to a
# store that got the old one another way (save/load): one file, and split
# volumes given out of order; refused by a store without the old one.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo setfattr getfattr mknod mkfifo zstd

IMG=$T/img
B=$T/build
log "building the source image"
umoci_start "$IMG" tag "$B"
R=$B/rootfs

# --- layer 1: everything
text_file "$R/small.txt" 3000
printf '' >"$R/empty"
rand_file "$R/medium.bin" 100000
rand_file "$R/big.bin" $((3 * 1024 * 1024 + 12345))
text_file "$R/text-2m.txt" $((2 * 1024 * 1024))
mkdir -p "$R/a/b/c/d" "$R/emptydir"
echo deep >"$R/a/b/c/d/deep.txt"
ln -s ../small.txt "$R/a/rel-link"
ln -s /etc/passwd "$R/a/abs-link"
ln -s does/not/exist "$R/a/dangling"
ln -s b/c "$R/a/dirlink"
echo "linked content" >"$R/a/hl1"
ln "$R/a/hl1" "$R/a/b/hl2"
mkfifo "$R/a/fifo"
mknod "$R/a/null" c 1 3
mknod "$R/a/blk" b 7 200
install -m 4755 /dev/null "$R/suid"
echo x >>"$R/suid"
install -m 2755 /dev/null "$R/sgid"
mkdir -m 1777 "$R/tmpdir"
chmod 1777 "$R/tmpdir"
install -m 0600 /dev/null "$R/secret"
echo s3cret >"$R/secret"
mkdir "$R/owned"
echo o >"$R/owned/file"
chown -R 1234:5678 "$R/owned"
chown 1234:5678 "$R/suid" "$R/a/rel-link"
chown -h 1234:5678 "$R/a/rel-link"
chmod 4755 "$R/suid" # chown cleared the setuid bit
setfattr -n user.comment -v "hello world" "$R/small.txt"
setfattr -n user.bin -v 0x00ff10 "$R/medium.bin"
setfattr -n trusted.secret -v t1 "$R/secret"
setfattr -n user.dir -v d "$R/a/b"
setfattr -n trusted.big -v "$(head -c 900 /dev/zero | tr '\0' y)" "$R/big.bin"
long=$R/$(printf 'long%.0s' $(seq 1 20))/$(printf 'n%.0s' $(seq 1 120))
mkdir -p "$(dirname "$long")"
echo long >"$long"
echo unicode >"$R/ünïcödé 文件 with spaces"
echo bye >"$R/todelete.txt"
mkdir -p "$R/somedir/oldsub"
echo old1 >"$R/somedir/old1"
echo old2 >"$R/somedir/oldsub/old2"
touch -d '2001-02-03 04:05:06' "$R/small.txt"
umoci_commit "$IMG" tag "$B"

# --- layer 2: delete a file (whiteout), change one, add one
rm "$R/todelete.txt"
echo changed >"$R/a/b/c/d/deep.txt"
rand_file "$R/layer2.bin" 50000
umoci_commit "$IMG" tag "$B"

# --- layer 3: hand-made tar with an opaque marker
python3 - "$T/layer3.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, typ, data=b'', mode=0o644):
        ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = 1700000000
        ti.size = len(data) if typ == tarfile.REGTYPE else 0
        t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
    add('somedir', tarfile.DIRTYPE, mode=0o755)
    add('somedir/.wh..wh..opq', tarfile.REGTYPE)
    add('somedir/new1', tarfile.REGTYPE, b'new one\n')
    add('somedir/newsub', tarfile.DIRTYPE, mode=0o700)
    add('somedir/newsub/new2', tarfile.REGTYPE, b'new two\n' * 1000, 0o640)
PY
umoci raw add-layer --image "$IMG:tag" "$T/layer3.tar" >/dev/null

ORIG=$T/orig
umoci unpack --image "$IMG:tag" "$ORIG" >/dev/null
O=$ORIG/rootfs
# sanity of the fixture itself
[[ ! -e "$O/todelete.txt" ]] || fail "fixture: whiteout not applied by umoci"
[[ ! -e "$O/somedir/old1" && ! -e "$O/somedir/oldsub" ]] || fail "fixture: opaque marker not applied by umoci"
[[ -f "$O/somedir/newsub/new2" ]] || fail "fixture: layer 3 missing"
[[ "$(getfattr -h --only-values -n trusted.secret "$O/secret" 2>/dev/null)" == t1 ]] ||
  fail "fixture: umoci did not keep trusted.* xattr"
[[ "$(stat -c %a "$O/suid")" == 4755 && "$(stat -c %u:%g "$O/owned/file")" == 1234:5678 ]] ||
  fail "fixture: modes/owners not kept by umoci"
n_layers=$(oci_diff_ids "$IMG" tag | wc -l)
assert_eq 3 "$n_layers" "fixture layer count"
CFG=$(oci_config_digest "$IMG" tag)

# --- pull, default name
log "pull"
out=$(ci pull "oci:$IMG:tag") || fail "pull failed"
echo "$out"
first=$(head -n1 <<<"$out")
assert_eq "img:tag  $CFG" "$first" "pull first line"
grep -Eq '^  3 layers \(0 already stored, 0 fetched by parts\), .*; chunks: [0-9]+ distinct, [0-9]+ new \(.* stored\)$' <<<"$out" ||
  fail "pull summary line malformed: $(sed -n 2p <<<"$out")"
assert_eq "$CFG" "$(image_id img:tag)" "image ID (inspect)"
ci inspect img:tag | python3 -c '
import json, sys
j = json.load(sys.stdin)[0]
assert j["RepoTags"] == ["img:tag"], j["RepoTags"]
assert len(j["Layers"]) == 3, j["Layers"]
for l in j["Layers"]:
    for k in ("DiffID", "SourceDigest", "SourceMediaType", "Size", "Entries", "Chunks"):
        assert k in l, (k, l)
assert j["Chunks"]["Total"] > 0 and j["Chunks"]["New"] > 0, j["Chunks"]
' || fail "inspect JSON unexpected"
assert_fsck_clean

# --- pulling the same image again stores nothing new
out=$(ci pull "oci:$IMG:tag" --as again:1) || fail "second pull failed"
grep -Eq '3 layers \(3 already stored, 0 fetched by parts\)' <<<"$out" || fail "second pull re-stored layers: $out"

# --- push in every compression; each must unpack to the original tree
for comp in "" gzip none zstd; do
  log "push ${comp:-default (zstd:chunked)}"
  push_compare img:tag "$O" "$comp"
  got_cfg=$(oci_config_digest "$PUSHED_DIR" t)
  assert_eq "$CFG" "$got_cfg" "pushed config digest (${comp:-default})"
  case $comp in
  "")
    oci_manifest_json "$PUSHED_DIR" t | python3 -c '
import json, sys
m = json.load(sys.stdin)
for l in m["layers"]:
    assert l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd", l["mediaType"]
    a = l.get("annotations", {})
    for k in ("manifest-checksum", "manifest-position"):
        assert "io.github.containers.zstd-chunked." + k in a, ("missing annotation", k, a)
        # the older name, as containers/storage 1.43 (podman 4.3) reads it
        assert a.get("io.containers.zstd-chunked." + k) == a["io.github.containers.zstd-chunked." + k], ("older annotation", k, a)
' || fail "zstd:chunked layer descriptors lack the expected media type / annotations"
    for blob in $(oci_manifest_json "$PUSHED_DIR" t | json_get '" ".join(l["digest"] for l in j["layers"])'); do
      f=$PUSHED_DIR/blobs/${blob/://}
      [[ "$(tail -c 8 "$f")" == GNUlInUx ]] || fail "layer $blob has no zstd:chunked footer"
      zstd -q -d -c "$f" | sha256sum >/dev/null || fail "zstd cannot decode layer $blob"
    done
    ZC=$PUSHED_DIR
    ;;
  none)
    want=$(oci_diff_ids "$IMG" tag | tr '\n' ' ')
    got=$(oci_manifest_json "$PUSHED_DIR" t | json_get '" ".join(l["digest"] for l in j["layers"]) + " "')
    assert_eq "$want" "$got" "uncompressed layer digests vs original diff_ids"
    for blob in $got; do
      assert_eq "${blob#sha256:}" "$(sha256sum <"$PUSHED_DIR/blobs/${blob/://}" | cut -d' ' -f1)" "blob file content"
    done
    ;;
  esac
done

# --- our own zstd:chunked output pulls back to the same image
log "re-pull our zstd:chunked output into a fresh root"
R2=$T/root2
cir "$R2" pull "oci:$ZC:t" --as back:1 >/dev/null || fail "pulling our own zstd:chunked push failed"
assert_eq "$CFG" "$(cir "$R2" inspect back:1 | json_get 'j[0]["Id"]')" "ID after zstd:chunked round trip"
assert_fsck_clean "$R2"
rm -rf "$ZC"
assert_fsck_clean

# --- delta bundles: v2 = v1 + a 3 MiB layer, against a store that holds v1
# under another manifest (it came by cimg save/load)
log "delta bundle: save --since, load (one file, volumes out of order, no base)"
D=$T/delta
mkdir -p "$D/l1" "$D/l2"
rand_file "$D/l1/base.bin" 500000
rand_file "$D/l2/new.bin" $((3 * 1024 * 1024))
tar -C "$D/l1" -cf "$D/l1.tar" . || fail "delta: layer tar 1"
tar -C "$D/l2" -cf "$D/l2.tar" . || fail "delta: layer tar 2"
oci_build "$D/oci" v1 "$D/l1.tar" >/dev/null
oci_build "$D/oci" v2 "$D/l1.tar" "$D/l2.tar" >/dev/null
ci pull "oci:$D/oci:v1" --as app:v1 >/dev/null || fail "delta: pull of v1"
ci pull "oci:$D/oci:v2" --as app:v2 >/dev/null || fail "delta: pull of v2"
ci save -o "$D/v1.tar" app:v1 || fail "delta: save of v1"
RB=$T/root-b
cir "$RB" load -i "$D/v1.tar" >/dev/null || fail "delta: load of v1"
out=$(ci save --since app:v1 -o "$D/delta.tar" app:v2) || fail "delta: save --since failed"
grep -q '1 layer (1 more in app:v1)' <<<"$out" || fail "delta: unexpected summary: $out"
size=$(stat -c %s "$D/delta.tar")
((size < 4 * 1024 * 1024)) || fail "delta: the bundle is $size bytes, more than the new layer"
ci save --since app:v1 --split-size 1M -o "$D/vol.tar" app:v2 >/dev/null || fail "delta: split save failed"
vols=("$D"/vol.tar.*)
((${#vols[@]} >= 3)) || fail "delta: expected 3+ volumes of at most 1M, got ${#vols[@]}"
for v in "${vols[@]}"; do (($(stat -c %s "$v") <= 1048576)) || fail "delta: $v is over 1M"; done
RC=$T/root-c
expect_one_line_error 'against app:v1 .*which this store lacks' cir "$RC" load -i "$D/delta.tar"
expect_one_line_error "volume 3 is missing" cir "$RB" load -i "${vols[1]}" -i "${vols[0]}"
args=()
for ((i = ${#vols[@]} - 1; i >= 0; i--)); do args+=(-i "${vols[i]}"); done
cir "$RB" load "${args[@]}" >/dev/null || fail "delta: load of the volumes in reverse order failed"
assert_eq "$(image_id app:v2)" "$(cir "$RB" inspect app:v2 | json_get 'j[0]["Id"]')" "delta: image ID"
assert_eq "$(ci inspect app:v2 | json_get 'j[0]["Digest"]')" \
  "$(cir "$RB" inspect app:v2 | json_get 'j[0]["Digest"]')" "delta: manifest digest"
assert_fsck_clean "$RB"

