#!/usr/bin/env bash
# Looking inside images without a mount: cimg ls, cat, cp, export and
# inspect docker://. A stored 3-layer image (whiteouts, an opaque dir, hard
# links, symlinks, devices, xattrs, owners): export equals umoci's unpack of
# the same image; cat of files equals the source; cp of a directory equals
# the source subtree; ls prints the expected lines; errors are one line with
# exit 1. The same as an unprivileged user on a store of its own. Then a
# zstd:chunked image in a registry behind the throttling proxy: cat of a small
# file moves < 5% of the image, inspect docker:// moves only the manifest and
# the config, ls moves only metadata, export reads it whole and equals the
# stored export.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup umoci tar setfattr getfattr mknod mkfifo cmp setpriv curl

MiB=$((1024 * 1024))

# ------------------------------------------------------------- the image
IMG=$T/img
B=$T/build
log "building the source image"
umoci_start "$IMG" tag "$B"
R=$B/rootfs
text_file "$R/small.txt" 3000
rand_file "$R/big.bin" $((6 * MiB + 12345))
text_file "$R/text.txt" $((300 * 1024))
mkdir -p "$R/a/b/c" "$R/emptydir" "$R/dev"
echo deep >"$R/a/b/c/deep.txt"
ln -s ../small.txt "$R/a/rel-link"
ln -s /etc/passwd "$R/a/abs-link"
ln -s does/not/exist "$R/a/dangling"
echo "linked content" >"$R/a/hl1"
ln "$R/a/hl1" "$R/a/b/hl2"
mkfifo "$R/a/fifo"
mknod "$R/dev/null" c 1 3
mknod "$R/dev/loop7" b 7 7
install -m 4755 /dev/null "$R/a/suid"
mkdir "$R/owned"
echo o >"$R/owned/file"
chown -R 1234:5678 "$R/owned"
setfattr -n user.comment -v "hello world" "$R/small.txt"
setfattr -n user.dir -v d "$R/a/b"
setfattr -n trusted.secret -v t1 "$R/a/hl1"
echo bye >"$R/todelete.txt"
mkdir -p "$R/somedir/oldsub"
echo old >"$R/somedir/oldsub/old"
touch -d '2001-02-03 04:05:06' "$R/small.txt"
umoci_commit "$IMG" tag "$B"
# layer 2: a whiteout, a changed file
rm "$R/todelete.txt"
echo changed >"$R/a/b/c/deep.txt"
umoci_commit "$IMG" tag "$B"
# layer 3: an opaque directory
python3 - "$T/layer3.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, typ, data=b'', mode=0o644):
        ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = 1700000000
        ti.size = len(data) if typ == tarfile.REGTYPE else 0
        t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
    add('somedir', tarfile.DIRTYPE, mode=0o755)
    add('somedir/.wh..wh..opq', tarfile.REGTYPE)
    add('somedir/new', tarfile.REGTYPE, b'new one\n')
PY
umoci raw add-layer --image "$IMG:tag" "$T/layer3.tar" >/dev/null
umoci unpack --image "$IMG:tag" "$T/orig" >/dev/null
O=$T/orig/rootfs
[[ ! -e "$O/todelete.txt" && ! -e "$O/somedir/oldsub" && -f "$O/somedir/new" ]] ||
  fail "fixture: umoci did not apply the whiteout and the opaque dir"
ci pull "oci:$IMG:tag" --as br:1 >/dev/null || fail "pull of the source image"

# ------------------------------------------------------------- stored: export
log "stored image: export equals umoci unpack"
ci export br:1 -o "$T/rootfs.tar" || fail "export -o"
mkdir "$T/x"
tar --xattrs --xattrs-include='*' --numeric-owner -xpf "$T/rootfs.tar" -C "$T/x" || fail "tar -x of the export"
compare_trees "$O" "$T/x" "export of br:1 vs umoci unpack"
ci export br:1 >"$T/rootfs2.tar" || fail "export to stdout"
cmp "$T/rootfs.tar" "$T/rootfs2.tar" || fail "export -o and export to stdout differ"
tar -tvf "$T/rootfs.tar" >"$T/tar.list"
grep -E '^h.* a/(b/hl2|hl1) link to a/(hl1|b/hl2)$' "$T/tar.list" >/dev/null || fail "export: no hard link member: $(grep hl "$T/tar.list")"
if grep -E 'todelete|\.wh\.|oldsub' "$T/tar.list" >/dev/null; then fail "export holds whited-out paths or markers"; fi

# ------------------------------------------------------------- stored: cat, cp, ls
log "stored image: cat, cp, ls"
for f in small.txt big.bin text.txt a/b/c/deep.txt a/b/hl2 owned/file somedir/new; do
  ci cat "br:1:/$f" >"$T/cat.out" || fail "cat br:1:/$f"
  cmp "$O/$f" "$T/cat.out" || fail "cat br:1:/$f differs from the source"
done
ci cat br:1:/a/rel-link >"$T/cat.out" || fail "cat of a symlink to a file"
cmp "$O/small.txt" "$T/cat.out" || fail "cat of a/rel-link differs from small.txt"
mkdir "$T/cp"
ci cp br:1:/a "$T/cp" || fail "cp br:1:/a DIR"
compare_trees "$O/a" "$T/cp/a" "cp of /a vs the source subtree"
ci cp br:1:/a/b/c/deep.txt "$T/cp/renamed.txt" || fail "cp of a file to a new name"
cmp "$O/a/b/c/deep.txt" "$T/cp/renamed.txt" || fail "cp of a file differs"

ci ls br:1:/a >"$T/ls.a" || fail "ls br:1:/a"
grep -Ex 'lrwxrwxrwx 0 0 +0 [0-9-]+ [0-9:]+ rel-link -> \.\./small\.txt' "$T/ls.a" >/dev/null ||
  fail "ls: no rel-link line: $(cat "$T/ls.a")"
grep -Ex 'prw-r--r-- 0 0 +0 [0-9-]+ [0-9:]+ fifo' "$T/ls.a" >/dev/null || fail "ls: no fifo line: $(cat "$T/ls.a")"
grep -Ex -- '-rwsr-xr-x 0 0 +0 [0-9-]+ [0-9:]+ suid' "$T/ls.a" >/dev/null || fail "ls: no suid line: $(cat "$T/ls.a")"
assert_eq "$(find "$O/a" -mindepth 1 -maxdepth 1 | wc -l)" "$(wc -l <"$T/ls.a")" "ls br:1:/a line count"
ci ls br:1 /owned >"$T/ls.owned" || fail "ls IMAGE PATH"
grep -Ex -- '-rw-r--r-- 1234 5678 +2 [0-9-]+ [0-9:]+ file' "$T/ls.owned" >/dev/null || fail "ls /owned: $(cat "$T/ls.owned")"
ci ls br:1:/dev >"$T/ls.dev" || fail "ls /dev"
grep -Ex 'crw-r--r-- 0 0 1, 3 [0-9-]+ [0-9:]+ null' "$T/ls.dev" >/dev/null || fail "ls /dev: $(cat "$T/ls.dev")"
grep -Ex -- '-rw-r--r-- +0 +0 +3000 2001-02-0[2-4] [0-9:]+ small\.txt' <(ci ls br:1) >/dev/null || fail "ls /: no small.txt line"
assert_eq "$(cd "$O" && find . -mindepth 1 | wc -l)" "$(ci ls -R br:1:/ | wc -l)" "ls -R line count"
ci ls br:1:/a --format json | python3 -c '
import json, sys
j = {e["Path"]: e for e in json.load(sys.stdin)}
assert j["rel-link"]["LinkTarget"] == "../small.txt", j["rel-link"]
assert j["hl1"]["Size"] == 15 and j["hl1"]["Type"] == "regular", j["hl1"]
assert "trusted.secret" in j["hl1"]["Xattrs"], j["hl1"]
assert j["b"]["Type"] == "directory", j["b"]
' || fail "ls --format json"

log "errors: one line, exit 1"
for args in "cat br:1:/nope" "cat br:1:/a" "ls br:1:/nope" "cp br:1:/nope $T/cp" "cat nosuch:1:/x" \
  "cat br:1" "export nosuch:1 -o $T/no.tar"; do
  rc=0
  # shellcheck disable=SC2086  # split on purpose
  ci $args >/dev/null 2>"$T/err" || rc=$?
  assert_eq 1 "$rc" "exit status of cimg $args"
  # shellcheck disable=SC2086
  expect_one_line_error "" ci $args
done
expect_one_line_error 'br:1:/nope: no such file or directory' ci cat br:1:/nope
expect_one_line_error 'br:1:/a: is a directory' ci cat br:1:/a
expect_one_line_error "image 'nosuch:1' is not in the store" ci cat nosuch:1:/x
[[ ! -e "$T/no.tar" ]] || fail "a failed export left its file"

# ------------------------------------------------------------- as nobody
log "as an unprivileged user, on a store of its own"
U=$(mktemp -d "${TMPDIR:-/tmp}/cimg-it-browse-nobody.XXXXXX")
IT_CLEANUP_HOOKS+=("rm -rf '$U'")
chmod 755 "$U"
cp -a "$IMG" "$U/img"
mkdir "$U/home" "$U/out"
chown -R 65534:65534 "$U/home" "$U/out" "$U/img"
NB=(setpriv --reuid=65534 --regid=65534 --clear-groups env -u CIMG_ROOT HOME="$U/home" XDG_DATA_HOME=)
"${NB[@]}" "$CIMG" -q pull "oci:$U/img:tag" --as br:1 >/dev/null || fail "nobody: pull"
[[ -d "$U/home/.local/share/cimg" ]] || fail "nobody: no store in ~/.local/share/cimg"
"${NB[@]}" "$CIMG" -q export br:1 -o "$U/out/rootfs.tar" || fail "nobody: export"
cmp "$T/rootfs.tar" "$U/out/rootfs.tar" || fail "nobody's export differs from root's"
"${NB[@]}" "$CIMG" -q cat br:1:/big.bin >"$T/nb.big" || fail "nobody: cat"
cmp "$O/big.bin" "$T/nb.big" || fail "nobody: cat of big.bin differs"
"${NB[@]}" "$CIMG" -q ls -R br:1:/a >"$T/nb.ls" || fail "nobody: ls"
ci ls -R br:1:/a >"$T/root.ls"
cmp "$T/root.ls" "$T/nb.ls" || fail "nobody: ls -R differs from root's"
"${NB[@]}" "$CIMG" -q cp br:1:/ "$U/out/all" 2>"$T/nb.cp.err" || fail "nobody: cp: $(cat "$T/nb.cp.err")"
grep -F 'dev/null: a device, left out (needs root)' "$T/nb.cp.err" >/dev/null || fail "nobody: cp did not say it left a device out"
(cd "$O" && find . -type f ! -path './dev/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/sums.src"
(cd "$U/out/all" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/sums.nb"
cmp "$T/sums.src" "$T/sums.nb" || fail "nobody: cp of / differs in content: $(diff "$T/sums.src" "$T/sums.nb" | head)"
assert_eq "$(stat -c %a "$O/a/suid")" "$(stat -c %a "$U/out/all/a/suid")" "nobody: cp mode of a/suid"
assert_eq "$(stat -c %i "$U/out/all/a/hl1")" "$(stat -c %i "$U/out/all/a/b/hl2")" "nobody: cp hard link"
assert_eq "hello world" "$(getfattr --absolute-names --only-values -n user.comment "$U/out/all/small.txt")" "nobody: cp user.* xattr"
assert_eq "65534:65534" "$(stat -c %u:%g "$U/out/all/owned/file")" "nobody: cp owner (not kept without root)"
expect_one_line_error 'no such file or directory' "${NB[@]}" "$CIMG" -q cat br:1:/nope

# ------------------------------------------------------------- remote
log "a zstd:chunked image in a registry, behind the throttling proxy"
reg_start_plain reg
ci push br:1 "$REG_REG_ADDR/browse:1" --tls-verify=false >/dev/null || fail "push to the registry"
reg_start_proxy px "$REG_REG_ADDR" --rate 20000000 --rtt-ms 5
PX=$REG_PX_ADDR
STATS=$REG_PX_STATS
pbytes() {
  sleep 0.3 # the stats file is rewritten when a response ends
  reg_proxy_stat "$STATS" body_bytes
}
curl -sf -o "$T/manifest.json" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REG_REG_ADDR/v2/browse/manifests/1" || fail "no manifest"
MANIFEST=$(cat "$T/manifest.json")
IMG_SIZE=$(json_get 'sum(l["size"] for l in j["layers"])' <<<"$MANIFEST")
CFG_SIZE=$(json_get 'j["config"]["size"]' <<<"$MANIFEST")
MAN_SIZE=$(stat -c %s "$T/manifest.json")
log "   image: $IMG_SIZE bytes of layers, manifest $MAN_SIZE, config $CFG_SIZE"

reg_proxy_ctl "$REG_PX_CTL" reset-stats
ci inspect "docker://$PX/browse:1" --tls-verify=false >"$T/inspect.json" || fail "inspect docker://"
b=$(pbytes)
log "   inspect docker://: $b bytes"
# the manifest, the config, and the "{}" of the /v2/ version check
((b >= MAN_SIZE + CFG_SIZE && b <= MAN_SIZE + CFG_SIZE + 64)) ||
  fail "inspect docker:// moved $b bytes: not the manifest ($MAN_SIZE) + the config ($CFG_SIZE)"
python3 - "$T/inspect.json" "$(ci inspect br:1 | json_get 'j[0]["Id"]')" <<'PY' || fail "inspect docker:// JSON"
import json, sys
j = json.load(open(sys.argv[1]))[0]
assert j["Id"] == sys.argv[2], (j["Id"], sys.argv[2])
assert len(j["Layers"]) == 3 and all("zstd" in l["SourceMediaType"] for l in j["Layers"]), j["Layers"]
assert j["Architecture"] and j["Os"] == "linux", j
assert j["Manifest"]["config"]["digest"] == j["Id"], j["Manifest"]
PY
DIGEST=$(json_get 'j[0]["Digest"]' <"$T/inspect.json")
assert_eq "$DIGEST" "sha256:$(ci inspect --raw "docker://$PX/browse:1" --tls-verify=false | sha256sum | cut -d' ' -f1)" \
  "digest of inspect --raw"
assert_eq "$DIGEST" "$(ci inspect --format '{{.Digest}}' "docker://$PX/browse:1" --tls-verify=false)" \
  "inspect --format of docker://"

RR=$T/remote-root
reg_proxy_ctl "$REG_PX_CTL" reset-stats
cir "$RR" cat "$PX/browse:1:/small.txt" --tls-verify=false >"$T/r.small" || fail "cat of a remote small file"
cmp "$O/small.txt" "$T/r.small" || fail "remote cat of small.txt differs"
b=$(pbytes)
log "   cat of a 3000-byte file: $b bytes ($(python3 -c "print('%.2f' % (100.0 * $b / $IMG_SIZE))")% of the image)"
((b * 20 < IMG_SIZE)) || fail "remote cat of a small file moved $b bytes: not < 5% of the image ($IMG_SIZE)"
reg_proxy_ctl "$REG_PX_CTL" reset-stats
cir "$RR" ls -R "$PX/browse:1:/" --tls-verify=false >"$T/r.ls" || fail "remote ls -R"
cmp <(ci ls -R br:1:/) "$T/r.ls" || fail "remote ls -R differs from the stored image's"
b=$(pbytes)
log "   ls -R after that: $b bytes"
((b < 64 * 1024)) || fail "remote ls moved $b bytes (the TOCs are in the store already)"
reg_proxy_ctl "$REG_PX_CTL" reset-stats
cir "$RR" export "docker://$PX/browse:1" --tls-verify=false -o "$T/r.tar" || fail "remote export"
cmp "$T/rootfs.tar" "$T/r.tar" || fail "remote export differs from the stored image's"
b=$(pbytes)
log "   export after that: $b bytes in $(reg_proxy_stat "$STATS" requests) requests"
((b <= IMG_SIZE)) || fail "remote export moved $b bytes, more than the image's layers ($IMG_SIZE)"
cir "$RR" cat "docker://$PX/browse:1:/a/rel-link" --tls-verify=false >"$T/r.link" || fail "cat docker://...:/a/rel-link"
cmp "$O/small.txt" "$T/r.link" || fail "remote cat through a symlink differs"
expect_one_line_error 'no such file or directory' cir "$RR" cat "$PX/browse:1:/nope" --tls-verify=false
expect_one_line_error '' cir "$RR" cat "$PX/nosuch:1:/x" --tls-verify=false

log "a gzip image: not lazily readable, so its layers are fetched whole, and cat says so"
ci push br:1 "$REG_REG_ADDR/browse-gz:1" --tls-verify=false --compression gzip >/dev/null || fail "push --compression gzip"
cir "$T/gz-root" cat "$PX/browse-gz:1:/a/b/hl2" --tls-verify=false >"$T/gz.out" 2>"$T/gz.err" ||
  fail "cat of a gzip image's file: $(cat "$T/gz.err")"
cmp "$O/a/b/hl2" "$T/gz.out" || fail "cat of a gzip image's file differs"
grep -F 'is not lazily readable (not zstd:chunked): fetching it whole' "$T/gz.err" >/dev/null ||
  fail "cat of a gzip image did not say its layers are fetched whole: $(cat "$T/gz.err")"

log "policy.json: a registry image it refuses is not read"
cat >"$T/policy.json" <<EOF2
{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker": {"$PX/browse": [{"type": "reject"}]}}}
EOF2
reg_proxy_ctl "$REG_PX_CTL" reset-stats
CONTAINERS_POLICY=$T/policy.json expect_one_line_error 'refused by policy' \
  cir "$T/policy-root" cat "$PX/browse:1:/small.txt" --tls-verify=false
b=$(pbytes)
((b < 64 * 1024)) || fail "a refused image moved $b bytes"
CONTAINERS_POLICY=$T/policy.json ci cat br:1:/small.txt >/dev/null || fail "policy.json stopped a stored image's cat"
