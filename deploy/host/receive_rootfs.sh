#!/bin/bash
# Unpacks the compressed tar stream on stdin into ROOTFS, keeping owners,
# modes and xattrs.
# Usage: receive_rootfs.sh ROOTFS zstd|gzip
set -e -o pipefail
mkdir -p -- "$1"
cd -- "$1"
if [ "$2" = zstd ]; then unpack=(zstd -dcq); else unpack=(gzip -dc); fi
"${unpack[@]}" | tar -x -p --numeric-owner --xattrs --xattrs-include='*' \
  --warning=no-unknown-keyword -f -
