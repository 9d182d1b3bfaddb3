#!/usr/bin/env bash
# The built-in registry with localRegistry ha: true (deploy/registry_hosts.h)
# on two masters and a node (sshd in namespaces), TLS and htpasswd, and
# cert.subjectAltName; ha and TLS are not given (sealer's defaults):
#  1. the example base image (containerd, ctr, runc, docker-registry) with
#     two images collected into registry/: busybox:1.35 and hello:1 (busybox
#     and one more layer);
#  2. cimg deploy: a registry runs on each master, each master's /etc/hosts
#     names itself for the domain and the node's names master0; every host
#     pulled busybox with ctr through the hosts.toml cimg wrote (the node's
#     lists master0's registry, then master1's) and ran a container;
#  3. each master serves the same certificate, signed by the cluster's CA,
#     naming the domain, both masters' IPs and the cert.subjectAltName name
#     and IP (openssl s_client, x509 -text; curl verifies it by IP);
#  4. the registry on master0 killed (by its PID): the node pulls hello:1
#     (a manifest and a layer it does not have) through hosts.toml, from
#     master1;
#  5. scale-down of master1: its registry stops, the node's hosts.toml names
#     the domain alone (master0's registry, as without ha); scale-up brings master1 back: its registry runs again
#     (master0's too) and the node's hosts.toml lists both;
#  6. a re-deploy with ha: false stops master1's registry; master0 serves a
#     certificate made again without master1's IP; every host's hosts.toml
#     and /etc/hosts name the domain / master0 alone;
#  7. cimg delete stops the registry and removes hosts.toml everywhere.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup rha 224 3 skopeo umoci docker-registry curl containerd ctr runc \
  containerd-shim-runc-v2 busybox dpkg openssl
if ldd "$(command -v busybox)" >/dev/null 2>&1; then
  fail "busybox is dynamically linked: install busybox-static (the container has no libc)"
fi
source "$(dirname "$0")/registry_lib.sh"
M1=$N1 N=$N2
DOMAIN=hub.rha.test PORT=5443 EP=hub.rha.test:5443 USER=hauser
SAN_DNS=reg.rha.example SAN_IP=192.0.2.77
PW=ha-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUN=/var/lib/cimg/rha
CA=$ROOT/clusters/rha/registry-tls/ca.crt

# registry_pid I: the PID of node I's built-in registry ("" when none runs).
registry_pid() {
  local p
  p=$(node_exec "$1" cat "$RUN/registry.pid" 2>/dev/null) || return 0
  if node_exec "$1" kill -0 "$p" 2>/dev/null; then printf '%s\n' "$p"; fi
}

# hosts_toml_hosts I: the [host."..."] URLs of node I's hosts.toml, one a line.
hosts_toml_hosts() {
  node_exec "$1" cat "/etc/containerd/certs.d/$EP/hosts.toml" >"$T/hosts.toml.$1"
  sed -n 's|^\[host\."\([^"]*\)"\]$|\1|p' "$T/hosts.toml.$1" | tr '\n' ' '
}

# ------------------------------------------------------------- 1. image
log "1. the example base image with busybox:1.35 and hello:1 in registry/"
reg_start_plain src
R=$REG_SRC_ADDR
umoci init --layout "$T/oci" >/dev/null
umoci new --image "$T/oci:bb" >/dev/null
umoci unpack --image "$T/oci:bb" "$T/bb" >/dev/null
mkdir -p "$T/bb/rootfs/bin"
cp "$(command -v busybox)" "$T/bb/rootfs/bin/busybox"
for a in sh echo hostname sed cut cat; do ln -s busybox "$T/bb/rootfs/bin/$a"; done
umoci repack --image "$T/oci:bb" "$T/bb" >/dev/null
umoci unpack --image "$T/oci:bb" "$T/hello" >/dev/null
echo "hello from the second image" >"$T/hello/rootfs/hello.txt"
umoci repack --image "$T/oci:hello" "$T/hello" >/dev/null
skopeo_ copy -q --dest-tls-verify=false "oci:$T/oci:bb" "docker://$R/library/busybox:1.35" ||
  fail "skopeo push of the busybox image"
skopeo_ copy -q --dest-tls-verify=false "oci:$T/oci:hello" "docker://$R/library/hello:1" ||
  fail "skopeo push of the hello image"
printf '%s\n' "$R/library/busybox:1.35" "$R/library/hello:1" >"$T/images"
grep -v '^#' "$REPO/examples/rootfs/manifests/imageList" | sed '/^$/d' >"$T/public"
cp -a "$REPO/examples/rootfs" "$T/rootfs"
ci build -f "$REPO/examples/base/Kubefile" -t cimg-examples/base:ha --tls-verify=false \
  --image-list "$T/images" --ignored-image-list "$T/public" "$T/rootfs" >"$T/build.out" 2>&1 ||
  fail "base build: $(tail -n 5 "$T/build.out")"

# ------------------------------------------------------------ 2. deploy
log "2. deploy: ha and TLS (sealer's defaults: not given), htpasswd, cert.subjectAltName; a registry on each master"
cat >"$T/Clusterfile" <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: rha}
spec:
  image: cimg-examples/base:ha
  ssh: {pk: $NODE_KEY}
  hosts:
    - {ips: [$M0, $M1], roles: [master]}
    - {ips: [$N], roles: [node]}
  registry:
    localRegistry:
      domain: $DOMAIN
      port: $PORT
      username: $USER
      password: $PW
      cert:
        subjectAltName: {dnsNames: [$SAN_DNS], ips: [$SAN_IP]}
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
"$CIMG" --root "$ROOT" deploy -f "$T/Clusterfile" "${KH[@]}" >"$T/deploy.log" 2>&1 ||
  fail "deploy: $(tail -n 20 "$T/deploy.log")"
grep -F "registry $EP: TLS (the cluster's CA on every host) htpasswd (credentials on every host) on 2 masters" \
  "$T/deploy.log" >/dev/null || fail "no 'on 2 masters' line: $(grep -F "registry $EP" "$T/deploy.log")"
for i in 1 2 3; do
  ip=$(node_ip "$i")
  grep -F "$ip> container rha-n$i says hello from busybox v1.35" "$T/deploy.log" >/dev/null ||
    fail "node $i: no container output in the deploy log: $(grep -F "$ip>" "$T/deploy.log" | tail -n 8)"
done
grep -F "$N> pulled $EP/library/busybox:1.35 (https, with credentials) into containerd, snapshotter" \
  "$T/deploy.log" >/dev/null || fail "the node did not pull over https with credentials"
for i in 1 2; do
  [[ -n "$(registry_pid "$i")" ]] || fail "master $i: no registry runs"
  assert_eq 600 "$(node_exec "$i" stat -c %a "$RUN/rootfs/certs/$DOMAIN.key")" "master $i: the key's mode"
  node_exec "$i" grep -F "$USER:\$2" "$RUN/rootfs/etc/registry_htpasswd" >/dev/null ||
    fail "master $i: no bcrypt htpasswd"
done
[[ -z "$(registry_pid 3)" ]] || fail "a registry runs on the node"
! node_exec 3 test -e "$RUN/rootfs/certs/$DOMAIN.key" || fail "the registry key is on the node"
for i in 1 2 3; do
  want=$M0
  [[ $i -ne 2 ]] || want=$M1
  got=$(node_exec "$i" awk -v d="$DOMAIN" '$2 == d {print $1}' /etc/hosts)
  assert_eq "$want" "$got" "node $i: /etc/hosts for $DOMAIN"
done
assert_eq "https://$M0:$PORT https://$M1:$PORT " "$(hosts_toml_hosts 3)" "the node's hosts.toml"
assert_eq "https://$M1:$PORT https://$M0:$PORT " "$(hosts_toml_hosts 2)" "master1's hosts.toml"
grep -Fx "server = \"https://$EP\"" "$T/hosts.toml.3" >/dev/null || fail "hosts.toml: no server line"

# ------------------------------------------------------- 3. certificate
log "3. both masters serve the certificate with every master's IP and the extra names"
for ip in "$M0" "$M1"; do
  openssl s_client -connect "$ip:$PORT" -servername "$DOMAIN" </dev/null >"$T/s_client.$ip" 2>&1 || true
  openssl x509 -in "$T/s_client.$ip" -noout -text >"$T/cert.$ip" ||
    fail "$ip: no certificate served: $(tail -n 3 "$T/s_client.$ip")"
  for name in "DNS:$DOMAIN" "DNS:$SAN_DNS" "IP Address:$SAN_IP" "IP Address:$M0" "IP Address:$M1"; do
    grep -F "$name" "$T/cert.$ip" >/dev/null || fail "$ip: $name is not in the served certificate: \
$(grep -A1 'Subject Alternative Name' "$T/cert.$ip")"
  done
  # verified against the cluster's CA when reached by the master's IP (401: no credentials)
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$ip:$PORT/v2/")
  assert_eq 401 "$code" "$ip: /v2/ over TLS verified by IP"
done
openssl x509 -in "$T/s_client.$M0" -noout -fingerprint >"$T/fp0"
openssl x509 -in "$T/s_client.$M1" -noout -fingerprint >"$T/fp1"
cmp -s "$T/fp0" "$T/fp1" || fail "the masters serve different certificates"

# ---------------------------------------------------------- 4. failover
log "4. master0's registry killed: the node pulls hello:1 from master1"
pid=$(registry_pid 1)
node_exec 1 kill "$pid"
for _ in $(seq 1200); do # a hang guard of 2 min; TERM ends it at once
  node_exec 1 kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
! node_exec 1 kill -0 "$pid" 2>/dev/null || fail "master0's registry ($pid) does not end on TERM"
rc=0
curl -s -o /dev/null --cacert "$CA" "https://$M0:$PORT/v2/" || rc=$?
assert_eq 7 "$rc" "curl to master0's registry once killed (7: cannot connect)"
node_exec 3 env RegistryURL="$EP" bash "$RUN/rootfs/scripts/run-container.sh" --pull library/hello:1 \
  >"$T/failover.out" 2>&1 || fail "the node's pull with master0's registry down: $(tail -n 5 "$T/failover.out")"
grep -F "pulled $EP/library/hello:1 (https, with credentials)" "$T/failover.out" >/dev/null ||
  fail "no pull line: $(cat "$T/failover.out")"
node_exec 3 /usr/local/bin/ctr -n cimg images ls -q >"$T/images.3"
grep -Fx "$EP/library/hello:1" "$T/images.3" >/dev/null || fail "hello:1 is not in the node's containerd"

# ---------------------------------------------------------- 5. scaling
log "5. scale-down of master1, then scale-up: hosts.toml and registries follow"
m1pid=$(registry_pid 2)
"$CIMG" --root "$ROOT" scale-down rha --masters "$M1" "${KH[@]}" >"$T/down.log" 2>&1 ||
  fail "scale-down: $(tail -n 10 "$T/down.log")"
! node_exec 2 kill -0 "$m1pid" 2>/dev/null || fail "master1's registry still runs after scale-down"
# one registry left: hosts.toml names the registry domain alone (as without ha)
assert_eq "https://$EP " "$(hosts_toml_hosts 3)" "the node's hosts.toml after scale-down"
"$CIMG" --root "$ROOT" scale-up rha --masters "$M1" "${KH[@]}" >"$T/up.log" 2>&1 ||
  fail "scale-up: $(tail -n 10 "$T/up.log")"
[[ -n "$(registry_pid 1)" ]] || fail "master0's registry was not started again"
[[ -n "$(registry_pid 2)" ]] || fail "master1 has no registry after scale-up"
assert_eq "https://$M0:$PORT https://$M1:$PORT " "$(hosts_toml_hosts 3)" "the node's hosts.toml after scale-up"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$M1:$PORT/v2/")
assert_eq 401 "$code" "master1's registry after scale-up"
! grep -rlF -- "$PW" "$T/deploy.log" "$T/down.log" "$T/up.log" "$T/nodes" >/dev/null ||
  fail "the password leaked"

# ------------------------------------------------------- 6. ha: false
log "6. a re-deploy with ha: false: master1's registry stops, hosts.toml names the domain"
m1pid=$(registry_pid 2)
sed "s/^      port: $PORT\$/      port: $PORT\n      ha: false/" "$T/Clusterfile" >"$T/Clusterfile.noha"
grep -Fx "      ha: false" "$T/Clusterfile.noha" >/dev/null || fail "no ha: false line added: $(cat "$T/Clusterfile.noha")"
"$CIMG" --root "$ROOT" deploy -f "$T/Clusterfile.noha" "${KH[@]}" >"$T/noha.log" 2>&1 ||
  fail "re-deploy with ha: false: $(tail -n 10 "$T/noha.log")"
! node_exec 2 kill -0 "$m1pid" 2>/dev/null || fail "master1's registry still runs with ha: false"
[[ -n "$(registry_pid 1)" ]] || fail "master0's registry does not run with ha: false"
# the certificate made again without master1's IP, and master0's registry serves it
openssl s_client -connect "$M0:$PORT" -servername "$DOMAIN" </dev/null >"$T/s_client.noha" 2>&1 || true
openssl x509 -in "$T/s_client.noha" -noout -text >"$T/cert.noha" || fail "no certificate served with ha: false"
! grep -F "IP Address:$M1" "$T/cert.noha" >/dev/null || fail "the served certificate still names master1"
grep -F "IP Address:$SAN_IP" "$T/cert.noha" >/dev/null || fail "the served certificate lost the subjectAltName IP"
for i in 1 2 3; do
  assert_eq "https://$EP " "$(hosts_toml_hosts "$i")" "node $i: hosts.toml with ha: false"
  got=$(node_exec "$i" awk -v d="$DOMAIN" '$2 == d {print $1}' /etc/hosts)
  assert_eq "$M0" "$got" "node $i: /etc/hosts for $DOMAIN with ha: false"
done

# ----------------------------------------------------------- 7. delete
log "7. delete: the registry stopped, hosts.toml removed"
p0=$(registry_pid 1)
ci delete rha "${KH[@]}" >"$T/delete.log" 2>&1 || fail "delete: $(tail -n 5 "$T/delete.log")"
! node_exec 1 kill -0 "$p0" 2>/dev/null || fail "master0: the registry ($p0) still runs"
for i in 1 2 3; do
  ! node_exec "$i" test -e "/etc/containerd/certs.d/$EP" || fail "node $i: certs.d/$EP is still there"
done
