#!/usr/bin/env bash
# cimg deploy on the inputs that used to go wrong, against real sshd nodes
# (tests/integration/nodes_lib.sh). Each step fails on the code before the fix:
#  1. layers without parent directory entries (a tar of only
#     opt/app/config.txt; a symlink etc -> /etc under a layer with etc/x)
#     deploy (was: exit 139 in PlanRootfs);
#  2. an image config Env key that is shell code is refused, naming the image
#     and the key, and runs nothing on the host;
#  3. a host key marked @revoked in known_hosts is refused; a host known only
#     through a @cert-authority line is "not found" with a note;
#  4. an RSA user key is refused before connecting, with the true reason;
#  5. `kubeadm token create` failing: the nodes join with the command
#     `kubeadm init` printed;
#  6. a re-deploy leaving a host out is refused (naming it, pointing at
#     scale-down), --prune-hosts cleans it; scale-up of a host already in the
#     cluster says so;
#  7. one host killed during a shared rootfs stream: the error names it once,
#     the other hosts finish (their records kept: the re-run sends them nothing);
#  8. a host of another architecture than the image's (`uname -m` faked on a
#     node) is refused, naming it and its machine, before any host changes;
#  9. cimg exec runs a command on the cluster's hosts (by role, by IP), each
#     line prefixed with its host, failing hosts named, exit 1.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup dedge 212 3 python3 tar

# clusterfile NAME IMAGE MASTER NODES...: root by key, no env.
clusterfile() {
  local name=$1 image=$2 master=$3
  shift 3
  printf 'apiVersion: sealer.io/v2\nkind: Cluster\nmetadata:\n  name: %s\nspec:\n' "$name"
  printf '  image: %s\n  ssh:\n    pk: %s\n  hosts:\n    - ips: [%s]\n      roles: [master]\n' \
    "$image" "$NODE_KEY" "$master"
  if [[ $# -gt 0 ]]; then
    local ips
    ips=$(IFS=,; echo "$*")
    printf '    - ips: [%s]\n      roles: [node]\n' "$ips"
  fi
}

# ------------------------------------------------- 1. implied parent dirs
log "1. layers without parent directory entries"
d=$T/implied
mkdir -p "$d/l1/opt/app" "$d/l2" "$d/l3/etc"
echo "k=v" >"$d/l1/opt/app/config.txt"
ln -s /etc "$d/l2/etc"
echo "x" >"$d/l3/etc/x"
tar -C "$d/l1" -cf "$d/l1.tar" opt/app/config.txt # the file only, no opt/ nor opt/app/
tar -C "$d/l2" -cf "$d/l2.tar" etc
tar -C "$d/l3" -cf "$d/l3.tar" etc/x
tar -tf "$d/l1.tar" | grep -x 'opt/' >/dev/null && fail "l1.tar lists opt/"
oci_build "$d/oci" t "$d/l1.tar" "$d/l2.tar" "$d/l3.tar" >/dev/null
ci pull "oci:$d/oci:t" --as edge/implied:1 >/dev/null 2>"$T/pull1.err" || fail "pull: $(cat "$T/pull1.err")"
clusterfile ci1 edge/implied:1 "$M0" >"$T/ci1.yaml"
rc=0
ci deploy -f "$T/ci1.yaml" "${KH[@]}" >"$T/ci1.out" 2>"$T/ci1.err" || rc=$?
[[ $rc -eq 0 ]] || fail "deploy of an image with implied parents: exit $rc: $(tail -3 "$T/ci1.err")"
RF1=/var/lib/cimg/ci1/rootfs
assert_eq "k=v" "$(cat "$(np 1 $RF1/opt/app/config.txt)")" "opt/app/config.txt on the host"
assert_eq "x" "$(cat "$(np 1 $RF1/etc/x)")" "etc/x on the host"
[[ -d "$(np 1 $RF1/etc)" && ! -L "$(np 1 $RF1/etc)" ]] || fail "etc is not a directory on the host"
ci delete ci1 "${KH[@]}" >/dev/null 2>"$T/del1.err" || fail "delete ci1: $(cat "$T/del1.err")"
log "1. deployed; opt/app and etc made as directories"

# ------------------------------------------------- 8. host architecture
log "8. a host whose uname -m is not the image's architecture"
# A stand-in uname on node 2 only (its /usr/local is its own): an arm64 host.
node_exec 2 bash -c 'printf "#!/bin/sh\necho aarch64\n" >/usr/local/bin/uname && chmod +x /usr/local/bin/uname'
clusterfile carch edge/implied:1 "$M0" "$N1" >"$T/carch.yaml"
expect_one_line_error "host $N1 is aarch64 \\(linux/arm64/v8\\), but image edge/implied:1 is for linux/amd64" \
  ci deploy -f "$T/carch.yaml" "${KH[@]}"
for i in 1 2; do
  [[ ! -e "$(np "$i" /var/lib/cimg/carch)" ]] || fail "the refused deploy changed node $i"
done
node_exec 2 rm -f /usr/local/bin/uname
log "8. refused: $ERR_LINE"

# ------------------------------------------------- 2. Env key injection
log "2. an image config Env key that is shell code"
python3 - "$d/oci" t <<'PY'
import hashlib, json, os, sys
d, tag = sys.argv[1], sys.argv[2]
def blob(dg): return d + '/blobs/' + dg.replace(':', '/')
def put(data):
    dg = 'sha256:' + hashlib.sha256(data).hexdigest()
    open(blob(dg), 'wb').write(data)
    return dg, len(data)
idx = json.load(open(d + '/index.json'))
m = [m for m in idx['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == tag][0]
man = json.load(open(blob(m['digest'])))
cfg = json.load(open(blob(man['config']['digest'])))
cfg['config']['Env'] = ['PATH=/usr/bin:/bin', 'X;touch /var/lib/PWNED=1']
man['config']['digest'], man['config']['size'] = put(json.dumps(cfg).encode())
m['digest'], m['size'] = put(json.dumps(man).encode())
m['annotations']['org.opencontainers.image.ref.name'] = 'evil'
idx['manifests'].append(m)
json.dump(idx, open(d + '/index.json', 'w'))
PY
ci pull "oci:$d/oci:evil" --as edge/evil:1 >/dev/null 2>"$T/pull2.err" || fail "pull evil: $(cat "$T/pull2.err")"
clusterfile ce edge/evil:1 "$M0" >"$T/ce.yaml"
expect_one_line_error 'image edge/evil:1: config Env key "X;touch /var/lib/PWNED" is not a shell variable name' \
  ci deploy -f "$T/ce.yaml" "${KH[@]}"
[[ ! -e "$(np 1 /var/lib/PWNED)" ]] || fail "the image's Env key ran a command on $M0"
[[ ! -e "$(np 1 /var/lib/cimg/ce)" ]] || fail "the refused deploy changed $M0"
log "2. refused: $ERR_LINE"

# ------------------------------------------------- 3. known_hosts markers
log "3. @revoked and @cert-authority"
ed_pub=$(awk '{print $1, $2}' "$(node_dir 1)/sshd/ssh_host_ed25519_key.pub")
{ cat "$NODE_KNOWN_HOSTS"; echo "@revoked * $ed_pub"; } >"$T/kh_revoked"
expect_one_line_error "$M0.*@revoked in $T/kh_revoked:[0-9]+" \
  ci deploy -f "$T/ci1.yaml" --known-hosts "$T/kh_revoked"
log "3. $ERR_LINE"
echo "@cert-authority 10.251.${NODES_SUBNET}.* $ed_pub" >"$T/kh_ca"
expect_one_line_error "host key not found.*kh_ca:1 is a @cert-authority line, ignored" \
  ci deploy -f "$T/ci1.yaml" --known-hosts "$T/kh_ca"
[[ ! -e "$(np 1 /var/lib/cimg/ci1)" ]] || fail "a refused host was changed"
log "3. $ERR_LINE"

# ------------------------------------------------- 4. RSA user keys
log "4. an RSA user key"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/id_rsa_user" >/dev/null
expect_one_line_error "key $T/id_rsa_user is an RSA key; RSA keys need rsa-sha2 signatures, which libssh2 1.10 lacks" \
  ci deploy edge/implied:1 -n crsa --masters "$M0" -i "$T/id_rsa_user" "${KH[@]}"
log "4. $ERR_LINE"

# ------------------------------------------- 5. join from kubeadm init
log "5. kubeadm token create fails: join with what kubeadm init printed"
C=$T/ctx
mkdir -p "$C/bin" "$C/data"
cat >"$C/Kubefile" <<'EOF'
FROM scratch
COPY . .
EOF
cat >"$C/bin/kubeadm" <<'EOF'
#!/bin/sh
# Stand-in for kubeadm whose `token create` fails (an expired CA, say).
mkdir -p /var/lib/cimg-test
echo "$(hostname) $*" >> /var/lib/cimg-test/kubeadm.log
case "$*" in
  "init "*)
    cat <<EOT
Your Kubernetes control-plane has initialized successfully!

You can now join any number of control-plane nodes by running the following command on each as root:

  kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef \\
	--discovery-token-ca-cert-hash sha256:$(printf %064d 7) \\
	--control-plane --certificate-key $(printf %064d 42)

Then you can join any number of worker nodes by running the following on each as root:

kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef \\
	--discovery-token-ca-cert-hash sha256:$(printf %064d 7)
EOT
    ;;
  "token create --print-join-command")
    echo "timed out waiting for the condition" >&2; exit 1 ;;
  join*) echo "This node has joined the cluster" ;;
  "reset -f") ;;
  *) echo "stand-in kubeadm: unexpected arguments: $*" >&2; exit 2 ;;
esac
EOF
chmod 755 "$C/bin/kubeadm"
head -c 24000000 /dev/urandom >"$C/data/bigblob"
ci build -t edge/kube:1 "$C" >"$T/build1.out" 2>&1 || fail "build: $(tail -5 "$T/build1.out")"
clusterfile ck edge/kube:1 "$M0" "$N1" "$N2" >"$T/ck.yaml"
ci deploy -f "$T/ck.yaml" "${KH[@]}" >"$T/ck.out" 2>"$T/ck.err" || fail "deploy ck: $(tail -5 "$T/ck.err")"
JOIN="join $M0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 7)"
assert_eq "dedge-n2 $JOIN" "$(cat "$(np 2 /var/lib/cimg-test/kubeadm.log)")" "node 1 joined with init's command"
assert_eq "dedge-n3 $JOIN" "$(cat "$(np 3 /var/lib/cimg-test/kubeadm.log)")" "node 2 joined with init's command"
log "5. both nodes joined with the command kubeadm init printed"

# ------------------------------------------- 6. hosts left out, scale-up twice
log "6. a re-deploy that leaves a host out"
clusterfile ck edge/kube:1 "$M0" "$N1" >"$T/ck2.yaml"
expect_one_line_error "cluster ck has host\(s\) $N2 that this deploy leaves out; remove them with .cimg scale-down ck" \
  ci deploy -f "$T/ck2.yaml" "${KH[@]}"
grep -q "$N2" "$ROOT/clusters/ck/Clusterfile" || fail "the refused deploy forgot $N2"
[[ -e "$(np 3 /var/lib/cimg/ck/rootfs/bin/kubeadm)" ]] || fail "the refused deploy touched $N2"
expect_one_line_error "host $N1 is already in cluster ck" ci scale-up ck --nodes "$N1" "${KH[@]}"
ci deploy -f "$T/ck2.yaml" --prune-hosts "${KH[@]}" >/dev/null 2>"$T/prune.err" ||
  fail "deploy --prune-hosts: $(tail -5 "$T/prune.err")"
[[ ! -e "$(np 3 /var/lib/cimg/ck)" ]] || fail "--prune-hosts left /var/lib/cimg/ck on $N2"
grep -q "$N2" "$ROOT/clusters/ck/Clusterfile" && fail "--prune-hosts kept $N2 in the saved Clusterfile"
expect_one_line_error "host $N2 is not in cluster ck" ci scale-down ck --nodes "$N2" "${KH[@]}"
log "6. refused, then pruned with --prune-hosts; scale-up of a member refused"

# ------------------------------------- 7. a host dies during a shared stream
log "7. one host killed during the rootfs stream"
# N2 comes back into the cluster; then an image whose big file changed goes
# to all three as one stream (they hold the same files). N2's unpacker (zstd,
# gzip first on root's PATH) announces itself and stalls, so the stream
# shared with M0 and N1 is in flight when N2 is killed.
clusterfile ck edge/kube:1 "$M0" "$N1" "$N2" >"$T/ck3.yaml"
ci deploy -f "$T/ck3.yaml" "${KH[@]}" >/dev/null 2>"$T/readd.err" || fail "re-adding $N2: $(tail -5 "$T/readd.err")"
# kubeadm init does not run again: the join comes from what it printed then.
assert_eq "dedge-n3 $JOIN" "$(tail -1 "$(np 3 /var/lib/cimg-test/kubeadm.log)")" "$N2 re-joined with init's saved command"
head -c 24000000 /dev/urandom >"$C/data/bigblob"
ci build -t edge/kube:2 "$C" >"$T/build2.out" 2>&1 || fail "build 2: $(tail -5 "$T/build2.out")"
clusterfile ck edge/kube:2 "$M0" "$N1" "$N2" >"$T/ck3.yaml"
for tool in zstd gzip; do
  node_exec 3 sh -c "cat > /usr/local/bin/$tool && chmod 755 /usr/local/bin/$tool" <<'EOF'
#!/bin/sh
mkdir -p /var/lib/cimg-test && touch /var/lib/cimg-test/stream-started
exec sleep 600
EOF
done
"$CIMG" --root "$ROOT" deploy -f "$T/ck3.yaml" "${KH[@]}" >"$T/ck3.out" 2>"$T/ck3.err" &
dpid=$!
for _ in $(seq 600); do # hang guard only: the event is the unpacker starting
  [[ -e "$(np 3 /var/lib/cimg-test/stream-started)" ]] && break
  kill -0 "$dpid" 2>/dev/null || break
  sleep 0.2
done
[[ -e "$(np 3 /var/lib/cimg-test/stream-started)" ]] || fail "the stream never reached $N2: $(tail -5 "$T/ck3.err")"
node_kill 3
rc=0
wait "$dpid" || rc=$?
[[ $rc -ne 0 && $rc -lt 128 ]] || fail "deploy with $N2 killed: exit $rc"
last=$(tail -1 "$T/ck3.err")
[[ "$last" == "cimg: host $N2: "* ]] || fail "the error does not start by naming $N2: $last"
[[ "$last" != *"rootfs stream: rootfs stream"* ]] || fail "doubled prefix: $last"
[[ $(grep -o "$N2" <<<"$last" | wc -l) -eq 1 ]] || fail "$N2 named more than once: $last"
grep -q "$N1" <<<"$last" && fail "the healthy $N1 is blamed: $last"
cmp -s "$C/data/bigblob" "$(np 2 /var/lib/cimg/ck/rootfs/data/bigblob)" || fail "$N1 did not get the whole stream"
grep -q "rootfs: one stream for $M0, $N1, $N2" "$T/ck3.err" || fail "the three hosts did not share one stream"
log "7. $last"
node_start 3
node_exec 3 rm -f /usr/local/bin/zstd /usr/local/bin/gzip
ci deploy -f "$T/ck3.yaml" "${KH[@]}" --format json >"$T/ck4.json" 2>"$T/ck4.err" ||
  fail "re-run: $(tail -5 "$T/ck4.err")"
sent=$(json_get '",".join(str(h["FilesSent"]) for h in j["Hosts"])' <"$T/ck4.json")
[[ "$sent" == 0,0,* && "$sent" != "0,0,0" ]] || fail "files sent per host on the re-run: $sent (want 0,0,N)"
cmp -s "$C/data/bigblob" "$(np 3 /var/lib/cimg/ck/rootfs/data/bigblob)" || fail "$N2 after the re-run"
log "7. the re-run sent files to $N2 only ($sent)"

# ------------------------------------------------- 9. cimg exec
log "9. cimg exec on the cluster's hosts"
# shellcheck disable=SC2016  # expanded on the hosts
ci exec ck "${KH[@]}" -- 'echo "$CIMG_ROLE $PWD"' >"$T/exec.out" 2>"$T/exec.err" ||
  fail "exec: $(cat "$T/exec.err")"
for want in "$M0: master /var/lib/cimg/ck/rootfs" "$N1: node /var/lib/cimg/ck/rootfs" "$N2: node /var/lib/cimg/ck/rootfs"; do
  grep -qxF "$want" "$T/exec.out" || fail "no line '$want' in: $(cat "$T/exec.out")"
done
assert_eq 3 "$(wc -l <"$T/exec.out")" "lines of exec output"
rc=0
ci exec -c ck --roles node "${KH[@]}" 'echo bad >&2; exit 3' >"$T/exec2.out" 2>"$T/exec2.err" || rc=$?
assert_eq 1 "$rc" "exit status of exec failing on the nodes"
for ip in "$N1" "$N2"; do
  grep -qxF "$ip: bad" "$T/exec2.err" || fail "no '$ip: bad' in: $(cat "$T/exec2.err")"
  grep -qxF "cimg: host $ip: exit status 3" "$T/exec2.err" || fail "$ip not named: $(cat "$T/exec2.err")"
done
grep -q "$M0" "$T/exec2.err" && fail "--roles node ran on the master: $(cat "$T/exec2.err")"
ci exec ck --hosts "$N2" --format json "${KH[@]}" -- uname -m >"$T/exec3.json" 2>"$T/exec3.err" ||
  fail "exec --format json: $(cat "$T/exec3.err")"
assert_eq "$N2 0 $(uname -m)" "$(json_get '" ".join(str(x) for h in j for x in (h["host"], h["exit_code"], h["stdout"].strip()))' <"$T/exec3.json")" "exec json"
expect_one_line_error "host 10.9.9.9 is not in cluster ck" ci exec ck --hosts 10.9.9.9 "${KH[@]}" -- true
log "9. exec ran by role and by host; failures named"

ci delete ck "${KH[@]}" >/dev/null 2>"$T/delck.err" || fail "delete ck: $(cat "$T/delck.err")"
log "all edge cases pass"
