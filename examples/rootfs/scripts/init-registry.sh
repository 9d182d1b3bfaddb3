#!/bin/bash
# The built-in registry on master0 (on every master with localRegistry ha:
# true), as sealer calls it: init-registry.sh
# PORT DIR DOMAIN. Serves DIR (the image's registry/) on PORT with
# bin/registry (Debian's docker-registry, copied in at build time); over
# TLS with certs/DOMAIN.crt and certs/DOMAIN.key, and asking for the
# credentials of etc/registry_htpasswd, when cimg deploy put them there
# (localRegistry insecure: false, username/password; sealer's paths). Its
# config, log and pid go to the cluster's directory (the rootfs' parent),
# where cimg delete stops it too. Restarted only when its config changed.
set -euo pipefail
PORT=${1:-5000} DATA=${2:-/var/lib/registry} DOMAIN=${3:-sea.hub}
cd "$(dirname "$0")/.."
ROOTFS=$PWD
RUN=$(dirname "$ROOTFS")
PIDFILE=$RUN/registry.pid
TLS='' AUTH=''
if [ -f "certs/$DOMAIN.crt" ] && [ -f "certs/$DOMAIN.key" ]; then
  TLS=", tls: {certificate: \"$ROOTFS/certs/$DOMAIN.crt\", key: \"$ROOTFS/certs/$DOMAIN.key\"}"
fi
# the certificate's digest in the config: a new certificate (a master or a
# subjectAltName added) restarts the registry
STAMP=''
if [ -n "$TLS" ]; then
  STAMP="# certificate sha256 $(sha256sum <"certs/$DOMAIN.crt" | cut -d' ' -f1)"
fi
if [ -f etc/registry_htpasswd ]; then
  AUTH="auth: {htpasswd: {realm: cimg-registry, path: \"$ROOTFS/etc/registry_htpasswd\"}}"
fi
cat >"$RUN/registry.yml.new" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: "$DATA"}, delete: {enabled: false}}
http: {addr: ":$PORT"$TLS}
$AUTH
$STAMP
YML
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
if running && cmp -s "$RUN/registry.yml.new" "$RUN/registry.yml"; then
  rm -f "$RUN/registry.yml.new"
  echo "registry: already running on :$PORT"
  exit 0
fi
if running; then
  kill "$(cat "$PIDFILE")"
  for _ in $(seq 50); do running || break; sleep 0.1; done
fi
mv -f "$RUN/registry.yml.new" "$RUN/registry.yml"
# a clean environment: docker-registry reads REGISTRY_* variables as config
env -i setsid "$ROOTFS/bin/registry" serve "$RUN/registry.yml" </dev/null >"$RUN/registry.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 50); do # a hang guard; it listens within milliseconds
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "registry: serving $DATA on :$PORT${TLS:+ over TLS}${AUTH:+ with htpasswd}"
    exit 0
  fi
  running || { cat "$RUN/registry.log" >&2; exit 1; }
  sleep 0.2
done
echo "registry: not listening on :$PORT" >&2
cat "$RUN/registry.log" >&2
exit 1
