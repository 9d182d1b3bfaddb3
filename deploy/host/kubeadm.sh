#!/bin/bash
# Runs the image's kubeadm (ROOTFS/bin first on PATH) in ROOTFS with ARGS.
# With --if-present first, does nothing when the image has no bin/kubeadm.
# Usage: kubeadm.sh [--if-present] ROOTFS ARGS...
if [ "$1" = --if-present ]; then
  shift
  [ -x "$1/bin/kubeadm" ] || exit 0
fi
cd -- "$1" || exit
PATH=$1/bin:$PATH
export PATH
exec kubeadm "${@:2}"
