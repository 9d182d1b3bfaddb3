#!/bin/bash
# Upgrades this host's Kubernetes with the image's kubeadm as sealer's
# kubeadm runtime does (pkg/runtime/kubernetes/upgrade.go): masters are
# drained first and uncordoned after; master0 runs `kubeadm upgrade apply
# VERSION -y` (VERSION: kubernetesVersion of ROOTFS/etc/kubeadm.yml), the
# others `kubeadm upgrade node`; then kubelet is restarted when it is a
# systemd service here.
# Usage: kubeadm_upgrade.sh ROOTFS apply|node master|node
set -e
cd -- "$1"
PATH=$1/bin:$PATH
export PATH
node=$(uname -n | tr '[:upper:]' '[:lower:]')
if [ "$3" = master ]; then
  kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data
fi
if [ "$2" = apply ]; then
  version=$(sed -n 's/^[[:space:]]*kubernetesVersion:[[:space:]]*["'\'']*\([^"'\''[:space:]]*\).*/\1/p' etc/kubeadm.yml 2>/dev/null | sed -n 1p)
  if [ -z "$version" ]; then
    echo "etc/kubeadm.yml has no kubernetesVersion: the version to upgrade to" >&2
    exit 1
  fi
  kubeadm upgrade apply "$version" -y
else
  kubeadm upgrade node
fi
if command -v systemctl >/dev/null 2>&1 && systemctl cat kubelet.service >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl restart kubelet
else
  echo "no kubelet service here: not restarted"
fi
if [ "$3" = master ]; then
  kubectl uncordon "$node"
fi
