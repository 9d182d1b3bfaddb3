#!/usr/bin/env bash
# clusterfs against the kernel's overlayfs (tests/overlay_diff/run.sh), twice:
# with the lowers as directories (-o lowerdir=A:B,...) and with the same lowers
# imported as a store image (tests/overlay_diff/image_lowers.sh, after its
# self-test proves the conversion faithful). The kernel reference runs with
# index=on: clusterfs keeps lower hard links linked across copy-up, as the
# kernel does with index=on. Fails if either run fails.
source "$(dirname "$0")/lib.sh"
it_setup umoci mount umount
cfs_setup
OD=$(cd "$(dirname "$0")/../overlay_diff" && pwd)
export CIMG CLUSTERFS
export KERNEL_OPTS=redirect_dir=off,index=on,metacopy=off

log "image_lowers.sh self-test (the conversion of lower dirs into an image is faithful)"
bash "$OD/image_lowers.sh" --selftest || fail "image_lowers.sh --selftest failed: the image variant would not test the same content"

rc_dirs=0 rc_image=0
log "run.sh: clusterfs with directory lowers"
KNOWN=$OD/known_differences_clusterfs.txt \
  bash "$OD/run.sh" "$CLUSTERFS mount -o lowerdir=%L,upperdir=%U,workdir=%W,allow_other none %M" || rc_dirs=$?
log "run.sh: clusterfs with the lowers imported as an image"
# the image variant differs from the kernel in everything clusterfs does, plus
# what image layers themselves cannot carry: both files, clusterfs's first
cat "$OD/known_differences_clusterfs.txt" "$OD/known_differences_image_lowers.txt" >"$T/known_image_lowers.txt"
KNOWN=$T/known_image_lowers.txt \
  bash "$OD/run.sh" "bash $OD/image_lowers.sh %L %U %W %M" || rc_image=$?
log "directory lowers: $([[ $rc_dirs -eq 0 ]] && echo PASS || echo "FAIL ($rc_dirs)"); image lowers: $([[ $rc_image -eq 0 ]] && echo PASS || echo "FAIL ($rc_image)")"
[[ $rc_dirs -eq 0 && $rc_image -eq 0 ]] || fail "overlay differential test failed (directory lowers: $rc_dirs, image lowers: $rc_image)"
