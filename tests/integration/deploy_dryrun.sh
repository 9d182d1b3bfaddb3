#!/usr/bin/env bash
# cimg deploy --dry-run against 3 real sshd nodes (tests/integration/nodes_lib.sh):
# the plan is computed by the code a deploy runs (records read, deltas, the
# steps' records, the relay trees) and nothing changes anywhere.
#  1. before the first deploy: every host is to get every entry of its
#     rootfs (registry/ the master only), every recorded step is pending;
#     afterwards each node's upper dirs hash the same as before (sshd's own
#     login records aside) and `cimg clusters` shows nothing new; the
#     IMAGE --masters form plans the same; --format TEMPLATE prints one line
#     a host with the JSON's values, `table TEMPLATE` a header, and an
#     unknown field is refused before any host is reached (nothing printed);
#  2. --fanout 2: the nodes' shared stream (17 MB) is relayed, here -> node2
#     -> node3, and every host appears exactly once in the trees; --fanout 0:
#     each from here;
#  3. a wrong host key fails the dry run with the one-line error a deploy
#     gives;
#  4. after a real deploy: nothing to send, nothing to remove, no step
#     pending (the built-in registry's start and its TLS files, sealer's
#     default, are listed as not recorded); a deploy with an unknown
#     --format field is refused before it changes anything, and a deploy's
#     --format TEMPLATE prints one line a host;
#  5. after one file of the image changed (rebuilt as :2): exactly that file
#     and its byte count on each host, the per-image steps (init.sh, the
#     plugin, the CMD) pending with the old image recorded, kubeadm init and
#     joins done; still nothing changed on the nodes;
#  6. 256 KiB of the 17 MB file changed too (:3): it is planned as chunks
#     only (the hosts' chunk lists read), at most half of it;
#  7. scale-up --dry-run of a host scaled down: that host gets every file
#     and its 4 steps (plugin, init.sh, /etc/hosts, join), the others
#     nothing; the saved Clusterfile stays as it was;
#  8. a host that is aarch64 (a stand-in uname): the plan is printed with
#     that host not fitting the image's platform, then the dry run exits 1
#     with the deploy's one-line refusal.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup dry 220 3 zstd

# ----------------------------------------------------------------- image
log "the cluster image"
C=$T/ctx
mkdir -p "$C"/{bin,scripts,etc,statics,data,registry/docker/registry/v2}
# shellcheck disable=SC2016 # $CIMG_HOST_IP is the host's, when the CMD runs
printf 'FROM scratch\nCOPY . .\nCMD echo "cmd $CIMG_HOST_IP" >> /var/lib/dry-test/cmds.log\n' >"$C/Kubefile"
cat >"$C/bin/kubeadm" <<'EOF'
#!/bin/sh
# Stand-in for kubeadm: records its arguments, answers as kubeadm would.
mkdir -p /var/lib/dry-test
echo "$*" >> /var/lib/dry-test/kubeadm.log
case "$*" in
  "token create --print-join-command")
    echo "kubeadm join $CIMG_MASTER0:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf %064d 7)" ;;
esac
exit 0
EOF
cat >"$C/scripts/init.sh" <<'EOF'
#!/bin/bash
mkdir -p /var/lib/dry-test
echo "init $CIMG_ROLE" >> /var/lib/dry-test/init.log
EOF
# The built-in registry's start, stood in for (records its arguments).
cat >"$C/scripts/init-registry.sh" <<'EOF'
#!/bin/bash
mkdir -p /var/lib/dry-test
echo "registry $*" >> /var/lib/dry-test/registry.log
EOF
chmod 755 "$C/bin/kubeadm" "$C/scripts/"*.sh
echo "stand-in" >"$C/registry/docker/registry/v2/README"
printf 'advertiseAddress: {{ .CIMG_HOST_IP }}\n' >"$C/etc/kubeadm.yml.tmpl"
printf 'host {{ .CIMG_HOST_IP }}\n' >"$C/statics/hello.txt"
head -c 17000000 /dev/urandom >"$C/data/big"
echo "v1" >"$C/data/version"
for i in $(seq 1 20); do echo "file $i" >"$C/data/small-$i"; done
ci build -t test/dry:1 "$C" >"$T/build1.out" 2>&1 || fail "build: $(tail -5 "$T/build1.out")"

clusterfile() { # NAME IMAGE
  cat <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: $1}
spec:
  image: $2
  ssh: {pk: $NODE_KEY}
  hosts:
    - {ips: [$M0], roles: [master]}
    - {ips: [$N1, $N2], roles: [node]}
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: mark}
spec:
  type: SHELL
  action: pre-init-host
  data: |
    mkdir -p /var/lib/dry-test && echo plugin >> /var/lib/dry-test/plugins.log
EOF
}
clusterfile dc test/dry:1 >"$T/Clusterfile"

# nodes_state: one line a node: the hash of a listing (path, type, mode,
# owner, size, link target, content hash) of every upper dir. Left out:
# var/log/wtmp, btmp and lastlog, which sshd itself writes at every login.
nodes_state() {
  local i
  for ((i = 1; i <= NODE_COUNT; i++)); do
    (
      cd "$(node_dir "$i")" || exit 1
      find ./*.up -printf '%p %y %m %U:%G %s %l\n' | sort
      find ./*.up -type f -print0 | sort -z | xargs -0 -r sha256sum
    ) | grep -Ev '^(\./)?var\.up/log/(wtmp|btmp|lastlog)|/var\.up/log/(wtmp|btmp|lastlog)$' >"$T/state.$i" ||
      fail "listing node $i"
    printf 'node %s %s\n' "$i" "$(sha256sum <"$T/state.$i" | cut -c1-64)"
  done
}
clusters_state() {
  ci clusters --format json
  if [[ -d "$ROOT/clusters" ]]; then find "$ROOT/clusters" -printf '%p %s\n' | sort; fi
}

# dry ARGS...: cimg deploy --dry-run ARGS (the known_hosts added), JSON to
# $T/plan.json, text to $T/plan.txt; both must succeed.
dry() {
  "$CIMG" --root "$ROOT" deploy --dry-run "$@" "${KH[@]}" --format json >"$T/plan.json" 2>"$T/plan.err" ||
    fail "deploy --dry-run $* (json): $(tail -5 "$T/plan.err")"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/plan.json" ||
    fail "deploy --dry-run --format json printed no JSON: $(head -c 300 "$T/plan.json")"
  "$CIMG" --root "$ROOT" deploy --dry-run "$@" "${KH[@]}" >"$T/plan.txt" 2>"$T/plan.err" ||
    fail "deploy --dry-run $*: $(tail -5 "$T/plan.err")"
}
pj() { json_get "$1" <"$T/plan.json"; }

# ------------------------------------------------- 1. before the first deploy
log "1. a dry run before the first deploy"
# one login each first: sshd's copy-up of its login records (left out of
# nodes_state) then exists before the first listing
for i in 1 2 3; do node_ssh "$i" root true || fail "ssh to node $i"; done
nodes_state >"$T/nodes.before"
clusters_state >"$T/clusters.before"
dry -f "$T/Clusterfile"
# Every entry of each host's rootfs is to be sent; registry/ to the master only.
# (a *.tmpl is kept beside what it renders to)
(cd "$C" && find . -mindepth 1 -printf '%P\n' | sed -n 'p; s/\.tmpl$//p' | sort) >"$T/all.paths"
grep -v '^registry' "$T/all.paths" >"$T/node.paths"
for i in 0 1 2; do
  pj "'\n'.join(sorted(f['Path'] for f in j['Hosts'][$i]['Rootfs']['Send']))" >"$T/sent.$i"
  want=$T/node.paths
  [[ $i -ne 0 ]] || want=$T/all.paths
  diff "$want" "$T/sent.$i" >"$T/diff.out" || fail "host $i: the plan does not send every entry: $(head -5 "$T/diff.out")"
  assert_eq "True 0 0 False" "$(pj "(lambda r: ' '.join(map(str, [r['FilesToSend'] == r['FilesTotal'], r['FilesUnchanged'], r['FilesToRemove'], r['HasRecord']])))(j['Hosts'][$i]['Rootfs'])")" "host $i: all new"
  assert_eq "0" "$(pj "sum(s['State'] == 'done' for s in j['Hosts'][$i]['Steps'])")" "host $i: steps done"
done
assert_eq "True False False" "$(pj "' '.join(str(h['Rootfs']['Registry']) for h in j['Hosts'])")" "registry/ to the master only"
assert_eq "plugin mark (pre-init-host)|scripts/init.sh|registry trust: the CA for the runtime; the registry's certificate and key|built-in registry|/etc/hosts: sea.hub is $M0|kubeadm init|kubeadm token create|CMD echo \"cmd \$CIMG_HOST_IP\" >> /var/lib/dry-test/cmds.log" \
  "$(pj "'|'.join(s['What'] for s in j['Hosts'][0]['Steps'])")" "the master's steps, in order"
assert_eq "plugin mark (pre-init-host):pending|scripts/init.sh:pending|registry trust: the CA for the runtime:runs|/etc/hosts: sea.hub is $M0:pending|kubeadm join:pending" \
  "$(pj "'|'.join(s['What'] + ':' + s['State'] for s in j['Hosts'][1]['Steps'])")" "a node's steps"
assert_eq "runs runs" "$(pj "j['Hosts'][0]['Steps'][2]['State'] + ' ' + j['Hosts'][0]['Steps'][3]['State']")" "the registry's TLS files and start (never recorded)"
assert_eq "x86_64 True" "$(pj "j['Hosts'][2]['Arch'] + ' ' + str(j['Hosts'][2]['PlatformOK'])")" "arch of a node"
grep -F "    + f     17000000 data/big" "$T/plan.txt" >/dev/null || fail "text plan: no line for data/big: $(head -20 "$T/plan.txt")"
grep -F "host $N2 (node, x86_64, runs linux/amd64)" "$T/plan.txt" >/dev/null || fail "text plan: no head for $N2"
grep -F "    pending  kubeadm join" "$T/plan.txt" >/dev/null || fail "text plan: no pending kubeadm join"
grep -F "nothing was changed" "$T/plan.txt" >/dev/null || fail "text plan: no summary line"
# --format TEMPLATE: one line a host, the values of the JSON plan.
"$CIMG" --root "$ROOT" deploy --dry-run -f "$T/Clusterfile" "${KH[@]}" \
  --format '{{.IP}} {{.Role}} {{.FilesToSend}} {{.SendBytes}} {{.StepsPending}} {{len .Steps}} {{.Cluster}}' \
  >"$T/plan.tmpl" 2>"$T/plan.err" || fail "deploy --dry-run --format TEMPLATE: $(tail -5 "$T/plan.err")"
assert_eq "$(pj "'\n'.join('%s %s %d %d %d %d dc' % (h['IP'], h['Role'], h['Rootfs']['FilesToSend'], h['Rootfs']['SendBytes'], sum(s['State'] == 'pending' for s in h['Steps']), len(h['Steps'])) for h in j['Hosts'])")" \
  "$(cat "$T/plan.tmpl")" "dry run --format TEMPLATE"
"$CIMG" --root "$ROOT" deploy --dry-run -f "$T/Clusterfile" "${KH[@]}" --format 'table {{.IP}} {{.StepsPending}}' \
  >"$T/plan.tmpl" 2>"$T/plan.err" || fail "deploy --dry-run --format 'table ...': $(tail -5 "$T/plan.err")"
# (columns as podman aligns them: the widest cell plus two, at least 12)
assert_eq "$(pj "(lambda w: '|'.join(['IP'.ljust(w) + 'STEPS PENDING'] + [h['IP'].ljust(w) + str(sum(s['State'] == 'pending' for s in h['Steps'])) for h in j['Hosts']]))(max(12, 2 + max(len(h['IP']) for h in j['Hosts'])))")" \
  "$(tr '\n' '|' <"$T/plan.tmpl" | sed 's/|$//')" "dry run --format 'table TEMPLATE'"
# An unknown field: refused before any host is reached, nothing printed.
rc=0
"$CIMG" --root "$ROOT" deploy --dry-run -f "$T/Clusterfile" "${KH[@]}" --format '{{.IP}} {{.Bytes}}' \
  >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[[ $rc -eq 1 ]] || fail "dry run with an unknown --format field: exit $rc"
assert_eq 'cimg: --format: format:1:11: executing "format" at <.Bytes>: map has no entry for key "Bytes"' \
  "$(cat "$T/bad.err")" "unknown --format field"
[[ ! -s "$T/bad.out" ]] || fail "a refused --format printed: $(head -3 "$T/bad.out")"
# The IMAGE --masters form: the same plan.
dry test/dry:1 -n dc --masters "$M0" --nodes "$N1,$N2" -i "$NODE_KEY"
assert_eq "True True True" "$(pj "' '.join(str(h['Rootfs']['FilesToSend'] == h['Rootfs']['FilesTotal'] > 0) for h in j['Hosts'])")" "IMAGE form: everything new"
nodes_state >"$T/nodes.after"
clusters_state >"$T/clusters.after"
diff "$T/nodes.before" "$T/nodes.after" >/dev/null || fail "a dry run changed a node: $(diff "$T/nodes.before" "$T/nodes.after")"
diff "$T/clusters.before" "$T/clusters.after" >/dev/null || fail "a dry run changed the saved clusters: $(cat "$T/clusters.after")"
[[ ! -e "$ROOT/clusters/dc" ]] || fail "a dry run saved the cluster"
log "1. all new on 3 hosts, $(pj "j['Totals']['FilesToSend']") entries; nodes and clusters unchanged"

# ------------------------------------------------------------ 2. fan-out trees
log "2. the relay trees"
dry -f "$T/Clusterfile" --fanout 2
assert_eq "$M0 $N1 $N2" "$(pj "' '.join(sorted(t['Host'] for s in j['Streams'] for t in s['Tree']))")" "every host once in the trees"
assert_eq "True 1 here>$N1 $N1>$N2" \
  "$(pj "(lambda s: ' '.join([str(s['Relayed']), str(s['Copies'])] + [t['From'] + '>' + t['Host'] for t in s['Tree']]))([s for s in j['Streams'] if len(s['Hosts']) == 2][0])")" \
  "the nodes' stream, relayed"
grep -Fx "    $N1 -> $N2" "$T/plan.txt" >/dev/null || fail "text plan: no tree edge $N1 -> $N2: $(grep -A3 streams "$T/plan.txt")"
dry -f "$T/Clusterfile" --fanout 0
assert_eq "False 2" "$(pj "(lambda s: str(s['Relayed']) + ' ' + str(s['Copies']))([s for s in j['Streams'] if len(s['Hosts']) == 2][0])")" "--fanout 0: each from here"

# ------------------------------------------------------ 3. a wrong host key
log "3. a wrong host key"
rc=0
"$CIMG" --root "$ROOT" deploy --dry-run -f "$T/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS_WRONG" \
  >"$T/wrong.out" 2>"$T/wrong.err" || rc=$?
[[ $rc -eq 1 ]] || fail "dry run with a wrong host key: exit $rc"
grep -E "^cimg: .*$M0.*HOST KEY MISMATCH" "$T/wrong.err" >/dev/null || fail "no host key error: $(cat "$T/wrong.err")"
[[ ! -s "$T/wrong.out" ]] || fail "a failed dry run printed a plan"

# ------------------------------------------------------ 4. after a deploy
log "4. after a real deploy"
nodes_state >"$T/nodes.before"
ci deploy -f "$T/Clusterfile" "${KH[@]}" >"$T/deploy1.out" 2>"$T/deploy1.err" || fail "deploy: $(tail -20 "$T/deploy1.err")"
# (the listing sees a deploy's changes: each node's line differs)
nodes_state >"$T/nodes.after"
assert_eq "0" "$(sort "$T/nodes.before" "$T/nodes.after" | uniq -d | wc -l)" "nodes unchanged by a real deploy"
# A deploy whose --format names a field the report lacks changes nothing.
clusters_state >"$T/clusters.before"
rc=0
ci deploy -f "$T/Clusterfile" "${KH[@]}" --format '{{.IP}} {{.Host}}' >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[[ $rc -eq 1 ]] || fail "deploy with an unknown --format field: exit $rc"
grep -F 'cimg: --format: format:1:11: executing "format" at <.Host>: map has no entry for key "Host"' "$T/bad.err" >/dev/null ||
  fail "deploy with an unknown --format field: $(cat "$T/bad.err")"
[[ ! -s "$T/bad.out" ]] || fail "a refused deploy printed: $(head -3 "$T/bad.out")"
nodes_state >"$T/nodes.refused"
clusters_state >"$T/clusters.after"
diff "$T/nodes.after" "$T/nodes.refused" >/dev/null || fail "a deploy refused for its --format changed a node"
diff "$T/clusters.before" "$T/clusters.after" >/dev/null || fail "a deploy refused for its --format changed the saved clusters"
t0=$(date +%s%N)
dry -f "$T/Clusterfile"
t1=$(date +%s%N)
ci deploy -f "$T/Clusterfile" "${KH[@]}" --format '{{.IP}} {{.FilesSent}} {{.FilesRemoved}} {{.Cluster}}' \
  >"$T/deploy2.out" 2>"$T/deploy2.err" || fail "re-deploy: $(tail -20 "$T/deploy2.err")"
assert_eq "$M0 0 0 dc|$N1 0 0 dc|$N2 0 0 dc" "$(tr '\n' '|' <"$T/deploy2.out" | sed 's/|$//')" "a no-op deploy's --format TEMPLATE"
log "4. a dry run of the deployed cluster: $(((t1 - t0) / 2000000)) ms (of two: json, text); a no-op deploy: $((($(date +%s%N) - t1) / 1000000)) ms"
assert_eq "0 0 0 0" "$(pj "' '.join(str(j['Totals'][k]) for k in ['FilesToSend', 'FilesToRemove', 'StepsPending', 'BytesToHosts'])")" "nothing to do after a deploy"
assert_eq "4" "$(pj "j['Totals']['StepsNotRecorded']")" "steps not recorded (the registry's TLS files on 3 hosts, its start)"
assert_eq "True True True" "$(pj "' '.join(str(h['Rootfs']['HasRecord']) for h in j['Hosts'])")" "records read"
assert_eq "[]" "$(pj "j['Streams']")" "no stream"
grep -F "0 entries to send (0 B of file data to hosts, 0 B of it from here), 0 to remove, 0 steps pending" "$T/plan.txt" >/dev/null ||
  fail "text plan after a deploy: $(tail -2 "$T/plan.txt")"

# ------------------------------------------------------ 5. one file changed
log "5. one file of the image changed"
echo "v22" >"$C/data/version"
ci build -t test/dry:2 "$C" >"$T/build2.out" 2>&1 || fail "build 2: $(tail -5 "$T/build2.out")"
clusterfile dc test/dry:2 >"$T/Clusterfile2"
nodes_state >"$T/nodes.before"
clusters_state >"$T/clusters.before"
dry -f "$T/Clusterfile2"
for i in 0 1 2; do
  assert_eq "data/version f 4 4 0" \
    "$(pj "(lambda r: ' '.join([f['Path'] + ' ' + f['Type'] + ' ' + str(f['Bytes']) + ' ' + str(f['SendBytes']) for f in r['Send']] + [str(r['FilesToRemove'])]))(j['Hosts'][$i]['Rootfs'])")" \
    "host $i: the one changed file"
done
ID1=$(image_id test/dry:1)
assert_eq "plugin mark (pre-init-host):pending:$ID1|scripts/init.sh:pending:$ID1|registry trust: the CA for the runtime; the registry's certificate and key:runs:|built-in registry:runs:|/etc/hosts: sea.hub is $M0:done:|kubeadm init:done:|CMD echo \"cmd \$CIMG_HOST_IP\" >> /var/lib/dry-test/cmds.log:pending:$ID1/" \
  "$(pj "'|'.join(s['What'] + ':' + s['State'] + ':' + s.get('Recorded', '')[:len('$ID1') + 1] for s in j['Hosts'][0]['Steps'])")" \
  "the master's steps after the image changed"
assert_eq "plugin mark (pre-init-host):pending|scripts/init.sh:pending|registry trust: the CA for the runtime:runs|/etc/hosts: sea.hub is $M0:done|kubeadm join:done" \
  "$(pj "'|'.join(s['What'] + ':' + s['State'] for s in j['Hosts'][2]['Steps'])")" "a node's steps after the image changed"
grep -F "    + f            4 data/version" "$T/plan.txt" >/dev/null || fail "text plan: no line for data/version: $(head -20 "$T/plan.txt")"
nodes_state >"$T/nodes.after"
clusters_state >"$T/clusters.after"
diff "$T/nodes.before" "$T/nodes.after" >/dev/null || fail "a dry run changed a deployed node: $(diff "$T/nodes.before" "$T/nodes.after")"
diff "$T/clusters.before" "$T/clusters.after" >/dev/null || fail "a dry run changed the saved clusters"
grep -F "test/dry:1" "$ROOT/clusters/dc/Clusterfile" >/dev/null || fail "the saved Clusterfile changed image"
log "5. one file to each host, 3 per-image steps pending on master0; nodes unchanged"

# ------------------------------------------- 6. a big file changed in part
log "6. 256 KiB of the 17 MB file changed"
dd if=/dev/urandom of="$C/data/big" bs=262144 seek=32 count=1 conv=notrunc status=none
ci build -t test/dry:3 "$C" >"$T/build3.out" 2>&1 || fail "build 3: $(tail -5 "$T/build3.out")"
clusterfile dc test/dry:3 >"$T/Clusterfile3"
dry -f "$T/Clusterfile3"
for i in 0 1 2; do
  got=$(pj "' '.join(f['Path'] + ':' + str(f['Patched']) + ':' + str(f['Bytes']) + (':' + str(262144 <= f['SendBytes'] <= f['Bytes'] // 2) if f['Patched'] else '') for f in j['Hosts'][$i]['Rootfs']['Send'])")
  assert_eq "data/big:True:17000000:True data/version:False:4" "$got" "host $i: data/big as chunks"
done
grep -E '^    ~ f     17000000 data/big \(chunks only: [0-9]+ B\)$' "$T/plan.txt" >/dev/null ||
  fail "text plan: no patched line for data/big: $(grep data/big "$T/plan.txt")"
log "6. data/big: $(pj "j['Hosts'][1]['Rootfs']['Send'][0]['SendBytes']") bytes of chunks to each host"

# ------------------------------------------------ 7. scale-up --dry-run
log "7. scale-up --dry-run"
ci scale-down dc --nodes "$N2" "${KH[@]}" >"$T/down.out" 2>"$T/down.err" || fail "scale-down: $(tail -5 "$T/down.err")"
cp "$ROOT/clusters/dc/Clusterfile" "$T/saved.before"
"$CIMG" --root "$ROOT" scale-up dc --nodes "$N2" -i "$NODE_KEY" --dry-run --format json "${KH[@]}" \
  >"$T/plan.json" 2>"$T/plan.err" || fail "scale-up --dry-run: $(tail -5 "$T/plan.err")"
assert_eq "$M0:0:0 $N1:0:0 $N2:$(pj "j['Hosts'][2]['Rootfs']['FilesTotal']"):4" \
  "$(pj "' '.join(h['IP'] + ':' + str(h['Rootfs']['FilesToSend']) + ':' + str(sum(s['State'] == 'pending' for s in h['Steps'])) for h in j['Hosts'])")" \
  "scale-up plan: only the new host gets files (and its init.sh, plugin, /etc/hosts, join)"
assert_eq "kubeadm join:pending" "$(pj "' '.join(s['What'] + ':' + s['State'] for s in j['Hosts'][2]['Steps'] if s['What'].startswith('kubeadm'))")" "the new host joins"
"$CIMG" --root "$ROOT" scale-up dc --nodes "$N2" -i "$NODE_KEY" --dry-run --format '{{.IP}}:{{.FilesToSend}}:{{.StepsPending}}' \
  "${KH[@]}" >"$T/plan.tmpl" 2>"$T/plan.err" || fail "scale-up --dry-run --format TEMPLATE: $(tail -5 "$T/plan.err")"
assert_eq "$M0:0:0 $N1:0:0 $N2:$(pj "j['Hosts'][2]['Rootfs']['FilesTotal']"):4" "$(tr '\n' ' ' <"$T/plan.tmpl" | sed 's/ $//')" \
  "scale-up --dry-run --format TEMPLATE"
cmp -s "$T/saved.before" "$ROOT/clusters/dc/Clusterfile" || fail "scale-up --dry-run changed the saved Clusterfile"

# ------------------------------------------- 8. a host of another platform
log "8. a host whose uname -m is not the image's architecture"
# A stand-in uname on node 3 only (its /usr/local is its own): an arm64 host.
node_exec 3 bash -c 'printf "#!/bin/sh\necho aarch64\n" >/usr/local/bin/uname && chmod +x /usr/local/bin/uname'
rc=0
"$CIMG" --root "$ROOT" deploy --dry-run -f "$T/Clusterfile" --format json "${KH[@]}" >"$T/plan.json" 2>"$T/plan.err" || rc=$?
[[ $rc -eq 1 ]] || fail "dry run with an aarch64 host: exit $rc, want 1 (after the plan)"
assert_eq "True True False aarch64" "$(pj "' '.join([str(h['PlatformOK']) for h in j['Hosts']] + [j['Hosts'][2]['Arch']])")" "platform fit per host"
want="cimg: host $N2 is aarch64 (linux/arm64/v8), but image test/dry:1 is for linux/amd64; deploy an image of that platform to it (cimg pull --platform linux/arm64/v8)"
assert_eq "$want" "$(tail -1 "$T/plan.err")" "the deploy's refusal, after the plan"
assert_eq "${want#cimg: }" "$(pj "j['Refusal']")" "the refusal in the plan"
node_exec 3 rm -f /usr/local/bin/uname
