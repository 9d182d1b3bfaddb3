#!/bin/bash
# Pulls IMAGE from the cluster's built-in registry ($RegistryURL, DOMAIN:PORT,
# as cimg and sealer export it) with ctr and runs one container of it that
# prints a line naming this host. Run on every host after the registry is
# up: the Clusterfiles of scripts/demo.sh and tests/integration/deploy_runtime.sh
# call it from a post-install plugin, scope master|node (where a
# real cluster has kubelet pull its images).
#   run-container.sh [IMAGE]      IMAGE default library/busybox:1.35
#   run-container.sh --pull IMAGE  pull only (no container)
# TLS: verified against the cluster's CA that cimg deploy installed as
# /etc/containerd/certs.d/DOMAIN:PORT/ (hosts.toml, DOMAIN.crt); without it,
# plain HTTP (localRegistry insecure: true). The hosts tried, in order: those
# of that hosts.toml (every master's registry with localRegistry ha: true). Credentials: those cimg deploy
# wrote to /var/lib/kubelet/config.json (root only), handed to ctr as an
# Authorization header in a root-only hosts dir of this run -- ctr reads no
# docker config, and its --user would put the password on its command line.
set -euo pipefail
PULL_ONLY=
if [ "${1:-}" = --pull ]; then PULL_ONLY=1; shift; fi
IMAGE=${1:-library/busybox:1.35}
EP=${RegistryURL:?RegistryURL is not set (run by cimg deploy)}
CTR=(/usr/local/bin/ctr -n cimg)
SNAP=$(cat /etc/containerd/cimg-snapshotter 2>/dev/null || echo overlayfs)
CERTS=/etc/containerd/certs.d/$EP
scheme=http
urls=()
if [ -f "$CERTS/hosts.toml" ]; then
  # the hosts cimg deploy listed (every master's registry with ha: true),
  # tried in that order; the scheme of its server
  scheme=$(sed -n 's|^server = "\(https*\)://.*|\1|p' "$CERTS/hosts.toml")
  mapfile -t urls < <(sed -n 's|^\[host\."\([^"]*\)"\]$|\1|p' "$CERTS/hosts.toml")
  [ -n "$scheme" ] || scheme=https
fi
[ ${#urls[@]} -gt 0 ] || urls=("$scheme://$EP")
auth=
if [ -f /var/lib/kubelet/config.json ]; then
  auth=$(tr -d ' \n' </var/lib/kubelet/config.json | sed -n 's/.*"auth":"\([^"]*\)".*/\1/p')
fi
umask 077
hosts=$(mktemp -d /run/cimg-pull.XXXXXX)
trap 'rm -rf -- "$hosts"' EXIT
mkdir "$hosts/$EP"
{
  printf 'server = "%s://%s"\n' "$scheme" "$EP"
  for u in "${urls[@]}"; do
    printf '[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$u"
    [ "$scheme" = http ] || printf '  ca = "%s"\n' "$CERTS/${EP%:*}.crt"
    [ -z "$auth" ] || printf '  [host."%s".header]\n    Authorization = "Basic %s"\n' "$u" "$auth"
  done
} >"$hosts/$EP/hosts.toml"
plain=()
[ "$scheme" = https ] || plain=(--plain-http)
"${CTR[@]}" images pull "${plain[@]}" --snapshotter "$SNAP" --hosts-dir "$hosts" "$EP/$IMAGE" >/dev/null
echo "pulled $EP/$IMAGE ($scheme${auth:+, with credentials}) into containerd, snapshotter $SNAP, hosts ${urls[*]}"
[ -z "$PULL_ONLY" ] || exit 0
id=cimg-hello-$(hostname)
"${CTR[@]}" containers rm "$id" >/dev/null 2>&1 || true # a leftover of a killed run
# shellcheck disable=SC2016 # expanded by the container's shell
"${CTR[@]}" run --rm --snapshotter "$SNAP" "$EP/$IMAGE" "$id" \
  /bin/sh -c 'echo "container $(hostname) says hello from busybox $(busybox | sed -n 1p | cut -d" " -f2)"'
