#!/usr/bin/env bash
# Sigstore signatures and policy.json against docker-registry on 127.0.0.1.
# Debian 12's skopeo 1.9 cannot take part in sigstore ("Debian-local change:
# sigstore disabled" for both signing and policy checks), so the second party
# is tests/registry/sigstore_peer.py, a separate implementation (Python,
# python3-cryptography); skopeo reads the attachment manifest, and
# registry/sigstore_test.cc checks a key cosign generated and a signature
# cosign made.
#  1. keys from `cimg generate-key` (passphrase from a file and from
#     $COSIGN_PASSWORD): encrypted cosign PEM, 0600, a P-256 public key;
#  2. `cimg push --sign-by-sigstore-private-key`: the `.sig` attachment
#     (read by skopeo) verifies with the peer under k1, not under k2;
#  3. the peer signs with its own key: `cimg pull` under a sigstoreSigned
#     policy for that key accepts it (by tag and by digest), under k1 refuses
#     it; `cimg sign` adds a second signature that both accept;
#  4. cimg refuses, with one line naming the policy entry: an unsigned image,
#     one signed by another key, a `reject` scope, a signature of another
#     identity; on pull, build FROM, a build's image collection, deploy and
#     lazy mount, and stores nothing;
#  5. `cimg sign` of a pushed image makes it acceptable; a wrong passphrase
#     is one line, and a signed push with one pushes nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup skopeo curl openssl
cfs_setup
PEER=$(cd "$(dirname "$0")/../registry" && pwd)/sigstore_peer.py
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography is missing (scripts/setup.sh installs it)"

# ------------------------------------------------------------ image, registry
mkdir -p "$T/src/etc"
echo "signed content" >"$T/src/etc/hello"
(cd "$T/src" && tar --sort=name --format=pax -cf "$T/layer.tar" -- *) || fail "tar of the source tree"
oci_build "$T/oci" v1 "$T/layer.tar" >/dev/null
ci pull "oci:$T/oci:v1" --as app:1 >/dev/null || fail "pull of the source image"

reg_start_plain reg
REG=$REG_REG_ADDR

# ---------------------------------------------------------------------- keys
printf 'first passphrase\n' >"$T/pass1"
printf 'second passphrase\n' >"$T/pass2"
ci generate-key --output-prefix "$T/k1" --passphrase-file "$T/pass1" >/dev/null || fail "generate-key k1"
COSIGN_PASSWORD='second passphrase' ci generate-key --output-prefix "$T/k2" >/dev/null || fail "generate-key k2 (\$COSIGN_PASSWORD)"
head -n1 "$T/k1.private" | grep -qx -- '-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----' || fail "k1.private is not an encrypted cosign key"
head -n1 "$T/k1.pub" | grep -qx -- '-----BEGIN PUBLIC KEY-----' || fail "k1.pub is not a PEM public key"
assert_eq 600 "$(stat -c %a "$T/k1.private")" "mode of the private key"
expect_one_line_error 'already exists' ci generate-key --output-prefix "$T/k1" --passphrase-file "$T/pass1"
openssl pkey -pubin -in "$T/k1.pub" -noout -text 2>/dev/null | grep -q 'P-256' || fail "k1.pub is not an ECDSA P-256 key (openssl)"

# policy.json: $REG/signed needs k1's signature, $REG/rejected is refused,
# everything else is accepted.
# write_policy FILE PUBKEY
write_policy() {
  cat >"$1" <<EOF
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {
    "docker": {
      "$REG/signed": [{"type": "sigstoreSigned", "keyPath": "$2"}],
      "$REG/rejected": [{"type": "reject"}]
    }
  }
}
EOF
}
write_policy "$T/policy-k1.json" "$T/k1.pub"
write_policy "$T/policy-k2.json" "$T/k2.pub"
export CONTAINERS_POLICY=$T/policy-k1.json
ENTRY="$T/policy-k1.json transports.docker\[\"$REG/signed\"\]"

# sig_manifest REPO DIGEST: the .sig attachment manifest (fails when absent)
sig_manifest() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/$1/manifests/sha256-${2#sha256:}.sig"
}

# ------------------------------ 2. cimg signs, an independent checker accepts
log "cimg push --sign-by-sigstore-private-key; the signature as skopeo and a second implementation read it"
ci push app:1 "$REG/signed/cimg:1" --tls-verify=false --digestfile "$T/cimg.digest" \
  --sign-by-sigstore-private-key "$T/k1.private" --sign-passphrase-file "$T/pass1" >/dev/null ||
  fail "signed push"
D_CIMG=$(cat "$T/cimg.digest")
sig_manifest signed/cimg "$D_CIMG" >"$T/cimg.sig.json" || fail "no sha256-<digest>.sig manifest after the signed push"
skopeo inspect --raw --tls-verify=false "docker://$REG/signed/cimg:sha256-${D_CIMG#sha256:}.sig" >"$T/cimg.sig.skopeo" ||
  fail "skopeo cannot read the .sig manifest"
json_get 'j["layers"][0]["mediaType"] + " " + j["config"]["mediaType"]' <"$T/cimg.sig.skopeo" >"$T/cimg.sig.types"
assert_eq "application/vnd.dev.cosign.simplesigning.v1+json application/vnd.oci.image.config.v1+json" \
  "$(cat "$T/cimg.sig.types")" "media types of the attachment"
grep -q 'dev.cosignproject.cosign/signature' "$T/cimg.sig.json" || fail "the .sig manifest has no signature annotation"
"$PEER" verify "$REG" signed/cimg 1 "$T/k1.pub" >/dev/null 2>"$T/peer1.err" ||
  fail "the independent checker refused cimg's signature: $(cat "$T/peer1.err")"
if "$PEER" verify "$REG" signed/cimg 1 "$T/k2.pub" >/dev/null 2>&1; then
  fail "the independent checker accepted cimg's k1 signature with k2 (it checks nothing)"
fi
ci push app:1 "$REG/signed/plain:1" --tls-verify=false >/dev/null || fail "unsigned push"

# ------------------------------- 3. an independent signer, cimg accepts it
log "a second implementation signs; cimg pull under sigstoreSigned"
ci push app:1 "$REG/signed/peer:1" --tls-verify=false >/dev/null || fail "push for the peer"
"$PEER" sign "$REG" signed/peer 1 "$T/peer" >/dev/null || fail "the independent signer failed"
write_policy "$T/policy-peer.json" "$T/peer.pub"
D_PEER=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/signed/peer:1")
CONTAINERS_POLICY=$T/policy-peer.json ci pull "$REG/signed/peer:1" --tls-verify=false >/dev/null ||
  fail "cimg refused the image the independent implementation signed"
CONTAINERS_POLICY=$T/policy-peer.json ci pull "$REG/signed/peer@$D_PEER" --tls-verify=false >/dev/null ||
  fail "cimg refused the independently signed image by digest"
expect_one_line_error "^cimg: $REG/signed/peer:1: refused by policy $ENTRY \(sigstoreSigned\): cryptographic signature verification failed$" \
  ci pull "$REG/signed/peer:1" --tls-verify=false
ci pull "$REG/signed/cimg:1" --tls-verify=false >/dev/null || fail "cimg refused its own signed image"
ci images --format '{{.Repository}}:{{.Tag}}' >"$T/images1"
grep -qx "$REG/signed/peer:1" "$T/images1" || fail "the accepted image is not stored"
# cimg sign adds its signature beside the peer's: both policies accept, the peer still verifies its own
ci sign "$REG/signed/peer:1" --tls-verify=false --sign-by-sigstore-private-key "$T/k1.private" \
  --sign-passphrase-file "$T/pass1" >/dev/null || fail "cimg sign of the peer-signed image"
assert_eq 2 "$(sig_manifest signed/peer "$D_PEER" | json_get 'len(j["layers"])')" "signatures after cimg sign"
"$PEER" verify "$REG" signed/peer 1 "$T/peer.pub" >/dev/null || fail "cimg sign broke the peer's signature"
cir "$T/root-peer" pull "$REG/signed/peer:1" --tls-verify=false >/dev/null || fail "k1 policy after cimg sign"
CONTAINERS_POLICY=$T/policy-peer.json cir "$T/root-peer2" pull "$REG/signed/peer:1" --tls-verify=false >/dev/null ||
  fail "peer policy after cimg sign"

# ---------------------------------------------------------- 4. refusals
log "refusals: unsigned, another key, reject, another identity; pull, build FROM, lazy mount"
expect_one_line_error "^cimg: $REG/signed/plain:1: refused by policy $ENTRY \(sigstoreSigned\): A signature was required, but no signature exists$" \
  ci pull "$REG/signed/plain:1" --tls-verify=false
log "  $ERR_LINE"
ci push app:1 "$REG/signed/other:1" --tls-verify=false \
  --sign-by-sigstore-private-key "$T/k2.private" --sign-passphrase-file "$T/pass2" >/dev/null || fail "push signed with k2"
expect_one_line_error "^cimg: $REG/signed/other:1: refused by policy $ENTRY \(sigstoreSigned\): cryptographic signature verification failed$" \
  ci pull "$REG/signed/other:1" --tls-verify=false
ci push app:1 "$REG/rejected/x:1" --tls-verify=false >/dev/null || fail "push to rejected/"
expect_one_line_error "refused by policy $T/policy-k1.json transports.docker\[\"$REG/rejected\"\] \(reject\)" \
  ci pull "$REG/rejected/x:1" --tls-verify=false
# a k1 signature made for another name does not vouch for this one
ci push app:1 "$REG/signed/ident:1" --tls-verify=false --sign-identity "$REG/signed/elsewhere:1" \
  --sign-by-sigstore-private-key "$T/k1.private" --sign-passphrase-file "$T/pass1" >/dev/null || fail "push --sign-identity"
expect_one_line_error "signature for identity \"$REG/signed/elsewhere:1\" is not accepted" \
  ci pull "$REG/signed/ident:1" --tls-verify=false
ci images --format '{{.Repository}}:{{.Tag}}' >"$T/images2"
for n in signed/plain:1 signed/other:1 rejected/x:1 signed/ident:1; do
  if grep -qx "$REG/$n" "$T/images2"; then fail "refused image $n was stored"; fi
done

# local transports: an oci: scope (the layout's absolute path)
printf '{"default":[{"type":"insecureAcceptAnything"}],"transports":{"oci":{"%s":[{"type":"reject"}]}}}\n' \
  "$T/oci" >"$T/policy-oci.json"
CONTAINERS_POLICY=$T/policy-oci.json expect_one_line_error \
  "^cimg: oci:$T/oci:v1: refused by policy $T/policy-oci.json transports.oci\[\"$T/oci\"\] \(reject\)" \
  cir "$T/root-oci" pull "oci:$T/oci:v1"
printf '{"default":[{"type":"reject"}],"transports":{"oci":{"%s":[{"type":"insecureAcceptAnything"}]}}}\n' \
  "$(dirname "$T/oci")" >"$T/policy-oci2.json"
CONTAINERS_POLICY=$T/policy-oci2.json cir "$T/root-oci" pull "oci:$T/oci:v1" >/dev/null ||
  fail "an oci: layout under an accepted parent directory was refused"

# build FROM
mkdir -p "$T/ctx"
printf 'FROM %s\n' "$REG/signed/plain:1" >"$T/ctx/Kubefile"
expect_one_line_error "refused by policy $ENTRY \(sigstoreSigned\)" ci build -t built:1 --tls-verify=false "$T/ctx"
log "  $ERR_LINE"
printf 'FROM %s\n' "$REG/signed/cimg:1" >"$T/ctx/Kubefile"
cir "$T/root-build" build -t built:1 --tls-verify=false "$T/ctx" >/dev/null 2>&1 || fail "build FROM a signed image refused"
# a build's image collection (manifests/imageList) reads under the policy too
mkdir -p "$T/ctx2/manifests"
printf '%s\n' "$REG/signed/plain:1" >"$T/ctx2/manifests/imageList"
printf 'FROM scratch\nCOPY manifests manifests\n' >"$T/ctx2/Kubefile"
expect_one_line_error "refused by policy $ENTRY \(sigstoreSigned\)" ci build -t collected:1 --tls-verify=false "$T/ctx2"
log "  $ERR_LINE"
printf '%s\n' "$REG/signed/cimg:1" >"$T/ctx2/manifests/imageList"
cir "$T/root-build" build -t collected:1 --tls-verify=false "$T/ctx2" >/dev/null 2>&1 ||
  fail "a build collecting a signed image was refused"
# deploy of an image the store lacks: refused before any host is contacted
expect_one_line_error "^cimg: $REG/signed/plain:1: refused by policy $ENTRY \(sigstoreSigned\)" \
  ci deploy "$REG/signed/plain:1" --masters 192.0.2.1 --tls-verify=false

# lazy mounts: refused before anything is mounted; a signed image mounts
mkdir -p "$T/mnt-refused" "$T/mnt-ok"
rc=0
timeout -k 5 60 "$CLUSTERFS" mount --root "$T/root-lazy" --tls-verify=false "$REG/signed/plain:1" "$T/mnt-refused" \
  >"$T/mount.out" 2>"$T/mount.err" || rc=$?
((rc != 0 && rc != 124)) || fail "lazy mount of an unsigned image under sigstoreSigned: exit $rc"
if is_mounted "$T/mnt-refused"; then
  it_track_mount "$T/mnt-refused"
  fail "the refused image was mounted"
fi
assert_eq 1 "$(wc -l <"$T/mount.err")" "lines of the lazy mount's refusal"
grep -E "refused by policy $ENTRY \(sigstoreSigned\)" "$T/mount.err" >/dev/null ||
  fail "lazy mount refusal does not name the entry: $(cat "$T/mount.err")"
log "  $(cat "$T/mount.err")"
ROOT_SAVED=$ROOT
ROOT=$T/root-lazy
cfs_mount --tls-verify=false "$REG/signed/cimg:1" "$T/mnt-ok"
assert_eq "signed content" "$(cat "$T/mnt-ok/etc/hello")" "file of the lazily mounted signed image"
cfs_umount "$T/mnt-ok"
ROOT=$ROOT_SAVED

# ------------------------------------------------------ 5. cimg sign, passphrase
log "cimg sign; a wrong passphrase"
expect_one_line_error 'wrong passphrase' ci sign "$REG/signed/plain:1" --tls-verify=false \
  --sign-by-sigstore-private-key "$T/k1.private" --sign-passphrase-file "$T/pass2"
# a signed push checks the key first: nothing is pushed with a wrong passphrase
expect_one_line_error "^cimg: $T/k1.private: decryption failed \(wrong passphrase\?\)$" \
  ci push app:1 "$REG/signed/never:1" --tls-verify=false \
  --sign-by-sigstore-private-key "$T/k1.private" --sign-passphrase-file "$T/pass2"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REG/v2/signed/never/manifests/1")
assert_eq 404 "$code" "manifest of a push refused for its passphrase"
ci sign "$REG/signed/plain:1" --tls-verify=false --sign-by-sigstore-private-key "$T/k1.private" \
  --sign-passphrase-file - <"$T/pass1" >/dev/null || fail "cimg sign (passphrase on stdin)"
ci pull "$REG/signed/plain:1" --tls-verify=false >/dev/null || fail "pull after cimg sign refused"
"$PEER" verify "$REG" signed/plain 1 "$T/k1.pub" >/dev/null || fail "the independent checker refused cimg sign's signature"
log "ok"
