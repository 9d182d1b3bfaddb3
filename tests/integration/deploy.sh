#!/usr/bin/env bash
# cimg deploy / scale-up / scale-down / delete against real sshd nodes
# (tests/integration/nodes_lib.sh: each node its own netns, address, private
# /etc /var /root, OpenSSH server). kubeadm cannot run here: the test image
# carries a stand-in bin/kubeadm (a shell script, below) that records its
# arguments and prints what kubeadm would; the test checks order and args.
#  1. a cluster image built by cimg build: stand-in kubeadm, scripts/init.sh
#     and clean.sh, etc/kubeadm.yml.tmpl, statics/, CMDs, a 6 MB file, and a
#     container image collected into registry/ from a local docker-registry;
#  2. deploy 1 master + 1 node (root by key; the node as `deployer`, a sudo
#     user with a password) with SHELL plugins: rootfs on both, registry/ on
#     the master only, templates rendered per host, init.sh on both, the
#     built-in registry on the master serving the collected image to skopeo,
#     over TLS (sealer's default) with the cluster's CA on every host,
#     kubeadm init on the master then join on the node, CMDs in order on the
#     master only, plugins at their phases and scopes;
#  3. a re-run is a no-op (nothing sent, nothing re-run);
#  4. scale-up adds a second node (user `nopass`, passphrase-protected key):
#     it joins; the others are untouched;
#  5. a wrong host key is refused, naming the host; an unknown one too; a
#     hashed known_hosts holding only ed25519 keys works;
#  6. re-deploy after two files changed: only they move (bytes on the wire a
#     small fraction of the first deploy); of the 6 MB file with 256 KiB
#     changed, only the chunks around the change (the host rebuilds it);
#  7. a node killed mid-deploy: a one-line error naming it; after it comes
#     back the re-run completes;
#  8. scale-down cleans the removed node; delete leaves every node clean
#     (clean.sh ran, kubeadm reset, registry stopped, /var/lib/cimg/<c> gone);
#  9. the IMAGE --masters form with password auth; a cluster saved by an
#     older cimg (plain HTTP registry by default) stays plain HTTP on
#     re-deploy; bad Clusterfiles.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup dep 210 3 skopeo docker-registry python3 curl
source "$(dirname "$0")/registry_lib.sh"

# ----------------------------------------------------------------- 1. image
log "1. the cluster image"
reg_start_plain src
R=$REG_SRC_ADDR
d=$T/img
mkdir -p "$d/root/etc"
echo "pause" >"$d/root/etc/name"
tar -C "$d/root" -cf "$d/layer.tar" .
oci_build "$d/oci" t "$d/layer.tar" >/dev/null
skopeo_ copy -q --dest-tls-verify=false "oci:$d/oci:t" "docker://$R/library/pause:3.9" || fail "skopeo push"

C=$T/ctx
mkdir -p "$C"/{bin,scripts,etc,statics,data,manifests}
cat >"$C/Kubefile" <<'EOF'
FROM scratch
COPY . .
ENV POD_CIDR=100.64.0.0/10 FROM_IMAGE=image
CMD echo "cmd1 $CIMG_HOST_IP $(pwd)" >> /var/lib/cimg-test/cmds.log
CMD echo "cmd2 $POD_CIDR" >> /var/lib/cimg-test/cmds.log
EOF
# The kubeadm stand-in: records "time host args" and answers like kubeadm.
cat >"$C/bin/kubeadm" <<'EOF'
#!/bin/sh
# Stand-in for kubeadm (cannot run in this test): records its arguments.
mkdir -p /var/lib/cimg-test
echo "$(date +%s.%N) $(hostname) $*" >> /var/lib/cimg-test/kubeadm.log
case "$*" in
  "init --config "*)
    cfg=${3}
    [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 1; }
    cp "$cfg" /var/lib/cimg-test/kubeadm-init.yml
    echo "Your Kubernetes control-plane has initialized successfully!" ;;
  "token create --print-join-command")
    echo "kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 7)" ;;
  "init phase upload-certs --upload-certs")
    echo "[upload-certs] Using certificate key:"
    printf '%064d\n' 42 ;;
  join*) echo "This node has joined the cluster" ;;
  "reset -f") rm -f /var/lib/cimg-test/kubeadm-init.yml ;;
  *) echo "stand-in kubeadm: unexpected arguments: $*" >&2; exit 2 ;;
esac
EOF
chmod 755 "$C/bin/kubeadm"
# The kubectl stand-in: the nodes by name and InternalIP; other calls recorded.
cat >"$C/bin/kubectl" <<EOF
#!/bin/sh
mkdir -p /var/lib/cimg-test
case "\$1" in
  get) printf 'dep-n1 %s\\ndep-n2 %s\\ndep-n3 %s\\n' $M0 $N1 $N2 ;;
  *) echo "\$*" >> /var/lib/cimg-test/kubectl.log ;;
esac
EOF
chmod 755 "$C/bin/kubectl"
printf 'replicas: 1\nname: app\n' >"$C/etc/app.yaml"
cat >"$C/scripts/init.sh" <<'EOF'
#!/bin/bash
# sealer's contract: run from rootfs/scripts
set -e
[ "$(pwd)" = "$CIMG_ROOTFS/scripts" ] || { echo "init.sh: wrong working directory $(pwd)" >&2; exit 9; }
mkdir -p /var/lib/cimg-test
echo "init $(hostname) $CIMG_ROLE $POD_CIDR $FROM_IMAGE" >> /var/lib/cimg-test/init.log
if [ -f /var/lib/cimg-test/hold-init ]; then sleep 30; fi
EOF
cat >"$C/scripts/clean.sh" <<'EOF'
#!/bin/bash
echo "clean $(hostname)" > /var/lib/clean.ran
rm -rf /var/lib/cimg-test
EOF
printf 'advertiseAddress: {{ .CIMG_HOST_IP }}\npodSubnet: {{ .POD_CIDR }}\n' >"$C/etc/kubeadm.yml.tmpl"
printf 'cluster {{ .CIMG_CLUSTER }} host {{ .CIMG_HOST_IP }} zone {{ .ZONE }}\n' >"$C/statics/hello.txt"
head -c 6000000 /dev/urandom >"$C/data/blob"
echo "v1" >"$C/data/version"
for i in $(seq 1 200); do echo "file $i" >"$C/data/small-$i"; done
echo "$R/library/pause:3.9" >"$T/images"
ci build --tls-verify=false --image-list "$T/images" -t test/cluster:1 "$C" >"$T/build1.out" 2>&1 ||
  fail "build: $(tail -5 "$T/build1.out")"

# expect_deploy_error REGEX CMD...: CMD fails; its last stderr line is the
# one-line "cimg: " reason matching REGEX; other lines are per-host reports
# ("error: ..." for other failing hosts, "IP| output" tails).
expect_deploy_error() {
  local re=$1 rc=0
  shift
  "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  [[ $rc -ne 0 && $rc -lt 128 ]] || fail "expected a clean failure, got exit $rc from: $*"
  ERR_LINE=$(tail -1 "$T/.err")
  [[ "$ERR_LINE" == "cimg: "* ]] || fail "last stderr line is not 'cimg: ...': $ERR_LINE"
  grep -Eq -- "$re" <<<"$ERR_LINE" || fail "error does not match /$re/: $ERR_LINE"
  if grep -v -e '^error: ' -e '^cimg: ' -e '^[0-9.]*| ' "$T/.err" | grep . >/dev/null; then
    fail "unexpected stderr lines: $(cat "$T/.err")"
  fi
}

# ------------------------------------------------------------ 2. deploy
clusterfile() { # NAME IMAGE NODE-GROUPS-YAML
  cat <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: $1
spec:
  image: $2
  env: [ZONE=default, POD_CIDR=10.1.0.0/16]
  ssh:
    pk: $NODE_KEY
  hosts:
    - ips: [$M0]
      roles: [master]
      env: [ZONE=east]
$3
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: mark-all}
spec:
  type: SHELL
  action: pre-init-host
  data: |
    mkdir -p /var/lib/cimg-test
    echo "pre-init \$(hostname)" >> /var/lib/cimg-test/plugins.log
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: after}
spec:
  type: SHELL
  action: PostInstall
  scope: master
  data: |
    echo "post-install \$(hostname) \$(ls /var/lib/cimg-test/cmds.log)" >> /var/lib/cimg-test/plugins.log
---
apiVersion: sealer.io/v1
kind: Config
metadata: {name: app-config}
spec:
  path: etc/app.yaml
  strategy: merge
  data: |
    replicas: 2
EOF
}
NODE1_YAML="    - ips: [$N1]
      roles: [node]
      ssh: {user: deployer, passwd: $NODE_USER_PASS}
      labels: {zone: b}
      taints: [gpu=true:NoSchedule]"
clusterfile c1 test/cluster:1 "$NODE1_YAML" >"$T/Clusterfile"
ci deploy -f "$T/Clusterfile" "${KH[@]}" --format json --record-profile "$T/deploy1.profile" \
  >"$T/deploy1.json" 2>"$T/deploy1.err" || fail "deploy: $(tail -20 "$T/deploy1.err")"
RF=/var/lib/cimg/c1/rootfs
n0() { node_path 1 "$1"; }
n1() { node_path 2 "$1"; }
n2() { node_path 3 "$1"; }
cmp -s "$C/data/blob" "$(n0 $RF/data/blob)" || fail "master: data/blob differs"
cmp -s "$C/data/blob" "$(n1 $RF/data/blob)" || fail "node: data/blob differs"
[[ -x "$(n1 $RF/bin/kubeadm)" ]] || fail "node: bin/kubeadm not executable"
[[ -d "$(n0 $RF/registry/docker/registry/v2)" ]] || fail "master: no registry/"
[[ ! -e "$(n1 $RF/registry)" ]] || fail "node: registry/ was sent to a node"
assert_eq "cluster c1 host $M0 zone east" "$(cat "$(n0 $RF/statics/hello.txt)")" "master statics/hello.txt"
assert_eq "cluster c1 host $N1 zone default" "$(cat "$(n1 $RF/statics/hello.txt)")" "node statics/hello.txt"
assert_eq "advertiseAddress: $M0
podSubnet: 10.1.0.0/16" "$(cat "$(n0 /var/lib/cimg-test/kubeadm-init.yml)")" "rendered etc/kubeadm.yml given to kubeadm init"
assert_eq "init dep-n1 master 10.1.0.0/16 image" "$(cat "$(n0 /var/lib/cimg-test/init.log)")" "master init.log"
assert_eq "init dep-n2 node 10.1.0.0/16 image" "$(cat "$(n1 /var/lib/cimg-test/init.log)")" "node init.log"
assert_eq "cmd1 $M0 $RF
cmd2 10.1.0.0/16" "$(cat "$(n0 /var/lib/cimg-test/cmds.log)")" "CMDs on master0, in order"
[[ ! -e "$(n1 /var/lib/cimg-test/cmds.log)" ]] || fail "CMDs ran on a node"
assert_eq "pre-init dep-n1
post-install dep-n1 /var/lib/cimg-test/cmds.log" "$(cat "$(n0 /var/lib/cimg-test/plugins.log)")" "master plugins.log"
assert_eq "pre-init dep-n2" "$(cat "$(n1 /var/lib/cimg-test/plugins.log)")" "node plugins.log (post-install is master-only)"
# kubeadm: init on the master, then the join command it printed, on the node.
kubeadm_log() { cat "$(n0 /var/lib/cimg-test/kubeadm.log)" "$(n1 /var/lib/cimg-test/kubeadm.log)" \
  "$(n2 /var/lib/cimg-test/kubeadm.log)" 2>/dev/null | sort -n | cut -d' ' -f2-; }
JOIN="join $M0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 7)"
assert_eq "dep-n1 init --config $RF/etc/kubeadm.yml --upload-certs
dep-n1 token create --print-join-command
dep-n2 $JOIN" "$(kubeadm_log)" "kubeadm calls in order"
# Clusterfile Config documents, labels and taints, the registry's domain.
assert_eq "name: app
replicas: 2" "$(cat "$(n1 $RF/etc/app.yaml)")" "Config document merged into etc/app.yaml"
assert_eq 'label node dep-n2 --overwrite zone=b
patch node dep-n2 --type merge -p {"spec":{"taints":[{"effect":"NoSchedule","key":"gpu","value":"true"}]}}' \
  "$(cat "$(n0 /var/lib/cimg-test/kubectl.log)")" "labels and taints set with kubectl on master0"
grep -qx "$M0 sea.hub #hostalias-set-by-sealer" "$(n1 /etc/hosts)" || fail "node /etc/hosts: no sea.hub alias"
# The built-in registry on the master serves the collected image.
want=$(skopeo_ inspect --tls-verify=false "docker://$R/library/pause:3.9" | json_get 'j["Digest"]')
got=$(skopeo_ inspect --tls-verify=false "docker://$M0:5000/library/pause:3.9" | json_get 'j["Digest"]') ||
  fail "the built-in registry on $M0:5000 does not serve library/pause:3.9"
assert_eq "$want" "$got" "digest served by the built-in registry"
# sealer's defaults without spec.registry: TLS with the cluster's CA on every
# host, recorded in the saved Clusterfile's annotation.
cmp -s "$ROOT/clusters/c1/registry-tls/ca.crt" "$(n1 /etc/containerd/certs.d/sea.hub:5000/sea.hub.crt)" ||
  fail "node: the cluster's CA is not at containerd's certs.d/sea.hub:5000"
curl -fsS --cacert "$ROOT/clusters/c1/registry-tls/ca.crt" --resolve "sea.hub:5000:$M0" \
  -o "$T/catalog.json" https://sea.hub:5000/v2/_catalog || fail "the built-in registry does not serve https://sea.hub:5000 with the cluster's CA"
grep -F "library/pause" "$T/catalog.json" >/dev/null || fail "https catalog: $(cat "$T/catalog.json")"
grep -F "cimg.registry-defaults: sealer" "$ROOT/clusters/c1/Clusterfile" >/dev/null ||
  fail "saved Clusterfile: no cimg.registry-defaults: sealer"
# The bring-up profile: the files master0 read during the steps, in order
# (init.sh, several steps before kubeadm runs), none it never read, usable by
# cimg profile attach. (etc/kubeadm.yml is read by the stand-in's cp, which
# copies within one filesystem by copy_file_range: no access time, a known
# gap of the method, deploy/profile_record.h.)
PROFILE_PATHS=$(python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["path"])' <"$T/deploy1.profile")
for p in scripts/init.sh bin/kubeadm bin/kubectl; do
  grep -qx "$p" <<<"$PROFILE_PATHS" || fail "profile: $p missing: $PROFILE_PATHS"
done
for p in data/blob data/small-1 data/version statics/hello.txt; do
  grep -qx "$p" <<<"$PROFILE_PATHS" && fail "profile: $p was never read but is listed"
done
[[ $(grep -nx scripts/init.sh <<<"$PROFILE_PATHS" | cut -d: -f1) -lt \
   $(grep -nx bin/kubeadm <<<"$PROFILE_PATHS" | cut -d: -f1) ]] ||
  fail "profile: init.sh not before bin/kubeadm: $PROFILE_PATHS"
ci tag test/cluster:1 test/profiled:1
ci profile attach test/profiled:1 "$T/deploy1.profile" >/dev/null
ci profile show test/profiled:1 >"$T/profile.shown"
grep -q '"path":"scripts/init.sh"' "$T/profile.shown" || fail "attached profile lacks init.sh"
ci rmi test/profiled:1 >/dev/null
WIRE1=$(json_get 'sum(h["WireBytes"] for h in j["Hosts"])' <"$T/deploy1.json")
[[ -f "$ROOT/clusters/c1/Clusterfile" ]] || fail "the applied Clusterfile was not saved"
log "2. deployed to $M0 + $N1: $WIRE1 bytes on the wire"

# ------------------------------------------------------------ 3. no-op
"$CIMG" --root "$ROOT" deploy -f "$T/Clusterfile" "${KH[@]}" --format json >"$T/deploy2.json" 2>"$T/deploy2.err" ||
  fail "re-deploy: $(tail -20 "$T/deploy2.err")"
assert_eq "0" "$(json_get 'sum(h["FilesSent"] + h["FilesRemoved"] for h in j["Hosts"])' <"$T/deploy2.json")" "files sent on a re-run"
assert_eq "1" "$(wc -l <"$(n0 /var/lib/cimg-test/init.log)")" "init.sh runs on a re-run"
assert_eq "3" "$(kubeadm_log | wc -l)" "kubeadm calls after a re-run"
assert_eq "2" "$(wc -l <"$(n0 /var/lib/cimg-test/cmds.log)")" "CMD runs after a re-run"
grep -q "done before, skipped" "$T/deploy2.err" || fail "re-run did not report skipped steps"
assert_eq "c1 test/cluster:1 $M0 $N1 deployed" \
  "$(ci clusters --format '{{.Name}} {{.Image}} {{.Masters}} {{.Nodes}} {{.State}}')" "cimg clusters"
log "3. a re-run is a no-op; cimg clusters: $(ci clusters --format '{{.Name}} {{.State}} {{.Updated}}')"

# ------------------------------------------------------------ 4. scale-up
ci scale-up c1 --nodes "$N2" -u nopass -i "$NODE_KEY_PW" --pk-passwd "$NODE_KEY_PASSPHRASE" "${KH[@]}" \
  >"$T/up.out" 2>"$T/up.err" || fail "scale-up: $(tail -20 "$T/up.err")"
cmp -s "$C/data/blob" "$(n2 $RF/data/blob)" || fail "new node: data/blob differs"
assert_eq "dep-n1 init --config $RF/etc/kubeadm.yml --upload-certs
dep-n1 token create --print-join-command
dep-n2 $JOIN
dep-n1 token create --print-join-command
dep-n3 $JOIN" "$(kubeadm_log)" "kubeadm calls after scale-up"
assert_eq "1" "$(wc -l <"$(n1 /var/lib/cimg-test/init.log)")" "init.sh on the old node after scale-up"
grep -q "$N2" "$ROOT/clusters/c1/Clusterfile" || fail "scale-up did not save the new host"
log "4. scale-up: $N2 joined"

# ---------------------------------------------------------- 5. host keys
# (the saved Clusterfile: $T/Clusterfile lacks the scaled-up host, and a
# deploy that leaves a host out is refused before connecting)
expect_one_line_error "$M0.*(host key|HOST KEY)" ci deploy -f "$ROOT/clusters/c1/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS_WRONG"
: >"$T/empty_known_hosts"
expect_deploy_error "host key not found" ci deploy -f "$ROOT/clusters/c1/Clusterfile" --known-hosts "$T/empty_known_hosts"
log "5. wrong or unknown host keys refused: $ERR_LINE"
# Only ed25519 keys, hashed (ssh-keygen -H), as OpenSSH leaves a user's file:
# the host key type is negotiated from what the file holds (libssh2 would
# otherwise pick ecdsa and find no such key).
grep ' ssh-ed25519 ' "$NODE_KNOWN_HOSTS" >"$T/ed_known_hosts"
ssh-keygen -H -f "$T/ed_known_hosts" >/dev/null 2>&1
grep -q '^|1|' "$T/ed_known_hosts" || fail "ssh-keygen -H did not hash the known_hosts file"
ci deploy -f "$ROOT/clusters/c1/Clusterfile" --known-hosts "$T/ed_known_hosts" >/dev/null 2>"$T/ed.err" ||
  fail "deploy with a hashed ed25519-only known_hosts: $(tail -3 "$T/ed.err")"
# RSA only: libssh2 1.10 cannot check RSA host keys with SHA-2; say so.
grep ' ssh-rsa ' "$NODE_KNOWN_HOSTS" >"$T/rsa_known_hosts"
expect_deploy_error "only an RSA key" ci deploy -f "$ROOT/clusters/c1/Clusterfile" --known-hosts "$T/rsa_known_hosts"
log "5. a hashed ed25519-only known_hosts works; an RSA-only one is explained"
# --insecure-host-keys opts out (with the wrong file, one host at a time).
ci deploy -f "$ROOT/clusters/c1/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS_WRONG" --insecure-host-keys \
  --parallel 1 >/dev/null 2>"$T/insecure.err" || fail "--insecure-host-keys: $(tail -3 "$T/insecure.err")"

# ------------------------------------------------ 6. two files changed
echo "v2" >"$C/data/version"
head -c $((256 * 1024)) /dev/urandom | dd of="$C/data/blob" bs=64K seek=40 conv=notrunc status=none
ci build -t test/cluster:2 --tls-verify=false --image-list "$T/images" "$C" >"$T/build2.out" 2>&1 ||
  fail "build 2: $(tail -5 "$T/build2.out")"
sed -i 's#image: test/cluster:1#image: test/cluster:2#' "$ROOT/clusters/c1/Clusterfile"
"$CIMG" --root "$ROOT" deploy -f "$ROOT/clusters/c1/Clusterfile" "${KH[@]}" --format json >"$T/deploy3.json" \
  2>"$T/deploy3.err" || fail "deploy v2: $(tail -20 "$T/deploy3.err")"
assert_eq "v2" "$(cat "$(n2 $RF/data/version)")" "data/version on node 2 after v2"
sent=$(json_get '",".join(str(h["FilesSent"]) for h in j["Hosts"])' <"$T/deploy3.json")
assert_eq "2,2,2" "$sent" "files sent per host for a two-file change"
for n in n0 n1 n2; do cmp -s "$C/data/blob" "$($n $RF/data/blob)" || fail "$n: patched data/blob differs"; done
[[ $(grep -c 'rootfs: patching data/blob' "$T/deploy3.err") -eq 3 ]] ||
  fail "data/blob was not patched on every host: $(grep -i 'data/blob' "$T/deploy3.err")"
WIRE3=$(json_get 'sum(h["WireBytes"] for h in j["Hosts"])' <"$T/deploy3.json")
# Whole, data/blob alone would be 3 x 6 MB; its new chunks are ~256-768 KiB.
(( WIRE3 < 3 * 1536 * 1024 )) || fail "two-file re-deploy moved $WIRE3 bytes (the 6 MB file whole?)"
assert_eq "2" "$(wc -l <"$(n0 /var/lib/cimg-test/init.log)")" "init.sh runs again for a new image"
log "6. two files changed, one patched: $WIRE3 bytes on the wire (first deploy: $WIRE1)"

# ---------------------------------------------- 7. a node dies mid-deploy
echo "v3" >"$C/data/version"
head -c 3000000 /dev/urandom >"$C/data/blob2"
ci build -t test/cluster:3 --tls-verify=false --image-list "$T/images" "$C" >"$T/build3.out" 2>&1 ||
  fail "build 3: $(tail -5 "$T/build3.out")"
sed -i 's#image: test/cluster:2#image: test/cluster:3#' "$ROOT/clusters/c1/Clusterfile"
# init.sh holds on node 1 (N1) while the file exists; kill the node then.
node_exec 2 touch /var/lib/cimg-test/hold-init
"$CIMG" --root "$ROOT" deploy -f "$ROOT/clusters/c1/Clusterfile" "${KH[@]}" >"$T/deploy4.out" 2>"$T/deploy4.err" &
dpid=$!
# (waits on the event, not a time: the deploy gets there after its rootfs
# phase, however loaded the machine; 300 s is only a hang guard)
for _ in $(seq 1500); do
  [[ "$(wc -l <"$(n1 /var/lib/cimg-test/init.log)")" -ge 3 ]] && break
  kill -0 "$dpid" 2>/dev/null || break
  sleep 0.2
done
[[ "$(wc -l <"$(n1 /var/lib/cimg-test/init.log)")" -ge 3 ]] || fail "init.sh never started on $N1: $(cat "$T/deploy4.err")"
node_kill 2
rc=0
wait $dpid || rc=$?
[[ $rc -ne 0 ]] || fail "deploy succeeded although $N1 died"
last=$(tail -1 "$T/deploy4.err")
[[ "$last" == "cimg: "*"$N1"* ]] || fail "the error does not name $N1: $last"
log "7. node killed: $last"
node_start 2
node_exec 2 rm -f /var/lib/cimg-test/hold-init
"$CIMG" --root "$ROOT" deploy -f "$ROOT/clusters/c1/Clusterfile" "${KH[@]}" --format json >"$T/deploy5.json" 2>"$T/deploy5.err" ||
  fail "re-run after the node came back: $(tail -20 "$T/deploy5.err")"
cmp -s "$C/data/blob2" "$(n1 $RF/data/blob2)" || fail "node 1 data/blob2 after the re-run"
grep -q "$M0: scripts/init.sh: done before, skipped" "$T/deploy5.err" || fail "the re-run re-ran init.sh on the master"
log "7. re-run completed"

# ---------------------------------------------- 8. scale-down and delete
ci scale-down c1 --nodes "$N2" "${KH[@]}" >"$T/down.out" 2>"$T/down.err" || fail "scale-down: $(tail -20 "$T/down.err")"
[[ ! -e "$(n2 /var/lib/cimg/c1)" ]] || fail "scale-down left /var/lib/cimg/c1 on $N2"
assert_eq "clean dep-n3" "$(cat "$(n2 /var/lib/clean.ran)")" "clean.sh on the removed node"
[[ ! -e "$(n0 /var/lib/clean.ran)" ]] || fail "scale-down cleaned the master"
grep -q "$N2" "$ROOT/clusters/c1/Clusterfile" && fail "scale-down kept $N2 in the saved Clusterfile"
ci delete c1 "${KH[@]}" >"$T/del.out" 2>"$T/del.err" || fail "delete: $(tail -20 "$T/del.err")"
for i in 1 2; do
  ip=$(node_ip "$i")
  [[ ! -e "$(node_path "$i" /var/lib/cimg/c1)" ]] || fail "delete left /var/lib/cimg/c1 on $ip"
  [[ ! -e "$(node_path "$i" /var/lib/cimg-test)" ]] || fail "clean.sh did not run on $ip"
done
grep -q "reset -f" "$(n0 /var/lib/cimg-test/kubeadm.log)" 2>/dev/null && fail "kubeadm log survived clean.sh"
(exec 3<>"/dev/tcp/$M0/5000") 2>/dev/null && fail "the built-in registry still listens on $M0:5000"
[[ ! -e "$ROOT/clusters/c1" ]] || fail "the saved Clusterfile survived delete"
[[ -z "$(ci clusters -q)" ]] || fail "cimg clusters lists a deleted cluster: $(ci clusters -q)"
log "8. scale-down and delete left the nodes clean"

# ------------------------------------------ 9. IMAGE form, password auth
ci deploy test/cluster:1 -n c2 --masters "$M0" -p "$NODE_ROOT_PASS" -e ZONE=cli "${KH[@]}" >"$T/c2.out" 2>"$T/c2.err" ||
  fail "deploy IMAGE --masters -p: $(tail -20 "$T/c2.err")"
assert_eq "v1" "$(cat "$(n0 /var/lib/cimg/c2/rootfs/data/version)")" "c2 rootfs"
assert_eq "cluster c2 host $M0 zone cli" "$(cat "$(n0 /var/lib/cimg/c2/rootfs/statics/hello.txt)")" "c2 statics with -e"
ci delete c2 "${KH[@]}" >/dev/null 2>"$T/del2.err" || fail "delete c2: $(cat "$T/del2.err")"
# A cluster deployed by an older cimg (plain HTTP on master0 was its default):
# its saved Clusterfile has no registry section and no annotation. A
# re-deploy from a Clusterfile that does not ask for TLS keeps plain HTTP.
clusterfile c5 test/cluster:1 "" >"$T/c5.yaml"
sed '0,/^spec:$/s//spec:\n  registry: {localRegistry: {insecure: true, ha: false}}/' "$T/c5.yaml" >"$T/c5-plain.yaml"
ci deploy -f "$T/c5-plain.yaml" "${KH[@]}" >/dev/null 2>"$T/c5.err" || fail "deploy c5 (plain): $(tail -5 "$T/c5.err")"
grep -v -e "annotations:" -e "cimg.registry-defaults" -e "registry:" -e "localRegistry:" \
  -e "domain: sea.hub" -e "port: 5000" -e "insecure: true" -e "ha: false" \
  "$ROOT/clusters/c5/Clusterfile" >"$T/c5-old" || true
grep -F "registry" "$T/c5-old" >/dev/null && fail "old-style saved Clusterfile still names the registry: $(cat "$T/c5-old")"
cp "$T/c5-old" "$ROOT/clusters/c5/Clusterfile"
ci deploy -f "$T/c5.yaml" "${KH[@]}" >/dev/null 2>"$T/c5b.err" || fail "re-deploy c5: $(tail -5 "$T/c5b.err")"
curl -fsS -o /dev/null "http://$M0:5000/v2/" || fail "re-deploy of an older cimg's cluster switched its registry off plain HTTP"
[[ ! -e "$(n0 /etc/containerd/certs.d/sea.hub:5000/sea.hub.crt)" ]] || fail "re-deploy of an older cimg's cluster installed a CA"
grep -F "cimg.registry-defaults: plain" "$ROOT/clusters/c5/Clusterfile" >/dev/null ||
  fail "saved Clusterfile of c5 does not keep the old defaults: $(cat "$ROOT/clusters/c5/Clusterfile")"
ci delete c5 "${KH[@]}" >/dev/null 2>"$T/del5.err" || fail "delete c5: $(cat "$T/del5.err")"
expect_one_line_error "authentication failed" ci deploy test/cluster:1 -n c3 --masters "$M0" -p wrong-password -e ZONE=x "${KH[@]}"
expect_one_line_error "statics/hello.txt:1:[0-9]+: .*ZONE is not set" ci deploy test/cluster:1 -n c3 --masters "$M0" -p "$NODE_ROOT_PASS" "${KH[@]}"
sed 's/name: c1/name: C_1/' "$T/Clusterfile" >"$T/badname.yaml"
expect_one_line_error "badname.yaml:4: cluster name" ci deploy -f "$T/badname.yaml"
sed 's/      roles: \[node\]/      roles: [worker]/' "$T/Clusterfile" >"$T/bad.yaml"
expect_one_line_error "bad.yaml:[0-9]+: .*unknown role \"worker\"" ci deploy -f "$T/bad.yaml"
expect_one_line_error "127.0.0.1:1" ci deploy 127.0.0.1:1/no/such:image --masters "$M0" "${KH[@]}"
# A failing step names the host, the step, its exit status and its output.
cat >"$T/failing.yaml" <<EOF
$(clusterfile c4 test/cluster:1 "")
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: broken}
spec:
  type: SHELL
  action: post-init-host
  data: |
    echo "about to fail on \$(hostname)"
    echo "disk full, say" >&2
    exit 7
EOF
expect_deploy_error "host $M0: plugin broken \(post-init-host\) failed \(exit status 7\): disk full, say" \
  ci deploy -f "$T/failing.yaml" "${KH[@]}"
grep -q "^$M0| disk full, say" "$T/.err" || fail "the failing step's output was not shown: $(cat "$T/.err")"
ci clusters --format '{{.Name}}|{{.State}}|{{.Detail}}' >"$T/clusters4"
grep -q "^c4|failed|host $M0: plugin broken (post-init-host) failed (exit status 7)" "$T/clusters4" ||
  fail "cimg clusters does not show c4's failure: $(cat "$T/clusters4")"
ci delete -f "$T/failing.yaml" "${KH[@]}" >/dev/null 2>"$T/del4.err" || fail "delete c4: $(cat "$T/del4.err")"
[[ ! -e "$(n0 /var/lib/cimg/c4)" ]] || fail "delete c4 left /var/lib/cimg/c4"
assert_fsck_clean
log "9. IMAGE form with a password; bad input refused; a failing step named"
