#!/bin/bash
# Starts the built-in registry serving ROOTFS/registry on PORT, unless the
# one it started before still runs: ROOTFS/bin/registry, else the host's
# docker-registry (or registry). Its config, pid and log go to DIR. With
# ROOTFS/certs/DOMAIN.crt and .key it serves TLS; with
# ROOTFS/etc/registry_htpasswd it asks for those credentials (sealer's paths).
# Usage: start_registry.sh DIR ROOTFS PORT [DOMAIN]
D=$1 R=$2 PORT=$3 DOMAIN=${4:-}
if [ -f "$D/registry.pid" ] && kill -0 "$(cat "$D/registry.pid")" 2>/dev/null; then
  echo 'registry already running'
  exit 0
fi
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
cat >"$D/registry.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $R/registry}, delete: {enabled: false}}
http: {addr: ":$PORT"$TLS}
YML
if [ -f "$R/etc/registry_htpasswd" ]; then
  printf 'auth: {htpasswd: {realm: cimg-registry, path: "%s"}}\n' "$R/etc/registry_htpasswd" >>"$D/registry.yml"
fi
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
