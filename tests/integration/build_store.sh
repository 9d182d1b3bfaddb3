#!/usr/bin/env bash
# What build, commit and rmi record in the store:
#  1. Chunks.New in `cimg inspect`: > 0 (with NewBytes > 0) for a build that
#     stored new content; 0 for a --no-cache build of the same content from
#     another context under another tag, and for a cached rebuild; > 0 for a
#     commit of new content;
#  2. rmi by image ID (64 hex digits, or sha256:ID) as docker does: an ID
#     with several names is refused (one line, "use -f", names unchanged);
#     -f removes every name and the image; an ID stored under two manifests
#     (pushed and pulled back) is one image: inspect by ID works, rmi -f
#     removes both; rmi by name removes that name only;
#  3. the build digest cache (builder/digest_cache.h): an unchanged rebuild
#     reads no context file ("0 files hashed, N from the digest cache" with
#     -v) and keeps the ID; a file edited to the same size with its mtime
#     restored (touch -r), and a file replaced by another (new inode, same
#     size and mtime), are hashed again and the layer has their new bytes;
#     --no-cache hashes every file (records them anew); two builds at once on one root both
#     succeed and leave records a third build uses; gc keeps fresh records.
source "$(dirname "$0")/lib.sh"
it_setup cmp
cfs_setup
source "$(dirname "$0")/build_lib.sh"
BUILD_FLAGS=(--ignored-image-list /dev/null)

chunks() { ci inspect "$1" | json_get "j[0]['Chunks']['$2']"; }

# ============================================================ 1. Chunks.New
log "1. Chunks.New of builds and commits"
A=$T/ctx-a
mkdir -p "$A"
head -c 3000000 /dev/urandom >"$A/payload.bin"
printf 'FROM scratch\nCOPY payload.bin /payload.bin\nRUN echo run >"$ROOTFS/run.txt"\n' >"$A/Kubefile"
bld a:1 "$A"
new=$(chunks a:1 New)
[[ "$new" -gt 0 ]] || fail "first build of new content: Chunks.New is $new, want > 0"
[[ "$(chunks a:1 NewBytes)" -gt 0 ]] || fail "first build: Chunks.NewBytes is 0"
[[ "$new" -le "$(chunks a:1 Total)" ]] || fail "Chunks.New $new > Total $(chunks a:1 Total)"

B=$T/ctx-b
cp -a "$A" "$B"
# another image than a:1 whatever the clock (two builds within one second
# are otherwise the same image): a label, the same layers
echo 'LABEL ctx=b' >>"$B/Kubefile"
bld b:1 "$B" --no-cache
assert_eq 0 "$(chunks b:1 New)" "Chunks.New of a --no-cache build of the same content elsewhere"
assert_eq 0 "$(chunks b:1 NewBytes)" "Chunks.NewBytes of the same"
bld c:1 "$A"
[[ "$(step_outcomes)" == "COPY:cached RUN:cached" ]] || fail "rebuild not cached: $(step_outcomes)"
assert_eq 0 "$(chunks c:1 New)" "Chunks.New of a cached rebuild"

MNT=$T/mnt U=$T/upper W=$T/work
mkdir -p "$MNT" "$U" "$W"
cfs_mount --upper "$U" --work "$W" a:1 "$MNT"
head -c 1000000 /dev/urandom >"$MNT/committed.bin"
ci commit "$MNT" a:2 >/dev/null || fail "cimg commit"
cfs_umount "$MNT"
[[ "$(chunks a:2 New)" -gt 0 ]] || fail "commit of new content: Chunks.New is $(chunks a:2 New)"

# ============================================================ 2. rmi by ID
log "2. rmi by image ID"
# the cached rebuild may be a:1's image or b:1's (the --no-cache build
# refreshed the cache; which one depends on the clock): out of the way
ci rmi c:1 >/dev/null
ID=$(image_id a:1)
ci tag a:1 x:1
ci tag a:1 y:1
before=$(names)
for id in "${ID#sha256:}" "$ID"; do
  expect_one_line_error 'referenced in 3 names.*-f' ci rmi "$id"
  assert_eq "$before" "$(names)" "names after a refused rmi $id"
done
ci rmi x:1 >/dev/null || fail "rmi x:1"
ci inspect a:1 >/dev/null || fail "rmi x:1 removed the image of a:1 too"
out=$(ci rmi -f "${ID#sha256:}") || fail "rmi -f by ID"
for n in a:1 y:1; do
  grep -qx "Untagged: $n" <<<"$out" || fail "rmi -f output lacks 'Untagged: $n': $out"
  ! ci inspect "$n" >/dev/null 2>&1 || fail "$n still there after rmi -f by ID"
done
! ci inspect "$ID" >/dev/null 2>&1 || fail "the image is still there after rmi -f by ID"

log "an ID under two manifests (pushed and pulled back)"
ID2=$(image_id a:2)
ci push a:2 "oci:$T/oci-a2:t" >/dev/null || fail "push a:2"
ci pull "oci:$T/oci-a2:t" --as a2-copy:1 >/dev/null || fail "pull back a:2"
assert_eq "$ID2" "$(image_id a2-copy:1)" "ID of the pulled-back copy"
[[ "$(ci inspect a:2 | json_get 'j[0]["Digest"]')" != "$(ci inspect a2-copy:1 | json_get 'j[0]["Digest"]')" ]] ||
  fail "precondition: the pulled-back copy has the same manifest digest"
ci inspect "${ID2#sha256:}" >/dev/null || fail "inspect by a full ID stored under two manifests"
expect_one_line_error 'referenced in 2 names.*-f' ci rmi "${ID2#sha256:}"
ci rmi -f "$ID2" >/dev/null || fail "rmi -f of an ID under two manifests"
! ci inspect "$ID2" >/dev/null 2>&1 || fail "an image with ID $ID2 is still there"
! ci inspect a2-copy:1 >/dev/null 2>&1 || fail "a2-copy:1 is still there"

log "an ID with one name goes without -f"
ci rmi "$(image_id b:1)" >/dev/null || fail "rmi by the ID of an image with one name"
! ci inspect b:1 >/dev/null 2>&1 || fail "b:1 still there"
ci gc >/dev/null

# ============================================================ 3. digest cache
log "3. the build digest cache"
D=$T/ctx-d
mkdir -p "$D/sub"
head -c 300000 /dev/urandom >"$D/sub/one.bin"
printf 'first version\n' >"$D/two.txt"
for i in 1 2 3; do printf 'file %s\n' "$i" >"$D/f$i.txt"; done
printf 'FROM scratch\nCOPY . /ctx/\n' >"$D/Kubefile"
N=$(find "$D" -type f | wc -l)
# wait_aged: every change in the context is more than the racy margin (2 s)
# old, so the build records its files' digests (a younger file is hashed
# every time until it has aged: builder/digest_cache.h). An event to wait
# for, not a time bound.
wait_aged() {
  local newest
  newest=$(find "$D" -printf '%C@\n%T@\n' | sort -n | tail -n 1)
  while awk -v n="$newest" -v now="$(date +%s.%N)" 'BEGIN {exit !(now < n + 3)}'; do sleep 0.2; done
}
# inputs [FILE]: "HASHED CACHED" of the COPY step of a -v build log.
inputs() {
  sed -n 's/.*Kubefile:2: inputs: \([0-9]*\) files hashed, \([0-9]*\) from the digest cache$/\1 \2/p' \
    "${1:-$BUILD_ERR}" | sed -n 1p
}
wait_aged
bld d:1 "$D" -v
assert_eq "$N 0" "$(inputs)" "inputs of the first build (hashed, from the cache)"
# Its COPY of local files wrote only placeholders: their tree was kept in
# /dev/shm (a tmpfs here), and is gone after the build.
shm=$(sed -n 's|.*Kubefile:2: upper dir of placeholders in memory: \(/dev/shm/cimg-build-[^/]*\)/upper$|\1|p' "$BUILD_ERR")
[[ -n "$shm" ]] || fail "the COPY's upper dir was not kept in memory: $(grep -i upper "$BUILD_ERR")"
[[ ! -e "$shm" ]] || fail "$shm is left after the build"
D1=$BUILD_ID
bld d:1 "$D" -v
assert_eq "0 $N" "$(inputs)" "inputs of an unchanged rebuild"
assert_eq "COPY:cached" "$(step_outcomes)" "outcome of an unchanged rebuild"
assert_eq "$D1" "$BUILD_ID" "ID of an unchanged rebuild"

log "same size, mtime restored"
cp -p "$D/two.txt" "$T/two.ref"
printf 'other version\n' >"$D/two.txt"
touch -r "$T/two.ref" "$D/two.txt"
assert_eq "$(stat -c %s:%y "$T/two.ref")" "$(stat -c %s:%y "$D/two.txt")" "precondition: size and mtime restored"
bld d:2 "$D" -v
assert_eq "1 $((N - 1))" "$(inputs)" "inputs after a same-size edit with the mtime restored"
assert_eq "COPY:layer" "$(step_outcomes)" "outcome after a same-size edit with the mtime restored"
assert_eq "other version" "$(ci cat d:2:/ctx/two.txt)" "two.txt in the rebuilt layer"
# The edit was likely too young to be recorded (racy): hashed once more now.
wait_aged
bld d:2 "$D" -v
read -r h _ <<<"$(inputs)"
[[ $h -le 1 ]] || fail "inputs of the build after the edit aged: $(inputs) (want at most two.txt hashed)"

log "a file replaced by another (new inode, same size and mtime)"
printf 'file 9\n' >"$D/f1.new"
touch -r "$D/f1.txt" "$D/f1.new"
ino=$(stat -c %i "$D/f1.txt")
mv "$D/f1.new" "$D/f1.txt"
[[ "$(stat -c %i "$D/f1.txt")" != "$ino" ]] || fail "precondition: f1.txt kept its inode"
bld d:3 "$D" -v
assert_eq "1 $((N - 1))" "$(inputs)" "inputs after a file was replaced"
assert_eq "COPY:layer" "$(step_outcomes)" "outcome after a file was replaced"
assert_eq "file 9" "$(ci cat d:3:/ctx/f1.txt)" "f1.txt in the rebuilt layer"

log "--no-cache hashes every file (and records them)"
wait_aged
bld d:4 "$D" -v --no-cache
assert_eq "$N 0" "$(inputs)" "inputs of a --no-cache build"
bld d:4 "$D" -v
assert_eq "0 $N" "$(inputs)" "inputs of a build after --no-cache"

log "two builds at once on one root"
printf 'third version\n' >"$D/f2.txt"
wait_aged
pids=()
for k in 1 2; do
  "$CIMG" --root "$ROOT" -v build "${BUILD_FLAGS[@]}" -t "e:$k" "$D" >"$T/e$k.out" 2>"$T/e$k.err" &
  pids+=($!)
done
for k in 1 2; do
  wait "${pids[$((k - 1))]}" || fail "concurrent build e:$k failed: $(tail -n 20 "$T/e$k.err")"
  read -r h c <<<"$(inputs "$T/e$k.err")"
  [[ $((h + c)) -eq $N && $h -le 1 ]] || fail "concurrent build e:$k: inputs \"$h $c\" (want 0 or 1 hashed of $N)"
  assert_eq "third version" "$(ci cat "e:$k:/ctx/f2.txt")" "f2.txt in e:$k"
done
bld e:3 "$D" -v
assert_eq "0 $N" "$(inputs)" "inputs of a build after the two at once"
ci gc >/dev/null
bld e:3 "$D" -v
assert_eq "0 $N" "$(inputs)" "inputs of a build after gc (fresh records are kept)"
assert_fsck_clean
