# shellcheck shell=bash
# SSH "nodes" for the integration tests: each node is a real OpenSSH server
# (Debian openssh-server, /usr/sbin/sshd -D -e) in a network namespace of its
# own, on a bridge of the test's own, in a mount namespace of its own where
# /etc, /var, /root, /home, /opt and /usr/local are kernel-overlayfs copies of
# the host's (writes land in the node's upper dirs only), /run and /tmp are
# fresh tmpfs, and the rest of / is read-only (a stray write fails with EROFS
# instead of reaching the host). Sourced after lib.sh and it_setup (it needs
# $T, IT_CLEANUP_HOOKS, log, fail). Root only; never skips.
#
# nodes_up, node_start and node_kill must run in the test's own shell, never in
# $(...) or a pipeline: the sshd processes are its children (reaped by pid).
#
#   nodes_up TAG SUBNET COUNT  COUNT nodes on 10.251.SUBNET.0/24; waits until
#                              every sshd answers; registers nodes_down as a
#                              cleanup hook. TAG: [a-z][a-z0-9]{0,4}; TAG and
#                              SUBNET (1..250) must be unique among the tests
#                              that can run at once (leftovers of a killed run
#                              with the same TAG are removed first).
#   nodes_down                 kill every node's processes, delete the netns,
#                              veths and bridge; idempotent; returns 1 (with a
#                              message) if anything of ours is left behind
#   node_kill I                kill -9 node I's sshd and every process in its
#                              netns (a node dying mid-deploy); waits until gone
#   node_start I               start node I again on the same upper dirs and
#                              host keys (a rebooted machine), wait for it
#   node_wait I                wait (10 s) until node I's sshd sends its banner;
#                              fails with its log tail otherwise
#   node_port_open I           0 if node I's port 22 answers an SSH banner now
#   node_exec I CMD...         run CMD inside node I (its mount, net and UTS
#                              namespaces, via nsenter -t <sshd pid>)
#   node_path I ABSPATH        host path of ABSPATH in node I's upper dir (what
#                              the node wrote; a deleted lower file shows as a
#                              0/0 char device there). /etc /var /root /home
#                              /opt /usr/local only
#   node_dir I                 node I's state dir ($T/nodes/I)
#   node_ip I                  node I's address
#   node_ssh I USER CMD...     OpenSSH client, key $NODE_KEY, strict host key
#                              checking against $NODE_KNOWN_HOSTS, BatchMode
#   node_ssh_pass I USER PASS CMD...
#                              same with password auth only (SSH_ASKPASS)
#   nodes_clusterfile NAME IMAGE   a Clusterfile: node 1 the master, the rest nodes
#                              (none with one node)
#
# Set by nodes_up:
#   NODES_TAG NODES_SUBNET NODE_COUNT
#   NODES_BRIDGE=cb<TAG>       the host side bridge, NODES_HOST_IP=10.251.S.1 on it
#   NODE_IPS=(ip1 ip2 ...)     0-based: node I is ${NODE_IPS[I-1]} = 10.251.S.(10+I)
#   NODE_IP_<I> NODE_DIR_<I> NODE_NS_<I> (netns <TAG>-n<I>, also the node's
#   hostname, in its /etc/hosts) NODE_PID_<I> (its sshd, "" while killed)
#   NODE_SSH_DIR=$T/ssh with
#     NODE_KEY=$T/ssh/id_ed25519        client key, no passphrase
#     NODE_KEY_PW=$T/ssh/id_ecdsa_pw    ECDSA client key, passphrase
#     NODE_KEY_PASSPHRASE=keypw         (both keys are authorized for root,
#                                       deployer and nopass on every node)
#     NODE_KNOWN_HOSTS=$T/ssh/known_hosts  "IP keytype base64" for each node's
#                                       ed25519, ecdsa and rsa host keys
#     NODE_KNOWN_HOSTS_WRONG=$T/ssh/known_hosts_wrong  same, but node 1's three
#                                       entries are other, fresh keys
#   NODE_SSH=(ssh -F /dev/null -o BatchMode=yes ... -i $NODE_KEY)  add USER@IP CMD;
#     ssh keeps an option's FIRST value: NODE_SSH cannot be given another
#     UserKnownHostsFile or key afterwards (spell the command out for that)
#
# Users on every node: root (password $NODE_ROOT_PASS, default rootpw-test),
# deployer (password $NODE_USER_PASS, default deployer-pw; sudo WITH password:
# "deployer ALL=(ALL) ALL", "Defaults:deployer !requiretty"), nopass (same
# password; "NOPASSWD: ALL"). Home dirs /root, /home/deployer, /home/nopass.
#
# Node I's state dir $T/nodes/I:
#   etc.up var.up root.up home.up opt.up usrlocal.up   overlay upper dirs of
#                              /etc /var /root /home /opt /usr/local (+ .wk work dirs)
#   sshd/                      bound at /run/cimg-node inside the node:
#                              sshd_config, ssh_host_{ed25519,ecdsa,rsa}_key[.pub],
#                              authorized_keys, sshd.pid, users.done
#   sshd.log                   sshd -e output (LogLevel VERBOSE), every start appended
# /var is overlaid whole (not only /var/lib) because sshd records logins in
# /var/log/wtmp and /var/log/lastlog. Paths in $NODE_HIDE (default: cimg's
# state dirs and root's ~/.bashrc, see below) are whited out in a new node
# when the host has them, so a node starts without the host's /var/lib/cimg
# store, and without its shell start-up: bash sources ~/.bashrc for every
# command sshd runs, and this machine's runs `pyenv init` (about 200
# processes, some 0.3 CPU-seconds, per SSH command), which a fresh host has not.
#
# sshd_config (per node): ListenAddress 10.251.S.(10+I), Port 22, the three
# host keys, PermitRootLogin/PasswordAuthentication/PubkeyAuthentication yes,
# KbdInteractiveAuthentication no, UsePAM no, StrictModes no, MaxStartups 100,
# MaxSessions 50, ClientAliveInterval 0, Subsystem sftp (Debian's sftp-server).
#
# Knobs (environment, read by nodes_up):
#   NODE_ROOT_PASS=rootpw-test  NODE_USER_PASS=deployer-pw
#   NODE_HIDE="/var/lib/cimg /etc/cimg /opt/cimg /var/cache/cimg /var/log/cimg /root/.config/cimg /root/.bashrc"

NODE_ROOT_PASS=${NODE_ROOT_PASS:-rootpw-test}
NODE_USER_PASS=${NODE_USER_PASS:-deployer-pw}
NODE_KEY_PASSPHRASE=keypw
NODE_HIDE=${NODE_HIDE-/var/lib/cimg /etc/cimg /opt/cimg /var/cache/cimg /var/log/cimg /root/.config/cimg /root/.bashrc}
NODES_TAG=
NODES__HOOKED=
# the private copies: upper-dir name : directory (longest prefixes first for node_path)
NODES__OVERLAYS=(usrlocal:/usr/local etc:/etc var:/var root:/root home:/home opt:/opt)
NODES__LOCK=/run/cimg-it-nodes.lock

# nodes__check_env: sourced after lib.sh, inside a test that has $T, as root.
nodes__check_env() {
  [[ $(id -u) -eq 0 ]] || fail "nodes_lib.sh: must run as root (network and mount namespaces)"
  [[ -n "${T:-}" && -d "$T" ]] || fail "nodes_lib.sh: \$T is not set (call it_setup first)"
  declare -p IT_CLEANUP_HOOKS >/dev/null 2>&1 || fail "nodes_lib.sh: source lib.sh first (IT_CLEANUP_HOOKS)"
  [[ -x /usr/sbin/sshd ]] || fail "nodes_lib.sh: /usr/sbin/sshd is missing (apt-get install openssh-server)"
  [[ -x /usr/bin/sudo ]] || fail "nodes_lib.sh: /usr/bin/sudo is missing (apt-get install sudo)"
  [[ -x /usr/lib/openssh/sftp-server ]] ||
    fail "nodes_lib.sh: /usr/lib/openssh/sftp-server is missing (apt-get install openssh-sftp-server)"
  local t
  for t in ssh ssh-keygen ip nsenter unshare useradd chpasswd visudo flock timeout mknod; do
    command -v "$t" >/dev/null 2>&1 || fail "nodes_lib.sh: required tool '$t' is missing"
  done
  getent passwd sshd >/dev/null || fail "nodes_lib.sh: no 'sshd' user for privilege separation (reinstall openssh-server)"
}

nodes__i() { # I -> validated node number
  [[ "$1" =~ ^[1-9][0-9]*$ && -n "$NODES_TAG" && "$1" -le "$NODE_COUNT" ]] ||
    fail "nodes_lib.sh: no node '$1' (nodes up: ${NODE_COUNT:-0}${NODES_TAG:+, tag $NODES_TAG})"
  printf '%s' "$1"
}

nodes__set() { # VAR VALUE
  printf -v "$1" '%s' "$2"
  export "${1?}"
}

node_dir() { local i; i=$(nodes__i "$1") && printf '%s\n' "$T/nodes/$i"; }
node_ip() { local i; i=$(nodes__i "$1") && printf '%s\n' "${NODE_IPS[i - 1]}"; }

# nodes_clusterfile NAME IMAGE: a Clusterfile of cluster NAME with node 1 as
# its master and the other nodes as nodes, reached as root with $NODE_KEY.
nodes_clusterfile() {
  local nodes
  nodes=$(printf '%s, ' "${NODE_IPS[@]:1}")
  printf 'apiVersion: sealer.io/v2\nkind: Cluster\nmetadata: {name: %s}\nspec:\n' "$1"
  printf '  image: %s\n  ssh: {pk: %s}\n  hosts:\n' "$2" "$NODE_KEY"
  printf '    - {ips: [%s], roles: [master]}\n' "${NODE_IPS[0]}"
  [[ ${#NODE_IPS[@]} -lt 2 ]] || printf '    - {ips: [%s], roles: [node]}\n' "${nodes%, }"
}

# nodes__alive PID: running (a zombie is not).
nodes__alive() {
  [[ -n "$1" && -r "/proc/$1/stat" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# node_path I ABSPATH: where node I's copy-up of ABSPATH is on the host.
node_path() {
  local i p=$2 s n d
  i=$(nodes__i "$1")
  [[ "$p" == /* ]] || fail "node_path: '$p' is not an absolute path"
  for s in "${NODES__OVERLAYS[@]}"; do
    n=${s%%:*} d=${s#*:}
    if [[ "$p" == "$d" || "$p" == "$d"/* ]]; then
      printf '%s\n' "$T/nodes/$i/$n.up${p#"$d"}"
      return 0
    fi
  done
  fail "node_path: $p is not under a node's private dirs (/etc /var /root /home /opt /usr/local)"
}

# node_exec I CMD...: CMD inside node I's mount, network and UTS namespaces.
node_exec() {
  local i pid
  i=$(nodes__i "$1")
  shift
  pid=NODE_PID_$i
  pid=${!pid}
  nodes__alive "$pid" || fail "node_exec: node $i is not running"
  nsenter -t "$pid" -m -n -u -- "$@"
}

# node_port_open I: node I's sshd answers with an SSH banner right now.
node_port_open() {
  local ip
  ip=$(node_ip "$1")
  # shellcheck disable=SC2016 # $0 and $l are the inner bash's
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/22" && IFS= read -r -t 2 l <&3 && [[ "$l" == SSH-2.0-* ]]' \
    "$ip" 2>/dev/null
}

# node_wait I: until node I's sshd answers (10 s), or fail with its log.
node_wait() {
  local i k pid
  i=$(nodes__i "$1")
  pid=NODE_PID_$i
  pid=${!pid}
  for ((k = 0; k < 100; k++)); do
    node_port_open "$i" && return 0
    nodes__alive "$pid" || fail "sshd of node $i ($(node_ip "$i")) exited; its log ($T/nodes/$i/sshd.log):
$(tail -n 30 "$T/nodes/$i/sshd.log" 2>/dev/null)"
    sleep 0.1
  done
  fail "sshd of node $i ($(node_ip "$i")) did not answer on port 22 within 10 s; its log:
$(tail -n 30 "$T/nodes/$i/sshd.log" 2>/dev/null)"
}

# ssh clients --------------------------------------------------------------

nodes__ssh_base() { # the options shared by NODE_SSH and node_ssh_pass
  printf '%s\n' ssh -F /dev/null -o UserKnownHostsFile="$NODE_KNOWN_HOSTS" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \
    -o LogLevel=ERROR
}

# node_ssh I USER CMD...: key auth ($NODE_KEY) as USER on node I.
node_ssh() {
  local ip
  ip=$(node_ip "$1")
  local user=$2
  shift 2
  "${NODE_SSH[@]}" "$user@$ip" -- "$@"
}

# node_ssh_pass I USER PASS CMD...: password auth only, the password given
# through SSH_ASKPASS (no sshpass needed).
node_ssh_pass() {
  local ip base
  ip=$(node_ip "$1")
  local user=$2 pass=$3
  shift 3
  mapfile -t base < <(nodes__ssh_base)
  NODES_ASKPASS_SECRET=$pass SSH_ASKPASS="$NODE_SSH_DIR/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    "${base[@]}" -o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password \
    -o NumberOfPasswordPrompts=1 "$user@$ip" -- "$@" </dev/null
}

# nodes__keygen TYPE FILE PASSPHRASE COMMENT: a key pair (RSA 2048 bits: fast enough).
nodes__keygen() {
  local bits=()
  [[ "$1" != rsa ]] || bits=(-b 2048)
  ssh-keygen -q -t "$1" "${bits[@]}" -N "$3" -C "$4" -f "$2" </dev/null ||
    fail "ssh-keygen could not make the $1 key $2"
}

# nodes__client_keys: $T/ssh: client keys, the askpass helper, the "wrong" host keys.
nodes__client_keys() {
  local d=$T/ssh t
  nodes__set NODE_SSH_DIR "$d"
  nodes__set NODE_KEY "$d/id_ed25519"
  nodes__set NODE_KEY_PW "$d/id_ecdsa_pw"
  nodes__set NODE_KNOWN_HOSTS "$d/known_hosts"
  nodes__set NODE_KNOWN_HOSTS_WRONG "$d/known_hosts_wrong"
  mapfile -t NODE_SSH < <(nodes__ssh_base)
  NODE_SSH+=(-o BatchMode=yes -o IdentitiesOnly=yes -i "$NODE_KEY")
  [[ -s "$d/id_ed25519" ]] && return 0
  mkdir -m 0700 "$d"
  nodes__keygen ed25519 "$d/id_ed25519" '' cimg-test-client
  nodes__keygen ecdsa "$d/id_ecdsa_pw" "$NODE_KEY_PASSPHRASE" cimg-test-client-pw
  for t in ed25519 ecdsa rsa; do nodes__keygen "$t" "$d/wrong_host_${t}_key" '' cimg-test-wrong-host; done
  # shellcheck disable=SC2016 # expanded by the helper, when ssh runs it
  printf '#!/bin/sh\nprintf "%%s\\n" "$NODES_ASKPASS_SECRET"\n' >"$d/askpass"
  chmod 0700 "$d/askpass"
}

# nodes__known_line IP PUBFILE: "IP keytype base64" (known_hosts, no comment).
nodes__known_line() { awk -v ip="$1" '{print ip, $1, $2}' "$2"; }

nodes__known_hosts() {
  local i t ip nd
  : >"$NODE_KNOWN_HOSTS"
  : >"$NODE_KNOWN_HOSTS_WRONG"
  for ((i = 1; i <= NODE_COUNT; i++)); do
    ip=${NODE_IPS[i - 1]} nd=$T/nodes/$i
    for t in ed25519 ecdsa rsa; do
      nodes__known_line "$ip" "$nd/sshd/ssh_host_${t}_key.pub" >>"$NODE_KNOWN_HOSTS"
      if [[ $i -eq 1 ]]; then
        nodes__known_line "$ip" "$NODE_SSH_DIR/wrong_host_${t}_key.pub" >>"$NODE_KNOWN_HOSTS_WRONG"
      else
        nodes__known_line "$ip" "$nd/sshd/ssh_host_${t}_key.pub" >>"$NODE_KNOWN_HOSTS_WRONG"
      fi
    done
  done
}

# node state --------------------------------------------------------------

# nodes__hide I: whiteouts in a new node's upper dirs for the $NODE_HIDE paths
# the host has. Missing parent dirs in the upper dir are made with the owner
# and mode of the host's, which the merged view shows.
nodes__hide() {
  local i=$1 p s n d rel up lower
  for p in $NODE_HIDE; do
    [[ -e "$p" || -L "$p" ]] || continue
    for s in "${NODES__OVERLAYS[@]}"; do
      n=${s%%:*} d=${s#*:}
      [[ "$p" == "$d"/* ]] && break
      n=
    done
    [[ -n "$n" ]] || fail "nodes_up: NODE_HIDE path $p is not under the node's private dirs"
    up=$T/nodes/$i/$n.up lower=$d rel=${p#"$d"/}
    while [[ "$rel" == */* ]]; do # the parents, top down
      up=$up/${rel%%/*} lower=$lower/${rel%%/*} rel=${rel#*/}
      if [[ ! -d "$up" ]] && ! { mkdir "$up" && chown --reference="$lower" "$up" &&
        chmod --reference="$lower" "$up"; }; then
        fail "nodes_up: could not make $up"
      fi
    done
    [[ -e "$up/$rel" ]] || mknod "$up/$rel" c 0 0 || fail "nodes_up: could not hide $p in node $i"
  done
}

# nodes__prepare I: node dir, upper/work dirs, host keys, sshd_config.
nodes__prepare() {
  local i=$1 nd=$T/nodes/$1 ip=${NODE_IPS[$1 - 1]} s t
  mkdir -p "$nd/sshd"
  for s in "${NODES__OVERLAYS[@]}"; do mkdir -p "$nd/${s%%:*}.up" "$nd/${s%%:*}.wk"; done
  for t in ed25519 ecdsa rsa; do nodes__keygen "$t" "$nd/sshd/ssh_host_${t}_key" '' "$NODES_TAG-n$i"; done
  cat "$NODE_KEY.pub" "$NODE_KEY_PW.pub" >"$nd/sshd/authorized_keys"
  cat >"$nd/sshd/sshd_config" <<EOF
# node $i of $NODES_TAG ($T), made by tests/integration/nodes_lib.sh.
# Paths are as the node sees them: $nd/sshd is bound at /run/cimg-node.
ListenAddress $ip
Port 22
HostKey /run/cimg-node/ssh_host_ed25519_key
HostKey /run/cimg-node/ssh_host_ecdsa_key
HostKey /run/cimg-node/ssh_host_rsa_key
PidFile /run/cimg-node/sshd.pid
PermitRootLogin yes
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100
MaxSessions 50
ClientAliveInterval 0
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  nodes__hide "$i"
}

# The node's init, run by bash inside its fresh mount + UTS namespaces (and
# its netns) as the process that becomes sshd. $1 node dir (host path), $2
# hostname, $3 address, $4 the overlays (name:dir ...). Passwords in the
# environment (NI_ROOT_PASS, NI_USER_PASS), dropped before exec.
# shellcheck disable=SC2016
NODES__INIT='set -euo pipefail
nd=$1 name=$2 ip=$3
umask 022
for s in $4; do
  n=${s%%:*} d=${s#*:}
  # after node_kill the old mount namespace may take a moment to go
  for k in $(seq 50); do
    mount -t overlay "cimg-node-$n" -o "lowerdir=$d,upperdir=$nd/$n.up,workdir=$nd/$n.wk" "$d" && break
    [[ $k -lt 50 ]] || { echo "nodes_lib: overlay on $d failed" >&2; exit 1; }
    sleep 0.1
  done
done
# copies of the host netns mounts would keep other namespaces alive
umount -l /run/netns 2>/dev/null || true
mount -t tmpfs -o mode=0755,nosuid,nodev cimg-node-run /run
mkdir -m 0755 /run/sshd /run/cimg-node /run/lock
chmod 1777 /run/lock
: >/run/utmp
mount --bind "$nd/sshd" /run/cimg-node
mount -t tmpfs -o mode=1777,nosuid,nodev cimg-node-tmp /tmp
# everything else of / is the host: read-only here (bind remount: this mount only)
mount -o remount,bind,ro /
hostname "$name"
if [[ ! -e /run/cimg-node/users.done ]]; then
  echo "root:$NI_ROOT_PASS" | chpasswd
  for u in deployer nopass; do
    id -u "$u" >/dev/null 2>&1 || useradd -m -U -s /bin/bash "$u"
    echo "$u:$NI_USER_PASS" | chpasswd
  done
  printf "Defaults:deployer !requiretty\ndeployer ALL=(ALL) ALL\n" >/etc/sudoers.d/deployer
  printf "Defaults:nopass !requiretty\nnopass ALL=(ALL) NOPASSWD: ALL\n" >/etc/sudoers.d/nopass
  chmod 0440 /etc/sudoers.d/deployer /etc/sudoers.d/nopass
  visudo -cq
  for u in root deployer nopass; do
    h=$(getent passwd "$u" | cut -d: -f6) g=$(id -gn "$u")
    install -d -m 0700 -o "$u" -g "$g" "$h/.ssh"
    install -m 0600 -o "$u" -g "$g" /run/cimg-node/authorized_keys "$h/.ssh/authorized_keys"
  done
  printf "%s %s\n" "$ip" "$name" >>/etc/hosts
  touch /run/cimg-node/users.done
fi
unset NI_ROOT_PASS NI_USER_PASS
exec /usr/sbin/sshd -D -e -f /run/cimg-node/sshd_config'

# nodes__start I: start node I's sshd (in the background, a child of this shell).
nodes__start() {
  local i=$1 nd=$T/nodes/$1 ns=$NODES_TAG-n$1 pid
  printf '=== %s: node %s starting\n' "$(date '+%F %T')" "$i" >>"$nd/sshd.log"
  NI_ROOT_PASS=$NODE_ROOT_PASS NI_USER_PASS=$NODE_USER_PASS \
    ip netns exec "$ns" unshare -m -u --propagation private \
    bash -c "$NODES__INIT" nodes-init "$nd" "$ns" "${NODE_IPS[i - 1]}" "${NODES__OVERLAYS[*]}" \
    </dev/null >>"$nd/sshd.log" 2>&1 &
  pid=$! # ip, unshare and bash all exec: this is the sshd
  echo "$pid" >"$nd/pid"
  nodes__set "NODE_PID_$i" "$pid"
}

# node_start I: node I again (after node_kill), same upper dirs and keys.
node_start() {
  local i pid
  i=$(nodes__i "$1")
  pid=NODE_PID_$i
  ! nodes__alive "${!pid}" || fail "node_start: node $i is already running (sshd ${!pid})"
  nodes__start "$i"
  node_wait "$i"
}

# nodes__kill_ns NS: kill -9 every process in netns NS.
nodes__kill_ns() {
  ip netns pids "$1" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
}

# node_kill I: kill -9 node I's sshd and all in its netns; reap; wait (5 s).
node_kill() {
  local i pid ns k
  i=$(nodes__i "$1")
  pid=NODE_PID_$i
  pid=${!pid}
  ns=$NODES_TAG-n$i
  # the group's 2>/dev/null also swallows bash's "Killed" job notice
  {
    [[ -z "$pid" ]] || kill -9 "$pid" || true
    for ((k = 0; k < 50; k++)); do
      nodes__kill_ns "$ns"
      [[ -z "$pid" ]] || wait "$pid" || true
      if ! nodes__alive "$pid" && [[ -z "$(ip netns pids "$ns")" ]]; then
        nodes__set "NODE_PID_$i" ""
        return 0
      fi
      sleep 0.1
    done
  } 2>/dev/null
  fail "node_kill: processes of node $i still running 5 s after kill -9: $(ip netns pids "$ns" 2>/dev/null | xargs) ${pid}"
}

# network ------------------------------------------------------------------

# nodes__teardown TAG: remove every netns <TAG>-n<N>, veth <TAG>-v<N> and the
# bridge cb<TAG>, killing what runs in those netns first. Quiet, idempotent.
nodes__teardown() {
  local tag=$1 ns l k
  local nss
  nss=$(ip netns list 2>/dev/null | awk -v re="^$tag-n[0-9]+\$" '$1 ~ re {print $1}')
  for ns in $nss; do nodes__kill_ns "$ns"; done
  for ns in $nss; do
    for ((k = 0; k < 50; k++)); do
      [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] && break
      nodes__kill_ns "$ns"
      sleep 0.1
    done
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
    grep -E "^$tag-v[0-9]+\$"); do
    ip link del "$l" 2>/dev/null || true
  done
  for ns in $nss; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "cb$tag" 2>/dev/null || true
}

# nodes__leftovers TAG: print what of TAG is still there (netns, links, mounts).
nodes__leftovers() {
  local tag=$1
  ip netns list 2>/dev/null | awk -v re="^$tag-n[0-9]+\$" '$1 ~ re {print "netns " $1}'
  ip -o link show 2>/dev/null | awk -F': ' -v re="^($tag-v[0-9]+|cb$tag)\$" \
    '{sub(/@.*/, "", $2)} $2 ~ re {print "link " $2}'
  awk -v re="^/run/netns/$tag-n[0-9]+\$" '$5 ~ re || $0 ~ / cimg-node-/ {print "mount " $5}' /proc/self/mountinfo
  if [[ -n "${T:-}" ]]; then
    awk -v t=" $T/nodes" 'index($0, t) {print "mount " $5}' /proc/self/mountinfo
  fi
  return 0
}

# nodes_up TAG SUBNET COUNT
nodes_up() {
  local tag=$1 subnet=$2 count=$3 i ns ip
  nodes__check_env
  [[ "$tag" =~ ^[a-z][a-z0-9]{0,4}$ ]] || fail "nodes_up: bad TAG '$tag' ([a-z][a-z0-9]{0,4})"
  [[ "$subnet" =~ ^[1-9][0-9]{0,2}$ && "$subnet" -le 250 ]] || fail "nodes_up: bad SUBNET '$subnet' (1..250)"
  [[ "$count" =~ ^[1-9][0-9]?$ ]] || fail "nodes_up: bad COUNT '$count' (1..99)"
  [[ -z "$NODES_TAG" ]] || fail "nodes_up: nodes '$NODES_TAG' are already up (nodes_down first)"
  if [[ -n "$(nodes__leftovers "$tag")" ]]; then
    log "nodes: removing leftovers of an earlier run with tag $tag: $(nodes__leftovers "$tag" | xargs)"
    nodes__teardown "$tag"
  fi
  if [[ -n "$(ip -4 -o addr show to "10.251.$subnet.0/24" 2>/dev/null)" ]]; then
    fail "nodes_up: 10.251.$subnet.0/24 is already in use on this host: $(ip -4 -o addr show to "10.251.$subnet.0/24")"
  fi
  # a group brought down earlier in this test: its node dirs are dead state
  rm -rf "$T/nodes"
  nodes__set NODES_TAG "$tag"
  nodes__set NODES_SUBNET "$subnet"
  nodes__set NODE_COUNT "$count"
  nodes__set NODES_BRIDGE "cb$tag"
  nodes__set NODES_HOST_IP "10.251.$subnet.1"
  NODE_IPS=()
  for ((i = 1; i <= count; i++)); do NODE_IPS+=("10.251.$subnet.$((10 + i))"); done
  if [[ -z "$NODES__HOOKED" ]]; then
    IT_CLEANUP_HOOKS+=("nodes_down")
    NODES__HOOKED=1
  fi
  nodes__client_keys

  ip link add "$NODES_BRIDGE" type bridge || fail "nodes_up: could not create bridge $NODES_BRIDGE"
  # bridged frames skip iptables even where br_netfilter and a DROP policy are set
  ip link set "$NODES_BRIDGE" type bridge nf_call_iptables 0 2>/dev/null || true
  ip addr add "$NODES_HOST_IP/24" dev "$NODES_BRIDGE"
  ip link set "$NODES_BRIDGE" up
  for ((i = 1; i <= count; i++)); do
    ns=$tag-n$i ip=${NODE_IPS[i - 1]}
    nodes__set "NODE_IP_$i" "$ip"
    nodes__set "NODE_DIR_$i" "$T/nodes/$i"
    nodes__set "NODE_NS_$i" "$ns"
    nodes__set "NODE_PID_$i" ""
    nodes__prepare "$i"
    # ip netns add makes /run/netns a shared mount the first time: not twice at once
    flock "$NODES__LOCK" ip netns add "$ns" || fail "nodes_up: ip netns add $ns failed"
    ip link add "$tag-v$i" type veth peer name eth0 netns "$ns" || fail "nodes_up: could not create veth $tag-v$i"
    ip link set "$tag-v$i" master "$NODES_BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$NODES_HOST_IP"
    nodes__start "$i"
  done
  nodes__known_hosts
  for ((i = 1; i <= count; i++)); do node_wait "$i"; done
  log "nodes: $count up on $NODES_BRIDGE 10.251.$subnet.0/24: ${NODE_IPS[*]}"
}

# nodes__drop_netns_mount: the shared bind mount of /run/netns on itself that
# the first `ip netns add` made, removed once no netns is left (a plain umount
# refuses while another test still has one mounted there).
nodes__drop_netns_mount() {
  (
    flock 9
    [[ -z "$(ip netns list)" ]] && is_mounted /run/netns && umount /run/netns
  ) 9>"$NODES__LOCK" 2>/dev/null || true
}

# nodes_down: everything nodes_up made, gone (processes, netns, links).
nodes_down() {
  [[ -n "${NODES_TAG:-}" ]] || return 0
  local tag=$NODES_TAG i pid left ours=()
  for ((i = 1; i <= NODE_COUNT; i++)); do
    pid=NODE_PID_$i
    pid=${!pid}
    [[ -z "$pid" ]] || ours+=("$pid")
    mapfile -t -O "${#ours[@]}" ours < <(ip netns pids "$tag-n$i" 2>/dev/null)
    {
      [[ -z "$pid" ]] || kill -9 "$pid" || true
      nodes__kill_ns "$tag-n$i"
      [[ -z "$pid" ]] || wait "$pid" || true
    } 2>/dev/null
    nodes__set "NODE_PID_$i" ""
  done
  nodes__teardown "$tag"
  nodes__drop_netns_mount
  NODES_TAG=
  left=$(
    nodes__leftovers "$tag"
    for pid in "${ours[@]}"; do ! nodes__alive "$pid" || echo "process $pid $(tr '\0' ' ' <"/proc/$pid/cmdline")"; done
  )
  if [[ -n "$left" ]]; then
    echo "[${IT_NAME:-nodes}] WARNING: nodes_down: left behind of '$tag':" >&2
    printf '    %s\n' "${left//$'\n'/$'\n'    }" >&2
    return 1
  fi
  log "nodes: $tag down"
}
