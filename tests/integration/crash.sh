#!/usr/bin/env bash
# kill -9 during pulls of a ~150 MB image must never leave the store
# inconsistent: fsck stays clean, a later pull finishes, gc reclaims garbage.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo base64

IMG=$T/img
log "building a ~150 MB image in 3 layers"
umoci_start "$IMG" t "$T/b"
R=$T/b/rootfs
for layer in 1 2 3; do
  mkdir -p "$R/l$layer/small"
  for i in 1 2 3 4; do
    rand_file "$R/l$layer/rand$i" $((6 * 1024 * 1024 + i * 1000))
    head -c $((5 * 1024 * 1024)) /dev/urandom | base64 >"$R/l$layer/b64-$i" # compressible
  done
  for i in $(seq 1 30); do
    head -c $((RANDOM * 2)) /dev/urandom | base64 >"$R/l$layer/small/s$i"
  done
  umoci_commit "$IMG" t "$T/b"
done
assert_eq 3 "$(oci_diff_ids "$IMG" t | wc -l)" "layer count"
CFG=$(oci_config_digest "$IMG" t)
umoci unpack --image "$IMG:t" "$T/orig" >/dev/null
log "image: $(du -sh "$T/orig/rootfs" | cut -f1)"

# How many pack bytes does an undisturbed pull write (in a scratch root)?
cir "$T/scratch" pull "oci:$IMG:t" --as s:1 >/dev/null
full=$(du -sb "$T/scratch/packs" | cut -f1)
rm -rf "$T/scratch"
log "an undisturbed pull writes $full pack bytes"
pack_bytes() { # bytes in the store's packs (0 before the first pull made the dir)
  local b
  b=$(du -sb "$ROOT/packs" 2>/dev/null | cut -f1) || true
  echo "${b:-0}"
}

# Rounds 1-3 pile up whatever the kills leave; rounds 4-6 first gc (and rmi
# the image if a pull got through) so each pull starts over. Each kill waits
# for an event, not a time: the pull has written between 5% and 85% of its
# pack bytes beyond what the store held before, so it lands mid-import
# however fast or loaded the machine is.
mkdir -p "$ROOT"
killed=0
for round in 1 2 3 4 5 6; do
  if ((round >= 4)); then
    if ci inspect big:1 >/dev/null 2>&1; then ci rmi big:1 >/dev/null || fail "rmi"; fi
    ci gc >/dev/null || fail "round $round: gc after kill -9 failed"
    assert_fsck_clean
    assert_eq 0 "$(fsck_garbage)" "round $round: garbage records right after gc"
  fi
  base=$(pack_bytes)
  want=$((base + full * (5 + RANDOM % 81) / 100))
  bg "$CIMG" --root "$ROOT" -q pull "oci:$IMG:t" --as big:1 >/dev/null
  pid=$BG_PID
  while kill -0 "$pid" 2>/dev/null && (($(pack_bytes) < want)); do sleep 0.01; done
  rc=0
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  if [[ $rc -eq 137 ]]; then
    killed=$((killed + 1))
  elif [[ $rc -ne 0 ]]; then
    fail "round $round: pull failed on its own (exit $rc)"
  fi
  out=$(ci fsck 2>&1) || fail "round $round: fsck failed after kill -9 at $want pack bytes:
$out"
  [[ "$(tail -n1 <<<"$out")" == *clean ]] || fail "round $round: fsck not clean: $out"
  log "round $round: kill at $((want - base)) new pack bytes (exit $rc); $(tail -n1 <<<"$out")"
done
((killed >= 2)) || fail "only $killed of 6 pulls were still running when killed; the test proves nothing"

# One more: kill a pull from an oci-archive once it has started unpacking the
# archive into the store's tmp dir.
log "round 7: oci-archive source"
skopeo_ copy -q "oci:$IMG:t" "oci-archive:$T/img.tar:t"
bg "$CIMG" --root "$ROOT" -q pull "oci-archive:$T/img.tar:t" --as big:1 >/dev/null
pid=$BG_PID
for _ in $(seq 1 200); do
  [[ -n "$(find "$ROOT/tmp" -mindepth 2 -type f -size +1M 2>/dev/null | head -n1)" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
rc=0
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || rc=$?
out=$(ci fsck 2>&1) || fail "round 7: fsck failed after kill -9:
$out"
[[ "$(tail -n1 <<<"$out")" == *clean ]] || fail "round 7: fsck not clean: $out"
log "round 7: exit $rc; tmp holds $(du -sh "$ROOT/tmp" | cut -f1); $(tail -n1 <<<"$out")"

log "final pull"
out=$(ci pull "oci:$IMG:t" --as big:1) || fail "pull after the crashes failed"
echo "    $out" | head -2
assert_eq "$CFG" "$(image_id big:1)" "image ID"
assert_fsck_clean
push_compare big:1 "$T/orig/rootfs"

before=$(fsck_garbage)
log "garbage records before gc: $before; tmp: $(ls -A "$ROOT/tmp" 2>/dev/null | wc -l) entries"
gc_out=$(ci gc) || fail "gc failed"
echo "    $gc_out"
assert_fsck_clean
after=$(fsck_garbage)
assert_eq 0 "$after" "garbage records after gc"
if ((before > 0)); then
  grep -Eq 'removed [0-9]+ chunks' <<<"$gc_out" || fail "gc output unexpected: $gc_out"
fi
# the image still reads back after gc
assert_eq "$CFG" "$(image_id big:1)" "image ID after gc"
push_compare big:1 "$T/orig/rootfs" none

# Temp dirs of the killed processes are crash garbage too: nothing runs now,
# so after gc nothing may be left under ROOT/tmp.
leftover=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | sed "s|^$ROOT/||")
[[ -z "$leftover" ]] || fail "gc left temp entries of killed processes ($(du -sh "$ROOT/tmp" | cut -f1)):
$leftover"
