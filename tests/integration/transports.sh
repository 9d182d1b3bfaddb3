#!/usr/bin/env bash
# oci-archive / docker-archive in and out (against skopeo), save/load, tag,
# rmi, history, --help, and platform selection from a multi-arch index.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo

IMG=$T/img
log "building two images with umoci"
umoci_start "$IMG" a "$T/ba"
R=$T/ba/rootfs
mkdir -p "$R/etc" "$R/bin"
rand_file "$R/bin/tool" 700000
echo "name=a" >"$R/etc/a.conf"
ln -s tool "$R/bin/tool-link"
umoci_commit "$IMG" a "$T/ba"
echo more >"$R/etc/more"
umoci config --image "$IMG:a" --config.cmd /bin/tool --config.env FOO=bar
umoci unpack --image "$IMG:a" "$T/ba2" >/dev/null
echo layer2 >"$T/ba2/rootfs/etc/layer2"
umoci_commit "$IMG" a "$T/ba2"
umoci_start "$IMG" b "$T/bb"
rand_file "$T/bb/rootfs/other" 300000
umoci_commit "$IMG" b "$T/bb"
CFG_A=$(oci_config_digest "$IMG" a)
CFG_B=$(oci_config_digest "$IMG" b)
umoci unpack --image "$IMG:a" "$T/oa" >/dev/null
umoci unpack --image "$IMG:b" "$T/ob" >/dev/null

log "skopeo: oci -> docker-archive and oci-archive"
skopeo_ copy -q "oci:$IMG:a" "docker-archive:$T/a-docker.tar:example.com/team/app:v1"
skopeo_ copy -q "oci:$IMG:a" "oci-archive:$T/a-oci.tar:v2"
skopeo_ copy -q "oci:$IMG:b" "docker-archive:$T/b-docker.tar:bee:latest"

mkdir -p "$ROOT"
out=$(ci pull "docker-archive:$T/a-docker.tar") || fail "pull docker-archive"
assert_eq "example.com/team/app:v1  $CFG_A" "$(head -n1 <<<"$out")" "docker-archive pull: name from RepoTags and ID"
assert_eq "$CFG_A" "$(image_id example.com/team/app:v1)" "docker-archive image ID"
out=$(ci pull "oci-archive:$T/a-oci.tar:v2" --as x:y) || fail "pull oci-archive --as"
assert_eq "x:y  $CFG_A" "$(head -n1 <<<"$out")" "oci-archive pull first line"
ci pull "oci:$IMG:b" --as bee >/dev/null || fail "pull oci b"
assert_eq "$CFG_B" "$(image_id bee:latest)" "a name without a tag gets :latest"
push_compare x:y "$T/oa/rootfs"
push_compare example.com/team/app:v1 "$T/oa/rootfs" gzip
assert_fsck_clean

log "push to oci-archive"
ci push x:y "oci-archive:$T/pushed.tar:t" >/dev/null || fail "push oci-archive"
skopeo_ inspect "oci-archive:$T/pushed.tar:t" >/dev/null || fail "skopeo cannot read our oci-archive"
skopeo_ copy -q "oci-archive:$T/pushed.tar:t" "oci:$T/from-archive:t"
unpack_pushed "$T/from-archive" t "$T/ua"
compare_trees "$T/oa/rootfs" "$T/ua/rootfs" "oci-archive push vs original"
assert_eq "$CFG_A" "$(oci_config_digest "$T/from-archive" t)" "config digest through our oci-archive"

log "save / load"
ci save -o "$T/all.tar" example.com/team/app:v1 bee >/dev/null || fail "save"
skopeo_ inspect "oci-archive:$T/all.tar:example.com/team/app:v1" >/dev/null ||
  fail "skopeo cannot find example.com/team/app:v1 in the saved archive"
skopeo_ inspect "oci-archive:$T/all.tar:bee:latest" >/dev/null ||
  fail "skopeo cannot find bee:latest in the saved archive"
skopeo_ copy -q "oci-archive:$T/all.tar:bee:latest" "oci:$T/from-save:t"
unpack_pushed "$T/from-save" t "$T/us"
compare_trees "$T/ob/rootfs" "$T/us/rootfs" "saved bee:latest vs original"
R2=$T/root2
cir "$R2" load -i "$T/all.tar" >"$T/load.out" || fail "load of our own save failed"
sed 's/^/    /' "$T/load.out"
got=$(images_json_sorted "$R2")
want=$(printf '%s\n%s\n' "$CFG_A example.com/team/app:v1" "$CFG_B bee:latest" | sort)
got_ids=$(awk '{print $1, $4}' <<<"$got" | sort)
assert_eq "$want" "$got_ids" "images after load (ID names)"
assert_fsck_clean "$R2"

log "load a skopeo-made docker-archive"
R3=$T/root3
cir "$R3" load -i "$T/b-docker.tar" >/dev/null || fail "load of a skopeo docker-archive failed"
# skopeo writes the normalized name (docker.io/library/bee:latest) into RepoTags
BNAME=$(tar -xOf "$T/b-docker.tar" manifest.json | json_get 'j[0]["RepoTags"][0]')
assert_eq "$CFG_B" "$(cir "$R3" inspect "$BNAME" | json_get 'j[0]["Id"]')" "docker-archive load ID"
cir "$R3" load -i "$T/a-oci.tar" >/dev/null || fail "load of a skopeo oci-archive failed"
cir "$R3" images --format json | python3 -c '
import json, sys
names = sorted(n for i in json.load(sys.stdin) for n in i["Names"])
print("    names after loads:", names)
assert sys.argv[1] in names, names
assert len(names) == 2, names
' "$BNAME" || fail "names after loading a skopeo oci-archive"
assert_fsck_clean "$R3"

log "tag / rmi / history"
nh_a=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["history"]))' "$IMG/blobs/${CFG_A/://}")
ci tag x:y extra/name:9 || fail "tag"
assert_eq "$CFG_A" "$(image_id extra/name:9)" "tagged image ID"
ci images | grep -E '^extra/name +9 ' >/dev/null || fail "images table lacks extra/name 9: $(ci images)"
ci images --format json | python3 -c '
import json, sys
j = json.load(sys.stdin)
# the docker-archive and the oci-archive give the same config (ID) under
# different manifests, so there may be one or two entries with this ID
i = [x for x in j if x["Id"] == sys.argv[1]]
names = sorted(n for x in i for n in x["Names"])
assert names == ["example.com/team/app:v1", "extra/name:9", "x:y"], names
tagged = [x for x in i if "extra/name:9" in x["Names"]]
assert len(tagged) == 1 and "x:y" in tagged[0]["Names"], ("tag names the same manifest as its source", i)
for x in j:
    for k in ("Names", "Id", "Digest", "Created", "Size"): assert k in x, (k, x)
' "$CFG_A" || fail "images JSON after tag"
log "scripting: images -q / --no-trunc / --filter / --format, inspect/history/diff --format"
ids=$(ci images -q) || fail "images -q"
n_ids=$(ci images --format json | json_get 'len(set(i["Id"] for i in j))')
assert_eq "$n_ids" "$(wc -l <<<"$ids")" "images -q: one line per image ID"
assert_eq "$n_ids" "$(sort -u <<<"$ids" | wc -l)" "images -q: each ID once"
grep -qx "${CFG_A:7:12}" <<<"$ids" || fail "images -q lacks ${CFG_A:7:12}: $ids"
ci images -q --no-trunc | grep -x "$CFG_A" >/dev/null || fail "images -q --no-trunc lacks $CFG_A"
assert_eq "extra/name:9 $CFG_A" "$(ci images --filter 'reference=extra/*' --format '{{.Repository}}:{{.Tag}} {{.Id}}')" \
  "images --filter reference= --format"
assert_eq "x:y" "$(ci images --filter reference=x --filter "id=${CFG_A:7:8}" --format '{{.Repository}}:{{.Tag}}')" \
  "images --filter reference= and id="
assert_eq "IMAGE ID      TAG" "$(ci images --format 'table {{.ID}} {{.Tag}}' --filter reference=bee | head -n1)" \
  "images table header"
expect_one_line_error 'unsupported image filter "containers"' ci images --filter containers=false
expect_one_line_error 'format:1:' ci images --format '{{.ID'
assert_eq "$CFG_A $CFG_A" "$(ci inspect -f '{{.ID}} {{.Id}}' extra/name:9)" "inspect -f {{.ID}} {{.Id}} (docker's and podman's spelling)"
assert_eq "$nh_a" "$(ci history extra/name:9 --format '{{.ID}}' | wc -l)" "history --format: one line per entry"
ci diff extra/name:9 --format '{{.Kind}}|{{.Path}}' | grep -x 'A|/etc/layer2' >/dev/null || fail "diff --format lacks A|/etc/layer2"
# global options after the command, as before it
assert_eq "$ids" "$("$CIMG" images --root "$ROOT" -q)" "images --root after the command"
# rmi by an ID shared by several names: refused naming them, -f removes all
expect_one_line_error 'extra/name:9.*use -f' ci rmi "${CFG_A:7:12}"
ci push bee "oci:$T/dg:t" --digestfile "$T/dg.txt" >"$T/dg.out" 2>&1 || fail "push --digestfile: $(cat "$T/dg.out")"
assert_eq "" "$(cat "$T/dg.out")" "push -q to oci: prints nothing"
"$CIMG" --root "$ROOT" push bee "oci:$T/dg2:t" >"$T/dg.out" 2>/dev/null || fail "push without -q"
assert_eq "Pushed bee to oci:$T/dg2:t" "$(cat "$T/dg.out")" "push without -q: its summary line"
assert_eq "$(json_get 'j["manifests"][0]["digest"]' <"$T/dg/index.json")" "$(cat "$T/dg.txt")" "--digestfile holds the manifest digest"

ci rmi x:y || fail "rmi"
ci images --format json | python3 -c '
import json, sys
names = sorted(n for i in json.load(sys.stdin) for n in i["Names"])
assert "x:y" not in names, names
assert "extra/name:9" in names and "example.com/team/app:v1" in names, names
' || fail "after rmi x:y"
expect_one_line_error 'x:y|not found|no such|unknown' ci inspect x:y
expect_one_line_error '' ci rmi x:y
expect_one_line_error '' ci tag does-not:exist z:z
assert_eq "$CFG_A" "$(image_id extra/name:9)" "ID of the remaining name"
ci history extra/name:9 >/dev/null || fail "history (table)"
nh=$nh_a
ci history extra/name:9 --format json | python3 -c '
import json, sys
h = json.load(sys.stdin)
assert len(h) == int(sys.argv[1]), ("history entries", len(h), sys.argv[1])
layers = [r["Layer"] for r in h if r["Layer"]]
assert len(layers) == 2, ("two entries with layers", h)
for r in h:
    for k in ("Layer", "Created", "CreatedBy", "Size", "Comment"): assert k in r, (k, r)
' "$nh" || fail "history JSON"
ci rmi -f "${CFG_A:7:12}" >"$T/rmi.out" || fail "rmi -f of an ID with several names"
assert_eq "example.com/team/app:v1 extra/name:9" "$(sed 's/^Untagged: //' "$T/rmi.out" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "rmi -f ID removes every name"
assert_eq "" "$(ci images -q --no-trunc | grep -x "$CFG_A" || true)" "rmi -f ID: the image is gone"
assert_fsck_clean

log "--help everywhere, version"
"$CIMG" --help >/dev/null || fail "cimg --help exits non-zero"
for c in pull push save load images inspect tag rmi history diff version gc fsck; do
  out=$("$CIMG" "$c" --help) || fail "cimg $c --help exits non-zero"
  grep -qi usage <<<"$out" || fail "cimg $c --help prints no usage"
  grep -q "^  cimg $c" <<<"$out" || fail "cimg $c --help shows no example"
done
version=$("$CIMG" --version)
grep -Eqx 'cimg version [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}|unknown)\)' <<<"$version" ||
  fail "cimg --version: $version"
"$CIMG" version --format json | python3 -c '
import json, sys
v = json.load(sys.stdin)
libs = v["Libraries"]
for k in ("libfuse3", "RocksDB", "zstd", "libarchive", "libcurl", "OpenSSL", "yaml-cpp", "libssh2"):
    assert libs.get(k, "")[:1].isdigit(), (k, libs)
assert v["Version"] and v["GitCommit"] and v["BuildType"], v
' || fail "cimg version --format json"
assert_eq "$("$CIMG" version --format '{{.Version}}')" "$(awk '{print $3}' <<<"$version")" "version --format {{.Version}}"
CLUSTERFS=${CLUSTERFS:-$(dirname "$CIMG")/clusterfs}
grep -Eq '^clusterfs version [0-9.]+ \(commit ' <<<"$("$CLUSTERFS" --version)" || fail "clusterfs --version: $("$CLUSTERFS" --version)"

log "multi-platform index"
MP=$T/multi
oci_multiarch "$MP"
CFG_ARM=$(oci_config_digest "$MP" arm64)
CFG_AMD=$(oci_config_digest "$MP" amd64)
skopeo_ inspect --override-arch arm64 "oci:$MP:multi" >/dev/null || fail "fixture: skopeo cannot read the multi-arch index"
out=$(ci pull "oci:$MP:multi" --platform linux/arm64) || fail "pull --platform linux/arm64"
assert_eq "multi:multi  $CFG_ARM" "$(head -n1 <<<"$out")" "--platform linux/arm64 picks the arm64 image"
assert_eq arm64 "$(ci inspect multi:multi | json_get 'j[0]["Architecture"]')" "inspect Architecture"
out=$(ci pull "oci:$MP:multi" --platform linux/amd64 --as m:amd) || fail "pull --platform linux/amd64"
assert_eq "m:amd  $CFG_AMD" "$(head -n1 <<<"$out")" "--platform linux/amd64 picks the amd64 image"
if [[ "$(uname -m)" == x86_64 ]]; then
  out=$(ci pull "oci:$MP:multi" --as m:host) || fail "pull of a multi-arch index without --platform"
  assert_eq "m:host  $CFG_AMD" "$(head -n1 <<<"$out")" "default platform on an x86_64 host"
fi
expect_one_line_error 'platform|s390x' ci pull "oci:$MP:multi" --platform linux/s390x
expect_one_line_error 'platform' ci pull "oci:$MP:multi" --platform notaplatform
push_compare multi:multi "$T/mp-arm64"
assert_fsck_clean

# Usage errors follow the same contract: non-zero, one line "cimg: reason".
log "usage errors"
expect_one_line_error 'bogus|compression' ci push bee "oci:$T/never:t" --compression bogus
[[ ! -e "$T/never" ]] || fail "push with a bad --compression wrote $T/never"
expect_one_line_error '' ci pull
expect_one_line_error '' ci pull "oci:$IMG:a" --no-such-option
expect_one_line_error 'no-such-command' ci no-such-command
