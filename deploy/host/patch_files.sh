#!/bin/bash
# Rebuilds changed big files under ROOTFS from their old copy there plus the
# new bytes of the stream on stdin (a compressed tar of `data` and `recipe`,
# deploy/rootfs_patch.h): each file is assembled beside the old one, checked
# against its SHA-256, given its mode, owner and mtime, and renamed over the
# old one, so a crash leaves the old file or the new one. Prints the paths it
# could not rebuild (the old copy was changed or is gone), one a line: the
# deploy host sends those whole.
# Usage: patch_files.sh ROOTFS WORKDIR zstd|gzip
set -e -o pipefail
rootfs=$1 work=$2
rm -rf -- "$work"
mkdir -p -- "$work"
trap 'rm -rf -- "$work"' EXIT
if [ "$3" = zstd ]; then unpack=(zstd -dcq); else unpack=(gzip -dc); fi
"${unpack[@]}" | tar -x -C "$work" -f -
# range SRC OFFSET LENGTH: those bytes of SRC to stdout.
range() { dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }
ok=0 dst='' tmp='' sha='' mode='' owner='' mtime=''
while IFS=' ' read -r tag a b c d e f path; do
  case $tag in
  F)
    sha=$a mode=$b owner=$c:$d mtime=$e dst=$rootfs/$path tmp=$rootfs/$path.cimg-patch ok=1
    : "$f"  # the size: the checksum covers it
    rm -f -- "$tmp"
    : >"$tmp" || ok=0
    ;;
  O) if [ $ok = 1 ]; then range "$dst" "$a" "$b" >>"$tmp" || ok=0; fi ;;
  N) if [ $ok = 1 ]; then range "$work/data" "$a" "$b" >>"$tmp" || ok=0; fi ;;
  E)
    got=''
    if [ $ok = 1 ]; then got=$(sha256sum <"$tmp" | cut -d' ' -f1); fi
    if [ "$got" = "$sha" ] && chown -h -- "$owner" "$tmp" && chmod -- "$mode" "$tmp" &&
      touch -m -d "@$mtime" -- "$tmp" && mv -f -- "$tmp" "$dst"; then
      :
    else
      rm -f -- "$tmp"
      printf '%s\n' "${dst#"$rootfs"/}"
    fi
    ok=0
    ;;
  *) echo "patch_files.sh: bad recipe line: $tag" >&2; exit 1 ;;
  esac
done <"$work/recipe"
