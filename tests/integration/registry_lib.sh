# shellcheck shell=bash
# Registry servers for the integration tests: docker-registry (distribution
# 2.8, Debian package docker-registry) plain, TLS + Basic auth, TLS + token
# auth (tests/registry/token_server.py), and the throttling proxy
# (tests/registry/throttle_proxy.py). Sourced after lib.sh and it_setup (it
# needs $T, IT_BG_PIDS, bg, log, fail).
#
# Every reg_start_* must run in the test's own shell, never in $(...) or a
# pipeline: lib.sh's cleanup kills only its direct children, by pid.
# Everything listens on 127.0.0.1 only, on a port reg_free_port picked (a start
# that loses the port to someone else is retried on a new one).
#
#   reg_free_port                          prints a free TCP port on 127.0.0.1
#   reg_make_ca DIR                        DIR/ca.crt ca.key server.crt server.key
#   reg_start_plain NAME                   REG_<NAME>_ADDR
#   reg_start_tls_basic NAME USER PASS     REG_<NAME>_ADDR _CA _CERTDIR
#   reg_start_token NAME USER PASS         REG_<NAME>_ADDR _CA _CERTDIR _TOKEN_LOG
#                                          _REALM _SERVICE _ISSUER _TOKEN_PID
#   reg_start_proxy NAME UPSTREAM [throttle_proxy options...]
#                                          REG_<NAME>_ADDR _STATS _CTL _LOG
#   reg_proxy_ctl CTLFILE COMMAND...       write proxy commands, wait until applied
#   reg_proxy_stat STATSFILE KEY           one counter of the proxy's stats JSON
# Each start also exports REG_<NAME>_PID and REG_<NAME>_LOG (server log) and
# REG_<NAME>_DIR (storage, for the registries).
# NAME: letters, digits, _ ; REG_<NAME>_... uses NAME upper-cased.
#
# Knobs (environment, read at start):
#   REG_TOKEN_EXPIRES=300   token lifetime (s) given by reg_start_token's server
#   REG_TOKEN_STRICT=1      1: the registry refuses a token exactly when it
#                           expires (the token server back-dates exp by the 60 s
#                           leeway distribution adds); 0: accepted until exp+60 s
#   REG_TOKEN_HEADER=x5c    JWT key naming: x5c (cert chain) or kid (libtrust id)
#   REG_HTTP2=1             0: the TLS registries speak HTTP/1.1 only (Go's
#                           server offers h2 through ALPN by default)
#   REG_PYTHON=/usr/bin/python3

REG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REG_TOOLS_DIR=$(cd "$REG_LIB_DIR/../registry" && pwd)
REG_PYTHON=${REG_PYTHON:-/usr/bin/python3}
REG_BIN=${REG_BIN:-/usr/bin/docker-registry}

# reg__check_env: sourced after lib.sh, inside a test that has $T.
reg__check_env() {
  [[ -n "${T:-}" && -d "$T" ]] || fail "registry_lib.sh: \$T is not set (call it_setup first)"
  declare -p IT_BG_PIDS >/dev/null 2>&1 || fail "registry_lib.sh: source lib.sh first (IT_BG_PIDS)"
  local t
  for t in "$REG_BIN" "$REG_PYTHON" openssl curl; do
    command -v "$t" >/dev/null 2>&1 ||
      fail "registry_lib.sh: '$t' is missing (apt-get install docker-registry apache2-utils openssl curl python3)"
  done
}

reg__name() { # NAME -> upper-cased, validated
  [[ "$1" =~ ^[A-Za-z][A-Za-z0-9_]*$ ]] || fail "registry_lib.sh: bad server name '$1' (letters, digits, _)"
  printf '%s' "${1^^}"
}

reg__export() { # VAR VALUE
  printf -v "$1" '%s' "$2"
  export "${1?}"
}

# reg_free_port: a TCP port that was free on 127.0.0.1 a moment ago.
reg_free_port() {
  "$REG_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# reg__wait_http PID LOG URL WHAT [curl options...]: wait (20 s) until URL
# answers any HTTP status; fail with the log tail if PID dies or time runs out.
# Returns 2 (without failing) when the log says the address was taken.
reg__wait_http() {
  local pid=$1 logf=$2 url=$3 what=$4 code i
  shift 4
  for ((i = 0; i < 200; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) || true
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -qi 'address already in use' "$logf" 2>/dev/null; then return 2; fi
      fail "$what exited before answering $url; its log ($logf):
$(tail -n 30 "$logf" 2>/dev/null)"
    fi
    sleep 0.1
  done
  fail "$what did not answer $url within 20 s; its log ($logf):
$(tail -n 30 "$logf" 2>/dev/null)"
}

# reg__kill PID: stop one server of ours (a failed start), by pid.
reg__kill() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# reg_make_ca DIR: a CA (ca.crt, ca.key) and a server certificate for
# IP:127.0.0.1 and DNS:localhost signed by it (server.crt, server.key), RSA
# 2048, valid 2 days (from 1 hour ago). Reuses DIR if it already has them.
reg_make_ca() {
  local d=$1
  [[ -s "$d/ca.crt" && -s "$d/server.crt" && -s "$d/server.key" ]] && return 0
  mkdir -p "$d"
  cat >"$d/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
  local err=$d/openssl.err
  {
    openssl req -x509 -new -newkey rsa:2048 -nodes -config "$d/openssl.cnf" -extensions ca_ext \
      -subj "/O=cimg tests/CN=cimg test CA $(basename "$d")" -days 2 \
      -keyout "$d/ca.key" -out "$d/ca.crt" &&
      openssl req -new -newkey rsa:2048 -nodes -config "$d/openssl.cnf" \
        -subj "/O=cimg tests/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" &&
      openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 2 \
        -extfile "$d/openssl.cnf" -extensions server_ext -out "$d/server.crt"
  } >"$err" 2>&1 || fail "reg_make_ca $d: openssl failed:
$(tail -n 20 "$err")"
  chmod 600 "$d/ca.key" "$d/server.key"
  openssl verify -CAfile "$d/ca.crt" "$d/server.crt" >/dev/null 2>&1 ||
    fail "reg_make_ca $d: server.crt does not verify against ca.crt"
  rm -f "$d/server.csr" "$err"
}

# reg__config FILE ADDR STORAGE [TLSDIR] [AUTH-YAML]: a docker-registry config.
reg__config() {
  local f=$1 addr=$2 dir=$3 tlsdir=${4:-} auth=${5:-}
  {
    cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: false
http:
  addr: $addr
  secret: cimg-test-$RANDOM$RANDOM$RANDOM
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [[ -n "$tlsdir" ]]; then
      cat <<EOF
  tls:
    certificate: $tlsdir/server.crt
    key: $tlsdir/server.key
EOF
    fi
    if [[ "${REG_HTTP2:-1}" == 0 ]]; then
      printf '  http2:\n    disabled: true\n'
    fi
    [[ -z "$auth" ]] || printf '%s\n' "$auth"
  } >"$f"
}

# reg__start_registry NAME UPPER [TLSDIR] [AUTH-YAML]: start docker-registry,
# wait for GET /v2/, set REG_<UPPER>_ADDR/_PID/_LOG/_DIR.
reg__start_registry() {
  local name=$1 up=$2 tlsdir=${3:-} auth=${4:-}
  local dir=$T/reg-$name logf=$T/reg-$name.log cfg=$T/reg-$name.yml
  local port try rc scheme=http curlopt=() unset=() v
  for v in ${!REGISTRY_@}; do unset+=(-u "$v"); done
  [[ ! -e "$dir" ]] || fail "a registry named '$name' was already started in this test"
  mkdir -p "$dir"
  if [[ -n "$tlsdir" ]]; then
    scheme=https
    curlopt=(--cacert "$tlsdir/ca.crt")
  fi
  for try in 1 2 3; do
    port=$(reg_free_port)
    reg__config "$cfg" "127.0.0.1:$port" "$dir" "$tlsdir" "$auth"
    # docker-registry reads every REGISTRY_* variable as a config override
    # (REGISTRY_AUTH_FILE, meant for skopeo, becomes auth.file and breaks the
    # parse): start it without any of them
    env "${unset[@]}" "$REG_BIN" serve "$cfg" >"$logf" 2>&1 &
    BG_PID=$!
    IT_BG_PIDS+=("$BG_PID")
    rc=0
    reg__wait_http "$BG_PID" "$logf" "$scheme://127.0.0.1:$port/v2/" "docker-registry '$name'" \
      "${curlopt[@]}" || rc=$?
    [[ $rc -eq 0 ]] && break
    reg__kill "$BG_PID"
    [[ $try -lt 3 ]] || fail "docker-registry '$name': no free port after 3 tries"
  done
  reg__export "REG_${up}_ADDR" "127.0.0.1:$port"
  reg__export "REG_${up}_PID" "$BG_PID"
  reg__export "REG_${up}_LOG" "$logf"
  reg__export "REG_${up}_DIR" "$dir"
  log "registry $name ($scheme${auth:+, auth}) on 127.0.0.1:$port"
}

# reg_start_plain NAME: plain HTTP, no auth, deletes enabled.
reg_start_plain() {
  reg__check_env
  local up
  up=$(reg__name "$1")
  reg__start_registry "$1" "$up"
}

reg__certdir() { # NAME UPPER CADIR
  local cd=$T/certs-$1
  mkdir -p "$cd"
  cp "$3/ca.crt" "$cd/ca.crt"
  reg__export "REG_${2}_CA" "$3/ca.crt"
  reg__export "REG_${2}_CERTDIR" "$cd"
}

# reg_start_tls_basic NAME USER PASS: HTTPS (a CA of its own, $T/ca-NAME)
# and htpasswd (bcrypt) Basic auth.
reg_start_tls_basic() {
  reg__check_env
  local name=$1 user=$2 pass=$3 up ca
  up=$(reg__name "$name")
  command -v htpasswd >/dev/null 2>&1 || fail "htpasswd is missing (apt-get install apache2-utils)"
  ca=$T/ca-$name
  reg_make_ca "$ca"
  htpasswd -B -b -c "$T/htpasswd-$name" "$user" "$pass" 2>/dev/null ||
    fail "htpasswd could not write $T/htpasswd-$name"
  reg__start_registry "$name" "$up" "$ca" "auth:
  htpasswd:
    realm: cimg-test-$name
    path: $T/htpasswd-$name"
  reg__certdir "$name" "$up" "$ca"
}

# reg_start_token NAME USER PASS: HTTPS registry with token auth, and
# token_server.py (HTTPS, same CA) on another port: USER/PASS gets pull,push
# on any repository, anonymous only pull, a wrong password 401.
reg_start_token() {
  reg__check_env
  local name=$1 user=$2 pass=$3 up ca tport tlog tpid try rc
  up=$(reg__name "$name")
  ca=$T/ca-$name
  reg_make_ca "$ca"
  local service=cimg-test-registry-$name issuer=cimg-test-token-issuer-$name
  local expires=${REG_TOKEN_EXPIRES:-300} strict=() hdr=${REG_TOKEN_HEADER:-x5c}
  [[ "${REG_TOKEN_STRICT:-1}" == 0 ]] || strict=(--strict-expiry)
  local signcert=$ca/server.crt signkey=$ca/server.key
  if [[ "$hdr" == kid ]]; then # kid: the key must be one of rootcertbundle's (the CA's)
    signcert=$ca/ca.crt
    signkey=$ca/ca.key
  fi
  tlog=$T/token-$name.log
  : >"$tlog"
  printf '%s:%s\n' "$user" "$pass" >"$T/token-users-$name"
  chmod 600 "$T/token-users-$name"
  for try in 1 2 3; do
    tport=$(reg_free_port)
    "$REG_PYTHON" "$REG_TOOLS_DIR/token_server.py" --port "$tport" \
      --cert "$signcert" --key "$signkey" --tls-cert "$ca/server.crt" --tls-key "$ca/server.key" \
      --issuer "$issuer" --service "$service" --users-file "$T/token-users-$name" \
      --log "$tlog" --expires "$expires" --header "$hdr" "${strict[@]}" \
      >"$T/token-$name.stderr" 2>&1 &
    tpid=$!
    IT_BG_PIDS+=("$tpid")
    rc=0
    reg__wait_http "$tpid" "$T/token-$name.stderr" "https://127.0.0.1:$tport/healthz" \
      "token server '$name'" --cacert "$ca/ca.crt" || rc=$?
    [[ $rc -eq 0 ]] && break
    reg__kill "$tpid"
    [[ $try -lt 3 ]] || fail "token server '$name': no free port after 3 tries"
  done
  reg__start_registry "$name" "$up" "$ca" "auth:
  token:
    realm: https://127.0.0.1:$tport/token
    service: $service
    issuer: $issuer
    rootcertbundle: $ca/ca.crt"
  reg__certdir "$name" "$up" "$ca"
  reg__export "REG_${up}_TOKEN_LOG" "$tlog"
  reg__export "REG_${up}_TOKEN_PID" "$tpid"
  reg__export "REG_${up}_REALM" "https://127.0.0.1:$tport/token"
  reg__export "REG_${up}_SERVICE" "$service"
  reg__export "REG_${up}_ISSUER" "$issuer"
  log "token server for $name on 127.0.0.1:$tport (expires ${expires}s, $hdr${strict:+, strict})"
}

# reg_start_proxy NAME UPSTREAM [throttle_proxy.py options]: the throttling
# proxy on a free port in front of UPSTREAM (host:port, plain HTTP), with
# --stats/--control/--log files under $T. Exports REG_<NAME>_ADDR, _STATS,
# _CTL, _LOG, _PID.
reg_start_proxy() {
  reg__check_env
  local name=$1 upstream=$2 up port try rc pid
  shift 2
  up=$(reg__name "$name")
  local stats=$T/proxy-$name.stats.json ctl=$T/proxy-$name.ctl logf=$T/proxy-$name.log
  for try in 1 2 3; do
    port=$(reg_free_port)
    "$REG_PYTHON" "$REG_TOOLS_DIR/throttle_proxy.py" --listen "$port" --upstream "$upstream" \
      --stats "$stats" --control "$ctl" --log "$logf" "$@" >"$T/proxy-$name.stderr" 2>&1 &
    pid=$!
    IT_BG_PIDS+=("$pid")
    rc=0
    reg__wait_http "$pid" "$T/proxy-$name.stderr" "http://127.0.0.1:$port/.throttle-proxy/health" \
      "throttle proxy '$name'" || rc=$?
    [[ $rc -eq 0 ]] && break
    reg__kill "$pid"
    [[ $try -lt 3 ]] || fail "throttle proxy '$name': no free port after 3 tries"
  done
  reg__export "REG_${up}_ADDR" "127.0.0.1:$port"
  reg__export "REG_${up}_STATS" "$stats"
  reg__export "REG_${up}_CTL" "$ctl"
  reg__export "REG_${up}_LOG" "$logf"
  reg__export "REG_${up}_PID" "$pid"
  log "throttle proxy $name on 127.0.0.1:$port -> $upstream ${*}"
}

# reg_proxy_ctl CTLFILE COMMAND...: each argument one control line (e.g.
# "cut 1 /blobs/" "rate 50000"); written atomically, waits (5 s) until the
# proxy consumed the file.
reg_proxy_ctl() {
  local ctl=$1 i
  shift
  printf '%s\n' "$@" >"$ctl.tmp.$$"
  mv -f "$ctl.tmp.$$" "$ctl"
  for ((i = 0; i < 100; i++)); do
    [[ -e "$ctl" ]] || return 0
    sleep 0.05
  done
  fail "the throttle proxy did not take the control file $ctl within 5 s"
}

# reg_proxy_stat STATSFILE KEY: a number from the proxy's stats
# (requests, responses, body_bytes, range_requests, cuts, stalls, injected, ...).
reg_proxy_stat() {
  "$REG_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# reg_serve_dir DIR: a stock docker-registry serving DIR (a distribution
# storage tree, e.g. a cluster image's registry/) on a free 127.0.0.1 port;
# sets BUILTIN_ADDR and BUILTIN_PID (stopped by the test's cleanup).
reg_serve_dir() {
  local port _i
  port=$(reg_free_port)
  cat >"$T/builtin.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $1
http:
  addr: 127.0.0.1:$port
log:
  level: error
  accesslog:
    disabled: true
EOF
  bg sh -c 'exec env -u REGISTRY_AUTH_FILE docker-registry serve "$1" >"$2" 2>&1' _ "$T/builtin.yml" "$T/builtin.log"
  # shellcheck disable=SC2034  # for the calling test (to stop it)
  BUILTIN_PID=$BG_PID
  BUILTIN_ADDR=127.0.0.1:$port
  for _i in $(seq 300); do curl -fsS "http://$BUILTIN_ADDR/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "docker-registry serving $1 did not come up: $(tail -n 3 "$T/builtin.log")"
}
