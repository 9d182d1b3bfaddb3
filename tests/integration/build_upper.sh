#!/usr/bin/env bash
# cimg build's COPY writes into the step's upper dir directly (no mount,
# builder/upper_root.h; the context's files as sparse placeholders whose data
# the ingest reads from the context, builder/placeholder.h: the layers'
# contents compared below are what it read). Kernel differential check of
# what it writes:
#  1. a base (FROM scratch / COPY . .) and an image FROM it whose steps are:
#     a RUN that deletes a base file (a whiteout, through the FUSE mount),
#     sets an xattr on a base directory and makes a file with two names,
#     COPY of a tree over the base (a file over a lower file, a directory over
#     a lower file, a file over a lower symlink, a directory where the RUN left
#     a whiteout, new entries in lower directories), COPY of a file into an
#     existing lower directory (copy-up, its xattr kept), COPY through a
#     relative symlink of the base;
#  2. every layer of the image, turned back into an overlay upper dir (char
#     0/0 whiteouts, trusted.overlay.opaque), mounted with the kernel's
#     overlayfs (mount -t overlay, all layers as lowers) reads exactly as
#     clusterfs's mount of the image;
#  3. for each COPY step, the same COPY done with system calls on a kernel
#     overlay mount of the layers below (what cimg build did through its
#     clusterfs mount before) leaves the same upper dir, entry for entry
#     (types, whiteouts, opaque dirs, modes, owners, contents, times, xattrs);
#  4. a COPY of a file where the image has a directory is refused (one-line
#     error naming it), and leaves no layer, mount or temp dir.
source "$(dirname "$0")/lib.sh"
it_setup setfattr getfattr mount umount
cfs_setup
source "$(dirname "$0")/build_lib.sh"
HELP=$(cd "$(dirname "$0")" && pwd)/build_upper.py
MNT=$T/mnt
mkdir -p "$MNT"

# ------------------------------------------------------------------ 1. images
log "1. a base and an image whose COPY steps replace, merge and copy up"
B=$T/ctx-base
mkdir -p "$B/etc/keep" "$B/opt/dirx" "$B/var" "$B/data"
echo conf-old >"$B/etc/conf"
echo gone >"$B/etc/gone"
echo k >"$B/etc/keep/k"
chmod 0750 "$B/etc/keep"
echo thing >"$B/opt/thing"
echo x >"$B/opt/dirx/x"
echo target >"$B/var/target"
ln -s target "$B/var/old"
ln -s etc "$B/lnk"
touch -d 2020-01-02T03:04:05 "$B/etc/conf" "$B/etc/keep" "$B/etc" "$B/opt" "$B/var" "$B/data"
printf 'FROM scratch\nCOPY . .\n' >"$B/Kubefile"
bld test/upper-base:1 "$B"

A=$T/ctx-app
mkdir -p "$A/over/etc/gone" "$A/over/opt/thing/sub" "$A/over/var" "$A/over/newdir"
echo conf-new >"$A/over/etc/conf"
echo in-gone >"$A/over/etc/gone/f"
echo sub >"$A/over/opt/thing/sub/s"
chmod 0705 "$A/over/opt/thing"
echo was-a-link >"$A/over/var/old"
echo n >"$A/over/newdir/n"
echo one >"$A/one.txt"
echo via >"$A/vialink.txt"
touch -d 2021-05-06T07:08:09 "$A/over/etc" "$A/over/opt" "$A/over/var" "$A/over/newdir" "$A/over/etc/gone" \
  "$A/over/opt/thing" "$A/over/opt/thing/sub" "$A/one.txt"
cat >"$A/Kubefile" <<'EOF'
FROM test/upper-base:1
RUN rm etc/gone && setfattr -n user.cimg -v kept etc/keep && echo h >hl1 && ln hl1 hl2
COPY over/ /
COPY one.txt etc/keep/
COPY vialink.txt lnk/
EOF
bld test/upper-app:1 "$A"
# the steps' layers: base COPY, RUN, three COPYs
assert_eq 5 "$(ci inspect test/upper-app:1 | json_get 'len(j[0]["Layers"])')" "layers of test/upper-app:1"

# ---------------------------------------- 2. kernel overlay of the layers vs clusterfs
log "2. the layers as upper dirs under the kernel's overlayfs vs clusterfs's mount"
ci push test/upper-app:1 "oci:$T/oci:t" --compression gzip >/dev/null || fail "push test/upper-app:1 failed"
mkdir -p "$T/layers"
python3 "$HELP" uppers "$T/oci" t "$T/layers" >"$T/layers.txt" || fail "could not turn the layers into upper dirs"
check "the COPY over the base made the dir replacing a file opaque, nothing else" eval '
  getfattr -h --only-values -n trusted.overlay.opaque "$T/layers/2/opt/thing" | grep -x y >/dev/null ||
    fail "opt/thing (a directory over a lower file) is not opaque"
  o=$(find "$T/layers/2" -mindepth 1 -exec getfattr -h -n trusted.overlay.opaque --absolute-names {} + 2>/dev/null |
      sed -n "s|^# file: $T/layers/2/||p" || true)
  [[ "$o" == opt/thing ]] || fail "opaque dirs in the COPY layer: $o (expected opt/thing only)"
  w=$(find "$T/layers/2" -type c | wc -l)
  [[ $w -eq 0 ]] || fail "$w whiteouts in the COPY layer (a COPY removes nothing)"
  [[ -c "$T/layers/1/etc/gone" ]] || fail "the RUN layer has no whiteout for etc/gone"
  [[ "$(stat -c %i "$T/layers/1/hl1")" == "$(stat -c %i "$T/layers/1/hl2")" ]] ||
    fail "hl1 and hl2 are not one file in the RUN layer (the ingest removing the upper dir broke the link)"'
check "the COPY into a lower dir copied it up (mode, xattr) and followed the symlink" eval '
  [[ "$(stat -c %a "$T/layers/3/etc/keep")" == 750 ]] || fail "etc/keep copied up with mode $(stat -c %a "$T/layers/3/etc/keep")"
  getfattr -h --only-values -n user.cimg "$T/layers/3/etc/keep" | grep -x kept >/dev/null ||
    fail "etc/keep lost its xattr in the copy-up"
  [[ -f "$T/layers/4/etc/vialink.txt" && ! -e "$T/layers/4/lnk" ]] ||
    fail "COPY vialink.txt lnk/ did not land in etc/ (through the symlink): $(cd "$T/layers/4" && find .)"'
lowers=$(tac "$T/layers.txt" | paste -sd:)
KMNT=$T/kernel
mkdir -p "$KMNT"
mount -t overlay overlay -o "lowerdir=$lowers" "$KMNT" || fail "mount -t overlay of the layers failed"
it_track_mount "$KMNT"
cfs_mount test/upper-app:1 "$MNT"
check "kernel overlayfs of the layers == clusterfs mount of the image" compare_trees "$KMNT" "$MNT" \
  "kernel overlay of the layers vs clusterfs"
check "the merged view holds what the steps wrote" eval '
  [[ "$(cat "$MNT/etc/conf")" == conf-new && "$(cat "$MNT/opt/thing/sub/s")" == sub ]] || fail "contents"
  [[ -f "$MNT/var/old" && ! -L "$MNT/var/old" && -f "$MNT/etc/keep/k" && -f "$MNT/etc/keep/one.txt" ]] ||
    fail "var/old or etc/keep wrong"
  [[ "$(ls "$MNT/etc/gone")" == f && -f "$MNT/opt/dirx/x" ]] || fail "etc/gone or opt/dirx wrong"'
cfs_umount "$MNT"
umount "$KMNT" || fail "umount $KMNT"

# ----------------------------------- 3. each COPY vs the same COPY on a kernel overlay
# kernel_copy N SRC... DEST: the COPY of layer N done on a kernel overlay of
# layers 0..N-1 with a fresh upper dir; compared with layer N.
kernel_copy() {
  local n=$1 k=$T/kc$1
  shift
  mkdir -p "$k/upper" "$k/work" "$k/mnt"
  mount -t overlay overlay -o "lowerdir=$(head -n "$n" "$T/layers.txt" | tac | paste -sd:),upperdir=$k/upper,workdir=$k/work" "$k/mnt" ||
    fail "mount -t overlay for layer $n failed"
  it_track_mount "$k/mnt"
  local rc=0
  python3 "$HELP" copy "$@" "$k/mnt" || rc=$?
  umount "$k/mnt" || fail "umount $k/mnt"
  [[ $rc -eq 0 ]] || fail "the COPY on the kernel overlay failed"
  python3 "$HELP" listing "$k/upper" >"$k/kernel.txt"
  python3 "$HELP" listing "$T/layers/$n" >"$k/cimg.txt"
  diff -u "$k/kernel.txt" "$k/cimg.txt" >&2 || fail "layer $n differs from the kernel's upper dir for the same COPY"
}
log "3. each COPY layer vs the kernel's upper dir for the same COPY"
check "COPY over/ / == the kernel's" kernel_copy 2 "$A/over" /
check "COPY one.txt etc/keep/ == the kernel's" kernel_copy 3 "$A/one.txt" etc/keep/
check "COPY vialink.txt lnk/ == the kernel's" kernel_copy 4 "$A/vialink.txt" lnk/

# ------------------------------------------------------- 4. a file over a directory
log "4. a file where the image has a directory is refused"
F=$T/ctx-file
mkdir -p "$F"
echo f >"$F/dirx"
printf 'FROM test/upper-base:1\nCOPY dirx opt/\n' >"$F/Kubefile"
check "COPY of a file over a lower directory: one-line error, nothing built" eval '
  expect_one_line_error "Kubefile:2: COPY: opt/dirx is a directory in the rootfs" ci build -t test/upper-bad:1 "$F"
  ! ci inspect test/upper-bad:1 >/dev/null 2>&1 || fail "test/upper-bad:1 was tagged"
  no_build_leftovers'

assert_fsck_clean
[[ ${#FAILED_CHECKS[@]} -eq 0 ]] || fail "${#FAILED_CHECKS[@]} checks failed: ${FAILED_CHECKS[*]}"
