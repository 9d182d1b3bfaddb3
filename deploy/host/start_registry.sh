#!/bin/bash
# Starts the built-in registry serving ROOTFS/registry on PORT (one it
# started before and still runs is kept when its config and certificate are
# the same, else restarted): ROOTFS/bin/registry, else the host's
# docker-registry (or registry). Its config, pid and log go to DIR. With
# ROOTFS/certs/DOMAIN.crt and .key it serves TLS; with
# ROOTFS/etc/registry_htpasswd it asks for those credentials (sealer's paths).
# Usage: start_registry.sh DIR ROOTFS PORT [DOMAIN]
D=$1 R=$2 PORT=$3 DOMAIN=${4:-}
BIN=
for b in "$R/bin/registry" "$(command -v docker-registry)" "$(command -v registry)"; do
  [ -n "$b" ] && [ -x "$b" ] && { BIN=$b; break; }
done
[ -n "$BIN" ] || {
  echo 'no registry to serve registry/: the image has neither scripts/init-registry.sh nor bin/registry, and docker-registry is not installed' >&2
  exit 3
}
TLS=
if [ -n "$DOMAIN" ] && [ -f "$R/certs/$DOMAIN.crt" ] && [ -f "$R/certs/$DOMAIN.key" ]; then
  TLS=", tls: {certificate: \"$R/certs/$DOMAIN.crt\", key: \"$R/certs/$DOMAIN.key\"}"
fi
cat >"$D/registry.yml.new" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $R/registry}, delete: {enabled: false}}
http: {addr: ":$PORT"$TLS}
YML
if [ -f "$R/etc/registry_htpasswd" ]; then
  printf 'auth: {htpasswd: {realm: cimg-registry, path: "%s"}}\n' "$R/etc/registry_htpasswd" >>"$D/registry.yml.new"
fi
# the certificate's digest: a new one (a master or a name added) restarts it
if [ -n "$TLS" ]; then
  printf '# certificate sha256 %s\n' "$(sha256sum <"$R/certs/$DOMAIN.crt" | cut -d' ' -f1)" >>"$D/registry.yml.new"
fi
running() { [ -f "$D/registry.pid" ] && kill -0 "$(cat "$D/registry.pid")" 2>/dev/null; }
if running && cmp -s "$D/registry.yml.new" "$D/registry.yml"; then
  rm -f "$D/registry.yml.new"
  echo 'registry already running'
  exit 0
fi
if running; then
  kill "$(cat "$D/registry.pid")"
  for _ in $(seq 50); do running || break; sleep 0.1; done
fi
mv -f "$D/registry.yml.new" "$D/registry.yml"
env -u REGISTRY_AUTH_FILE setsid "$BIN" serve "$D/registry.yml" </dev/null >"$D/registry.log" 2>&1 &
echo $! >"$D/registry.pid"
# Polls for the port (a hang guard of 10 s; it listens within milliseconds).
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "registry on :$PORT${TLS:+ (TLS)}"
    exit 0
  fi
  kill -0 "$(cat "$D/registry.pid")" 2>/dev/null || { cat "$D/registry.log" >&2; exit 4; }
  sleep 0.2
done
echo "registry did not start on :$PORT" >&2
cat "$D/registry.log" >&2
exit 5
