#!/usr/bin/env bash
# A real container runtime in the example cluster image, deployed to two
# nodes (sshd in namespaces; a third joins by scale-up) with a secured
# built-in registry:
#  1. the example base image (examples/base/Kubefile over examples/rootfs):
#     cri/ holds Debian's containerd, shim, ctr and runc, bin/registry
#     Debian's docker-registry; a busybox image (busybox-static) collected
#     into registry/;
#  2. cimg deploy with localRegistry {domain, port, username, password}
#     (TLS and ha: sealer's defaults, not given) and a post-install plugin running
#     scripts/run-container.sh on every host: containerd runs on each node,
#     each pulled the image over TLS with the credentials and ran a
#     container whose output came back in the deploy's log;
#  3. the registry refuses an unauthenticated pull (401, curl and ctr), a
#     pull without the cluster's CA fails verification; the key is 0600 on
#     the deploy host and master0 only; the password is in no log, no
#     command line seen while deploying, no image and no node file;
#  4. a re-deploy reuses the CA and certificate; a third node added by
#     scale-up gets the same CA, pulls and runs the container too;
#  5. cimg delete stops containerd and the registry and removes the CA,
#     hosts.toml and credentials from every node, and the CA here.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup rt 222 3 skopeo umoci docker-registry curl containerd ctr runc \
  containerd-shim-runc-v2 busybox dpkg
if ldd "$(command -v busybox)" >/dev/null 2>&1; then
  fail "busybox is dynamically linked: install busybox-static (the container has no libc)"
fi
source "$(dirname "$0")/registry_lib.sh"
DOMAIN=hub.rt.test PORT=5443 EP=hub.rt.test:5443 USER=rtuser
PW=rt-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
REPO=$(cd "$(dirname "$0")/../.." && pwd)

# --------------------------------------------------------------- 1. image
log "1. the example base image with a runtime and a busybox image"
reg_start_plain src
R=$REG_SRC_ADDR
umoci init --layout "$T/oci" >/dev/null
umoci new --image "$T/oci:bb" >/dev/null
umoci unpack --image "$T/oci:bb" "$T/bb" >/dev/null
mkdir -p "$T/bb/rootfs/bin"
cp "$(command -v busybox)" "$T/bb/rootfs/bin/busybox"
for a in sh echo hostname sed cut cat; do ln -s busybox "$T/bb/rootfs/bin/$a"; done
umoci repack --image "$T/oci:bb" "$T/bb" >/dev/null
skopeo_ copy -q --dest-tls-verify=false "oci:$T/oci:bb" "docker://$R/library/busybox:1.35" ||
  fail "skopeo push of the busybox image"
echo "$R/library/busybox:1.35" >"$T/images"
grep -v '^#' "$REPO/examples/rootfs/manifests/imageList" | sed '/^$/d' >"$T/public"
cp -a "$REPO/examples/rootfs" "$T/rootfs"
ci build -f "$REPO/examples/base/Kubefile" -t cimg-examples/base:1 --tls-verify=false \
  --image-list "$T/images" --ignored-image-list "$T/public" "$T/rootfs" >"$T/build.out" 2>&1 ||
  fail "base build: $(tail -n 5 "$T/build.out")"
ci ls cimg-examples/base:1 cri >"$T/cri.ls" || fail "cimg ls cri"
for b in containerd containerd-shim-runc-v2 ctr runc; do
  grep -E "(^| |/)$b\$" "$T/cri.ls" >/dev/null || fail "cri/$b is not in the image: $(cat "$T/cri.ls")"
done
ci cat cimg-examples/base:1:/cri/runc >"$T/runc" || fail "cimg cat cri/runc"
cmp "$T/runc" "$(command -v runc)" || fail "cri/runc is not Debian's runc"
ci cat cimg-examples/base:1:/bin/registry | cmp - "$(command -v docker-registry)" ||
  fail "bin/registry is not Debian's docker-registry"

# ------------------------------------------------------------- 2. deploy
log "2. deploy: TLS registry with htpasswd, containerd on every host, one container each"
cat >"$T/Clusterfile" <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: rt}
spec:
  image: cimg-examples/base:1
  ssh: {pk: $NODE_KEY}
  hosts:
    - {ips: [$M0], roles: [master]}
    - {ips: [$NODE_IP_2], roles: [node]}
  registry:
    localRegistry: {domain: $DOMAIN, port: $PORT, username: $USER, password: $PW}
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
EOF
# A dry run first: it lists the trust files for every host, makes no CA
# and installs nothing.
ci deploy -f "$T/Clusterfile" "${KH[@]}" --dry-run >"$T/dryrun.out" 2>"$T/dryrun.err" ||
  fail "dry run: $(tail -n 5 "$T/dryrun.err")"
assert_eq 2 "$(grep -c 'registry trust: the CA and credentials' "$T/dryrun.out")" "trust files planned per host"
[[ ! -e "$ROOT/clusters/rt/registry-tls" ]] || fail "a dry run made the cluster's CA"
for i in 1 2; do
  [[ ! -e "$(node_path "$i" /etc/containerd/certs.d)" ]] || fail "node $i: a dry run installed files"
done
# every command line while the deploy runs (sampled: can only miss, never
# see a password that is not there)
(while :; do ps -eww -o args= >>"$T/ps.log" 2>/dev/null; sleep 0.05; done) &
PS_PID=$!
IT_BG_PIDS+=("$PS_PID")
"$CIMG" --root "$ROOT" deploy -f "$T/Clusterfile" "${KH[@]}" >"$T/deploy.log" 2>&1 ||
  fail "deploy: $(tail -n 20 "$T/deploy.log")"
kill "$PS_PID" && wait "$PS_PID" 2>/dev/null || true
for i in 1 2; do
  ip=$(node_ip "$i")
  grep -F "$ip> container rt-n$i says hello from busybox v1.35" "$T/deploy.log" >/dev/null ||
    fail "node $i: no container output in the deploy log: $(grep -F "$ip>" "$T/deploy.log" | tail -n 8)"
  grep -F "$ip> pulled $EP/library/busybox:1.35 (https, with credentials)" "$T/deploy.log" >/dev/null ||
    fail "node $i: no pull over https with credentials"
  node_exec "$i" sh -c 'kill -0 "$(cat /run/containerd/containerd.pid)"' ||
    fail "node $i: containerd is not running"
  node_exec "$i" /usr/local/bin/ctr -n cimg images ls -q >"$T/images.$i"
  grep -Fx "$EP/library/busybox:1.35" "$T/images.$i" >/dev/null ||
    fail "node $i: the image is not in containerd: $(cat "$T/images.$i")"
  node_exec "$i" cmp -s "/etc/containerd/certs.d/$EP/$DOMAIN.crt" /dev/stdin \
    <"$ROOT/clusters/rt/registry-tls/ca.crt" || fail "node $i: the cluster's CA is not installed for containerd"
  node_exec "$i" test -s "/etc/docker/certs.d/$EP/$DOMAIN.crt" || fail "node $i: no CA for docker"
  assert_eq 600 "$(node_exec "$i" stat -c %a /var/lib/kubelet/config.json)" "node $i: credentials' mode"
done
SNAP=$(grep -o "$M0> init: containerd .* ready, snapshotter [a-z]*" "$T/deploy.log" | sed -n 1p)
log "   $SNAP"
[[ -n "$SNAP" ]] || fail "no 'containerd ready' line from init.sh"

# ---------------------------------------------------- 3. what is refused
log "3. no credentials: 401; no CA: verification fails; key and password kept"
CA=$ROOT/clusters/rt/registry-tls/ca.crt
RES=(--resolve "$EP:$M0")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "${RES[@]}" "https://$EP/v2/library/busybox/manifests/1.35")
assert_eq 401 "$code" "an unauthenticated manifest request"
printf 'user = "%s:%s"\n' "$USER" "$PW" >"$T/curl.cfg"
chmod 600 "$T/curl.cfg"
code=$(curl -s -o /dev/null -w '%{http_code}' -K "$T/curl.cfg" --cacert "$CA" "${RES[@]}" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' "https://$EP/v2/library/busybox/manifests/1.35")
assert_eq 200 "$code" "the manifest with the credentials"
rc=0
curl -s -o /dev/null -K "$T/curl.cfg" "${RES[@]}" "https://$EP/v2/" || rc=$?
assert_eq 60 "$rc" "curl without the cluster's CA (60: certificate not verified)"
# containerd itself: with the CA but without the credentials, then without the CA
if node_exec 2 /usr/local/bin/ctr -n probe images pull --hosts-dir /etc/containerd/certs.d \
  "$EP/library/busybox:1.35" >"$T/noauth.out" 2>&1; then
  fail "ctr pulled without credentials"
fi
grep -F "401 Unauthorized" "$T/noauth.out" >/dev/null || fail "ctr without credentials: $(tail -n 2 "$T/noauth.out")"
if node_exec 2 /usr/local/bin/ctr -n probe images pull "$EP/library/busybox:1.35" >"$T/noca.out" 2>&1; then
  fail "ctr pulled without the CA"
fi
grep -F "x509: certificate signed by unknown authority" "$T/noca.out" >/dev/null ||
  fail "ctr without the CA: $(tail -n 2 "$T/noca.out")"
assert_eq 600 "$(stat -c %a "$ROOT/clusters/rt/registry-tls/ca.key")" "the CA key's mode"
assert_eq 700 "$(stat -c %a "$ROOT/clusters/rt/registry-tls")" "the CA dir's mode"
assert_eq 600 "$(node_exec 1 stat -c %a "/var/lib/cimg/rt/rootfs/certs/$DOMAIN.key")" "master0's key mode"
! node_exec 2 test -e "/var/lib/cimg/rt/rootfs/certs/$DOMAIN.key" || fail "the registry key is on a node"
node_exec 1 grep -F "$USER:\$2" /var/lib/cimg/rt/rootfs/etc/registry_htpasswd >/dev/null ||
  fail "no bcrypt htpasswd on master0"
# the password: in the saved Clusterfile (0600) and nowhere else
grep -rlF -- "$PW" "$T/deploy.log" "$T/ps.log" "$T/build.out" "$T/nodes" >"$T/leaks" 2>/dev/null || true
grep -rlF -- "$PW" "$ROOT" | grep -vx "$ROOT/clusters/rt/Clusterfile" >>"$T/leaks" || true
[[ ! -s "$T/leaks" ]] || fail "the password is in: $(cat "$T/leaks")"
[[ -s "$T/ps.log" ]] || fail "no command lines sampled"
assert_eq 600 "$(stat -c %a "$ROOT/clusters/rt/Clusterfile")" "the saved Clusterfile's mode"

# -------------------------------------------------------------- 4. again
log "4. a re-deploy keeps the CA and certificate"
sum=$(cat "$ROOT/clusters/rt/registry-tls/"* | sha256sum)
ci deploy -f "$T/Clusterfile" "${KH[@]}" >"$T/deploy2.log" 2>&1 || fail "re-deploy: $(tail -n 5 "$T/deploy2.log")"
assert_eq "$sum" "$(cat "$ROOT/clusters/rt/registry-tls/"* | sha256sum)" "the CA after a re-deploy"
node_exec 2 cmp -s "/etc/containerd/certs.d/$EP/$DOMAIN.crt" /dev/stdin <"$CA" ||
  fail "node 2's CA changed on a re-deploy"
"$CIMG" --root "$ROOT" scale-up rt --nodes "$NODE_IP_3" "${KH[@]}" >"$T/scale.log" 2>&1 ||
  fail "scale-up: $(tail -n 10 "$T/scale.log")"
grep -F "$NODE_IP_3> container rt-n3 says hello from busybox v1.35" "$T/scale.log" >/dev/null ||
  fail "node 3: no container output: $(grep -F "$NODE_IP_3>" "$T/scale.log" | tail -n 8)"
node_exec 3 cmp -s "/etc/containerd/certs.d/$EP/$DOMAIN.crt" /dev/stdin <"$CA" ||
  fail "node 3 did not get the cluster's CA"
assert_eq "$sum" "$(cat "$ROOT/clusters/rt/registry-tls/"* | sha256sum)" "the CA after a scale-up"
! grep -rlF -- "$PW" "$T/scale.log" "$T/deploy2.log" "$T/nodes/3" >/dev/null || fail "the password leaked in the scale-up"

# ------------------------------------------------------------- 5. delete
log "5. delete: containerd and the registry stopped, the CA and credentials removed"
for i in 1 2 3; do node_exec "$i" cat /run/containerd/containerd.pid >"$T/ctd.$i"; done
ci delete rt "${KH[@]}" >"$T/delete.log" 2>&1 || fail "delete: $(tail -n 5 "$T/delete.log")"
for i in 1 2 3; do
  pid=$(cat "$T/ctd.$i")
  ! kill -0 "$pid" 2>/dev/null || fail "node $i: containerd ($pid) still runs"
  for p in "/etc/containerd/certs.d/$EP" "/etc/docker/certs.d/$EP" /var/lib/kubelet/config.json \
    /usr/local/bin/containerd /usr/local/bin/runc /var/lib/containerd /etc/containerd/cimg.toml; do
    ! node_exec "$i" test -e "$p" || fail "node $i: $p is still there"
  done
done
rc=0
curl -s -o /dev/null --cacert "$CA" "${RES[@]}" "https://$EP/v2/" || rc=$?
assert_eq 7 "$rc" "curl to the registry after delete (7: cannot connect)"
[[ ! -e "$ROOT/clusters/rt" ]] || fail "the cluster's CA is still on the deploy host: $(ls -R "$ROOT/clusters/rt")"
