#!/usr/bin/env bash
# The SSH test nodes (tests/integration/nodes_lib.sh) checked with the
# OpenSSH client alone, before cimg deploy relies on them:
#  1. 2 nodes up; root logs in to each by key with strict host key checking;
#     each node has its own address, hostname and default route.
#  2. isolation: a file written on node 1 under /var/lib/cimg is seen through
#     node_path/node_exec of node 1 only (not the host, not node 2); the host's
#     /etc/passwd is untouched; / outside the private dirs is read-only.
#  3. users: deployer's sudo wants the password (sudo -S works, sudo -n does
#     not); nopass has sudo -n; password logins (SSH_ASKPASS) work for root
#     and deployer, a wrong password does not; the passphrase key works.
#  4. node 1 reaches node 2 on TCP 22; sftp works.
#  5. known_hosts_wrong: node 1 refused (host key changed), node 2 accepted.
#  6. node_kill 1: port 22 dead, node 2 unaffected; node_start 1: back, same
#     host keys, the file written before still there.
#  7. nodes_down: no netns, link, sshd or mount of ours left; twice is fine.
# shellcheck disable=SC2153 # NODE_IP_1, NODE_DIR_1, ...: set by nodes_up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
it_setup ssh sftp ssh-keygen ip nsenter

TAG=nst
host_passwd_sum=$(sha256sum /etc/passwd /etc/shadow /etc/sudoers)
host_probe_before=$(sha256sum /var/lib/cimg/probe 2>/dev/null || echo absent)

# on NODE USER CMD...: key auth, stdout+stderr in $OUT; fails the test unless exit 0.
on() {
  local i=$1 u=$2 rc=0
  shift 2
  OUT=$(node_ssh "$i" "$u" "$@" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || fail "ssh $u@node$i '$*' failed (exit $rc): $OUT"
}

# ------------------------------------------------------------------ 1. up
nodes_up "$TAG" 201 2
[[ ${#NODE_IPS[@]} -eq 2 && "${NODE_IPS[0]}" == 10.251.201.11 && "${NODE_IPS[1]}" == 10.251.201.12 ]] ||
  fail "NODE_IPS: expected (10.251.201.11 10.251.201.12), got (${NODE_IPS[*]})"
assert_eq "$T/nodes/2" "$(node_dir 2)" "node_dir 2"
assert_eq "$T/nodes/1" "$NODE_DIR_1" "NODE_DIR_1"
for i in 1 2; do
  ip=$(node_ip "$i")
  on "$i" root 'id -u; hostname; ip -4 -o addr show dev eth0; ip route show default'
  [[ "$(sed -n 1p <<<"$OUT")" == 0 ]] || fail "node $i: root's id -u is not 0: $OUT"
  [[ "$(sed -n 2p <<<"$OUT")" == "$TAG-n$i" ]] || fail "node $i: hostname is not $TAG-n$i: $OUT"
  grep -q "inet $ip/24" <<<"$OUT" || fail "node $i: eth0 does not have $ip/24: $OUT"
  grep -q "default via 10.251.201.1 " <<<"$OUT" || fail "node $i: no default route via 10.251.201.1: $OUT"
  for kt in ssh-ed25519 ecdsa-sha2-nistp256 ssh-rsa; do
    grep -qE "^$ip $kt " "$NODE_KNOWN_HOSTS" || fail "known_hosts has no $kt key for node $i: $(cat "$NODE_KNOWN_HOSTS")"
  done
done
log "1. two nodes, root by key with strict host key checking"

# ------------------------------------------------------------ 2. isolation
token=probe-$RANDOM$RANDOM
on 1 root "mkdir -p /var/lib/cimg && echo $token >/var/lib/cimg/probe && cat /var/lib/cimg/probe"
assert_eq "$token" "$OUT" "probe read back on node 1"
assert_eq "$host_probe_before" "$(sha256sum /var/lib/cimg/probe 2>/dev/null || echo absent)" \
  "the host's /var/lib/cimg/probe (node 1's write must not reach the host)"
assert_eq "$token" "$(cat "$(node_path 1 /var/lib/cimg/probe)")" "node_path 1 /var/lib/cimg/probe"
assert_eq "$T/nodes/1/var.up/lib/cimg/probe" "$(node_path 1 /var/lib/cimg/probe)" "node_path mapping"
assert_eq "$token" "$(node_exec 1 cat /var/lib/cimg/probe)" "node_exec 1 cat /var/lib/cimg/probe"
on 2 root 'cat /var/lib/cimg/probe 2>&1 || echo ABSENT'
[[ "$OUT" == *ABSENT* ]] || fail "node 2 sees node 1's /var/lib/cimg/probe: $OUT"
[[ ! -e "$(node_path 2 /var/lib/cimg/probe)" ]] || fail "node 2's upper dir has the probe"
if [[ -d /var/lib/cimg ]]; then # the host's store is hidden from the nodes
  on 2 root 'ls -A /var/lib/cimg 2>&1 || true'
  [[ "$OUT" == *"No such file"* ]] || fail "node 2 sees the host's /var/lib/cimg: $OUT"
fi
assert_eq "$host_passwd_sum" "$(sha256sum /etc/passwd /etc/shadow /etc/sudoers)" "host /etc/passwd, shadow, sudoers"
! getent passwd nopass >/dev/null || fail "user nopass exists on the host"
rc=0
OUT=$(node_ssh 1 root 'touch /usr/cimg-node-probe' 2>&1) || rc=$?
[[ $rc -ne 0 && "$OUT" == *"Read-only file system"* ]] ||
  fail "writing /usr on a node did not fail with EROFS (exit $rc): $OUT"
[[ ! -e /usr/cimg-node-probe ]] || fail "a node wrote /usr/cimg-node-probe on the host"
on 1 root 'touch /opt/o /root/r /home/h /usr/local/u /etc/e /tmp/t'
for p in /opt/o /root/r /home/h /usr/local/u /etc/e; do
  [[ -e "$(node_path 1 "$p")" ]] || fail "node_path 1 $p: $(node_path 1 "$p") missing"
  [[ ! -e "$p" ]] || fail "node 1's $p reached the host"
done
log "2. node 1's writes only in its upper dirs; / read-only elsewhere"

# ---------------------------------------------------------------- 3. users
on 1 deployer "echo '$NODE_USER_PASS' | sudo -S -p '' id -u"
assert_eq 0 "$OUT" "deployer: password sudo id -u"
rc=0
OUT=$(node_ssh 1 deployer 'sudo -n true' 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "deployer: sudo -n true succeeded without a password"
rc=0
OUT=$(node_ssh 1 deployer "echo wrong-password | sudo -S -p '' true" 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "deployer: sudo accepted a wrong password"
on 2 nopass 'sudo -n id -u'
assert_eq 0 "$OUT" "nopass: sudo -n id -u"
# shellcheck disable=SC2016 # $HOME is the node's
on 2 deployer 'id -un; echo "$HOME"'
assert_eq "deployer
/home/deployer" "$OUT" "deployer's name and home"
OUT=$(node_ssh_pass 1 root "$NODE_ROOT_PASS" 'id -un' 2>&1) || fail "root password login failed: $OUT"
assert_eq root "$OUT" "root password login"
OUT=$(node_ssh_pass 2 deployer "$NODE_USER_PASS" 'id -un' 2>&1) || fail "deployer password login failed: $OUT"
assert_eq deployer "$OUT" "deployer password login"
! OUT=$(node_ssh_pass 1 root not-the-password true 2>&1) || fail "a wrong root password was accepted"
[[ "$OUT" == *"Permission denied"* ]] || fail "wrong password: expected 'Permission denied', got: $OUT"
OUT=$(NODES_ASKPASS_SECRET=$NODE_KEY_PASSPHRASE SSH_ASKPASS="$NODE_SSH_DIR/askpass" SSH_ASKPASS_REQUIRE=force \
  DISPLAY=:0 ssh -F /dev/null -o UserKnownHostsFile="$NODE_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
  -o IdentitiesOnly=yes -o PasswordAuthentication=no -i "$NODE_KEY_PW" root@"$NODE_IP_1" 'id -un' </dev/null 2>&1) ||
  fail "login with the passphrase key failed: $OUT"
assert_eq root "$OUT" "login with $NODE_KEY_PW"
log "3. sudo with/without password, password logins, passphrase key"

# ------------------------------------------------------------ 4. the network
on 1 root "bash -c '</dev/tcp/$NODE_IP_2/22' && echo reached"
assert_eq reached "$OUT" "node 1 -> node 2 TCP 22"
echo sftp-payload >"$T/sftp.in"
OUT=$(sftp -b - -F /dev/null -o UserKnownHostsFile="$NODE_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
  -o BatchMode=yes -o IdentitiesOnly=yes -i "$NODE_KEY" root@"$NODE_IP_2" 2>&1 <<EOF
put $T/sftp.in /root/sftp.out
EOF
) || fail "sftp put to node 2 failed: $OUT"
assert_eq sftp-payload "$(node_exec 2 cat /root/sftp.out)" "the file sftp put on node 2"
log "4. node 1 reaches node 2; sftp"

# ---------------------------------------------------------- 5. wrong host key
# not NODE_SSH: ssh takes an option's first value, and it names known_hosts
wrong_ssh=(ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile="$NODE_KNOWN_HOSTS_WRONG"
  -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i "$NODE_KEY")
rc=0
OUT=$("${wrong_ssh[@]}" root@"$NODE_IP_1" true 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "ssh to node 1 with known_hosts_wrong succeeded"
[[ "$OUT" == *"REMOTE HOST IDENTIFICATION HAS CHANGED"* && "$OUT" == *"Host key verification failed"* ]] ||
  fail "node 1 with known_hosts_wrong: not a changed-host-key failure: $OUT"
OUT=$("${wrong_ssh[@]}" root@"$NODE_IP_2" 'echo ok' 2>&1) ||
  fail "ssh to node 2 with known_hosts_wrong (its entries are right) failed: $OUT"
log "5. known_hosts_wrong refuses node 1 only"

# ---------------------------------------------------------- 6. kill / start
old_pid=$NODE_PID_1
node_exec 1 sleep 300 2>/dev/null & # a process of the node not under sshd: node_kill must get it too
sleeper=$!
sleep 0.2
node_kill 1
! node_port_open 1 || fail "node 1's port 22 still answers after node_kill"
! kill -0 "$old_pid" 2>/dev/null || fail "node 1's sshd $old_pid still running after node_kill"
wait "$sleeper" 2>/dev/null || true
[[ -z "$(ip netns pids "$NODE_NS_1")" ]] || fail "processes left in $NODE_NS_1: $(ip netns pids "$NODE_NS_1")"
assert_eq "" "$NODE_PID_1" "NODE_PID_1 after node_kill"
on 2 root true
node_start 1
[[ -n "$NODE_PID_1" && "$NODE_PID_1" != "$old_pid" ]] || fail "NODE_PID_1 not renewed by node_start"
on 1 root 'cat /var/lib/cimg/probe'
assert_eq "$token" "$OUT" "probe on node 1 after node_kill + node_start"
log "6. node_kill / node_start keep the node's state and host keys"

# ------------------------------------------------------------- 7. down
node_procs=$(ip netns pids "$NODE_NS_1"; ip netns pids "$NODE_NS_2")
[[ -n "$node_procs" ]] || fail "no processes in the nodes' netns before nodes_down"
nodes_down # bare, as tests call it: under set -e a non-zero return ends the test
for p in $node_procs; do
  ! nodes__alive "$p" || fail "process $p of the nodes ($(tr '\0' ' ' <"/proc/$p/cmdline")) still running after nodes_down"
done
left=$(ip netns list | awk -v t="$TAG" '$1 ~ "^" t "-n" {print $1}')
[[ -z "$left" ]] || fail "netns left after nodes_down: $left"
left=$(ip -o link show | awk -F': ' -v t="$TAG" '$2 ~ "^(" t "-v|cb" t ")" {print $2}')
[[ -z "$left" ]] || fail "links left after nodes_down: $left"
left=$(grep -E " $T/| /run/netns/$TAG-n| cimg-node-" /proc/self/mountinfo || true)
[[ -z "$left" ]] || fail "mounts left on the host after nodes_down: $left"
if [[ -z "$(ip netns list)" ]] && grep -q ' /run/netns ' /proc/self/mountinfo; then
  fail "no netns left, but /run/netns is still a mount after nodes_down"
fi
# (a TCP probe proves nothing here: the outer network may accept any connect)
left=$(ip -4 -o addr show to 10.251.201.0/24; ip route show 10.251.201.0/24)
[[ -z "$left" ]] || fail "address or route of 10.251.201.0/24 left after nodes_down: $left"
nodes_down
log "7. nodes_down left nothing"
