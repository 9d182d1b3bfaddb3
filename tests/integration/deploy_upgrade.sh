#!/usr/bin/env bash
# cimg upgrade / cimg rollback against real sshd nodes (tests/integration/
# nodes_lib.sh): 1 master + 2 nodes. kubeadm cannot run here: the images
# carry a stand-in bin/kubeadm (a shell script, below) that records its
# arguments (init, join, and `upgrade apply` / `upgrade node`), and a
# stand-in bin/kubectl that records drain/uncordon.
#  1. images v1 and v2 built by cimg build: v2 changes data/changed, adds
#     data/added, removes data/removed, keeps a 3 MB file, and carries
#     plugins/hooks.yaml whose upgrade-host, upgrade and rollback hooks run
#     scripts/hook.sh, which appends to /var/lib/cimg-test/hooks.log;
#  2. deploy v1; every host's rootfs hashed;
#  3. an upgrade whose --format names a field the report lacks is refused
#     before it starts (the cluster stays deployed);
#     upgrade to v2: only the delta moves (data bytes a few KiB, wire bytes a
#     small fraction of the first deploy's), the hooks ran in sealer's order
#     on the right hosts (upgrade-host everywhere by name, kubeadm upgrade
#     apply on master0 then upgrade node on the nodes, the upgrade hook on
#     master0), cimg clusters shows v2 and v1 as previous;
#  4. rollback (--format TEMPLATE: one line a host): v2's rollback hook on
#     master0, then every host's rootfs
#     hashes as after the fresh deploy of v1; the cluster is v1 again and
#     has no previous image (a second rollback is refused);
#  5. upgrade again (-f Clusterfile) with an upgrade-host hook failing on one
#     node: one-line error naming that host; a re-run completes, running only
#     what had not run (every hook once per host);
#  6. rollback refused, changing nothing, when the previous image is gone
#     from the store (and a re-tag of its name does not bring it back); an
#     IMAGE other than the previous one is refused; once `cimg load` brings
#     it back, the rollback completes (rootfs = v1's again); an upgrade to an
#     image whose template cannot render is refused before any host changes.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup upg 221 3 python3
RF=/var/lib/cimg/up/rootfs
TL=/var/lib/cimg-test

# ----------------------------------------------------------------- 1. images
log "1. images v1 and v2"
C1=$T/ctx1
mkdir -p "$C1"/{bin,scripts,etc,data,plugins}
cat >"$C1/Kubefile" <<'EOF'
FROM scratch
COPY . .
CMD echo "cmd $(cat data/version)" >> /var/lib/cimg-test/cmds.log
EOF
# Stand-in kubeadm (kubeadm cannot run here): records "time host args".
cat >"$C1/bin/kubeadm" <<'EOF'
#!/bin/sh
# Stand-in for kubeadm (cannot run in this test): records its arguments.
mkdir -p /var/lib/cimg-test
echo "$(date +%s.%N) $(hostname) kubeadm $*" >> /var/lib/cimg-test/kubeadm.log
case "$*" in
  "init --config "*) echo "Your Kubernetes control-plane has initialized successfully!" ;;
  "token create --print-join-command")
    echo "kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 7)" ;;
  join*) echo "This node has joined the cluster" ;;
  "upgrade apply "*" -y") echo "[upgrade/successful] SUCCESS! Your cluster was upgraded to \"$3\"." ;;
  "upgrade node") echo "[upgrade] The configuration for this node was successfully updated!" ;;
  "reset -f") ;;
  *) echo "stand-in kubeadm: unexpected arguments: $*" >&2; exit 2 ;;
esac
EOF
# Stand-in kubectl: node names for `get`, other calls recorded.
cat >"$C1/bin/kubectl" <<'EOF'
#!/bin/sh
mkdir -p /var/lib/cimg-test
case "$1" in
  get) exit 0 ;;
  *) echo "$(date +%s.%N) $(hostname) kubectl $*" >> /var/lib/cimg-test/kubeadm.log ;;
esac
EOF
chmod 755 "$C1/bin/kubeadm" "$C1/bin/kubectl"
printf 'kubernetesVersion: v1.27.4\nadvertiseAddress: {{ .CIMG_HOST_IP }}\n' >"$C1/etc/kubeadm.yml.tmpl"
cat >"$C1/scripts/init.sh" <<'EOF'
#!/bin/bash
mkdir -p /var/lib/cimg-test
echo "init $(hostname)" >> /var/lib/cimg-test/init.log
EOF
# The hooks' script: "time host PHASE NAME VERSION" into hooks.log; fails
# (before writing) where /var/lib/cimg-test/fail-NAME exists.
cat >"$C1/scripts/hook.sh" <<'EOF'
#!/bin/bash
mkdir -p /var/lib/cimg-test
if [ -f "/var/lib/cimg-test/fail-$2" ]; then echo "hook $2: failing as asked" >&2; exit 7; fi
echo "$(date +%s.%N) $(hostname) $1 $2 $(cat "$CIMG_ROOTFS/data/version")" >> /var/lib/cimg-test/hooks.log
EOF
# The image's plugins/hooks.yaml: NAME ACTION PHASE, out of name order (and
# one action in sealer's other spelling).
hooks_yaml() {
  local p name action phase
  for p in "b-host upgrade-host upgrade-host" "a-host UpgradeHost upgrade-host" \
    "up-cluster upgrade upgrade" "rb-cluster rollback rollback"; do
    read -r name action phase <<<"$p"
    cat <<EOF
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: $name}
spec:
  type: SHELL
  action: $action
  data: bash scripts/hook.sh $phase $name
EOF
  done
}
hooks_yaml >"$C1/plugins/hooks.yaml"
head -c 3000000 /dev/urandom >"$C1/data/big"
echo "v1" >"$C1/data/version"
echo "changed in v1" >"$C1/data/changed"
echo "only in v1" >"$C1/data/removed"
ci build -t test/up:1 "$C1" >"$T/build1.out" 2>&1 || fail "build v1: $(tail -5 "$T/build1.out")"
C2=$T/ctx2
cp -a "$C1" "$C2"
echo "v2" >"$C2/data/version"
echo "changed in v2, a little longer" >"$C2/data/changed"
rm "$C2/data/removed"
echo "added in v2" >"$C2/data/added"
printf 'kubernetesVersion: v1.28.2\nadvertiseAddress: {{ .CIMG_HOST_IP }}\n' >"$C2/etc/kubeadm.yml.tmpl"
ci build -t test/up:2 "$C2" >"$T/build2.out" 2>&1 || fail "build v2: $(tail -5 "$T/build2.out")"
V1_ID=$(image_id test/up:1)
V2_ID=$(image_id test/up:2)
[[ "$V1_ID" != "$V2_ID" ]] || fail "v1 and v2 have the same image ID"

# ------------------------------------------------------------- 2. deploy v1
cat >"$T/Clusterfile" <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: up
spec:
  image: test/up:1
  ssh:
    pk: $NODE_KEY
  hosts:
    - ips: [$M0]
      roles: [master]
    - ips: [$N1, $N2]
      roles: [node]
EOF
"$CIMG" --root "$ROOT" deploy -f "$T/Clusterfile" "${KH[@]}" --format json >"$T/deploy1.json" 2>"$T/deploy1.err" ||
  fail "deploy v1: $(tail -20 "$T/deploy1.err")"
WIRE1=$(json_get 'sum(h["WireBytes"] for h in j["Hosts"])' <"$T/deploy1.json")

# rootfs_listing I: node I's rootfs, one line per entry (path, type, mode,
# size of files, link target), then the content hashes.
rootfs_listing() {
  (
    cd "$(node_path "$1" "$RF")" || exit 1
    find . -mindepth 1 -printf '%P\t%y\t%m\t%s\t%l\n' |
      awk -F'\t' 'BEGIN{OFS="\t"} { if ($2 != "f") $4 = "-"; print }' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  )
}
for i in 1 2 3; do rootfs_listing $i >"$T/v1.rootfs.$i"; done
grep -q '^data/removed	f' "$T/v1.rootfs.2" || fail "v1 rootfs listing lacks data/removed"
log "2. v1 deployed: $WIRE1 bytes on the wire"

# hooks I: node I's hooks.log without the times. calls: every host's kubeadm
# and kubectl calls, in time order (each host's own clock: the calls are
# sequential steps of one deploy).
hooks() { [[ ! -f "$(node_path "$1" $TL/hooks.log)" ]] || cut -d' ' -f2- "$(node_path "$1" $TL/hooks.log)"; }
calls() {
  local i
  for i in 1 2 3; do cat "$(node_path $i $TL/kubeadm.log)"; done | LC_ALL=C sort -n | cut -d' ' -f2- |
    grep -v -e ' kubeadm init ' -e ' kubeadm join ' -e ' kubeadm token ' || true
}
state() { ci clusters --format '{{.Name}} {{.Image}} {{.Previous}} {{.State}}'; }
assert_eq "up test/up:1 - deployed" "$(state)" "cimg clusters after deploy"

# ------------------------------------------------------------ 3. upgrade
# A --format field the report lacks: refused before the upgrade starts.
expect_one_line_error 'map has no entry for key "Nope"' ci upgrade up test/up:2 "${KH[@]}" --format '{{.IP}} {{.Nope}}'
assert_eq "up test/up:1 - deployed" "$(state)" "cimg clusters after an upgrade refused for its --format"
"$CIMG" --root "$ROOT" upgrade up test/up:2 "${KH[@]}" --format json >"$T/up1.json" 2>"$T/up1.err" ||
  fail "upgrade: $(tail -20 "$T/up1.err")"
for i in 1 2 3; do
  n=$(node_path $i $RF)
  assert_eq "changed in v2, a little longer" "$(cat "$n/data/changed")" "node $i data/changed"
  assert_eq "added in v2" "$(cat "$n/data/added")" "node $i data/added"
  [[ ! -e "$n/data/removed" ]] || fail "node $i: data/removed survived the upgrade"
done
assert_eq "1,1,1" "$(json_get '",".join(str(h["FilesRemoved"]) for h in j["Hosts"])' <"$T/up1.json")" \
  "files removed per host by the upgrade"
DATA2=$(json_get 'sum(h["DataBytes"] for h in j["Hosts"])' <"$T/up1.json")
WIRE2=$(json_get 'sum(h["WireBytes"] for h in j["Hosts"])' <"$T/up1.json")
# The delta: data/changed, data/added, data/version, etc/kubeadm.yml: ~100
# bytes a host (the 3 MB data/big stays where it is).
(( DATA2 < 3 * 4096 )) || fail "the upgrade sent $DATA2 bytes of files (more than the delta)"
(( WIRE2 * 8 < WIRE1 )) || fail "the upgrade moved $WIRE2 bytes on the wire (first deploy: $WIRE1)"
log "3. upgrade: $DATA2 bytes of files, $WIRE2 on the wire (deploy of v1: $WIRE1)"
assert_eq "upg-n1 upgrade-host a-host v2
upg-n1 upgrade-host b-host v2
upg-n1 upgrade up-cluster v2" "$(hooks 1)" "master0 hooks: upgrade-host by name, then upgrade"
for i in 2 3; do
  assert_eq "upg-n$i upgrade-host a-host v2
upg-n$i upgrade-host b-host v2" "$(hooks $i)" "node $i hooks: upgrade-host only"
done
assert_eq "upg-n1 kubectl drain upg-n1 --ignore-daemonsets --delete-emptydir-data
upg-n1 kubeadm upgrade apply v1.28.2 -y
upg-n1 kubectl uncordon upg-n1
upg-n2 kubeadm upgrade node
upg-n3 kubeadm upgrade node" "$(calls)" "kubeadm upgrade: apply on master0, then node on the others"
# The upgrade hook ran after kubeadm upgrade apply on master0.
t_apply=$(grep ' upgrade apply ' "$(node_path 1 $TL/kubeadm.log)" | cut -d' ' -f1)
t_hook=$(grep ' up-cluster ' "$(node_path 1 $TL/hooks.log)" | cut -d' ' -f1)
python3 -c "import sys; sys.exit(not float('$t_apply') < float('$t_hook'))" ||
  fail "the upgrade hook ran before kubeadm upgrade apply"
assert_eq "cmd v1
cmd v2" "$(cat "$(node_path 1 $TL/cmds.log)")" "the image's CMD again on master0 after the upgrade"
assert_eq "1" "$(wc -l <"$(node_path 2 $TL/init.log)")" "init.sh does not run at an upgrade"
assert_eq "up test/up:2 test/up:1 upgraded" "$(state)" "cimg clusters after the upgrade"
assert_eq "$V1_ID" "$(ci clusters --format '{{.PreviousID}}')" "previous image ID recorded"
ci upgrade up test/up:2 "${KH[@]}" >"$T/up1b.out" 2>"$T/up1b.err" || fail "upgrade re-run: $(tail -5 "$T/up1b.err")"
assert_eq "3" "$(hooks 1 | wc -l)" "hooks after a re-run of a finished upgrade"

# ------------------------------------------------------------ 4. rollback
for i in 1 2 3; do node_exec $i sh -c ': >/var/lib/cimg-test/kubeadm.log'; done
"$CIMG" --root "$ROOT" rollback up test/up:1 "${KH[@]}" --format '{{.IP}} {{.Cluster}} {{.Image}}' \
  >"$T/rb1.out" 2>"$T/rb1.err" || fail "rollback: $(tail -20 "$T/rb1.err")"
assert_eq "$M0 up test/up:1|$N1 up test/up:1|$N2 up test/up:1" "$(tr '\n' '|' <"$T/rb1.out" | sed 's/|$//')" \
  "rollback --format TEMPLATE: one line a host"
for i in 1 2 3; do
  rootfs_listing $i >"$T/rb.rootfs.$i"
  diff -u "$T/v1.rootfs.$i" "$T/rb.rootfs.$i" >"$T/rb.diff.$i" ||
    fail "node $i: rootfs after rollback differs from v1's: $(head -20 "$T/rb.diff.$i")"
done
assert_eq "upg-n1 upgrade-host a-host v2
upg-n1 upgrade-host b-host v2
upg-n1 upgrade up-cluster v2
upg-n1 rollback rb-cluster v2" "$(hooks 1)" "master0: v2's rollback hook, before v1's rootfs was back"
assert_eq "2" "$(hooks 2 | wc -l)" "rollback hooks on a node"
assert_eq "cmd v1
cmd v2
cmd v1" "$(cat "$(node_path 1 $TL/cmds.log)")" "v1's CMD after the rollback"
assert_eq "" "$(calls)" "kubeadm calls at the rollback"
assert_eq "up test/up:1 - rolled-back" "$(state)" "cimg clusters after the rollback"
grep -q 'image: test/up:1' "$ROOT/clusters/up/Clusterfile" || fail "saved Clusterfile is not v1's again"
expect_one_line_error "no previous image" ci rollback up "${KH[@]}"
log "4. rollback: every host's rootfs is v1's again; a second rollback: $ERR_LINE"

# ------------------------------------------ 5. a hook failing on one node
node_exec 3 mkdir -p $TL
node_exec 3 touch $TL/fail-b-host
# This attempt with -f (the saved Clusterfile with a new spec.image), the
# re-run with CLUSTER IMAGE: the same upgrade.
sed 's#image: test/up:1#image: test/up:2#' "$ROOT/clusters/up/Clusterfile" >"$T/Clusterfile.v2"
rc=0
"$CIMG" --root "$ROOT" upgrade -f "$T/Clusterfile.v2" "${KH[@]}" >"$T/up2.out" 2>"$T/up2.err" || rc=$?
(( rc != 0 )) || fail "an upgrade whose hook fails succeeded"
ERR_LINE=$(tail -1 "$T/up2.err")
[[ "$ERR_LINE" == "cimg: host $N2: plugin b-host (upgrade-host) failed"* ]] ||
  fail "the failure does not name $N2 and the hook: $ERR_LINE"
assert_eq "up test/up:2 test/up:1 upgrade-failed" "$(state)" "cimg clusters after a failed upgrade"
log "5. a failing hook: $ERR_LINE"
node_exec 3 rm -f $TL/fail-b-host
ci upgrade up test/up:2 "${KH[@]}" >"$T/up3.out" 2>"$T/up3.err" || fail "upgrade re-run: $(tail -20 "$T/up3.err")"
for i in 2 3; do
  assert_eq "upg-n$i upgrade-host a-host v2
upg-n$i upgrade-host b-host v2
upg-n$i upgrade-host a-host v2
upg-n$i upgrade-host b-host v2" "$(hooks $i)" "node $i hooks: each once per upgrade"
done
assert_eq "upg-n1 upgrade-host a-host v2
upg-n1 upgrade-host b-host v2
upg-n1 upgrade up-cluster v2" "$(hooks 1 | tail -3)" "master0 hooks of the second upgrade"
assert_eq "7" "$(hooks 1 | wc -l)" "master0 hooks in all"
assert_eq "up test/up:2 test/up:1 upgraded" "$(state)" "cimg clusters after the re-run"
for i in 1 2 3; do rootfs_listing $i >"$T/v2.rootfs.$i"; done

# ------------------------------------ 6. the previous image gone, then back
ci save -o "$T/v1.tar" test/up:1 >/dev/null 2>"$T/save.err" || fail "save v1: $(cat "$T/save.err")"
ci rmi test/up:1 >/dev/null 2>"$T/rmi.err" || fail "rmi v1: $(cat "$T/rmi.err")"
ci tag test/up:2 test/up:1 || fail "re-tag"  # the name now gives v2: not the recorded image
cp "$ROOT/clusters/up/state" "$T/state.before"
expect_one_line_error "previous image of cluster up, test/up:1 .*no longer in the store.*cimg pull test/up:1.*cimg load" \
  ci rollback up "${KH[@]}"
log "6. previous image gone: $ERR_LINE"
cmp -s "$T/state.before" "$ROOT/clusters/up/state" || fail "a refused rollback changed the cluster's state"
for i in 1 2 3; do
  rootfs_listing $i | diff -q "$T/v2.rootfs.$i" - >/dev/null || fail "node $i: a refused rollback changed the rootfs"
done
assert_eq "7" "$(hooks 1 | wc -l)" "hooks after a refused rollback"
expect_one_line_error "test/up:3 is not the previous image of cluster up" ci rollback up test/up:3 "${KH[@]}"
ci rmi test/up:1 >/dev/null 2>&1 || fail "rmi of the re-tag"
ci load -i "$T/v1.tar" >/dev/null 2>"$T/load.err" || fail "load v1: $(cat "$T/load.err")"
ci rollback up "${V1_ID:7:12}" "${KH[@]}" >"$T/rb2.out" 2>"$T/rb2.err" || fail "rollback after load: $(tail -20 "$T/rb2.err")"
for i in 1 2 3; do
  rootfs_listing $i | diff -u "$T/v1.rootfs.$i" - >"$T/rb2.diff.$i" ||
    fail "node $i: rootfs after the second rollback differs from v1's: $(head -20 "$T/rb2.diff.$i")"
done
assert_eq "up test/up:1 - rolled-back" "$(state)" "cimg clusters after the second rollback"
log "6. after cimg load the rollback completes: every rootfs is v1's"

# An image whose template cannot render is refused before any host changes.
C3=$T/ctx3
cp -a "$C1" "$C3"
mkdir -p "$C3/statics"
echo 'zone {{ .NO_SUCH_KEY }}' >"$C3/statics/zone.txt"
echo "v3" >"$C3/data/version"
ci build -t test/up:3 "$C3" >"$T/build3.out" 2>&1 || fail "build v3: $(tail -5 "$T/build3.out")"
cp "$ROOT/clusters/up/state" "$T/state.before"
cp "$ROOT/clusters/up/Clusterfile" "$T/cf.before"
rc=0
ci upgrade up test/up:3 "${KH[@]}" >/dev/null 2>"$T/up4.err" || rc=$?
(( rc != 0 && rc < 128 )) || fail "upgrade to an image with a bad template: exit $rc"
ERR_LINE=$(tail -1 "$T/up4.err")
[[ "$ERR_LINE" =~ ^cimg:\ host\ [0-9.]+:\ statics/zone.txt:1:.*NO_SUCH_KEY ]] ||
  fail "the refusal does not name the host and the template: $ERR_LINE"
[[ "$ERR_LINE" != *"run cimg upgrade again"* ]] || fail "a refusal before any host changed says to re-run: $ERR_LINE"
if grep -v -e '^error: host [0-9.]*: statics/zone.txt:1:' -e '^cimg: ' "$T/up4.err" | grep . >/dev/null; then
  fail "unexpected stderr lines: $(cat "$T/up4.err")"
fi
cmp -s "$T/state.before" "$ROOT/clusters/up/state" || fail "a refused upgrade changed the cluster's state"
cmp -s "$T/cf.before" "$ROOT/clusters/up/Clusterfile" || fail "a refused upgrade changed the saved Clusterfile"
for i in 1 2 3; do
  rootfs_listing $i | diff -q "$T/v1.rootfs.$i" - >/dev/null || fail "node $i: a refused upgrade changed the rootfs"
done
log "6. an image whose template fails is refused before any host changes: $ERR_LINE"

ci delete up "${KH[@]}" >/dev/null 2>"$T/del.err" || fail "delete: $(tail -5 "$T/del.err")"
[[ -z "$(ci clusters -q)" ]] || fail "cimg clusters lists a deleted cluster"
[[ ! -e "$ROOT/clusters/up" ]] || fail "the cluster's records survived delete"
log "PASS"
