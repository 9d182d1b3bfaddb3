#!/bin/bash
# Runs `kubectl VERB node NAME ARGS...` with the image's kubectl (ROOTFS/bin
# first on PATH) for the node whose InternalIP is IP (KUBECONFIG defaults to
# /etc/kubernetes/admin.conf, where kubeadm init leaves it).
# Usage: kubectl_node.sh ROOTFS IP VERB ARGS...
cd -- "$1" || exit
PATH=$1/bin:$PATH
export PATH
if [ -z "${KUBECONFIG:-}" ] && [ -f /etc/kubernetes/admin.conf ]; then
  export KUBECONFIG=/etc/kubernetes/admin.conf
fi
nodes=$(kubectl get nodes -o \
  'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}') || exit
node=$(printf '%s\n' "$nodes" | awk -v ip="$2" '$2 == ip { print $1; exit }')
[ -n "$node" ] || { echo "no node has InternalIP $2 (kubectl get nodes)" >&2; exit 3; }
exec kubectl "$3" node "$node" "${@:4}"
