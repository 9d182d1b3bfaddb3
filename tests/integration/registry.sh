#!/usr/bin/env bash
# cimg pull/push/login/logout against real registries (docker-registry 2.8,
# tests/integration/registry_lib.sh):
#  1. plain HTTP: push a 2-layer image (dirs, symlinks, hard links, a 3 MB
#     random file, an empty file, an xattr, a whiteout) as zstd:chunked, zstd
#     and gzip; skopeo + umoci read each back identical to umoci's unpack of
#     the source; a re-push uploads nothing; a push to a second repository
#     mounts the layers across repositories; a pull by parts mounts identical.
#  2. images skopeo pushed (gzip, zstd): cimg pulls them, clusterfs mounts
#     them identical, cimg inspect's Id is the manifest's config digest.
#  3. dedup on the wire: an image sharing a 3 MB file (in a different layer)
#     with one already stored fetches only its new bytes (throttle-proxy
#     counters); the "fetched" line agrees; fsck clean; mounts identical.
#  4. TLS + Basic: --cert-dir, login/logout, the auth file (0600,
#     base64(user:pass), other entries kept), wrong passwords, --creds,
#     --password-stdin, --authfile, $REGISTRY_AUTH_FILE.
#  5. token auth (3 s tokens): login, push/pull, anonymous pull yes, anonymous
#     push no, a throttled push and pull lasting > 6 s (the token renewed on
#     the way), passwords never in the token server's log.
#  6. faults (throttle proxy): 503/429/500 retried, a connection cut mid-blob
#     resumed with a Range request, the registry killed mid-pull (one-line
#     error, fsck clean, and a pull after its restart completes).
#  7. bad input: a missing tag, a malformed reference, plain HTTP without
#     --tls-verify=false, a closed port, a digest destination.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup umoci skopeo tar setfattr curl base64
cfs_setup

# Never the user's credentials: cimg and skopeo find ~/.docker/config.json
# (and skopeo its auth.json) under $T.
export HOME=$T/home XDG_RUNTIME_DIR=$T/xdg
mkdir -m 0700 "$HOME" "$XDG_RUNTIME_DIR"
unset REGISTRY_AUTH_FILE DOCKER_CONFIG
DEFAULT_AUTH=$HOME/.docker/config.json
echo '{"auths": {}}' >"$T/empty-auth.json"

# ------------------------------------------------------------------ helpers

# run_ok WHAT CMD...: CMD must exit 0; stdout+stderr in $OUT.
run_ok() {
  local what=$1 rc=0
  shift
  "$@" >"$T/.run.out" 2>&1 || rc=$?
  OUT=$(cat "$T/.run.out")
  [[ $rc -eq 0 ]] || fail "$what: exit $rc from: $*
$(head -c 3000 "$T/.run.out")"
}

# timed_ok WHAT CMD...: run_ok, the wall time (s, 0.1 s resolution) in $ELAPSED.
timed_ok() {
  local t0 t1
  t0=$(date +%s%N)
  run_ok "$@"
  t1=$(date +%s%N)
  ELAPSED=$(((t1 - t0) / 100000000))
  ELAPSED=$((ELAPSED / 10)).$((ELAPSED % 10))
}

# npush ROOT ARGS...: cimg push without -q, which prints nothing but errors:
# its summary line is what push_counts reads.
npush() {
  local r=$1
  shift
  "$CIMG" --root "$r" push "$@"
}

# push_counts OUT: "Pushed NAME to REF: X blobs uploaded (SIZE), Y already there, Z mounted"
push_counts() {
  [[ "$1" =~ Pushed\ .*\ to\ .*:\ ([0-9]+)\ blobs\ uploaded\ \(([^\)]*)\),\ ([0-9]+)\ already\ there,\ ([0-9]+)\ mounted ]] ||
    fail "no 'Pushed ...: X blobs uploaded (SIZE), Y already there, Z mounted' line in: $1"
  # shellcheck disable=SC2034  # results, for the checks that want them
  PUSH_UP=${BASH_REMATCH[1]} PUSH_SIZE=${BASH_REMATCH[2]} PUSH_THERE=${BASH_REMATCH[3]} PUSH_MOUNTED=${BASH_REMATCH[4]}
}

# pull_counts OUT: "REF: N UNIT fetched in M requests" and "(K already stored, P fetched by parts)".
pull_counts() {
  [[ "$1" =~ :\ ([0-9.]+)\ ([kMG]?B)\ fetched\ in\ ([0-9]+)\ requests ]] ||
    fail "no 'REF: N bytes fetched in M requests' line in: $1"
  PULL_FETCHED=$(awk -v n="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[2]}" \
    'BEGIN { m = (u == "kB") ? 1e3 : (u == "MB") ? 1e6 : (u == "GB") ? 1e9 : 1; printf "%d", n * m }')
  # shellcheck disable=SC2034  # a result, for the checks that want it
  PULL_REQUESTS=${BASH_REMATCH[3]}
  [[ "$1" =~ \(([0-9]+)\ already\ stored,\ ([0-9]+)\ fetched\ by\ parts\) ]] ||
    fail "no '(K already stored, P fetched by parts)' in: $1"
  PULL_STORED=${BASH_REMATCH[1]} PULL_PARTS=${BASH_REMATCH[2]}
}

# reg_raw REF [skopeo options]: the manifest skopeo sees (plain http unless options say otherwise).
reg_raw() {
  local ref=$1
  shift
  [[ $# -gt 0 ]] || set -- --tls-verify=false
  skopeo_ inspect --raw "$@" "docker://$ref" || fail "skopeo inspect --raw docker://$ref failed"
}
reg_config_digest() { reg_raw "$@" | json_get 'j["config"]["digest"]'; }
reg_layer_types() { reg_raw "$@" | json_get '" ".join(sorted(set(l["mediaType"] for l in j["layers"])))'; }
reg_chunked_layers() { # layers carrying the zstd:chunked TOC annotations
  reg_raw "$@" | json_get 'sum(1 for l in j["layers"] if "io.github.containers.zstd-chunked.manifest-checksum" in l.get("annotations", {}))'
}
reg_blobs_size() { reg_raw "$@" | json_get 'j["config"]["size"] + sum(l["size"] for l in j["layers"])'; }
store_id() { cir "$1" inspect "$2" | json_get 'j[0]["Id"]'; }

# skopeo_unpack_compare REF REFTREE WHAT: skopeo copies docker://REF (plain
# http) to an OCI dir recompressed as gzip (umoci 0.4.7 cannot read zstd),
# umoci unpacks it, and it must equal REFTREE.
skopeo_unpack_compare() {
  local ref=$1 tree=$2 what=$3 d=$T/sk.$RANDOM$RANDOM
  mkdir -p "$d"
  skopeo_ copy -q --src-tls-verify=false --dest-compress --dest-compress-format gzip \
    "docker://$ref" "oci:$d/oci:t" >/dev/null 2>"$d.err" || fail "skopeo could not copy docker://$ref: $(cat "$d.err")"
  umoci unpack --image "$d/oci:t" "$d/b" >/dev/null 2>"$d.err" || fail "umoci could not unpack the copy of $ref: $(cat "$d.err")"
  compare_trees "$tree" "$d/b/rootfs" "$what"
  rm -rf "$d" "$d.err"
}

# mount_compare STOREROOT IMAGE REFTREE WHAT: a read-only clusterfs mount of a
# store image (no --tls-verify=false: a lazy registry mount of these plain
# registries would fail) equals REFTREE.
mount_compare() {
  local r=$1 img=$2 tree=$3 what=$4 m=$T/mnt.$RANDOM$RANDOM
  mkdir -p "$m"
  ROOT=$r cfs_mount "$img" "$m"
  compare_trees "$tree" "$m" "$what"
  cfs_umount "$m"
  rmdir "$m"
}

# tok_count LOG USER: token grants logged for USER ("-" = anonymous).
tok_count() { grep -c "status=200 user=$2 " "$1" || true; }

# wait_port_http URL PID WHAT [curl options]: until URL answers anything (10 s).
wait_port_http() {
  local url=$1 pid=$2 what=$3 i code
  shift 3
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) || true
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  fail "$what did not answer $url within 10 s"
}

# A rate-limited TCP forwarder: one token bucket for both directions and all
# connections. TLS passes through untouched (throttle_proxy.py speaks plain
# HTTP only, so it cannot sit in front of the TLS token registry), and when
# the upstream drops a connection the client's is dropped too, as a dead
# registry's would be (throttle_proxy.py ends a response cut short by its
# upstream as if it were complete, and keeps the connection open).
cat >"$T/tcp_throttle.py" <<'PY'
import socket, sys, threading, time
port, (host, uport), rate = int(sys.argv[1]), sys.argv[2].rsplit(':', 1), float(sys.argv[3])
lock, clock = threading.Lock(), [0.0]
def take(n):
    with lock:
        now = time.monotonic()
        clock[0] = max(clock[0], now - 16384 / rate) + n / rate
        wait = clock[0] - now
    if wait > 0:
        time.sleep(wait)
def pump(a, b):
    try:
        while True:
            d = a.recv(16384)
            if not d:
                break
            take(len(d))
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    try:
        u = socket.create_connection((host, int(uport)))
    except OSError:
        c.close()
        return
    t = threading.Thread(target=pump, args=(u, c), daemon=True)
    t.start()
    pump(c, u)
    t.join()
    c.close()
    u.close()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', port))
ls.listen(64)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

# start_tcp_throttle UPSTREAM RATE [CAFILE]: sets THR_ADDR (must run in this
# shell); with CAFILE the upstream is HTTPS.
start_tcp_throttle() {
  local up=$1 rate=$2 ca=${3:-} port try url curlopt=()
  for try in 1 2 3; do
    port=$(reg_free_port)
    url=http://127.0.0.1:$port/v2/
    [[ -z "$ca" ]] || { url=https://127.0.0.1:$port/v2/; curlopt=(--cacert "$ca"); }
    bg python3 "$T/tcp_throttle.py" "$port" "$up" "$rate" 2>"$T/tcp_throttle.$port.err"
    if wait_port_http "$url" "$BG_PID" "tcp throttle" "${curlopt[@]}"; then
      THR_ADDR=127.0.0.1:$port
      log "tcp throttle on $THR_ADDR -> $up at $rate B/s"
      return 0
    fi
  done
  fail "tcp throttle: could not start (last: $(cat "$T/tcp_throttle.$port.err"))"
}

# ------------------------------------------------------------ the fixtures
log "building the images"
S=$T/src
mkdir -p "$S/etc/conf.d" "$S/usr/bin" "$S/data/sub/deeper" "$S/links" "$S/owned" "$S/emptydir" "$S/gone"
rand_file "$S/data/big.bin" $((3 * 1024 * 1024 + 77))
text_file "$S/etc/app.conf" 5000
text_file "$S/data/sub/deeper/notes.txt" 200000
: >"$S/etc/empty"
printf '#!/bin/sh\necho tool\n' >"$S/usr/bin/tool"
chmod 0755 "$S/usr/bin/tool"
echo "one inode, two names" >"$S/data/hl1"
ln "$S/data/hl1" "$S/data/sub/hl2"
ln -s ../etc/app.conf "$S/links/rel"
ln -s /usr/bin/tool "$S/links/abs"
ln -s no/such/target "$S/links/dangling"
ln -s ../data "$S/links/dirlink"
echo mine >"$S/owned/file"
chown -R 1000:1001 "$S/owned"
chmod 0750 "$S/owned"
echo "to be whited out" >"$S/gone/file"
echo "also gone" >"$S/etc/old.conf"
setfattr -n user.x -v "xattr value" "$S/etc/app.conf"
touch -d '2003-04-05 06:07:08' "$S/etc/app.conf" "$S/data/big.bin"
tar --xattrs --xattrs-include='*' --numeric-owner -C "$S" -cf "$T/app1.tar" .
tar --xattrs -tvf "$T/app1.tar" >"$T/app1.list" 2>/dev/null
grep -q '^-rw-r--r--\* .* \./etc/app.conf$' "$T/app1.list" ||
  fail "fixture: tar did not keep the user.x xattr of etc/app.conf"
# layer 2: a whiteout of a file and of a dir, a replaced file, a new file
S2=$T/src2
mkdir -p "$S2/etc" "$S2/new"
: >"$S2/etc/.wh.old.conf"
: >"$S2/.wh.gone"
echo "replaced in layer 2" >"$S2/etc/empty"
rand_file "$S2/new/blob.bin" 300000
tar --numeric-owner -C "$S2" -cf "$T/app2.tar" .
oci_build "$T/oci-app" t "$T/app1.tar" "$T/app2.tar" >/dev/null
umoci unpack --image "$T/oci-app:t" "$T/ref-app" >/dev/null
A=$T/ref-app/rootfs
[[ "$(getfattr --only-values -n user.x "$A/etc/app.conf" 2>/dev/null)" == "xattr value" ]] ||
  fail "fixture: umoci did not keep the user.x xattr"
[[ ! -e "$A/gone" && ! -e "$A/etc/old.conf" && -s "$A/etc/empty" && -f "$A/new/blob.bin" ]] ||
  fail "fixture: umoci did not apply layer 2"
[[ "$(stat -c %h "$A/data/hl1")" == 2 ]] || fail "fixture: hard link"
ci pull "oci:$T/oci-app:t" --as app:1 >/dev/null || fail "pull of the fixture from oci: failed"
APP_ID=$(store_id "$ROOT" app:1)

# BIG: 3 layers of 4 MB random data (the slow transfers)
for i in 1 2 3; do
  mkdir -p "$T/big$i/big"
  rand_file "$T/big$i/big/part$i.bin" $((4 * 1000 * 1000))
  tar --numeric-owner -C "$T/big$i" -cf "$T/big$i.tar" .
done
oci_build "$T/oci-big" t "$T/big1.tar" "$T/big2.tar" "$T/big3.tar" >/dev/null
umoci unpack --image "$T/oci-big:t" "$T/ref-big" >/dev/null
ci pull "oci:$T/oci-big:t" --as big:1 >/dev/null || fail "pull of the big fixture failed"
BIG_ID=$(store_id "$ROOT" big:1)

# DEDUP: one:1 = [shared 3 MB file + 200 KB]; two:1 = [100 KB], [the same 3 MB file elsewhere + 200 KB]
mkdir -p "$T/d1/shared" "$T/d2a/b" "$T/d2b/copy"
rand_file "$T/d1/shared/big.bin" $((3 * 1024 * 1024))
rand_file "$T/d1/shared/one-only.bin" 200000
rand_file "$T/d2a/b/small.bin" 100000
cp -p "$T/d1/shared/big.bin" "$T/d2b/copy/big.bin"
rand_file "$T/d2b/copy/two-only.bin" 200000
tar --numeric-owner -C "$T/d1" -cf "$T/d1.tar" .
tar --numeric-owner -C "$T/d2a" -cf "$T/d2a.tar" .
tar --numeric-owner -C "$T/d2b" -cf "$T/d2b.tar" .
oci_build "$T/oci-d" one "$T/d1.tar" >/dev/null
oci_build "$T/oci-d" two "$T/d2a.tar" "$T/d2b.tar" >/dev/null
umoci unpack --image "$T/oci-d:two" "$T/ref-two" >/dev/null
ci pull "oci:$T/oci-d:one" --as one:1 >/dev/null || fail "pull of dedup fixture one failed"
ci pull "oci:$T/oci-d:two" --as two:1 >/dev/null || fail "pull of dedup fixture two failed"

# ------------------------------------------------------- 1. plain registry
reg_start_plain plain
P=$REG_PLAIN_ADDR

log "1. push (zstd:chunked, zstd, gzip) to a plain registry; skopeo + umoci read it back"
for comp in zstd:chunked zstd gzip; do
  tag=${comp/:/-}
  run_ok "push app:1 --compression $comp" npush "$ROOT" app:1 "$P/test/app:$tag" --tls-verify=false --compression "$comp"
  push_counts "$OUT"
  # first 2 layers + the config; then 2 new layers (each compression makes
  # different blobs), the config already there
  if [[ $comp == zstd:chunked ]]; then
    assert_eq "3 0 0" "$PUSH_UP $PUSH_THERE $PUSH_MOUNTED" "first push ($comp): uploaded, already there, mounted"
  else
    assert_eq "2 0" "$PUSH_UP $PUSH_MOUNTED" "push ($comp) of new layers: uploaded, mounted"
  fi
  case $comp in
    gzip) want=application/vnd.oci.image.layer.v1.tar+gzip ;;
    *) want=application/vnd.oci.image.layer.v1.tar+zstd ;;
  esac
  assert_eq "$want" "$(reg_layer_types "$P/test/app:$tag")" "layer media type pushed with --compression $comp"
  nchunked=$(reg_chunked_layers "$P/test/app:$tag")
  if [[ $comp == zstd:chunked ]]; then
    assert_eq 2 "$nchunked" "layers with zstd:chunked annotations (--compression $comp)"
  else
    assert_eq 0 "$nchunked" "layers with zstd:chunked annotations (--compression $comp)"
  fi
  assert_eq "$APP_ID" "$(reg_config_digest "$P/test/app:$tag")" "config digest in the registry vs cimg's image ID ($comp)"
  skopeo_unpack_compare "$P/test/app:$tag" "$A" "skopeo+umoci of the $comp push vs umoci unpack of the source"
done
# the default is zstd:chunked, and a default push to the zstd:chunked tag's
# blobs finds them all there (HEAD)
run_ok "push app:1 (default compression)" npush "$ROOT" app:1 "docker://$P/test/app:1" --tls-verify=false
push_counts "$OUT"
assert_eq "0 3 0" "$PUSH_UP $PUSH_THERE $PUSH_MOUNTED" "default push after the zstd:chunked one: uploaded, already there, mounted"
assert_eq "$(reg_raw "$P/test/app:zstd-chunked" | json_get 'j["layers"]')" \
  "$(reg_raw "$P/test/app:1" | json_get 'j["layers"]')" "default compression is zstd:chunked (same layers)"
run_ok "re-push app:1" npush "$ROOT" app:1 "$P/test/app:1" --tls-verify=false
push_counts "$OUT"
assert_eq "0 3 0" "$PUSH_UP $PUSH_THERE $PUSH_MOUNTED" "re-push: uploaded, already there, mounted"
# push -q (before or after push) prints nothing but errors; --digestfile has the digest
run_ok "push -q app:1" ci push -q app:1 "$P/test/app:q" --tls-verify=false --digestfile "$T/q.digest"
assert_eq "" "$OUT" "push -q output"
run_ok "cimg --quiet push app:1" "$CIMG" --root "$ROOT" --quiet push app:1 "$P/test/app:q2" --tls-verify=false
assert_eq "" "$OUT" "cimg --quiet push output"
assert_eq "$(skopeo_ inspect --tls-verify=false "docker://$P/test/app:q" | json_get 'j["Digest"]')" "$(cat "$T/q.digest")" \
  "push -q --digestfile: the manifest digest"

log "1. pull into a fresh store, mount, push to another repository (cross-repo mount)"
R2=$T/root-pulled
run_ok "pull $P/test/app:1 into a fresh store" cir "$R2" pull "$P/test/app:1" --tls-verify=false
pull_counts "$OUT"
assert_eq "0 2" "$PULL_STORED $PULL_PARTS" "fresh pull of zstd:chunked: layers already stored, fetched by parts"
assert_eq "$APP_ID" "$(store_id "$R2" "$P/test/app:1")" "image ID after the pull"
mount_compare "$R2" "$P/test/app:1" "$A" "mount of the image pulled by parts vs umoci unpack of the source"
run_ok "push of the pulled image to $P/other/app:1" npush "$R2" "$P/test/app:1" "$P/other/app:1" --tls-verify=false
push_counts "$OUT"
((PUSH_MOUNTED >= 2)) || fail "push to a second repository of the same registry mounted $PUSH_MOUNTED blobs, expected both layers mounted from test/app: $OUT"
assert_eq 3 "$((PUSH_UP + PUSH_THERE + PUSH_MOUNTED))" "blobs accounted for in the cross-repo push"
skopeo_unpack_compare "$P/other/app:1" "$A" "skopeo+umoci of the cross-repo-mounted push vs the source"
assert_fsck_clean "$R2"

# ------------------------------------------------------- 2. skopeo pushes
log "2. images pushed by skopeo (gzip, zstd): pull, mount, inspect"
for fmt in gzip zstd; do
  # a registry of its own for each: skopeo 1.9 would otherwise reuse a blob
  # with the same diff ID that it saw on this registry, whatever its compression
  reg_start_plain "sk_$fmt"
  v=REG_SK_${fmt^^}_ADDR
  P=${!v}
  skopeo_ copy -q --dest-tls-verify=false --dest-compress --dest-compress-format "$fmt" \
    "oci:$T/oci-app:t" "docker://$P/sk/$fmt:1" >/dev/null || fail "skopeo push ($fmt) failed"
  assert_eq "application/vnd.oci.image.layer.v1.tar+$fmt" "$(reg_layer_types "$P/sk/$fmt:1")" "skopeo's layer media type ($fmt)"
  r=$T/root-sk-$fmt
  run_ok "pull of skopeo's $fmt push" cir "$r" pull "$P/sk/$fmt:1" --tls-verify=false
  pull_counts "$OUT"
  assert_eq 0 "$PULL_STORED" "layers already stored in a fresh store ($fmt)"
  cfg=$(reg_config_digest "$P/sk/$fmt:1")
  assert_eq "$cfg" "$(store_id "$r" "$P/sk/$fmt:1")" "cimg inspect Id vs skopeo's config digest ($fmt)"
  mount_compare "$r" "$P/sk/$fmt:1" "$A" "mount of skopeo's $fmt push vs umoci unpack of the source"
  assert_fsck_clean "$r"
done
P=$REG_PLAIN_ADDR

# ------------------------------------------------------- 3. dedup on the wire
log "3. dedup on the wire: a second image sharing a 3 MB file fetches only its new bytes"
run_ok "push one:1" ci push one:1 "$P/dedup/one:1" --tls-verify=false
run_ok "push two:1" ci push two:1 "$P/dedup/two:1" --tls-verify=false
reg_start_proxy dd "$P"
DD=$REG_DD_ADDR
TWO_SIZE=$(reg_blobs_size "$P/dedup/two:1")
# baseline: two:1 alone into an empty store fetches about all of it
RB=$T/root-dedup-base
run_ok "baseline pull of two:1" cir "$RB" pull "$DD/dedup/two:1" --tls-verify=false
base=$(reg_proxy_stat "$REG_DD_STATS" body_bytes)
((base >= TWO_SIZE * 9 / 10)) || fail "baseline: pulling two:1 into an empty store moved only $base bytes of $TWO_SIZE"
RD=$T/root-dedup
run_ok "pull one:1" cir "$RD" pull "$DD/dedup/one:1" --tls-verify=false
reg_proxy_ctl "$REG_DD_CTL" reset-stats
run_ok "pull two:1 after one:1" cir "$RD" pull "$DD/dedup/two:1" --tls-verify=false
pull_counts "$OUT"
got=$(reg_proxy_stat "$REG_DD_STATS" body_bytes)
log "two:1: $got bytes on the wire after one:1 (alone: $base; its blobs: $TWO_SIZE)"
assert_eq "0 2" "$PULL_STORED $PULL_PARTS" "two:1 after one:1: layers already stored, fetched by parts"
((got >= 300000)) || fail "two:1 after one:1 moved $got bytes, less than its 300 KB of new random data"
((got <= TWO_SIZE / 5)) || fail "two:1 after one:1 moved $got bytes of $TWO_SIZE (the shared 3 MB file crossed the wire?)"
diff=$((PULL_FETCHED - got))
((${diff#-} <= got / 10 + 4096)) || fail "'fetched' line says $PULL_FETCHED bytes, the proxy sent $got"
assert_fsck_clean "$RD"
mount_compare "$RD" "$DD/dedup/two:1" "$T/ref-two/rootfs" "mount of two:1 pulled after one:1 vs umoci unpack"

# ------------------------------------------------------- 4. TLS + Basic
PW='s3cret:pa ss'
reg_start_tls_basic basic alice "$PW"
B=$REG_BASIC_ADDR
BCD=$REG_BASIC_CERTDIR
log "4. TLS + Basic auth on $B"
expect_one_line_error 'cert-dir' ci login "$B" -u alice -p "$PW"
expect_one_line_error 'cert-dir' ci pull "$B/basic/app:1" --creds "alice:$PW"
[[ ! -e "$DEFAULT_AUTH" ]] || fail "a failed login wrote $DEFAULT_AUTH"
expect_one_line_error 'refused|wrong|password|unauthori|denied|auth' ci login "$B" -u alice -p wrong --cert-dir "$BCD"
[[ ! -e "$DEFAULT_AUTH" ]] || fail "a login with a wrong password wrote $DEFAULT_AUTH"
run_ok "login" ci login "$B" -u alice -p "$PW" --cert-dir "$BCD"
[[ -f "$DEFAULT_AUTH" ]] || fail "login did not write $DEFAULT_AUTH"
assert_eq 600 "$(stat -c %a "$DEFAULT_AUTH")" "mode of $DEFAULT_AUTH"
assert_eq "$(printf '%s' "alice:$PW" | base64 -w0)" \
  "$(json_get "j['auths']['$B']['auth']" <"$DEFAULT_AUTH")" "auths[$B].auth in $DEFAULT_AUTH"
before=$(sha256sum <"$DEFAULT_AUTH")
expect_one_line_error 'refused|wrong|password|unauthori|denied|auth' ci login "$B" -u alice -p 'not it' --cert-dir "$BCD"
assert_eq "$before 600" "$(sha256sum <"$DEFAULT_AUTH") $(stat -c %a "$DEFAULT_AUTH")" "auth file after a refused login"
run_ok "push with the stored login" ci push app:1 "$B/basic/app:1" --cert-dir "$BCD"
# skopeo (verifying our CA, with the same credentials) + umoci read our TLS push back
d=$T/sk-basic
mkdir -p "$d"
skopeo_ copy -q --src-cert-dir "$BCD" --src-creds "alice:$PW" --dest-compress --dest-compress-format gzip \
  "docker://$B/basic/app:1" "oci:$d/oci:t" >/dev/null 2>"$T/sk-basic.err" ||
  fail "skopeo could not copy docker://$B/basic/app:1 over TLS + Basic: $(cat "$T/sk-basic.err")"
umoci unpack --image "$d/oci:t" "$d/b" >/dev/null 2>"$T/sk-basic.err" || fail "umoci unpack of the TLS copy: $(cat "$T/sk-basic.err")"
compare_trees "$T/ref-app/rootfs" "$d/b/rootfs" "skopeo + umoci of our push over TLS + Basic"
RB4=$T/root-basic
run_ok "pull with the stored login" cir "$RB4" pull "$B/basic/app:1" --cert-dir "$BCD"
assert_eq "$APP_ID" "$(store_id "$RB4" "$B/basic/app:1")" "image ID pulled over TLS + Basic"
run_ok "logout" ci logout "$B"
assert_eq False "$(json_get "'$B' in j.get('auths', {})" <"$DEFAULT_AUTH")" "$B still in $DEFAULT_AUTH after logout"
expect_one_line_error 'not logged in|no credentials|not found' ci logout "$B"
expect_one_line_error 'authentication required' cir "$T/root-basic2" pull "$B/basic/app:1" --cert-dir "$BCD"
for i in 1 2 3; do # more than once: a crash on this path is timing-dependent
  expect_one_line_error 'auth|denied|unauthori' ci push app:1 "$B/basic/anon:$i" --cert-dir "$BCD"
done
expect_one_line_error 'auth|denied|refused|unauthori' cir "$T/root-basic2" pull "$B/basic/app:1" --cert-dir "$BCD" --creds alice:wrong
run_ok "pull with --creds, not logged in" cir "$T/root-basic2" pull "$B/basic/app:1" --cert-dir "$BCD" --creds "alice:$PW"
assert_eq "$APP_ID" "$(store_id "$T/root-basic2" "$B/basic/app:1")" "image ID pulled with --creds"
run_ok "push with --creds" ci push big:1 "$B/basic/big:1" --cert-dir "$BCD" --creds "alice:$PW"

log "4. --password-stdin, --authfile, \$REGISTRY_AUTH_FILE; other entries kept"
AF=$T/authfile.json
cat >"$AF" <<'EOF'
{"auths": {"other.example:5000": {"auth": "eDp5"}}, "HttpHeaders": {"User-Agent": "kept"}}
EOF
chmod 644 "$AF"
printf '%s\n' "$PW" | ci login "$B" -u alice --password-stdin --cert-dir "$BCD" --authfile "$AF" >/dev/null ||
  fail "login --password-stdin --authfile failed"
python3 - "$AF" "$B" "$(printf '%s' "alice:$PW" | base64 -w0)" <<'PY' || fail "auth file after login --authfile: $(cat "$AF")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["auths"][sys.argv[2]]["auth"] == sys.argv[3], ("new entry", j)
assert j["auths"]["other.example:5000"]["auth"] == "eDp5", ("other entry kept", j)
assert j["HttpHeaders"] == {"User-Agent": "kept"}, ("other keys kept", j)
PY
assert_eq 600 "$(stat -c %a "$AF")" "mode of --authfile after login"
assert_eq False "$(json_get "'$B' in j.get('auths', {})" <"$DEFAULT_AUTH")" "$B in $DEFAULT_AUTH after login --authfile"
run_ok "pull with --authfile" cir "$T/root-basic3" pull "$B/basic/app:1" --cert-dir "$BCD" --authfile "$AF"
run_ok "pull with \$REGISTRY_AUTH_FILE" env REGISTRY_AUTH_FILE="$AF" "$CIMG" --root "$T/root-basic4" -q \
  pull "$B/basic/app:1" --cert-dir "$BCD"
run_ok "logout --authfile" ci logout "$B" --authfile "$AF"
python3 - "$AF" "$B" <<'PY' || fail "auth file after logout --authfile: $(cat "$AF")"
import json, sys
j = json.load(open(sys.argv[1]))
assert sys.argv[2] not in j["auths"], ("entry removed", j)
assert j["auths"]["other.example:5000"]["auth"] == "eDp5", ("other entry kept", j)
PY
expect_one_line_error 'authentication required' cir "$T/root-basic5" pull "$B/basic/app:1" --cert-dir "$BCD" --authfile "$AF"
assert_fsck_clean

# ------------------------------------------------------- 5. token auth
TPW='pa:ss word'
REG_TOKEN_EXPIRES=3 reg_start_token tok bob "$TPW"
K=$REG_TOK_ADDR
KCD=$REG_TOK_CERTDIR
TLOG=$REG_TOK_TOKEN_LOG
log "5. token auth on $K (3 s tokens)"
expect_one_line_error 'refused|wrong|password|unauthori|denied|auth' ci login "$K" -u bob -p 'pa:ss wrong' --cert-dir "$KCD"
run_ok "login (token)" ci login "$K" -u bob -p "$TPW" --cert-dir "$KCD"
run_ok "push (token)" ci push app:1 "$K/tok/app:1" --cert-dir "$KCD"
RT=$T/root-tok
run_ok "pull (token)" cir "$RT" pull "$K/tok/app:1" --cert-dir "$KCD"
assert_eq "$APP_ID" "$(store_id "$RT" "$K/tok/app:1")" "image ID pulled with a token"
n=$(tok_count "$TLOG" -)
run_ok "anonymous pull (token)" cir "$T/root-tok-anon" pull "$K/tok/app:1" --cert-dir "$KCD" --authfile "$T/empty-auth.json"
assert_eq "$APP_ID" "$(store_id "$T/root-tok-anon" "$K/tok/app:1")" "image ID pulled anonymously"
(($(tok_count "$TLOG" -) > n)) || fail "the anonymous pull asked the token server for no anonymous token"
for i in 1 2 3; do # more than once: a crash on this path is timing-dependent
  expect_one_line_error 'auth|denied|unauthori|insufficient' \
    ci push app:1 "$K/tok/anon:$i" --cert-dir "$KCD" --authfile "$T/empty-auth.json"
done

log "5. a throttled push and pull of 12 MB (> 6 s, tokens live 3 s)"
start_tcp_throttle "$K" 1500000 "$REG_TOK_CA"
n=$(tok_count "$TLOG" bob)
timed_ok "slow push (token)" ci push big:1 "$THR_ADDR/tok/big:1" --cert-dir "$KCD" --creds "bob:$TPW"
n2=$(tok_count "$TLOG" bob)
log "slow push: ${ELAPSED}s, $((n2 - n)) tokens"
[[ ${ELAPSED%.*} -ge 6 ]] || fail "the throttled push took only ${ELAPSED}s (want > 6 s to span two token lifetimes)"
((n2 - n >= 2)) || fail "the ${ELAPSED}s push got $((n2 - n)) tokens (3 s lifetime: expected a renewal)"
RTS=$T/root-tok-slow
timed_ok "slow pull (token)" cir "$RTS" pull "$THR_ADDR/tok/big:1" --cert-dir "$KCD" --creds "bob:$TPW"
n3=$(tok_count "$TLOG" bob)
log "slow pull: ${ELAPSED}s, $((n3 - n2)) tokens"
[[ ${ELAPSED%.*} -ge 6 ]] || fail "the throttled pull took only ${ELAPSED}s (want > 6 s to span two token lifetimes)"
((n3 - n2 >= 2)) || fail "the ${ELAPSED}s pull got $((n3 - n2)) tokens (3 s lifetime: expected a renewal)"
assert_eq "$BIG_ID" "$(store_id "$RTS" "$THR_ADDR/tok/big:1")" "image ID after the slow pull"
assert_fsck_clean "$RTS"
mount_compare "$RTS" "$THR_ADDR/tok/big:1" "$T/ref-big/rootfs" "mount of the slowly pulled image vs umoci unpack"
! grep -qF "$TPW" "$TLOG" || fail "the token server's log holds the password"
! grep -qF "$(printf '%s' "bob:$TPW" | base64 -w0)" "$TLOG" || fail "the token server's log holds base64(user:password)"
grep -q "status=200 user=bob scope=\"repository:tok/big:pull,push\"" "$TLOG" ||
  fail "no push token for bob in the token server's log (the test's premise)"

# ------------------------------------------------------- 6. faults
reg_start_plain flt
F=$REG_FLT_ADDR
reg_start_proxy fx "$F"
X=$REG_FX_ADDR
FCTL=$REG_FX_CTL
FST=$REG_FX_STATS
stat_() { reg_proxy_stat "$FST" "$1"; }
run_ok "push app:1 (zstd:chunked) for the fault tests" ci push app:1 "$F/f/app:chunked" --tls-verify=false
run_ok "push app:1 (gzip) for the fault tests" ci push app:1 "$F/f/app:gzip" --tls-verify=false --compression gzip
run_ok "push big:1 for the fault tests" ci push big:1 "$F/f/big:1" --tls-verify=false

log "6. injected 503/429/500 answers are retried"
reg_proxy_ctl "$FCTL" ok reset-stats "503 2 /manifests/" "503 3 /blobs/"
run_ok "pull with 503s on manifests and blobs" cir "$T/root-f1" pull "$X/f/app:chunked" --tls-verify=false
assert_eq 5 "$(stat_ injected)" "503s the proxy injected"
assert_eq "$APP_ID" "$(store_id "$T/root-f1" "$X/f/app:chunked")" "image ID after the 503s"
reg_proxy_ctl "$FCTL" ok reset-stats "429 2 /blobs/" "500 1 /blobs/"
run_ok "pull with 429s and a 500 on blobs" cir "$T/root-f2" pull "$X/f/app:gzip" --tls-verify=false
assert_eq 3 "$(stat_ injected)" "429/500s the proxy injected"
mount_compare "$T/root-f2" "$X/f/app:gzip" "$A" "mount after a pull with 429s and a 500"
reg_proxy_ctl "$FCTL" ok reset-stats "503 2 /blobs/"
run_ok "push with 503s on blobs" ci push app:1 "$X/f/pushed:1" --tls-verify=false
assert_eq 2 "$(stat_ injected)" "503s injected into the push"
skopeo_unpack_compare "$F/f/pushed:1" "$A" "image pushed through 503s vs the source"
reg_proxy_ctl "$FCTL" ok reset-stats "503 2"
run_ok "pull with 503s on the first two requests (the /v2/ ping included)" \
  cir "$T/root-f3" pull "$X/f/app:chunked" --tls-verify=false
assert_eq 2 "$(stat_ injected)" "503s injected at the start"

log "6. a connection cut mid-blob is resumed"
LAYER=$(reg_raw "$F/f/app:gzip" | json_get 'max(j["layers"], key=lambda l: l["size"])["digest"]')
reg_proxy_ctl "$FCTL" ok reset-stats "cut 1 $LAYER"
: >"$REG_FX_LOG"
run_ok "pull (gzip) with a cut" cir "$T/root-f4" pull "$X/f/app:gzip" --tls-verify=false
assert_eq 1 "$(stat_ cuts)" "connections the proxy cut"
grep -E "GET /v2/f/app/blobs/$LAYER range=bytes=[1-9][0-9]*- status=206" "$REG_FX_LOG" >/dev/null ||
  fail "no Range request resuming $LAYER after the cut; proxy log:
$(cat "$REG_FX_LOG")"
mount_compare "$T/root-f4" "$X/f/app:gzip" "$A" "mount after a pull resumed after a cut"
LAYER=$(reg_raw "$F/f/app:chunked" | json_get 'max(j["layers"], key=lambda l: l["size"])["digest"]')
reg_proxy_ctl "$FCTL" ok reset-stats "cut 1 $LAYER"
run_ok "pull (zstd:chunked) with a cut" cir "$T/root-f5" pull "$X/f/app:chunked" --tls-verify=false
assert_eq 1 "$(stat_ cuts)" "connections the proxy cut (zstd:chunked)"
mount_compare "$T/root-f5" "$X/f/app:chunked" "$A" "mount after a pull by parts with a cut"
assert_fsck_clean "$T/root-f5"

log "6. the registry killed (-9) mid-pull"
RK=$T/root-kill
# through the TCP throttle (see above): 12 MB at 1.5 MB/s, about 8 s; the
# kill comes after 3.5 s
start_tcp_throttle "$F" 1500000
KX=$THR_ADDR
bg "$CIMG" --root "$RK" -q pull "$KX/f/big:1" --tls-verify=false >"$T/kill.out" 2>"$T/kill.err"
PULL_PID=$BG_PID
sleep 3.5
kill -0 "$PULL_PID" 2>/dev/null || fail "the throttled pull ended before the registry was killed: $(cat "$T/kill.out" "$T/kill.err")"
log "killing the registry"
kill -9 "$REG_FLT_PID"
{ wait "$REG_FLT_PID"; } 2>/dev/null || true
rc=0
t_kill=$SECONDS
for ((i = 0; i < 1200; i++)); do # 120 s
  kill -0 "$PULL_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$PULL_PID" 2>/dev/null && fail "the pull still runs 120 s after its registry was killed"
log "the pull ended $((SECONDS - t_kill)) s after the kill"
wait "$PULL_PID" || rc=$?
[[ $rc -ne 0 ]] || fail "the pull succeeded although its registry was killed: $(cat "$T/kill.out")"
((rc < 128)) || fail "the pull died from a signal (exit $rc) when its registry was killed: $(cat "$T/kill.err")"
[[ "$(wc -l <"$T/kill.err")" == 1 && "$(cat "$T/kill.err")" == "cimg: "* ]] ||
  fail "expected one 'cimg: ' stderr line from the pull whose registry was killed, got:
$(cat "$T/kill.err")"
log "pull with the registry killed: exit $rc: $(cat "$T/kill.err")"
assert_fsck_clean "$RK"
! cir "$RK" inspect "$KX/f/big:1" >/dev/null 2>&1 || fail "a half-pulled image got a name"
# restart it on the same address and storage
CFG=$REG_FLT_DIR.yml
[[ -f "$CFG" ]] || fail "registry_lib.sh no longer keeps its config at $CFG (needed to restart it)"
unset_env=()
for v in ${!REGISTRY_@}; do unset_env+=(-u "$v"); done
bg env "${unset_env[@]}" "$REG_BIN" serve "$CFG" >"$T/reg-flt-restarted.log" 2>&1
wait_port_http "http://$F/v2/" "$BG_PID" "the restarted registry" ||
  fail "the registry did not restart on $F: $(tail -n 20 "$T/reg-flt-restarted.log")"
run_ok "pull after the registry's restart" cir "$RK" pull "$X/f/big:1" --tls-verify=false
pull_counts "$OUT"
((PULL_STORED + PULL_PARTS == 3)) || fail "pull after the restart: $PULL_STORED layers already stored + $PULL_PARTS by parts, expected all 3 by parts or stored: $OUT"
assert_eq "$BIG_ID" "$(store_id "$RK" "$X/f/big:1")" "image ID after the restart"
assert_fsck_clean "$RK"
mount_compare "$RK" "$X/f/big:1" "$T/ref-big/rootfs" "mount of the image pulled after the registry's restart"

# ------------------------------------------------------- 7. bad input
log "7. bad references and registries"
expect_one_line_error 'manifest unknown' ci pull "$P/test/app:no-such-tag" --tls-verify=false
expect_one_line_error 'unknown' ci pull "$P/no/such:1" --tls-verify=false
expect_one_line_error 'lowercase|invalid' ci pull "$P/Test/App:1" --tls-verify=false
expect_one_line_error 'invalid|reference' ci pull "$P/test//app:1" --tls-verify=false
expect_one_line_error '--tls-verify=false' ci pull "$P/test/app:1"
expect_one_line_error '--tls-verify=false' ci push app:1 "$P/test/app:1"
expect_one_line_error 'digest|invalid|tag' ci push app:1 "$P/test/app@sha256:abc" --tls-verify=false
expect_one_line_error 'connect|refused' ci pull "127.0.0.1:$(reg_free_port)/test/app:1" --tls-verify=false
expect_one_line_error 'no such|cert-dir' ci pull "$P/test/app:1" --tls-verify=false --cert-dir "$T/no-such-dir"
DIGEST=$(skopeo_ inspect --tls-verify=false "docker://$P/test/app:1" | json_get 'j["Digest"]')
run_ok "pull by digest" cir "$T/root-digest" pull "$P/test/app@$DIGEST" --tls-verify=false
assert_eq "$APP_ID" "$(store_id "$T/root-digest" "$P/test/app@$DIGEST")" "image ID pulled by digest"
# the images table splits REPOSITORY from TAG: not inside the digest
cir "$T/root-digest" images >"$T/images.out" || fail "cimg images after a pull by digest"
awk 'NR > 1 && $1 ~ /@sha256$/ {bad = 1} END {exit bad}' "$T/images.out" ||
  fail "cimg images shows an image pulled by digest with REPOSITORY ending in '@sha256':
$(cat "$T/images.out")"
assert_fsck_clean

# ----------------------------------------- 8. redirects to blob storage
log "8. blobs redirected (307) to storage: followed without the Authorization header"
reg_start_proxy rd "$P"
reg_proxy_ctl "$REG_RD_CTL" "auth rduser:rdpass" "redirect * /blobs/"
expect_one_line_error 'authentication required' cir "$T/root-rd0" pull "$REG_RD_ADDR/test/app:1" --tls-verify=false
run_ok "pull through redirects with Basic auth" cir "$T/root-rd" pull "$REG_RD_ADDR/test/app:1" \
  --tls-verify=false --creds rduser:rdpass
assert_eq "$APP_ID" "$(store_id "$T/root-rd" "$REG_RD_ADDR/test/app:1")" "image ID pulled through redirects"
redirects=$(reg_proxy_stat "$REG_RD_STATS" redirects)
storage=$(reg_proxy_stat "$REG_RD_STATS" storage_requests)
leaked=$(reg_proxy_stat "$REG_RD_STATS" storage_with_auth)
((redirects > 0 && storage >= redirects)) ||
  fail "expected redirected blob requests: redirects=$redirects storage_requests=$storage"
assert_eq 0 "$leaked" "storage requests that carried the registry's Authorization header"
assert_fsck_clean "$T/root-rd"

# ---------------------------- 9. an image index (two platforms), a big upload
log "9. an OCI index with two platforms: the host's by default, --platform picks the other"
mkdir -p "$T/mp/a" "$T/mp/b"
echo amd64 >"$T/mp/a/arch"
echo arm64 >"$T/mp/b/arch"
tar -C "$T/mp/a" -cf "$T/mp-a.tar" .
tar -C "$T/mp/b" -cf "$T/mp-b.tar" .
oci_build "$T/oci-mp" multi --arch amd64 "$T/mp-a.tar" >/dev/null
oci_build "$T/oci-mp" multi --arch arm64 "$T/mp-b.tar" >/dev/null
# skopeo --all copies an index of both images (index.json entries with platforms)
python3 - "$T/oci-mp" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
idx = json.load(open(d + '/index.json'))
index = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json',
                    'manifests': [{k: m[k] for k in ('mediaType', 'digest', 'size', 'platform')}
                                  for m in idx['manifests']]}, sort_keys=True).encode()
h = hashlib.sha256(index).hexdigest()
open(d + '/blobs/sha256/' + h, 'wb').write(index)
idx['manifests'] = [{'mediaType': 'application/vnd.oci.image.index.v1+json', 'digest': 'sha256:' + h,
                     'size': len(index), 'annotations': {'org.opencontainers.image.ref.name': 'multi'}}]
json.dump(idx, open(d + '/index.json', 'w'))
PY
skopeo_ copy -q --all --dest-tls-verify=false "oci:$T/oci-mp:multi" "docker://$P/multi/app:1" ||
  fail "skopeo could not push the two-platform index"
run_ok "pull of the index (host platform)" cir "$T/root-mp" pull "$P/multi/app:1" --tls-verify=false
run_ok "pull of the index, --platform linux/arm64" cir "$T/root-mp" pull "$P/multi/app:1" \
  --tls-verify=false --platform linux/arm64 --as multi/app:arm64
assert_eq amd64 "$(cir "$T/root-mp" inspect "$P/multi/app:1" | json_get 'j[0]["Architecture"]')" "default platform"
assert_eq arm64 "$(cir "$T/root-mp" inspect multi/app:arm64 | json_get 'j[0]["Architecture"]')" "--platform linux/arm64"
expect_one_line_error 'platform' cir "$T/root-mp" pull "$P/multi/app:1" --tls-verify=false --platform linux/s390x

log "9. a 40 MB layer: chunked upload (PATCH), read back by skopeo + umoci"
mkdir -p "$T/huge"
head -c 40000000 /dev/urandom >"$T/huge/blob.bin"
tar -C "$T/huge" -cf "$T/huge.tar" .
oci_build "$T/oci-huge" t --compress none "$T/huge.tar" >/dev/null
run_ok "pull the 40 MB image" ci pull "oci:$T/oci-huge:t" --as huge:1
run_ok "push the 40 MB image (zstd:chunked, > 32 MiB: chunked upload)" npush "$ROOT" huge:1 "$P/huge/app:1" --tls-verify=false
grep -q "1 blobs uploaded\|2 blobs uploaded" <<<"$OUT" || fail "push of huge:1: $OUT"
rm -rf "$T/huge-gz" "$T/huge-bundle"
skopeo_ copy -q --src-tls-verify=false --dest-compress-format gzip "docker://$P/huge/app:1" "oci:$T/huge-gz:t" ||
  fail "skopeo could not read the 40 MB image back"
umoci unpack --image "$T/huge-gz:t" "$T/huge-bundle" >/dev/null || fail "umoci unpack of the 40 MB image"
cmp "$T/huge/blob.bin" "$T/huge-bundle/rootfs/blob.bin" || fail "the 40 MB file differs after the round trip"
