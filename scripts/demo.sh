#!/usr/bin/env bash
# The whole story on built-in defaults, in a scratch directory, as root:
#  1. a local registry (Debian's docker-registry on 127.0.0.1) holding the
#     container images the example cluster needs (small generated ones, and
#     a real busybox image made from Debian's busybox-static);
#  2. cimg build the example cluster images from examples/ (base: FROM
#     scratch / COPY . . of a sealer-style rootfs, RUN copying Debian's
#     containerd, runc and docker-registry binaries into cri/ and bin/; app:
#     FROM base with ARG, RUN, COPY, CMDs), collecting the container images
#     into registry/;
#  3. cimg push the app image to the registry as zstd:chunked, then mount it
#     lazily from there into an empty store and look inside;
#  4. two local nodes (network namespaces running OpenSSH servers, from
#     tests/integration/nodes_lib.sh) and cimg deploy to them from a
#     Clusterfile: rootfs, scripts/init.sh (installs and starts containerd
#     on every node), the built-in registry on the master over TLS (a CA made
#     for the cluster) with a password (htpasswd), kubeadm (a stand-in:
#     kubeadm cannot run here; it records its arguments), CMDs, and a
#     plugin on every node that pulls busybox from the cluster's registry
#     with ctr and runs a container of it;
#  5. change one file, rebuild, re-deploy: only that file travels;
#  6. cimg delete: containerd and the registry stopped, the nodes are clean
#     again; then everything is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ "$(id -u)" = 0 ] || { echo "demo: run as root (namespaces, mounts)" >&2; exit 1; }
[ -x build/tools/cimg ] && [ -x build/tools/clusterfs ] && command -v sshd containerd runc busybox >/dev/null ||
  scripts/setup.sh
CIMG="$REPO/build/tools/cimg"
CLUSTERFS="$REPO/build/tools/clusterfs"
W=$(mktemp -d /tmp/cimg-demo.XXXXXX)
REG_PID=

# What tests/integration/nodes_lib.sh expects from its host script.
T=$W
IT_CLEANUP_HOOKS=()
# shellcheck disable=SC2034  # read by nodes_lib.sh's cleanup (sourced)
IT_BG_PIDS=()
log() { printf '   [nodes] %s\n' "$*" >&2; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }
source "$REPO/tests/integration/nodes_lib.sh"

cleanup() {
  local rc=$?
  mountpoint -q "$W/lazy" 2>/dev/null && { "$CLUSTERFS" umount "$W/lazy" 2>/dev/null || umount -l "$W/lazy"; }
  local h
  for h in "${IT_CLEANUP_HOOKS[@]}"; do eval "$h" || true; done
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  if grep -qF " $W/" /proc/self/mountinfo; then
    echo "demo: mounts left under $W, not removing it" >&2
  else
    rm -rf "$W"
  fi
  [ $rc -eq 0 ] && echo "demo: done, cleaned up" || echo "demo: FAILED ($rc), cleaned up" >&2
}
trap cleanup EXIT
export CIMG_ROOT="$W/store"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. a registry on 127.0.0.1 with the container images the example cluster names"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\nlog: {level: error, accesslog: {disabled: true}}\n' \
  "$W/registry" "$PORT" >"$W/registry.yml"
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
REG=127.0.0.1:$PORT
# Small stand-in images under the example's repository names (offline).
umoci init --layout "$W/oci" >/dev/null
for img in pause:3.9 coredns/coredns:v1.10.1 library/nginx:1.25; do
  tag=${img//[\/:]/-}
  umoci new --image "$W/oci:$tag" >/dev/null
  umoci unpack --image "$W/oci:$tag" "$W/b" >/dev/null
  echo "$img" >"$W/b/rootfs/name"
  umoci repack --image "$W/oci:$tag" "$W/b" >/dev/null
  rm -rf "$W/b"
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$W/oci:$tag" "docker://$REG/$img"
  echo "$REG/$img" >>"$W/images"
done
# A real one: Debian's static busybox, which the nodes will run with containerd.
umoci new --image "$W/oci:busybox" >/dev/null
umoci unpack --image "$W/oci:busybox" "$W/b" >/dev/null
mkdir -p "$W/b/rootfs/bin"
cp "$(command -v busybox)" "$W/b/rootfs/bin/busybox"
for a in sh echo hostname sed cut cat; do ln -s busybox "$W/b/rootfs/bin/$a"; done
umoci repack --image "$W/oci:busybox" "$W/b" >/dev/null
rm -rf "$W/b"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$W/oci:busybox" "docker://$REG/library/busybox:1.35"
echo "$REG/library/busybox:1.35" >>"$W/images"
cat "$W/images"
# The example names public registries; here they come from the local one.
grep -hv '^#' examples/rootfs/manifests/imageList examples/app/imageList | sed '/^$/d' >"$W/public"

step "2. build the example cluster images (examples/base, examples/app)"
cp -a examples/rootfs "$W/rootfs"
# kubeadm and kubectl cannot run here: stand-ins that say what they were asked.
cat >"$W/rootfs/bin/kubeadm" <<'EOF'
#!/bin/sh
# stand-in for kubeadm (the demo cannot run a real cluster): records its arguments
echo "$(hostname): kubeadm $*" >> /var/lib/demo-kubeadm.log
case "$*" in
  "token create --print-join-command")
    echo "kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 1)" ;;
esac
EOF
printf '#!/bin/sh\necho "$(hostname): kubectl $*" >> /var/lib/demo-kubectl.log\n' >"$W/rootfs/bin/kubectl"
chmod 755 "$W/rootfs/bin/kubeadm" "$W/rootfs/bin/kubectl"
run "$CIMG" build -f examples/base/Kubefile -t cimg-examples/base:1 --tls-verify=false \
  --image-list "$W/images" --ignored-image-list "$W/public" "$W/rootfs"
cp -a examples/app "$W/app"
run "$CIMG" build -t cimg-examples/app:1 --tls-verify=false --ignored-image-list "$W/public" "$W/app"
run "$CIMG" images
"$CIMG" inspect cimg-examples/app:1 | python3 -c "import json,sys; c=json.load(sys.stdin)[0]['Config']; print(json.dumps({'Env': c.get('Env'), 'Labels': c.get('Labels')}, indent=2))"

step "3. push to the registry, then mount it lazily into an empty store and look inside"
run "$CIMG" push cimg-examples/app:1 "$REG/cimg-examples/app:1" --tls-verify=false
mkdir -p "$W/lazy"
run "$CLUSTERFS" mount --root "$W/store-lazy" "$REG/cimg-examples/app:1" "$W/lazy" --tls-verify=false
run ls "$W/lazy" "$W/lazy/registry/docker/registry/v2/repositories"
run cat "$W/lazy/etc/app.conf" "$W/lazy/opt/app/VERSION"
run "$CLUSTERFS" umount "$W/lazy"

step "4. two nodes (sshd in network namespaces) and cimg deploy"
# DEMO_NODES="TAG SUBNET": other names and 10.251.SUBNET.0/24 for the nodes
# (when another run of the tests or the demo uses the default ones).
read -r NODES_T NODES_S <<<"${DEMO_NODES:-demo 240}"
nodes_up "$NODES_T" "$NODES_S" 2
# The registry's password: only in the Clusterfile (cimg keeps its copy 0600).
REG_PASS=demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
umask 077
cat >"$W/Clusterfile" <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: demo
spec:
  image: cimg-examples/app:1
  env: [POD_CIDR=100.64.0.0/10]
  ssh: {user: root, pk: $NODE_KEY}
  hosts:
    - ips: [$NODE_IP_1]
      roles: [master]
    - ips: [$NODE_IP_2]
      roles: [node]
      ssh: {user: deployer, passwd: $NODE_USER_PASS}
  registry:
    localRegistry: {domain: sea.hub, port: 5000, username: demo, password: $REG_PASS}  # TLS, ha: sealer's defaults
  containerRuntime: {type: containerd}
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: run-container}
spec:
  type: SHELL
  action: post-install
  scope: master|node
  data: bash "\$CIMG_ROOTFS/scripts/run-container.sh"
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: hello}
spec:
  type: SHELL
  action: post-install
  scope: master
  data: echo "post-install plugin on \$(hostname)"
EOF
umask 022
sed "s/$REG_PASS/<generated>/" "$W/Clusterfile"
echo "(kubeadm is a stand-in: a real cluster cannot run here. containerd, runc, ctr and the registry are real.)"
run "$CIMG" deploy -f "$W/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS"
echo "-- what the nodes got"
run ls "$(node_path 1 /var/lib/cimg/demo/rootfs)" "$(node_path 2 /var/lib/cimg/demo/rootfs)"
run cat "$(node_path 1 /var/lib/demo-kubeadm.log)" "$(node_path 2 /var/lib/demo-kubeadm.log)" "$(node_path 1 /var/lib/demo-kubectl.log)"
echo "-- containerd on each node, and the image each one pulled from the cluster's registry:"
for i in 1 2; do
  printf 'node %s: containerd pid %s; ' "$i" "$(node_exec "$i" cat /run/containerd/containerd.pid)"
  node_exec "$i" /usr/local/bin/ctr -n cimg images ls -q
done
echo "-- the built-in registry on the master serves the collected images over TLS (the cluster's CA), with a password:"
CA=$W/store/clusters/demo/registry-tls/ca.crt
printf 'user = "demo:%s"\n' "$REG_PASS" >"$W/curl.cfg"
echo "\$ curl --cacert $CA --resolve sea.hub:5000:$NODE_IP_1 https://sea.hub:5000/v2/_catalog"
curl -sS --cacert "$CA" --resolve "sea.hub:5000:$NODE_IP_1" -o /dev/null -w 'without the password: HTTP %{http_code}\n' https://sea.hub:5000/v2/_catalog
curl -fsS -K "$W/curl.cfg" --cacert "$CA" --resolve "sea.hub:5000:$NODE_IP_1" https://sea.hub:5000/v2/_catalog
echo "-- a second run has nothing to do:"
run "$CIMG" -q deploy -f "$W/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS"

step "5. change one file, rebuild, re-deploy: only that file travels"
echo "replicas=3" >>"$W/app/etc/app.conf"
run "$CIMG" build -t cimg-examples/app:2 --tls-verify=false --ignored-image-list "$W/public" "$W/app"
sed -i 's#image: cimg-examples/app:1#image: cimg-examples/app:2#' "$W/Clusterfile"
run "$CIMG" -q deploy -f "$W/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS"
run cat "$(node_path 2 /var/lib/cimg/demo/rootfs/etc/app.conf)"

step "6. delete the cluster: the nodes are clean"
for i in 1 2; do node_exec "$i" cat /run/containerd/containerd.pid >"$W/containerd.$i"; done
run "$CIMG" delete demo --known-hosts "$NODE_KNOWN_HOSTS"
for i in 1 2; do
  [ ! -e "$(node_path "$i" /var/lib/cimg/demo)" ] && echo "node $i: /var/lib/cimg/demo is gone"
  kill -0 "$(cat "$W/containerd.$i")" 2>/dev/null || echo "node $i: containerd stopped"
  node_exec "$i" test -e /etc/containerd/certs.d/sea.hub:5000 || echo "node $i: the registry's CA removed"
done
run "$CIMG" fsck
