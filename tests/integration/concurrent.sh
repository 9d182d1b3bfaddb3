#!/usr/bin/env bash
# Several cimg processes on one store: 4 pulls at once (sharing a layer and
# some files) with readers polling, then gc racing pulls.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo

IMG=$T/img
log "building 4 images (shared base layer, shared and unique files)"
umoci_start "$IMG" base "$T/base"
mkdir -p "$T/base/rootfs/usr/lib"
rand_file "$T/base/rootfs/usr/lib/libshared.so" $((4 * 1024 * 1024))
text_file "$T/base/rootfs/usr/lib/notes.txt" 500000
umoci_commit "$IMG" base "$T/base"
rand_file "$T/common.bin" $((3 * 1024 * 1024))
for k in 1 2 3 4; do
  umoci tag --image "$IMG:base" "i$k"
  umoci unpack --image "$IMG:i$k" "$T/b$k" >/dev/null
  R=$T/b$k/rootfs
  mkdir -p "$R/app$k"
  cp "$T/common.bin" "$R/app$k/common.bin"
  for j in 1 2 3; do rand_file "$R/app$k/u$j" $(((k + 2) * 1024 * 1024 + j)); done
  for j in $(seq 1 20); do echo "image $k file $j" >"$R/app$k/s$j"; done
  umoci_commit "$IMG" "i$k" "$T/b$k"
  umoci unpack --image "$IMG:i$k" "$T/o$k" >/dev/null
done

# --- 4 pulls at once, readers polling meanwhile
mkdir -p "$ROOT"
pids=()
for k in 1 2 3 4; do
  bg "$CIMG" --root "$ROOT" -q pull "oci:$IMG:i$k" --as "img$k:1" >"$T/pull$k.out" 2>"$T/pull$k.err"
  pids+=("$BG_PID")
done
poll() {
  local n=0 rc out
  while :; do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    rc=0
    out=$(ci images --format json 2>"$T/poll.err") || rc=$?
    [[ $rc -eq 0 ]] || { echo "images failed (exit $rc): $(cat "$T/poll.err")"; return 1; }
    python3 -c 'import json,sys; json.loads(sys.argv[1])' "$out" || { echo "images printed bad JSON: $out"; return 1; }
    for k in 1 2 3 4; do
      rc=0
      out=$(ci inspect "img$k:1" 2>"$T/poll.err") || rc=$?
      if [[ $rc -eq 0 ]]; then
        python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert len(j[0]["Layers"]) == 2, j' "$out" ||
          { echo "inspect img$k:1 printed bad JSON / a half-made image"; return 1; }
      elif [[ $rc -ge 128 || $(wc -l <"$T/poll.err") -ne 1 ]]; then
        echo "inspect img$k:1 failed badly (exit $rc): $(cat "$T/poll.err")"
        return 1
      fi
    done
    n=$((n + 1))
    [[ $alive -eq 1 ]] || break
  done
  echo "$n polling rounds"
}
log "4 concurrent pulls + polling"
poll_out=$(poll) || fail "reader during pulls: $poll_out"
log "$poll_out"
for i in 0 1 2 3; do
  k=$((i + 1))
  rc=0
  wait "${pids[$i]}" || rc=$?
  [[ $rc -eq 0 ]] || fail "pull $k failed (exit $rc): $(cat "$T/pull$k.err")"
  sed 's/^/    /' "$T/pull$k.out"
done
assert_fsck_clean
echo "    $FSCK_OUT"
for k in 1 2 3 4; do
  assert_eq "$(oci_config_digest "$IMG" "i$k")" "$(image_id "img$k:1")" "img$k ID"
  push_compare "img$k:1" "$T/o$k/rootfs"
done
# dedup held under concurrency: libshared.so and common.bin once each
n_chunks=$(ci fsck | tail -n1 | sed -n 's/^fsck: \([0-9]*\) chunks.*/\1/p')
sum_total=0
for k in 1 2 3 4; do
  sum_total=$((sum_total + $(ci inspect "img$k:1" | json_get 'j[0]["Chunks"]["Total"]')))
done
log "store holds $n_chunks chunks; the 4 images list $sum_total in total"
((n_chunks < sum_total)) || fail "no dedup across concurrent pulls ($n_chunks >= $sum_total)"

# --- gc racing pulls
for round in 1 2 3; do
  ci rmi img1:1 img2:1 >/dev/null || fail "rmi"
  log "round $round: gc + 2 pulls at once"
  bg "$CIMG" --root "$ROOT" -q pull "oci:$IMG:i1" --as img1:1 >/dev/null 2>"$T/p1.err"
  p1=$BG_PID
  bg "$CIMG" --root "$ROOT" -q gc >"$T/gc.out" 2>"$T/gc.err"
  pg=$BG_PID
  bg "$CIMG" --root "$ROOT" -q pull "oci:$IMG:i2" --as img2:1 >/dev/null 2>"$T/p2.err"
  p2=$BG_PID
  bg "$CIMG" --root "$ROOT" -q gc >"$T/gc2.out" 2>"$T/gc2.err"
  pg2=$BG_PID
  rc=0; wait "$p1" || rc=$?; [[ $rc -eq 0 ]] || fail "round $round: pull i1 failed (exit $rc): $(cat "$T/p1.err")"
  rc=0; wait "$p2" || rc=$?; [[ $rc -eq 0 ]] || fail "round $round: pull i2 failed (exit $rc): $(cat "$T/p2.err")"
  rc=0; wait "$pg" || rc=$?; [[ $rc -eq 0 ]] || fail "round $round: gc failed (exit $rc): $(cat "$T/gc.err")"
  rc=0; wait "$pg2" || rc=$?; [[ $rc -eq 0 ]] || fail "round $round: 2nd gc failed (exit $rc): $(cat "$T/gc2.err")"
  echo "    $(cat "$T/gc.out") | $(cat "$T/gc2.out")"
  assert_fsck_clean
done
for k in 1 2 3 4; do push_compare "img$k:1" "$T/o$k/rootfs"; done
ci gc >/dev/null
assert_fsck_clean
assert_eq 0 "$(fsck_garbage)" "garbage records after a quiet gc"
for k in 1 2; do push_compare "img$k:1" "$T/o$k/rootfs" none; done
