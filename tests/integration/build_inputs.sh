#!/usr/bin/env bash
# Kubefile inputs cimg build refuses by name, against a local HTTP server on
# 127.0.0.1 (python3):
#  1. a NUL byte in the Kubefile: "Kubefile:LINE: NUL byte";
#  2. COPY http://: a download over --max-download fails ("Kubefile:LINE:
#     ... larger than the download limit"), with a Content-Length and
#     without one (streamed); one that stalls fails at --download-timeout;
#     one within the limit lands byte for byte. A failed build tags nothing
#     and leaves no partial download, mount or work dir; fsck clean.
source "$(dirname "$0")/lib.sh"
it_setup cmp timeout
cfs_setup
source "$(dirname "$0")/build_lib.sh"
BUILD_FLAGS=(--ignored-image-list /dev/null)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

# build_error CTX REGEX ARGS...: the build fails with one line matching REGEX;
# nothing tagged, nothing left behind.
build_error() {
  local ctx=$1 re=$2 before
  shift 2
  before=$(names)
  expect_one_line_error "$re" timeout 300 "$CIMG" --root "$ROOT" -q build --ignored-image-list /dev/null \
    -t bad:1 "$@" "$ctx"
  log "refused: $ERR_LINE"
  [[ "$(names)" == "$before" ]] || fail "a failed build changed the names: $before -> $(names)"
  no_build_leftovers
  local part
  part=$(find "$ROOT/tmp" -name '*.bin' 2>/dev/null | sed -n 1,3p)
  [[ -z "$part" ]] || fail "partial download left: $part"
  assert_fsck_clean
}

# ============================================================ 1. NUL
log "1. a NUL byte in the Kubefile"
C=$T/ctx-nul
mkdir -p "$C"
printf 'FROM scratch\nRUN echo a\0; touch "$ROOTFS/x"\n' >"$C/Kubefile"
build_error "$C" '^cimg: Kubefile:2: NUL byte'

# ============================================================ 2. COPY http:// limits
log "2. COPY http:// limits"
WWW=$T/www
mkdir -p "$WWW"
head -c 3145728 /dev/urandom >"$WWW/big.bin"
PORT_FILE=$T/http.port
# /big.bin with a Content-Length, /stream.bin the same bytes without one (the
# connection's end ends it), /stall.bin: headers and 10 bytes, then nothing.
cat >"$T/server.py" <<'PY'
import http.server, os, socketserver, sys, threading
www, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    def log_message(self, *a): pass
    def do_GET(self):
        data = open(os.path.join(www, 'big.bin'), 'rb').read()
        self.send_response(200)
        if self.path == '/big.bin': self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.path == '/stall.bin':
            self.wfile.write(b'0123456789'); self.wfile.flush()
            threading.Event().wait()  # until the client gives up (the thread dies with the server)
        self.wfile.write(data)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(('127.0.0.1', 0), H)
with open(port_file + '.tmp', 'w') as f: f.write(str(s.server_address[1]))
os.rename(port_file + '.tmp', port_file)
s.serve_forever()
PY
bg python3 "$T/server.py" "$WWW" "$PORT_FILE"
for _ in $(seq 300); do [[ -s "$PORT_FILE" ]] && break; sleep 0.1; done
[[ -s "$PORT_FILE" ]] || fail "the HTTP server did not start in 30 s"
URL=http://127.0.0.1:$(cat "$PORT_FILE")

C=$T/ctx-http
mkdir -p "$C"
for f in big stream; do
  printf 'FROM scratch\nCOPY %s/%s.bin /%s.bin\n' "$URL" "$f" "$f" >"$C/Kubefile"
  build_error "$C" "^cimg: Kubefile:2: .*$f\.bin.*larger than the download limit of 1 MiB" --max-download 1M
done
printf 'FROM scratch\nCOPY %s/stall.bin /stall.bin\n' "$URL" >"$C/Kubefile"
build_error "$C" '^cimg: Kubefile:2: .*stall\.bin.*timed out' --download-timeout 3
log "within the limit"
printf 'FROM scratch\nCOPY %s/stream.bin /stream.bin\n' "$URL" >"$C/Kubefile"
bld ok:1 "$C" --max-download 4M
MNT=$T/mnt
mkdir -p "$MNT"
cfs_mount ok:1 "$MNT"
cmp "$WWW/big.bin" "$MNT/stream.bin" || fail "downloaded bytes differ"
cfs_umount "$MNT"
expect_one_line_error 'max-download' ci build -t bad:1 --max-download lots "$C"
no_build_leftovers
assert_fsck_clean
