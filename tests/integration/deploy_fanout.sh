#!/usr/bin/env bash
# cimg deploy --fanout against 5 real sshd nodes (tests/integration/nodes_lib.sh):
# the rootfs stream goes once to a seed host and the hosts relay it to each
# other over SSH (deploy/fanout.h). With 5 hosts and --fanout 2 the tree is
# node1 (seed) -> node2, node3; node2 -> node4, node5.
#  1. the deploy host's side of the bridge carries about one copy of the
#     stream (its tx bytes under 1.5 times the stream, the piece bytes it
#     sent exactly one stream; --fanout 0 carries 5),
#     every node ends with the image's rootfs, and no node keeps the
#     transfer's authorized_keys lines, key pair or spool;
#  2. a relay that sends a corrupt piece (an ssh wrapper on node4 flips one
#     byte of what its source sends) is caught by node4's SHA-256 check,
#     named in the log, and node4 takes the piece from the next source;
#  3. the relay node2 killed mid-transfer (its receiver, once it holds the
#     first piece, its own source stalled so that it has no other): node4 and
#     node5 re-attach to node1 at piece 1 and complete; the deploy fails
#     naming node2 alone; the re-run completes node2;
#  4. the same with node2's link taken down instead: node4 and node5 leave it
#     through SSH keep-alives, the deploy fails naming node2 alone, and the
#     re-run removes the keys and spool node2 kept.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup fan 216 5 zstd
dep() { "$CIMG" --root "$ROOT" deploy "$@" "${KH[@]}"; }
tx() { cat "/sys/class/net/$NODES_BRIDGE/statistics/tx_bytes"; }

# clusterfile NAME: node1 the master, the other four nodes; root by key,
# but node2 (a relay) as `deployer`, a sudo user with a password: the hosts
# below it fetch as deployer, whose authorized_keys admits them.
clusterfile() {
  printf 'apiVersion: sealer.io/v2\nkind: Cluster\nmetadata:\n  name: %s\nspec:\n' "$1"
  printf '  image: fan/img:1\n  ssh:\n    pk: %s\n  hosts:\n' "$NODE_KEY"
  printf '    - ips: [%s]\n      roles: [master]\n' "$NODE_IP_1"
  printf '    - ips: [%s]\n      roles: [node]\n      ssh: {user: deployer, passwd: %s}\n' "$NODE_IP_2" "$NODE_USER_PASS"
  printf '    - ips: [%s,%s,%s]\n      roles: [node]\n' "$NODE_IP_3" "$NODE_IP_4" "$NODE_IP_5"
}

# same_rootfs I CLUSTER: node I holds the image's files.
same_rootfs() {
  diff -r "$C" "$(np "$1" "/var/lib/cimg/$2/rootfs")" >"$T/diff.out" 2>&1 ||
    fail "node $1 ($(node_ip "$1")) does not hold the image's rootfs of $2: $(head -5 "$T/diff.out")"
}

# stream_bytes FILE: the stream size the deploy logged.
stream_bytes() {
  sed -n 's/.*rootfs: fan-out to [0-9]* hosts: stream \([0-9.]*\) MB.*/\1/p' "$1" |
    awk '{printf "%d\n", $1 * 1000000}' | head -1
}

# no_leftovers CLUSTER: no node keeps the transfer's keys or spool.
no_leftovers() {
  local i
  for i in 1 2 3 4 5; do
    [[ ! -e "$(np "$i" "/var/lib/cimg/$1/fanout")" ]] || fail "node $i kept /var/lib/cimg/$1/fanout"
    ! grep -q cimg-fanout "$(np "$i" /root/.ssh/authorized_keys)" "$(np "$i" /home/deployer/.ssh/authorized_keys)" ||
      fail "node $i kept a cimg-fanout line in an authorized_keys"
  done
}

log "the cluster image"
C=$T/ctx
mkdir -p "$C/data" "$C/etc"
printf 'FROM scratch\nCOPY . .\n' >"$C/Kubefile"
head -c 48000000 /dev/urandom >"$C/data/big"
echo "fan-out" >"$C/etc/name"
for i in $(seq 50); do echo "file $i" >"$C/etc/f$i"; done
ci build -t fan/img:1 "$C" >"$T/build.out" 2>&1 || fail "build: $(tail -5 "$T/build.out")"

# ------------------------------------------------- 1. about one copy
log "1. one copy on the deploy host's link"
clusterfile fa >"$T/fa.yaml"
before=$(tx)
dep -f "$T/fa.yaml" --fanout 2 >"$T/fa.out" 2>"$T/fa.err" || fail "deploy --fanout 2: $(tail -5 "$T/fa.err")"
sent=$(($(tx) - before))
stream=$(stream_bytes "$T/fa.err")
[[ -n "$stream" && "$stream" -gt 40000000 ]] || fail "no fan-out stream logged: $(grep rootfs "$T/fa.err")"
grep -q "rootfs: fan-out 2: here -> $NODE_IP_1\$" "$T/fa.err" || fail "the seed is not $NODE_IP_1: $(grep fan-out "$T/fa.err")"
grep -q "rootfs: fan-out $NODE_IP_2 -> $NODE_IP_4, $NODE_IP_5\$" "$T/fa.err" ||
  fail "the tree: $(grep fan-out "$T/fa.err")"
grep -E "rootfs: fan-out to 5 hosts: stream ([0-9.]+) MB, \1 MB of it sent from here" "$T/fa.err" >/dev/null ||
  fail "the deploy host sent more piece bytes than the stream: $(grep "sent from here" "$T/fa.err")"
[[ $((sent * 2)) -lt $((stream * 3)) ]] || fail "the deploy host sent $sent bytes for a stream of $stream (want < 1.5 copies)"
for i in 1 2 3 4 5; do same_rootfs "$i" fa; done
no_leftovers fa
log "1. fan-out: $sent bytes on the deploy host's link for a $stream-byte stream to 5 hosts"
before=$(tx)
dep -f "$T/fa.yaml" --fanout 0 --resend >"$T/fa0.out" 2>"$T/fa0.err" || fail "deploy --fanout 0: $(tail -5 "$T/fa0.err")"
direct=$(($(tx) - before))
[[ "$direct" -gt $((stream * 5)) ]] || fail "direct: $direct bytes on the deploy host's link for 5 hosts (want > 5 x $stream)"
log "1. direct: $direct bytes"

# ------------------------------------------------- 2. a corrupt piece
log "2. a relay sends a corrupt piece"
# node4's ssh client: the first connection (to its source, node2) has one
# byte flipped 1000 bytes in (inside the first piece's data).
node_exec 4 sh -c 'cat >/usr/local/bin/ssh && chmod 755 /usr/local/bin/ssh' <<'EOF'
#!/bin/bash
if mkdir /run/cimg-test-corrupted 2>/dev/null; then
  /usr/bin/ssh "$@" | { head -c 1000; head -c 1 | tr '\000-\377' '\001-\377\000'; cat; }
  exit
fi
exec /usr/bin/ssh "$@"
EOF
dep -f "$T/fa.yaml" --fanout 2 --resend >"$T/fc.out" 2>"$T/fc.err" ||
  fail "deploy with a corrupt relay: $(tail -5 "$T/fc.err")"
node_exec 4 rm -f /usr/local/bin/ssh
node_exec 4 test -d /run/cimg-test-corrupted || fail "node4's ssh wrapper never ran"
grep -E "^$NODE_IP_4: rootfs fanout: piece [0-9]+ from deployer@$NODE_IP_2:22: size or SHA-256 differs" "$T/fc.err" >/dev/null ||
  fail "the corrupt piece was not named: $(grep fanout "$T/fc.err")"
for i in 1 2 3 4 5; do same_rootfs "$i" fa; done
no_leftovers fa
log "2. $(grep "$NODE_IP_4: rootfs fanout: piece" "$T/fc.err" | head -1)"

# ------------------------------------------------- 3. a relay killed
# deploy_with_stalled_relay NAME: node2's ssh client passes its source's
# first piece and then stalls; starts `cimg deploy` of cluster NAME with
# --fanout 2 in the background (dpid) and waits until node2 holds piece 0,
# verified (0.ok) (spool2: node2's spool).
deploy_with_stalled_relay() {
  local name=$1
  node_exec 2 sh -c 'cat >/usr/local/bin/ssh && chmod 755 /usr/local/bin/ssh' <<'EOF'
#!/bin/bash
/usr/bin/ssh "$@" | { head -c 4194320; echo $$ >/run/cimg-test-stall.pid; exec sleep 3600; }
EOF
  clusterfile "$name" >"$T/$name.yaml"
  spool2=$(np 2 "/var/lib/cimg/$name/fanout/spool")
  "$CIMG" --root "$ROOT" deploy -f "$T/$name.yaml" --fanout 2 "${KH[@]}" >"$T/$name.out" 2>"$T/$name.err" &
  dpid=$!
  IT_BG_PIDS+=("$dpid")
  for _ in $(seq 3000); do # hang guard only: the event is node2 holding piece 0
    [[ -e "$spool2/0.ok" ]] && break
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -e "$spool2/0.ok" ]] || fail "node2 never held piece 0: $(tail -5 "$T/$name.err")"
}

log "3. the relay $NODE_IP_2 killed mid-transfer"
# node2's ssh client passes its source's first piece and then stalls: node2
# holds piece 0 only, so node4 and node5 cannot finish from it; then node2's
# receiver is killed.
deploy_with_stalled_relay fk
kill -9 "$(cat "$spool2/pid")"
rc=0
wait "$dpid" || rc=$?
# shellcheck disable=SC2016  # expanded in the node
node_exec 2 sh -c 'kill "$(cat /run/cimg-test-stall.pid)"; rm -f /usr/local/bin/ssh'
[[ $rc -ne 0 && $rc -lt 128 ]] || fail "deploy with node2 killed: exit $rc: $(tail -3 "$T/fk.err")"
last=$(tail -1 "$T/fk.err")
[[ "$last" == "cimg: host $NODE_IP_2: "* ]] || fail "the error does not name node2 first: $last"
for ip in "$NODE_IP_1" "$NODE_IP_3" "$NODE_IP_4" "$NODE_IP_5"; do
  ! grep -q "$ip" <<<"$last" || fail "$ip is blamed: $last"
done
for i in 1 3 4 5; do same_rootfs "$i" fk; done
for ip in "$NODE_IP_4" "$NODE_IP_5"; do
  grep -E "^$ip: rootfs fanout: source deployer@$NODE_IP_2:22 left at piece 1\$" "$T/fk.err" >/dev/null ||
    fail "$ip did not leave node2 at piece 1: $(grep fanout "$T/fk.err")"
done
log "3. $last"
dep -f "$T/fk.yaml" --fanout 2 >"$T/fk2.out" 2>"$T/fk2.err" || fail "re-run: $(tail -5 "$T/fk2.err")"
same_rootfs 2 fk
no_leftovers fk
log "3. the re-run completed node2"

# ------------------------------------------------- 4. a relay's link down
log "4. the relay $NODE_IP_2's link down mid-transfer"
# node2 stalls after the first piece again; then its link goes down: node4
# and node5 notice through SSH keep-alives and re-attach to node1, the
# deploy host's session to node2 breaks (TCP and SSH keep-alives). Node2
# keeps what the transfer left; the re-run removes it.
deploy_with_stalled_relay fl
ip link set "$NODES_TAG-v2" down
rc=0
wait "$dpid" || rc=$?
ip link set "$NODES_TAG-v2" up
# shellcheck disable=SC2016  # expanded in the node
node_exec 2 sh -c 'kill "$(cat /run/cimg-test-stall.pid)"; rm -f /usr/local/bin/ssh'
[[ $rc -ne 0 && $rc -lt 128 ]] || fail "deploy with node2's link down: exit $rc: $(tail -3 "$T/fl.err")"
last=$(tail -1 "$T/fl.err")
[[ "$last" == "cimg: host $NODE_IP_2: "* ]] || fail "the error does not name node2 first: $last"
for ip in "$NODE_IP_1" "$NODE_IP_3" "$NODE_IP_4" "$NODE_IP_5"; do
  ! grep -q "$ip" <<<"$last" || fail "$ip is blamed: $last"
done
for i in 1 3 4 5; do same_rootfs "$i" fl; done
for ip in "$NODE_IP_4" "$NODE_IP_5"; do
  # piece 0 or 1: the link may go down while it fetches piece 0
  grep -E "^$ip: rootfs fanout: source deployer@$NODE_IP_2:22 left at piece [01]\$" "$T/fl.err" >/dev/null ||
    fail "$ip did not leave node2: $(grep fanout "$T/fl.err")"
done
log "4. $last"
[[ -d "$(np 2 /var/lib/cimg/fl/fanout)" ]] || fail "node2 lost its fan-out state with its link down"
node_wait 2
dep -f "$T/fl.yaml" --fanout 2 >"$T/fl2.out" 2>"$T/fl2.err" || fail "re-run: $(tail -5 "$T/fl2.err")"
same_rootfs 2 fl
no_leftovers fl
log "4. the re-run completed node2 and removed what the transfer left there"
