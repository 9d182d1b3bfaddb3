#!/usr/bin/env bash
# cimg sbom and cimg build --sbom, against a real docker-registry on 127.0.0.1:
#  1. a two-layer image (a RUN deletes and changes files: whiteouts) with a
#     dpkg status of two installed packages (and one removed) and a built-in
#     registry holding one collected image: the SPDX document validates
#     against tests/sbom/spdx23_schema.json (written from the SPDX 2.3
#     clauses) and lists exactly the regular files of `cimg export`'s rootfs
#     with their sha256sum, both packages (purls), and the collected image
#     with its digest; the CycloneDX document validates against
#     tests/sbom/cyclonedx15_schema.json with the same content;
#  2. deterministic: two runs with SOURCE_DATE_EPOCH are byte-identical;
#  3. build --sbom: inspect lists the referrer, sbom --attached prints the
#     very document sbom prints; a cached rebuild with --sbom cyclonedx-json
#     keeps the SPDX one beside it;
#  4. push: the registry (distribution 2.8, no referrers API) gets the
#     fallback index tagged sha256-<hex> listing both artifacts; skopeo
#     inspect --raw of each referrer manifest shows subject = the pushed
#     image's digest, and its layer is the SBOM; a second push leaves one
#     entry per artifact;
#     cimg sbom of the pushed image read from the registry (lazily, into an
#     empty store) lists the same files and packages, with the pushed digest;
#  4c. pull of the pushed image into an empty store brings both SBOMs back
#     (from the fallback tag: inspect lists them, sbom --attached prints the
#     same bytes), fsck clean; its push to another repository carries them
#     (fallback index, subject = the new digest, the same SBOM blobs);
#  4b. push to oci: and oci-archive:, save: each artifact is an untagged
#     index.json entry with its artifactType, its manifest's subject the
#     image's manifest as written there, its layer the SBOM; skopeo inspects
#     and umoci unpacks the layout by its tag still; pull oci:, pull
#     oci-archive: and load into empty stores bring both SBOMs back
#     (sbom --attached prints them), fsck clean;
#  5. gc keeps the artifacts while the image lives (fsck clean); rmi lets gc
#     drop them (the blob count gc reports).
source "$(dirname "$0")/lib.sh"
it_setup docker-registry curl skopeo umoci tar
source "$(dirname "$0")/registry_lib.sh"
cfs_setup
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMAS=$REPO/tests/sbom
VALIDATE=(/usr/bin/python3 "$SCHEMAS/validate.py")
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  fail "Debian's python3-jsonschema is missing (apt-get install python3-jsonschema)"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

reg_start_plain src
R=$REG_SRC_ADDR

log "a small container image in $R/library/pause:3.9"
mkdir -p "$T/pause"
echo pause >"$T/pause/pause"
tar -C "$T/pause" -cf "$T/pause.tar" pause
oci_build "$T/oci" pause "$T/pause.tar" --arch "$(dpkg --print-architecture)" >/dev/null
skopeo_ copy -q --dest-tls-verify=false "oci:$T/oci:pause" "docker://$R/library/pause:3.9" ||
  fail "skopeo push of the stand-in image"
PAUSE=sha256:$(skopeo_ inspect --raw --tls-verify=false "docker://$R/library/pause:3.9" | sha256sum | cut -d' ' -f1)

log "1. a cluster image with a dpkg status and a built-in registry"
C=$T/ctx
mkdir -p "$C/var/lib/dpkg" "$C/manifests" "$C/etc" "$C/bin"
cat >"$C/var/lib/dpkg/status" <<'ST'
Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
ST
printf '%s/library/pause:3.9\n' "$R" >"$C/manifests/imageList"
echo gone >"$C/etc/gone"
echo old >"$C/etc/changed"
: >"$C/etc/empty"
head -c 3000000 /dev/urandom >"$C/bin/big"   # several chunks: hashed by reading
ln "$C/bin/big" "$C/bin/big-link"
ln -s big "$C/bin/big-sym"
printf 'FROM scratch\nCOPY . .\nRUN rm etc/gone && echo new >etc/changed && echo added >etc/added\n' >"$C/Kubefile"
export SOURCE_DATE_EPOCH=1700000000
ci build --tls-verify=false --sbom spdx-json -t sb/app:1 "$C" >/dev/null || fail "cimg build --sbom"

ci sbom sb/app:1 -o "$T/a.spdx.json" || fail "cimg sbom"
"${VALIDATE[@]}" "$SCHEMAS/spdx23_schema.json" "$T/a.spdx.json" || fail "the SPDX document does not validate"
log "   the SPDX document validates against tests/sbom/spdx23_schema.json"

# every regular file of the exported rootfs, with its sha256sum
mkdir "$T/rootfs"
ci export sb/app:1 -o "$T/rootfs.tar"
tar -C "$T/rootfs" -xf "$T/rootfs.tar"
(cd "$T/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum | awk '{print $2 " " $1}') >"$T/want.files"
/usr/bin/python3 - "$T/a.spdx.json" >"$T/got.files" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for f in sorted(d["files"], key=lambda f: f["fileName"]):
    print(f["fileName"], [c["checksumValue"] for c in f["checksums"] if c["algorithm"] == "SHA256"][0])
PY
sort -o "$T/want.files" "$T/want.files"
sort -o "$T/got.files" "$T/got.files"
diff "$T/want.files" "$T/got.files" >"$T/files.diff" || fail "SBOM files differ from the exported rootfs:
$(head -n 20 "$T/files.diff")"
grep -F './etc/gone ' "$T/got.files" >/dev/null && fail "a whited-out file is listed"
grep -F './bin/big-link ' "$T/got.files" >/dev/null || fail "the hard link is not listed"
log "   $(wc -l <"$T/got.files") files, each with the sha256sum of the exported rootfs"

/usr/bin/python3 - "$T/a.spdx.json" "$PAUSE" <<'PY' || fail "packages of the SPDX document"
import json, sys
d = json.load(open(sys.argv[1]))
pause = sys.argv[2]
purls = sorted(r["referenceLocator"] for p in d["packages"] for r in p.get("externalRefs", []))
want_debs = ["pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64", "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64"]
debs = [p for p in purls if p.startswith("pkg:deb/")]
assert debs == want_debs, debs
oci = [p for p in d["packages"] if p["name"] == "library/pause:3.9"]
assert len(oci) == 1 and oci[0]["versionInfo"] == pause, oci
assert oci[0]["checksums"] == [{"algorithm": "SHA256", "checksumValue": pause[7:]}], oci
assert oci[0]["externalRefs"][0]["referenceLocator"] == "pkg:oci/pause@sha256%3A" + pause[7:] + "?tag=3.9"
img = [p for p in d["packages"] if p["SPDXID"] == "SPDXRef-Image"][0]
assert img["name"] == "sb/app:1"
assert d["creationInfo"]["created"] == "2023-11-14T22:13:20Z"
contains = [r for r in d["relationships"] if r["relationshipType"] == "CONTAINS"]
assert len(contains) == len(d["files"]) + len(d["packages"]) - 1
PY
log "   both installed packages, the collected image $PAUSE"

ci sbom sb/app:1 --format cyclonedx-json -o "$T/a.cdx.json" || fail "cimg sbom --format cyclonedx-json"
"${VALIDATE[@]}" "$SCHEMAS/cyclonedx15_schema.json" "$T/a.cdx.json" || fail "the CycloneDX document does not validate"
/usr/bin/python3 - "$T/a.cdx.json" "$T/a.spdx.json" "$PAUSE" <<'PY' || fail "CycloneDX content"
import json, sys
c, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
files = {x["name"]: x["hashes"][0]["content"] for x in c["components"] if x["type"] == "file"}
spdx = {f["fileName"][2:]: f["checksums"][0]["checksumValue"] for f in s["files"]}
assert files == spdx
assert [x["purl"] for x in c["components"] if x["type"] == "library"] == \
    ["pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64", "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64"]
assert [x["version"] for x in c["components"] if x["type"] == "container"] == [sys.argv[3]]
assert c["serialNumber"] == s["documentNamespace"]
PY
log "   the CycloneDX document validates and lists the same"

log "2. deterministic with SOURCE_DATE_EPOCH"
ci sbom sb/app:1 >"$T/b.spdx.json"
cmp "$T/a.spdx.json" "$T/b.spdx.json" || fail "two runs differ"
SOURCE_DATE_EPOCH=1700000060 ci sbom sb/app:1 >"$T/c.spdx.json"
cmp "$T/a.spdx.json" "$T/c.spdx.json" >/dev/null && fail "SOURCE_DATE_EPOCH is not the creation time"
printf '{"a": 1}' >"$T/bad.json"
"${VALIDATE[@]}" "$SCHEMAS/spdx23_schema.json" "$T/bad.json" 2>/dev/null && fail "the schema accepts anything"

log "3. build --sbom: the attached SBOM"
ci inspect sb/app:1 | json_get 'j[0]["Referrers"][0]["ArtifactType"]' >"$T/types"
assert_eq application/spdx+json "$(cat "$T/types")" "inspect's Referrers"
ci sbom --attached sb/app:1 >"$T/att.spdx.json" || fail "cimg sbom --attached"
cmp "$T/a.spdx.json" "$T/att.spdx.json" || fail "the attached SBOM is not what cimg sbom prints"
expect_one_line_error 'no attached SBOM in cyclonedx-json' ci sbom --attached sb/app:1 --format cyclonedx-json
ci build --tls-verify=false --sbom cyclonedx-json -t sb/app:1 "$C" >/dev/null || fail "rebuild --sbom cyclonedx-json"
ci inspect sb/app:1 | json_get '" ".join(sorted(r["ArtifactType"] for r in j[0]["Referrers"]))' >"$T/types"
assert_eq "application/spdx+json application/vnd.cyclonedx+json" "$(cat "$T/types")" "both artifacts after the rebuild"
ci sbom --attached sb/app:1 --format cyclonedx-json | cmp - "$T/a.cdx.json" || fail "attached CycloneDX"
# A profile attached later makes a new manifest: the SBOMs go with it (on a
# second name, removed again, so that step 5 counts sb/app:1's blobs only).
printf '{"path":"etc/app.conf","offset":0,"length":1}\n' >"$T/app.profile"
ci tag sb/app:1 sb/prof:1
ci profile attach sb/prof:1 "$T/app.profile" >/dev/null
ci inspect sb/prof:1 | json_get '" ".join(sorted(r["ArtifactType"] for r in j[0]["Referrers"]))' >"$T/types"
assert_eq "application/spdx+json application/vnd.cyclonedx+json" "$(cat "$T/types")" "both artifacts after profile attach"
ci sbom --attached sb/prof:1 | cmp - "$T/a.spdx.json" || fail "attached SPDX after profile attach"
ci rmi sb/prof:1 >/dev/null

log "4. push: the OCI 1.1 fallback tag"
ci push sb/app:1 "$R/team/app:1" --tls-verify=false --digestfile "$T/digest" || fail "push"
D=$(cat "$T/digest")
skopeo_ inspect --raw --tls-verify=false "docker://$R/team/app:sha256-${D#sha256:}" >"$T/index.json" ||
  fail "no referrers index under the fallback tag"
check_index() {
  /usr/bin/python3 - "$T/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["mediaType"] == "application/vnd.oci.image.index.v1+json", i
types = sorted(m["artifactType"] for m in i["manifests"])
assert types == ["application/spdx+json", "application/vnd.cyclonedx+json"], types
for m in i["manifests"]: print(m["artifactType"], m["digest"])
PY
}
# check_referrers REPO DIGEST: each referrer listed in $T/refs has subject
# DIGEST, the empty config and the SBOM of step 1 as its layer.
check_referrers() {
  local repo=$1 digest=$2 type ref subject atype config layer
  while read -r type ref; do
    skopeo_ inspect --raw --tls-verify=false "docker://$R/$repo@$ref" >"$T/ref.json" || fail "referrer $ref"
    json_get 'j["subject"]["digest"] + " " + j["artifactType"] + " " + j["config"]["mediaType"] + " " + j["layers"][0]["digest"]' \
      <"$T/ref.json" >"$T/ref.fields"
    read -r subject atype config layer <"$T/ref.fields"
    assert_eq "$digest" "$subject" "subject of the $type referrer"
    assert_eq "$type" "$atype" "artifactType"
    assert_eq application/vnd.oci.empty.v1+json "$config" "the empty config"
    curl -sf "http://$R/v2/$repo/blobs/$layer" -o "$T/pushed.sbom" || fail "the SBOM blob"
    if [[ $type == application/spdx+json ]]; then
      cmp "$T/pushed.sbom" "$T/a.spdx.json" || fail "the pushed SPDX document ($repo)"
    else
      cmp "$T/pushed.sbom" "$T/a.cdx.json" || fail "the pushed CycloneDX document ($repo)"
    fi
  done <"$T/refs"
}
check_index >"$T/refs" || fail "the fallback index"
check_referrers team/app "$D"
ci push sb/app:1 "$R/team/app:1" --tls-verify=false || fail "second push"
skopeo_ inspect --raw --tls-verify=false "docker://$R/team/app:sha256-${D#sha256:}" >"$T/index.json"
check_index >/dev/null || fail "the fallback index after a second push"
log "   index sha256-${D#sha256:} lists both; each referrer's subject is $D"

log "   a registry image, read lazily into an empty store: the same files and packages"
cir "$T/root2" sbom "$R/team/app:1" --tls-verify=false -o "$T/remote.spdx.json" || fail "cimg sbom REGISTRY/REPO:TAG"
"${VALIDATE[@]}" "$SCHEMAS/spdx23_schema.json" "$T/remote.spdx.json" || fail "the registry image's SBOM does not validate"
/usr/bin/python3 - "$T/remote.spdx.json" "$T/a.spdx.json" "$D" <<'PY' || fail "the registry image's SBOM"
import json, sys
r, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["files"] == a["files"]
assert r["packages"][1:] == a["packages"][1:]
assert r["packages"][0]["versionInfo"] == sys.argv[3], r["packages"][0]
PY

log "4c. pull from the registry into an empty store: both SBOMs come back (fallback tag)"
cir "$T/root-pull" pull "docker://$R/team/app:1" --tls-verify=false --as pulled/app:1 >/dev/null ||
  fail "pull of the pushed image"
cir "$T/root-pull" inspect pulled/app:1 | json_get '" ".join(sorted(r["ArtifactType"] for r in j[0]["Referrers"]))' >"$T/types"
assert_eq "application/spdx+json application/vnd.cyclonedx+json" "$(cat "$T/types")" "the pulled image's referrers"
cir "$T/root-pull" sbom --attached pulled/app:1 >"$T/pulled.spdx.json" || fail "no attached SPDX after the pull"
cmp "$T/pulled.spdx.json" "$T/a.spdx.json" || fail "the pulled SPDX differs from the built one"
cir "$T/root-pull" sbom --attached pulled/app:1 --format cyclonedx-json >"$T/pulled.cdx.json" ||
  fail "no attached CycloneDX after the pull"
cmp "$T/pulled.cdx.json" "$T/a.cdx.json" || fail "the pulled CycloneDX differs from the built one"
assert_fsck_clean "$T/root-pull"
cir "$T/root-pull" push pulled/app:1 "$R/team/again:1" --tls-verify=false --digestfile "$T/again.digest" ||
  fail "push of the pulled image"
D2=$(cat "$T/again.digest")
skopeo_ inspect --raw --tls-verify=false "docker://$R/team/again:sha256-${D2#sha256:}" >"$T/index.json" ||
  fail "no referrers index for the pushed pulled image"
check_index >"$T/refs" || fail "the fallback index of the pushed pulled image"
check_referrers team/again "$D2"
log "   pull brings both back (the same bytes); push of the pulled image carries them to team/again"

log "4b. push to oci: and oci-archive:, save: the referrers in the layout"
# gzip: umoci 0.4.7 (Debian 12) predates zstd
ci push sb/app:1 "oci:$T/lay:app" --compression gzip --digestfile "$T/lay.digest" || fail "push oci:"
LD=$(cat "$T/lay.digest")
/usr/bin/python3 - "$T/lay" "$LD" "$T/a.spdx.json" "$T/a.cdx.json" <<'PY' || fail "the referrers in the oci: layout"
import json, sys
lay, d = sys.argv[1], sys.argv[2]
i = json.load(open(lay + "/index.json"))
images = [m for m in i["manifests"] if "artifactType" not in m]
assert [m["digest"] for m in images] == [d], i
assert images[0]["annotations"]["org.opencontainers.image.ref.name"] == "app", images
refs = {m["artifactType"]: m for m in i["manifests"] if "artifactType" in m}
assert sorted(refs) == ["application/spdx+json", "application/vnd.cyclonedx+json"], i
want = {"application/spdx+json": sys.argv[3], "application/vnd.cyclonedx+json": sys.argv[4]}
for t, m in refs.items():
    assert "annotations" not in m, m  # untagged: no image to pick
    man = json.load(open(lay + "/blobs/sha256/" + m["digest"][7:]))
    assert man["subject"]["digest"] == d and man["artifactType"] == t, man
    assert man["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", man
    layer = open(lay + "/blobs/sha256/" + man["layers"][0]["digest"][7:], "rb").read()
    assert layer == open(want[t], "rb").read(), t
PY
skopeo_ inspect "oci:$T/lay:app" >"$T/lay.inspect" || fail "skopeo inspect of a layout with referrers"
assert_eq "$LD" "$(json_get 'j["Digest"]' <"$T/lay.inspect")" "skopeo inspect oci:DIR:TAG: the image"
umoci unpack --image "$T/lay:app" "$T/bundle" >"$T/umoci.out" 2>&1 || fail "umoci unpack of a layout with referrers: $(tail -3 "$T/umoci.out")"
[[ -f "$T/bundle/rootfs/var/lib/dpkg/status" ]] || fail "umoci unpack: no var/lib/dpkg/status in the rootfs"
ci push sb/app:1 "oci-archive:$T/app.tar" || fail "push oci-archive:"
ci save -o "$T/saved.tar" sb/app:1 || fail "save"
cir "$T/root-lay" pull "oci:$T/lay:app" --as back/app:1 >/dev/null || fail "pull oci: of a layout with referrers"
cir "$T/root-lay" pull "oci-archive:$T/app.tar" --as arch/app:1 >/dev/null || fail "pull oci-archive:"
cir "$T/root-lay" load -i "$T/saved.tar" >"$T/load.out" || fail "load of a saved image with referrers"
for n in back/app:1 arch/app:1 sb/app:1; do
  cir "$T/root-lay" sbom --attached "$n" >"$T/back.spdx.json" || fail "$n: no attached SPDX after the round trip"
  cmp "$T/back.spdx.json" "$T/a.spdx.json" || fail "$n: the attached SPDX differs after the round trip"
  cir "$T/root-lay" sbom --attached "$n" --format cyclonedx-json >"$T/back.cdx.json" || fail "$n: no attached CycloneDX"
  cmp "$T/back.cdx.json" "$T/a.cdx.json" || fail "$n: the attached CycloneDX differs after the round trip"
done
assert_fsck_clean "$T/root-lay"
log "   oci:, oci-archive: and save carry both SBOMs; pull and load bring them back"

log "5. gc keeps the artifacts while the image lives"
ci gc >/dev/null
ci sbom --attached sb/app:1 | cmp - "$T/a.spdx.json" || fail "gc took the attached SBOM"
assert_fsck_clean
ci rmi sb/app:1 >/dev/null
out=$(ci gc)
blobs=$(sed -n 's/.* \([0-9][0-9]*\) blobs.*/\1/p' <<<"$out")
# manifest, config, 2 artifact manifests, 2 SBOMs, the empty config
assert_eq 7 "$blobs" "blobs gc removed after rmi ($out)"
assert_fsck_clean
