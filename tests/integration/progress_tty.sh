#!/usr/bin/env bash
# Progress on a real terminal (tmux), as a user sees it: `cimg pull` of a
# 2-layer image through a proxy that holds each layer blob at half its body
# shows the layer being read with a half-full bar and its sizes; once released, the
# screen holds each layer's line exactly once, finished ("done in"), with no
# stray escape sequences; and the same pull with stderr on a pipe writes
# plain lines only (no escapes, one per finished item); -vv logs every
# registry request and never the password.
source "$(dirname "$0")/lib.sh"
it_setup tmux docker-registry
source "$(dirname "$0")/registry_lib.sh"

reg_start_plain reg
mkdir -p "$T/l1" "$T/l2"
rand_file "$T/l1/a.bin" $((3 * 1024 * 1024))
rand_file "$T/l2/b.bin" $((2 * 1024 * 1024))
tar -C "$T/l1" -cf "$T/l1.tar" .
tar -C "$T/l2" -cf "$T/l2.tar" .
oci_build "$T/oci" v1 "$T/l1.tar" "$T/l2.tar" >/dev/null
ci pull "oci:$T/oci:v1" --as prog:1 >/dev/null
ci push prog:1 "$REG_REG_ADDR/prog:1" --tls-verify=false --compression gzip >/dev/null
reg_start_proxy px "$REG_REG_ADDR"
PX=$REG_PX_ADDR

SESSION=cimg-progress-$$
IT_CLEANUP_HOOKS+=("tmux kill-session -t $SESSION 2>/dev/null || true")
screen() { tmux capture-pane -p -t "$SESSION" -S -50; }

log "a pull on a 120x40 terminal, each layer blob held at half its body"
# the layers as pushed (gzip): stall those, not the config
mapfile -t LAYERS < <(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REG_REG_ADDR/v2/prog/manifests/1" | json_get '"\n".join(l["digest"] for l in j["layers"])')
assert_eq 2 "${#LAYERS[@]}" "layers in the pushed manifest"
reg_proxy_ctl "$REG_PX_CTL" "stall * ${LAYERS[0]}" "stall * ${LAYERS[1]}"
tmux new-session -d -s "$SESSION" -x 120 -y 40 \
  "$(printf '%q ' "$CIMG" --root "$T/root2" pull "$PX/prog:1" --tls-verify=false --as prog:2); echo \$? >$T/exit; sleep 600"
# The event: the first layer's line drawn at half (the proxy holds it
# there until told), with the hang guard only as a bound.
for ((i = 0; i < 3000; i++)); do
  [[ -e "$T/exit" ]] && fail "the pull ended while its blobs were held: $(screen)"
  screen >"$T/mid.txt"
  grep -q "\[=*>-*\]" "$T/mid.txt" && break
  sleep 0.1
done
((i < 3000)) || fail "no half-full bar on the screen while the blobs were held:
$(cat "$T/mid.txt")"
grep -q ' / [0-9.]* MB' "$T/mid.txt" || fail "no 'DONE / TOTAL' sizes while stalled: $(cat "$T/mid.txt")"
log "   while stalled:"
grep '\[' "$T/mid.txt" | sed 's/^/      /' >&2
reg_proxy_ctl "$REG_PX_CTL" ok
for ((i = 0; i < 3000; i++)); do
  [[ -e "$T/exit" ]] && break
  sleep 0.1
done
[[ -e "$T/exit" ]] || fail "the pull did not finish after the proxy let go: $(screen)"
assert_eq 0 "$(cat "$T/exit")" "exit status of the pull (screen: $(screen))"
screen >"$T/end.txt"
log "   at the end:"
grep -v '^$' "$T/end.txt" | sed 's/^/      /' >&2
# every item line is on the screen once; each layer's blob finished
grep -E '\[[=>-]+\]' "$T/end.txt" | sort | uniq -d >"$T/dups"
[[ ! -s "$T/dups" ]] || fail "repeated lines on the screen: $(cat "$T/dups")"
n=$(grep -cE 'sha256:[0-9a-f]{12}.*\[=+\].*done in' "$T/end.txt" || true)
((n >= 2)) || fail "expected a finished line for each of the 2 layers, found $n:
$(cat "$T/end.txt")"
if grep -q $'\033' "$T/end.txt"; then fail "raw escape sequences on the screen"; fi
grep -q 'prog:2' "$T/end.txt" || fail "the pull's summary is not on the screen: $(cat "$T/end.txt")"

log "the same pull with stderr on a pipe: plain lines"
"$CIMG" --root "$T/root3" pull "$PX/prog:1" --tls-verify=false --as prog:3 2>"$T/plain.err" >/dev/null
if grep -q $'\033\|\r' "$T/plain.err"; then fail "escapes or CRs in plain progress: $(od -c "$T/plain.err" | head)"; fi
grep -vE 'done in' "$T/plain.err" >"$T/plain.other" || true
[[ ! -s "$T/plain.other" ]] || fail "plain progress has lines other than finished items: $(cat "$T/plain.other")"
n=$(grep -c 'done in' "$T/plain.err" || true)
((n >= 2)) || fail "plain progress: $n finished lines, want one per layer at least: $(cat "$T/plain.err")"
sort "$T/plain.err" | uniq -d >"$T/dups"
[[ ! -s "$T/dups" ]] || fail "repeated plain lines: $(cat "$T/dups")"
log "--log-level debug / -vv: every registry request, never a secret"
reg_proxy_ctl "$REG_PX_CTL" "auth u:s3cret-pw"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$PX" "$(printf 'u:s3cret-pw' | base64)" >"$T/auth.json"
REGISTRY_AUTH_FILE=$T/auth.json "$CIMG" --root "$T/root4" -q pull "$PX/prog:1" --tls-verify=false \
  --as prog:4 -vv 2>"$T/debug.err" >/dev/null || fail "pull -vv: $(tail -n 5 "$T/debug.err")"
grep -q "^DEBU\[[0-9.]*\] http: GET http://$PX/v2/prog/manifests/1 -> 200" "$T/debug.err" ||
  fail "no debug line for the manifest request: $(head -n 20 "$T/debug.err")"
grep -q "^DEBU\[[0-9.]*\] http: GET http://$PX/v2/prog/blobs/${LAYERS[0]} -> 200" "$T/debug.err" ||
  fail "no debug line for a layer blob: $(head -n 20 "$T/debug.err")"
if grep -q -e 's3cret' -e "$(printf 'u:s3cret-pw' | base64)" "$T/debug.err"; then
  fail "the password reached the debug log"
fi
REGISTRY_AUTH_FILE=$T/auth.json "$CIMG" --root "$T/root5" pull "$PX/prog:1" --tls-verify=false \
  --as prog:5 2>"$T/default.err" >/dev/null || fail "pull: $(tail -n 5 "$T/default.err")"
if grep -q -e '^DEBU' -e '^INFO' "$T/default.err"; then fail "debug lines without -v: $(cat "$T/default.err")"; fi
log "   $(grep -c '^DEBU' "$T/debug.err") debug lines, e.g. $(grep -m1 'manifests' "$T/debug.err")"
