#!/usr/bin/env bash
# Self-test of the registry test infrastructure: tests/integration/registry_lib.sh
# (docker-registry plain / TLS+Basic / TLS+token), tests/registry/token_server.py
# and tests/registry/throttle_proxy.py, with curl, skopeo and python only (no
# cimg build needed). Prints one PASS/FAIL line per check and a closing
# "N passed, N failed"; exits non-zero when a check failed. Every server it
# started is killed and its work dir removed on exit (IT_KEEP=1 keeps the dir
# of a failed run).
#
#   needs: apt-get install -y docker-registry apache2-utils openssl curl skopeo python3
#   run:   tests/registry/selftest.sh   (as any user; about 30 s)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH # Debian's python3 for lib.sh's helpers
# lib.sh gives log/fail/bg/skopeo_/oci_build and the cleanup (kills IT_BG_PIDS,
# removes $T); its it_setup wants a cimg binary, so set up $T here instead.
source "$HERE/../integration/lib.sh"
source "$HERE/../integration/registry_lib.sh"
# shellcheck disable=SC2034 # lib.sh's log and cleanup use it
IT_NAME=registry-selftest
for t in docker-registry htpasswd openssl curl skopeo /usr/bin/python3 sha256sum; do
  command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is missing"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/cimg-registry-selftest.XXXXXX")
trap it_cleanup EXIT
trap 'exit 130' INT TERM
export REGISTRY_AUTH_FILE=$T/no-auth.json # never the user's stored credentials
echo '{"auths": {}}' >"$REGISTRY_AUTH_FILE"
PY=/usr/bin/python3

NPASS=0
NFAIL=0
pass() {
  NPASS=$((NPASS + 1))
  printf 'PASS: %s\n' "$1"
}
bad() {
  NFAIL=$((NFAIL + 1))
  printf 'FAIL: %s\n' "$1"
  [[ -z "${2:-}" ]] || printf '    %s\n' "${2//$'\n'/$'\n'    }"
}
# check NAME CMD...: PASS when CMD exits 0 (its output goes to $T/check.out).
check() {
  local name=$1
  shift
  if "$@" >"$T/check.out" 2>&1; then pass "$name"; else bad "$name" "$(tail -n 15 "$T/check.out")"; fi
}
# check_fails NAME CMD...: PASS when CMD exits non-zero.
check_fails() {
  local name=$1
  shift
  if "$@" >"$T/check.out" 2>&1; then bad "$name" "unexpectedly succeeded: $*"; else pass "$name"; fi
}
# expect NAME EXPECTED ACTUAL
expect() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else bad "$1" "expected '$2', got '$3'"; fi
}
now() { date +%s.%N; }
elapsed() { $PY -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
ge() { $PY -c "import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))" "$1" "$2"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }

# ------------------------------------------------------------- a test image
log "building a small OCI image (one 256 KiB random layer)"
$PY - "$T/layer.tar" <<'PY'
import io, os, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tf:
    for name, data in (("data/random.bin", os.urandom(256 * 1024)), ("etc/hello", b"hello\n")):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000; ti.mode = 0o644
        tf.addfile(ti, io.BytesIO(data))
PY
IMG=$T/img
# gzip (of random data: about the same size), so that skopeo pushes the
# blobs as they are (it would compress an uncompressed layer for docker://)
MDIGEST=$(oci_build "$IMG" v1 --compress gzip "$T/layer.tar")
LAYER=$(oci_manifest_json "$IMG" v1 | json_get 'j["layers"][0]["digest"]')
LSIZE=$(oci_manifest_json "$IMG" v1 | json_get 'j["layers"][0]["size"]')
LAYERFILE=$IMG/blobs/${LAYER/://}
log "image $MDIGEST, layer $LAYER ($LSIZE bytes)"
REPO=selftest/img

# same_blob FILE: FILE has the layer's digest
same_blob() { [[ "sha256:$(sha256sum <"$1" | cut -d' ' -f1)" == "$LAYER" ]]; }

# ------------------------------------------------------------- the CA
reg_make_ca "$T/ca-test"
check "reg_make_ca: server.crt verifies against ca.crt" \
  openssl verify -CAfile "$T/ca-test/ca.crt" "$T/ca-test/server.crt"
check "reg_make_ca: SAN has IP:127.0.0.1 and DNS:localhost" \
  bash -c "openssl x509 -in '$T/ca-test/server.crt' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' && openssl x509 -in '$T/ca-test/server.crt' -noout -ext subjectAltName | grep -q 'DNS:localhost'"
check "reg_make_ca: CA has basicConstraints CA:TRUE" \
  bash -c "openssl x509 -in '$T/ca-test/ca.crt' -noout -ext basicConstraints | grep -q 'CA:TRUE'"

# ------------------------------------------------------------- plain
reg_start_plain plain
P=$REG_PLAIN_ADDR
check "plain: skopeo copy oci -> docker (--dest-tls-verify=false)" \
  skopeo_ copy -q --dest-tls-verify=false "oci:$IMG:v1" "docker://$P/$REPO:v1"
expect "plain: skopeo inspect sees the pushed manifest digest" "$MDIGEST" \
  "$(skopeo_ inspect --tls-verify=false "docker://$P/$REPO:v1" 2>/dev/null | json_get 'j["Digest"]' 2>/dev/null)"
curl -s -o "$T/blob.plain" "http://$P/v2/$REPO/blobs/$LAYER" || true
check "plain: curl GET blob has the right digest" same_blob "$T/blob.plain"
expect "plain: DELETE of a manifest is accepted (deletes enabled)" 202 \
  "$(code -X DELETE "http://$P/v2/$REPO/manifests/$MDIGEST")"
expect "plain: manifest gone after DELETE" 404 \
  "$(code -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$P/v2/$REPO/manifests/$MDIGEST")"
skopeo_ copy -q --dest-tls-verify=false "oci:$IMG:v1" "docker://$P/$REPO:v1" >/dev/null 2>&1 || true

# ------------------------------------------------------------- TLS + Basic
reg_start_tls_basic basic alice 's3cret pass'
B=$REG_BASIC_ADDR
check "basic: cert dir holds ca.crt only" bash -c "[[ \"\$(ls '$REG_BASIC_CERTDIR')\" == ca.crt ]]"
expect "basic: GET /v2/ without credentials is 401" 401 "$(code --cacert "$REG_BASIC_CA" "https://$B/v2/")"
expect "basic: GET /v2/ with credentials is 200" 200 \
  "$(code --cacert "$REG_BASIC_CA" -u 'alice:s3cret pass' "https://$B/v2/")"
expect "basic: wrong password is 401" 401 "$(code --cacert "$REG_BASIC_CA" -u alice:nope "https://$B/v2/")"
expect "basic: TLS verification against the CA works for localhost too" 401 \
  "$(code --cacert "$REG_BASIC_CA" "https://localhost:${B#*:}/v2/")"
check_fails "basic: curl without the CA refuses the certificate" curl -sf "https://$B/v2/"
check_fails "basic: skopeo push without credentials fails" \
  skopeo_ copy -q --dest-cert-dir "$REG_BASIC_CERTDIR" --dest-no-creds "oci:$IMG:v1" "docker://$B/$REPO:v1"
check "basic: skopeo push with --dest-cert-dir and --dest-creds" \
  skopeo_ copy -q --dest-cert-dir "$REG_BASIC_CERTDIR" --dest-creds 'alice:s3cret pass' "oci:$IMG:v1" "docker://$B/$REPO:v1"
expect "basic: skopeo inspect with creds sees the digest" "$MDIGEST" \
  "$(skopeo_ inspect --cert-dir "$REG_BASIC_CERTDIR" --creds 'alice:s3cret pass' "docker://$B/$REPO:v1" 2>/dev/null | json_get 'j["Digest"]' 2>/dev/null)"

# ------------------------------------------------------------- token
# token_json VAR-PREFIX SCOPE [curl options]: the token server's JSON answer
token_json() {
  local pre=$1 scope=$2
  shift 2
  local realm=${pre}_REALM service=${pre}_SERVICE ca=${pre}_CA
  curl -s --cacert "${!ca}" "$@" "${!realm}?service=${!service}&scope=$scope" || true
}
# jwt_access: the "access" claim of the token on stdin's JSON, as type:name:actions
jwt_access() {
  $PY -c '
import base64, json, sys
tok = json.load(sys.stdin)["token"]
p = tok.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
print(" ".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in claims["access"]) or "-")'
}
jwt_header_keys() {
  $PY -c '
import base64, json, sys
h = json.load(sys.stdin)["token"].split(".")[0]
print(",".join(sorted(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))))))'
}

reg_start_token tok bob 'pa:ss word'
K=$REG_TOK_ADDR
expect "token: GET /v2/ without a token is 401 with a Bearer challenge" \
  "Bearer realm=\"$REG_TOK_REALM\",service=\"$REG_TOK_SERVICE\"" \
  "$(curl -s -D - -o /dev/null --cacert "$REG_TOK_CA" "https://$K/v2/" | sed -n 's/^[Ww]ww-[Aa]uthenticate: //p' | tr -d '\r')"
expect "token: the token server refuses a wrong password (401)" 401 \
  "$(code --cacert "$REG_TOK_CA" -u bob:wrong "$REG_TOK_REALM?service=$REG_TOK_SERVICE&scope=repository:$REPO:pull")"
expect "token: the token server refuses an unknown user (401)" 401 \
  "$(code --cacert "$REG_TOK_CA" -u mallory:x "$REG_TOK_REALM?service=$REG_TOK_SERVICE&scope=repository:$REPO:pull")"
token_json REG_TOK "repository:$REPO:pull,push" >"$T/anon.json"
expect "token: anonymous gets only pull" "repository:$REPO:pull" "$(jwt_access <"$T/anon.json")"
token_json REG_TOK "repository:$REPO:pull,push" -u 'bob:pa:ss word' >"$T/bob.json"
expect "token: the user gets pull,push" "repository:$REPO:pull,push" "$(jwt_access <"$T/bob.json")"
expect "token: JWT header names its key by x5c" "alg,typ,x5c" "$(jwt_header_keys <"$T/bob.json")"
check "token: answer has token, access_token, expires_in=300, issued_at" $PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["token"] == j["access_token"] and j["expires_in"] == 300 and j["issued_at"].endswith("Z"), j' "$T/bob.json"
token_json REG_TOK "repository:a:pull%20repository:b:push" -u 'bob:pa:ss word' >"$T/two.json"
expect "token: two scopes in one parameter" "repository:a:pull repository:b:push" "$(jwt_access <"$T/two.json")"
curl -s --cacert "$REG_TOK_CA" -u 'bob:pa:ss word' \
  "$REG_TOK_REALM?service=$REG_TOK_SERVICE&scope=repository:a:pull&scope=registry:catalog:*" >"$T/rep.json"
expect "token: repeated scope parameters, catalog for users" "repository:a:pull registry:catalog:*" \
  "$(jwt_access <"$T/rep.json")"
curl -s --cacert "$REG_TOK_CA" -d "grant_type=password&username=bob&password=pa%3Ass%20word&service=$REG_TOK_SERVICE&scope=repository:$REPO:pull" \
  "$REG_TOK_REALM" >"$T/post.json" || true
expect "token: POST grant_type=password (OAuth2 form)" "repository:$REPO:pull" "$(jwt_access <"$T/post.json" 2>&1)"
RT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("refresh_token", ""))' "$T/post.json" 2>/dev/null || true)
curl -s --cacert "$REG_TOK_CA" -d "grant_type=refresh_token&refresh_token=$RT&service=$REG_TOK_SERVICE&scope=repository:$REPO:push" \
  "$REG_TOK_REALM" >"$T/refresh.json" || true
expect "token: POST grant_type=refresh_token" "repository:$REPO:push" "$(jwt_access <"$T/refresh.json" 2>&1)"
expect "token: POST with a wrong password is 401" 401 "$(code --cacert "$REG_TOK_CA" \
  -d "grant_type=password&username=bob&password=no&service=$REG_TOK_SERVICE" "$REG_TOK_REALM")"
ANON=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/anon.json")
expect "token: the registry refuses a push (POST upload) with the anonymous token" 401 \
  "$(code --cacert "$REG_TOK_CA" -X POST -H "Authorization: Bearer $ANON" "https://$K/v2/$REPO/blobs/uploads/")"
check_fails "token: anonymous skopeo push fails" \
  skopeo_ copy -q --dest-cert-dir "$REG_TOK_CERTDIR" --dest-no-creds "oci:$IMG:v1" "docker://$K/$REPO:v1"
check "token: skopeo push with creds" \
  skopeo_ copy -q --dest-cert-dir "$REG_TOK_CERTDIR" --dest-creds 'bob:pa:ss word' "oci:$IMG:v1" "docker://$K/$REPO:v1"
expect "token: anonymous skopeo pull (inspect) works" "$MDIGEST" \
  "$(skopeo_ inspect --cert-dir "$REG_TOK_CERTDIR" --no-creds "docker://$K/$REPO:v1" 2>/dev/null | json_get 'j["Digest"]' 2>/dev/null)"
check "token: anonymous skopeo copy (pull) to an oci dir" \
  skopeo_ copy -q --src-cert-dir "$REG_TOK_CERTDIR" --src-no-creds "docker://$K/$REPO:v1" "oci:$T/pulled-tok:v1"
check "token: log has one line per request with user, scope and grant" \
  grep -q "status=200 user=bob scope=\"repository:$REPO:pull,push\" granted=\"repository:$REPO:pull,push\"" "$REG_TOK_TOKEN_LOG"
check "token: log has the 401s and the anonymous grants" bash -c \
  "grep -q 'status=401 user=bob' '$REG_TOK_TOKEN_LOG' && grep -q 'status=200 user=- scope=\"repository:$REPO:pull,push\" granted=\"repository:$REPO:pull\"' '$REG_TOK_TOKEN_LOG'"
check_fails "token: log never holds the password" grep -qF 'pa:ss word' "$REG_TOK_TOKEN_LOG"
check_fails "token: log never holds a token" grep -qF "${ANON:0:40}" "$REG_TOK_TOKEN_LOG"

# kid header (signed with the CA key, found in rootcertbundle by libtrust id)
REG_TOKEN_HEADER=kid reg_start_token kid bob pw
token_json REG_KID "repository:$REPO:pull,push" -u bob:pw >"$T/kid.json"
expect "token kid: JWT header names its key by kid" "alg,kid,typ" "$(jwt_header_keys <"$T/kid.json")"
check "token kid: skopeo push with creds" \
  skopeo_ copy -q --dest-cert-dir "$REG_KID_CERTDIR" --dest-creds bob:pw "oci:$IMG:v1" "docker://$REG_KID_ADDR/$REPO:v1"

# expiry: strict (default) -> refused right after expires_in; a non-strict
# server for the same registry shows distribution's 60 s leeway
REG_TOKEN_EXPIRES=3 reg_start_token exp bob pw
E=$REG_EXP_ADDR
skopeo_ copy -q --dest-cert-dir "$REG_EXP_CERTDIR" --dest-creds bob:pw "oci:$IMG:v1" "docker://$E/$REPO:v1" >/dev/null 2>&1 ||
  bad "token exp: push for the expiry test"
LPORT=$(reg_free_port)
bg $PY "$HERE/token_server.py" --port "$LPORT" --cert "$T/ca-exp/server.crt" --key "$T/ca-exp/server.key" \
  --issuer "$REG_EXP_ISSUER" --service "$REG_EXP_SERVICE" --users bob:pw --expires 3 2>"$T/lenient.err"
for _ in $(seq 100); do
  [[ "$(code --cacert "$REG_EXP_CA" "https://127.0.0.1:$LPORT/healthz")" == 200 ]] && break
  sleep 0.1
done
tok_of() { $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
STRICT=$(token_json REG_EXP "repository:$REPO:pull" -u bob:pw | tok_of)
LENIENT=$(curl -s --cacert "$REG_EXP_CA" -u bob:pw \
  "https://127.0.0.1:$LPORT/token?service=$REG_EXP_SERVICE&scope=repository:$REPO:pull" | tok_of)
MURL="https://$E/v2/$REPO/manifests/v1"
ACC='Accept: application/vnd.oci.image.manifest.v1+json'
expect "token exp: fresh strict token works" 200 \
  "$(code --cacert "$REG_EXP_CA" -H "$ACC" -H "Authorization: Bearer $STRICT" "$MURL")"
expect "token exp: fresh lenient token works" 200 \
  "$(code --cacert "$REG_EXP_CA" -H "$ACC" -H "Authorization: Bearer $LENIENT" "$MURL")"
sleep 4
expect "token exp: strict token refused 4 s later (expires_in 3)" 401 \
  "$(code --cacert "$REG_EXP_CA" -H "$ACC" -H "Authorization: Bearer $STRICT" "$MURL")"
expect "token exp: lenient token still accepted 4 s later (60 s leeway)" 200 \
  "$(code --cacert "$REG_EXP_CA" -H "$ACC" -H "Authorization: Bearer $LENIENT" "$MURL")"

# ------------------------------------------------------------- throttle proxy
reg_start_proxy prox "$P" --rate 100000
X=$REG_PROX_ADDR
BURL="http://$X/v2/$REPO/blobs/$LAYER"
t0=$(now)
curl -s -o "$T/blob.slow" "$BURL" || true
dt=$(elapsed "$t0")
check "proxy: blob through the proxy has the right digest" same_blob "$T/blob.slow"
MIN=$($PY -c "print('%.2f' % (0.85 * ($LSIZE - 16384) / 100000))")
if ge "$dt" "$MIN"; then pass "proxy: $LSIZE bytes at 100 KB/s took ${dt}s (>= ${MIN}s)"; else
  bad "proxy: $LSIZE bytes at 100 KB/s took only ${dt}s (< ${MIN}s)"; fi
if ge "$(( LSIZE / 100000 + 6 ))" "$dt"; then pass "proxy: ... and not much longer (${dt}s)"; else
  bad "proxy: rate limit too slow: ${dt}s for $LSIZE bytes at 100 KB/s"; fi
# two parallel downloads share the bucket: ~ 2x as long as one
t0=$(now)
curl -s -o "$T/p1" "$BURL" &
c1=$!
curl -s -o "$T/p2" "$BURL" &
c2=$!
wait $c1 $c2 || true
dt=$(elapsed "$t0")
MIN2=$($PY -c "print('%.2f' % (0.85 * (2 * $LSIZE - 16384) / 100000))")
if ge "$dt" "$MIN2" && same_blob "$T/p1" && same_blob "$T/p2"; then
  pass "proxy: two parallel downloads share the rate (${dt}s >= ${MIN2}s)"
else bad "proxy: two parallel downloads took ${dt}s (want >= ${MIN2}s, both complete)"; fi
reg_proxy_ctl "$REG_PROX_CTL" "rate 0"
expect "proxy: keep-alive (two requests, one connection)" "200 1 200 0" \
  "$(curl -s -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} ' "http://$X/v2/" "http://$X/v2/" | sed 's/ $//')"
t0=$(now)
curl -s -o "$T/blob.fast" "$BURL" || true
dt=$(elapsed "$t0")
if same_blob "$T/blob.fast" && ge 1 "$dt"; then pass "proxy: control 'rate 0' lifts the limit (${dt}s)"; else
  bad "proxy: unlimited download took ${dt}s or was wrong"; fi
expect "proxy: stats count body bytes (4 blobs, 2 x /v2/)" $((4 * LSIZE + 4)) "$(reg_proxy_stat "$REG_PROX_STATS" body_bytes)"
expect "proxy: stats count requests" 6 "$(reg_proxy_stat "$REG_PROX_STATS" requests)"

# Range
curl -s -D "$T/h.range" -o "$T/r.range" -r 100-199 "$BURL" || true
expect "proxy: a Range request is 206 with 100 bytes" "206 100" \
  "$(head -n1 "$T/h.range" | cut -d' ' -f2) $(stat -c %s "$T/r.range")"
if cmp -s <(tail -c +101 "$LAYERFILE" | head -c 100) "$T/r.range"; then pass "proxy: the range has the right bytes"; else
  bad "proxy: the range has the wrong bytes"; fi
expect "proxy: stats count Range requests" 1 "$(reg_proxy_stat "$REG_PROX_STATS" range_requests)"
reg_proxy_ctl "$REG_PROX_CTL" "ignore-range on"
curl -s -D "$T/h.norange" -o "$T/r.norange" -r 100-199 "$BURL" || true
expect "proxy: ignore-range gives 200 with the full body" "200 $LSIZE" \
  "$(head -n1 "$T/h.norange" | cut -d' ' -f2) $(stat -c %s "$T/r.norange")"
expect "proxy: ... and still counts it as a Range request" 2 "$(reg_proxy_stat "$REG_PROX_STATS" range_requests)"
reg_proxy_ctl "$REG_PROX_CTL" "ignore-range off"

# cut
reg_proxy_ctl "$REG_PROX_CTL" "cut 1 /blobs/"
rc=0
curl -s -o "$T/blob.cut" "$BURL" || rc=$?
expect "proxy: 'cut' gives a short body (curl exit 18, half the bytes)" "18 $((LSIZE / 2))" "$rc $(stat -c %s "$T/blob.cut")"
expect "proxy: 'cut' does not touch other paths" 200 "$(code "http://$X/v2/")"
curl -s -o "$T/blob.after" "$BURL" || true
check "proxy: the next download is whole again (cut 1 used up)" same_blob "$T/blob.after"
expect "proxy: stats count the cut" 1 "$(reg_proxy_stat "$REG_PROX_STATS" cuts)"

# injected status
reg_proxy_ctl "$REG_PROX_CTL" "503 2"
expect "proxy: '503 2' answers 503 twice, then passes" "503 503 200" \
  "$(code "http://$X/v2/") $(code "http://$X/v2/") $(code "http://$X/v2/")"
reg_proxy_ctl "$REG_PROX_CTL" "500" "ok"
expect "proxy: 'ok' cancels the rules" 200 "$(code "http://$X/v2/")"

# rtt
reg_proxy_ctl "$REG_PROX_CTL" "rtt 400"
t0=$(now)
code "http://$X/v2/" >/dev/null
dt=$(elapsed "$t0")
if ge "$dt" 0.4; then pass "proxy: rtt 400 delays a response (${dt}s)"; else bad "proxy: rtt 400 but ${dt}s"; fi
reg_proxy_ctl "$REG_PROX_CTL" "rtt 0"

# stall: the client times out with a partial body; ok releases the connection
reg_proxy_ctl "$REG_PROX_CTL" "stall 1 /blobs/"
rc=0
t0=$(now)
curl -s -m 1.5 -o "$T/blob.stall" "$BURL" || rc=$?
dt=$(elapsed "$t0")
expect "proxy: 'stall' holds the body (curl times out, exit 28, half the bytes)" "28 $((LSIZE / 2))" \
  "$rc $(stat -c %s "$T/blob.stall")"
reg_proxy_ctl "$REG_PROX_CTL" ok
expect "proxy: stats count the stall" 1 "$(reg_proxy_stat "$REG_PROX_STATS" stalls)"

# pushes and pulls through the proxy (Location rewriting, PATCH/PUT bodies)
check "proxy: skopeo push through the proxy" \
  skopeo_ copy -q --dest-tls-verify=false "oci:$IMG:v1" "docker://$X/selftest/viaproxy:v1"
check "proxy: skopeo pull through the proxy" \
  skopeo_ copy -q --src-tls-verify=false "docker://$X/selftest/viaproxy:v1" "oci:$T/pulled-proxy:v1"
expect "proxy: pulled manifest is the pushed one" "$MDIGEST" \
  "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/pulled-proxy/index.json" 2>/dev/null)"
curl -s -D "$T/h.post" -o /dev/null -X POST "http://$X/v2/selftest/chunked/blobs/uploads/" || true
LOC=$(sed -n 's/^[Ll]ocation: //p' "$T/h.post" | tr -d '\r')
if [[ "$LOC" == "http://$X/"* ]]; then pass "proxy: upload Location rewritten to the proxy"; else
  bad "proxy: upload Location not rewritten: '$LOC'"; fi
# a chunked request body (no Content-Length), then the closing PUT
PCODE=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Transfer-Encoding: chunked' \
  -H 'Content-Type: application/octet-stream' --data-binary "@$LAYERFILE" -D "$T/h.patch" "$LOC" || true)
LOC2=$(sed -n 's/^[Ll]ocation: //p' "$T/h.patch" | tr -d '\r')
expect "proxy: chunked PATCH body forwarded (202)" 202 "$PCODE"
SEP='?'
[[ "$LOC2" != *'?'* ]] || SEP='&'
expect "proxy: closing PUT with the digest (201)" 201 "$(code -X PUT "$LOC2${SEP}digest=$LAYER")"
curl -s -o "$T/blob.chunked" "http://$X/v2/selftest/chunked/blobs/$LAYER" || true
check "proxy: the blob uploaded with a chunked body reads back" same_blob "$T/blob.chunked"
check "proxy: stats JSON has the per-method counts" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["by_method"].get("PATCH", 0) >= 1 and s["by_method"].get("PUT", 0) >= 2, s["by_method"]' "$REG_PROX_STATS"

# --fail-after-bytes (one shot): the crossing response cut at N, the next at half
reg_start_proxy fab "$P" --fail-after-bytes 100000 --fail-count 2
F="http://$REG_FAB_ADDR/v2/$REPO/blobs/$LAYER"
s1=0 s2=0 s3=0
curl -s -o "$T/f1" "$F" || s1=$?
curl -s -o "$T/f2" "$F" || s2=$?
curl -s -o "$T/f3" "$F" || s3=$?
expect "proxy: --fail-after-bytes 100000 --fail-count 2: cut at 100000, then at half, then whole" \
  "18:100000 18:$((LSIZE / 2)) 0:$LSIZE" \
  "$s1:$(stat -c %s "$T/f1") $s2:$(stat -c %s "$T/f2") $s3:$(stat -c %s "$T/f3")"
reg_proxy_ctl "$REG_FAB_CTL" "fail-after-bytes 1000"
s4=0
curl -s -o "$T/f4" "$F" || s4=$?
expect "proxy: control 'fail-after-bytes 1000' re-arms it" "18:1000" "$s4:$(stat -c %s "$T/f4")"

# ------------------------------------------------------------- the end
echo "$NPASS passed, $NFAIL failed"
[[ $NFAIL -eq 0 ]]
