#!/usr/bin/env bash
# cimg build with remote inputs, against real servers on 127.0.0.1 only:
#  a) FROM an image that exists only in a local docker-registry (plain http):
#     image A is built, pushed (--tls-verify=false), removed from the store
#     (rmi + gc); a Kubefile FROM 127.0.0.1:PORT/team/a:1 then pulls it with
#     --tls-verify=false, and the result's mount is A's tree plus the new
#     layer; a rebuild uses the stored parent. Without --tls-verify=false
#     the build fails (one line, nothing tagged); so does a FROM whose
#     registry is down (127.0.0.1:1);
#  b) COPY http://127.0.0.1:PORT/file.bin (python3 -m http.server): the exact
#     bytes land in the image; a 404 is one line naming Kubefile:LINE with
#     nothing tagged; an unchanged URL is a cache hit (same image ID), a
#     changed one busts the cache.
# Every failed build: one stderr line "cimg: Kubefile:N: ...", non-zero exit,
# names unchanged, no build mount or temp dir left, fsck clean.
# Independent checks run through check(): a failing one is reported and the
# test goes on; the test fails at the end if any did. Setup steps outside
# check() fail at once.
source "$(dirname "$0")/lib.sh"
it_setup docker-registry curl cmp
source "$(dirname "$0")/registry_lib.sh"
cfs_setup

# Nothing but 127.0.0.1: no proxy may take a request elsewhere.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

source "$(dirname "$0")/build_lib.sh"
diff_ids() { ci inspect "$1" | json_get '" ".join(l["DiffID"] for l in j[0]["Layers"])'; }

# build_error CTX REGEX BUILD-ARGS...: `cimg build -t bad:1 ARGS CTX` fails with
# one stderr line matching REGEX; nothing is tagged or left behind.
build_error() {
  local ctx=$1 re=$2 before
  shift 2
  before=$(names)
  local t0=$SECONDS
  expect_one_line_error "$re" ci build -t bad:1 "$@" "$ctx"
  log "refused in $((SECONDS - t0))s: $ERR_LINE"
  [[ "$(names)" == "$before" ]] || fail "a failed build changed the image names: $before -> $(names)"
  no_build_leftovers
  assert_fsck_clean
}

# reg_blob_gets: GETs of team/a's blobs in the registry's access log so far.
reg_blob_gets() { grep -c '"GET /v2/team/a/blobs/sha256:' "$REG_SRC_LOG" || true; }

MNT=$T/mnt
mkdir -p "$MNT"

# ================================================= a. FROM a registry image
log "a. FROM an image that is only in a local docker-registry"
reg_start_plain src
R=$REG_SRC_ADDR

A=$T/ctx-a
mkdir -p "$A/etc/conf.d" "$A/bin" "$A/empty"
echo "from image a" >"$A/etc/a.conf"
echo "x=1" >"$A/etc/conf.d/x.conf"
head -c 300000 /dev/urandom >"$A/bin/payload"
chmod 0750 "$A/bin/payload"
ln -s ../etc/a.conf "$A/bin/a-link"
printf 'FROM scratch\nCOPY . .\nCMD echo from-a\nCMDS ["echo a-cmds"]\n' >"$A/Kubefile"
bld a:1 "$A"
A_LAYERS=$(diff_ids a:1)
# A's tree as its mount shows it: what the child must show under its new layer
cfs_mount a:1 "$MNT"
EXP=$T/expected-b
cp -a "$MNT" "$EXP"
cfs_umount "$MNT"

ci push a:1 "docker://$R/team/a:1" --tls-verify=false >"$T/push.out" 2>"$T/push.err" ||
  fail "cimg push a:1 docker://$R/team/a:1: $(cat "$T/push.err")"
curl -sf "http://$R/v2/team/a/tags/list" | grep '"1"' >/dev/null || fail "the registry does not list team/a:1"
ci rmi a:1 >/dev/null
ci gc >/dev/null
check "a: rmi + gc: a:1 is gone from the store" eval '
  ! ci inspect a:1 >/dev/null 2>&1 || fail "inspect a:1 still works"
  [[ -z "$(names)" ]] || fail "names left: $(names)"'

B=$T/ctx-b
mkdir -p "$B"
echo "from image b" >"$B/b.txt"
printf '# a child of an image only in the registry\nFROM %s/team/a:1\nCOPY b.txt etc/\nCMD echo from-b\n' "$R" >"$B/Kubefile"

# before the successful pull: afterwards the image is in the store and the
# registry is not asked again
check "a: without --tls-verify=false: one line naming Kubefile:2, nothing tagged" \
  build_error "$B" "^cimg: Kubefile:2: .*$R/team/a:1"

GETS0=$(reg_blob_gets)
bld b:1 "$B" --tls-verify=false
B_ID=$BUILD_ID
cp "$BUILD_ERR" "$T/b.err"
check "a: the build pulled the parent from the registry" eval '
  grep -q "pulling $R/team/a:1" "$T/b.err" || fail "no \"pulling\" line: $(cat "$T/b.err")"
  [[ $(reg_blob_gets) -gt $GETS0 ]] || fail "the registry served no blob of team/a"'
check "a: the COPY made a new layer" eval '[[ "$(step_outcomes)" == "COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "a: the layers are A's plus one" eval '
  got=$(diff_ids b:1)
  [[ "${got% *}" == "$A_LAYERS" && $(wc -w <<<"$got") -eq $(($(wc -w <<<"$A_LAYERS") + 1)) ]] ||
    fail "b:1 layers: $got; a:1 had: $A_LAYERS"'
check "a: cimg diff b:1 (its top layer) adds exactly etc/b.txt" eval '
  got=$(ci diff b:1 | grep -v "^C /etc$" | tr "\n" " ")
  [[ "$got" == "A /etc/b.txt " ]] || fail "diff: $(ci diff b:1 | tr "\n" " ")"'
check "a: config from the pulled parent: CMDs add up, its CMDS is not inherited" eval '
  ci inspect b:1 | python3 -c "
import json, sys
l = json.load(sys.stdin)[0][\"Config\"][\"Labels\"]
assert json.loads(l[\"io.cimg.cmds\"]) == [\"echo from-a\", \"echo from-b\"], l
assert \"io.cimg.cmds-launch\" not in l, l
" || fail "labels: $(ci inspect b:1 | json_get "j[0][\"Config\"]")"'

cp -a "$B/b.txt" "$EXP/etc/b.txt"
cfs_mount b:1 "$MNT"
# etc/ got a new entry, so its mtime is the build's: take it from the mount
touch -r "$MNT/etc" "$EXP/etc"
check "a: the mount of b:1 is A's tree plus etc/b.txt" \
  compare_trees "$EXP" "$MNT" "b:1 mount vs a:1's tree + etc/b.txt"
check "a: ... with A's bytes" eval 'cmp "$A/bin/payload" "$MNT/bin/payload" && cmp "$B/b.txt" "$MNT/etc/b.txt"'
cfs_umount "$MNT"

check "a: the pulled parent is in the store under its reference" eval '
  ci inspect "$R/team/a:1" >/dev/null || fail "no $R/team/a:1 in the store: $(names)"'
check "a: a rebuild uses the stored parent: no registry request, all cached, same image" eval '
  before=$(grep -c "/v2/team/a/" "$REG_SRC_LOG" || true)
  bld b:1 "$B"
  [[ "$(step_outcomes)" == "COPY:cached" ]] || fail "outcomes: $(step_outcomes)"
  [[ "$BUILD_ID" == "$B_ID" ]] || fail "$BUILD_ID vs $B_ID"
  ! grep -q "^pulling" "$BUILD_ERR" || fail "pulled again: $(cat "$BUILD_ERR")"
  [[ $(grep -c "/v2/team/a/" "$REG_SRC_LOG" || true) -eq $before ]] || fail "the registry was asked again"'

check "a: FROM a registry that is down (127.0.0.1:1): one line naming Kubefile:3" eval '
  D=$T/ctx-down; mkdir -p "$D"
  printf "# the registry is down\n\nFROM 127.0.0.1:1/team/a:1\nCOPY Kubefile /\n" >"$D/Kubefile"
  build_error "$D" "^cimg: Kubefile:3: .*127\.0\.0\.1:1/team/a:1" --tls-verify=false'

# ==================================================== b. COPY from an http URL
log "b. COPY from an http URL"
WWW=$T/www
mkdir -p "$WWW"
head -c 200000 /dev/urandom >"$WWW/file.bin"
HTTP_PORT=
for try in 1 2 3; do
  port=$(reg_free_port)
  bg "$REG_PYTHON" -u -m http.server --bind 127.0.0.1 --directory "$WWW" "$port" >"$T/http.log" 2>&1
  for i in $(seq 100); do
    if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/file.bin"; then
      HTTP_PORT=$port
      break
    fi
    kill -0 "$BG_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -z "$HTTP_PORT" ]] || break
  kill "$BG_PID" 2>/dev/null || true
  wait "$BG_PID" 2>/dev/null || true
done
[[ -n "$HTTP_PORT" ]] || fail "python3 -m http.server did not start: $(tail -n 20 "$T/http.log")"
# (bg put its pid on IT_BG_PIDS: lib.sh's exit hook kills it by that pid)
HTTP_PID=$BG_PID
U=http://127.0.0.1:$HTTP_PORT
log "http server on 127.0.0.1:$HTTP_PORT (pid $HTTP_PID)"

C=$T/ctx-url
mkdir -p "$C"
echo local >"$C/local.txt"
printf 'FROM scratch\nCOPY local.txt etc/\n# from the web\nCOPY %s/file.bin etc/\nCMD true\n' "$U" >"$C/Kubefile"
bld url:1 "$C"
URL_ID=$BUILD_ID
check "b: both COPY steps made layers" eval '[[ "$(step_outcomes)" == "COPY:layer COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "b: the server was asked for file.bin" eval 'grep -q "GET /file.bin " "$T/http.log" || fail "http log: $(cat "$T/http.log")"'
cfs_mount url:1 "$MNT"
check "b: etc/file.bin has the served bytes" eval '
  [[ "$(sha256sum <"$MNT/etc/file.bin")" == "$(sha256sum <"$WWW/file.bin")" ]] || fail "sha256 differs"
  [[ "$(paths "$MNT" | tr "\n" " ")" == "etc d etc/file.bin f etc/local.txt f " ]] || fail "entries: $(paths "$MNT" | tr "\n" " ")"'
cfs_umount "$MNT"

bld url:1 "$C"
check "b: rebuild with the URL content unchanged: all cached, same image" eval '
  [[ "$(step_outcomes)" == "COPY:cached COPY:cached" ]] || fail "outcomes: $(step_outcomes)"
  [[ "$BUILD_ID" == "$URL_ID" ]] || fail "$BUILD_ID vs $URL_ID"'

head -c 200000 /dev/urandom >"$WWW/file.bin"
bld url:1 "$C"
check "b: the served file changed: that COPY reruns, another image" eval '
  [[ "$(step_outcomes)" == "COPY:cached COPY:layer" ]] || fail "outcomes: $(step_outcomes)"
  [[ "$BUILD_ID" != "$URL_ID" ]] || fail "same image ID $BUILD_ID"'
cfs_mount url:1 "$MNT"
check "b: ... and the image has the new bytes" eval '
  [[ "$(sha256sum <"$MNT/etc/file.bin")" == "$(sha256sum <"$WWW/file.bin")" ]] || fail "sha256 differs (stale content)"'
cfs_umount "$MNT"

check "b: a 404 URL: one line naming Kubefile:3 and the URL, nothing tagged" eval '
  E=$T/ctx-404; mkdir -p "$E"; echo x >"$E/x"
  printf "FROM scratch\nCOPY x /\nCOPY %s/missing.bin etc/\n" "$U" >"$E/Kubefile"
  build_error "$E" "^cimg: Kubefile:3: .*missing\.bin.*404"'
check "b: the 404 went to our server" eval 'grep -q "GET /missing.bin .* 404" "$T/http.log" || fail "http log: $(cat "$T/http.log")"'

assert_fsck_clean
log "fsck: $FSCK_OUT"
if [[ ${#FAILED_CHECKS[@]} -ne 0 ]]; then
  printf '[%s] failed checks:\n' "$IT_NAME" >&2
  printf '    %s\n' "${FAILED_CHECKS[@]}" >&2
  fail "${#FAILED_CHECKS[@]} checks failed"
fi
log "all checks passed"
