#!/bin/bash
# Deletes, under ROOTFS, the paths read NUL-separated from stdin (relative
# paths that never climb: deploy/rootfs_transfer.h checks them).
# Usage: prune.sh ROOTFS
set -e
mkdir -p -- "$1"
cd -- "$1"
xargs -0 -r rm -rf --
