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
#     removes both; rmi by name removes that name only.
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
assert_fsck_clean
