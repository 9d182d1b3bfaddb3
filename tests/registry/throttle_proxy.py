#!/usr/bin/python3
"""Throttling, fault-injecting HTTP reverse proxy for registry tests
(standard library only).

    throttle_proxy.py --listen PORT --upstream 127.0.0.1:PORT [options]

Plain HTTP on 127.0.0.1:PORT in front of a plain-HTTP upstream. Every method
is forwarded with its headers and body (Content-Length or chunked request
bodies are streamed; `Expect: 100-continue` is answered here); the status,
reason and headers come back unchanged, except hop-by-hop headers and
Location headers that point at the upstream (http://UPSTREAM...), which are
rewritten to the address the client used (its Host header). The upstream
gets `Host: UPSTREAM`. One upstream connection per request. GET
/.throttle-proxy/health is answered by the proxy itself (not counted).

Response bodies are streamed in --chunk pieces (16 KiB) through one token
bucket shared by all connections (--rate bytes/s, 0 = unlimited; a burst of
one chunk). --rtt-ms adds a delay before each response.

Options
  --rate N              response-body bytes per second over all connections
  --rtt-ms N            delay before each response (after the upstream answered)
  --ignore-range        drop Range/If-Range, so the upstream answers 200 with
                        the full body (the request still counts as a Range request)
  --fail-after-bytes N  once N response-body bytes were sent in total, cut the
                        response that crosses N at exactly N, and the next
                        --fail-count - 1 responses with a body at half their body
                        (one shot; --fail-count default 1)
  --stats FILE          JSON rewritten (atomically) after every response:
                        requests, responses, body_bytes (response bodies sent),
                        request_body_bytes, range_requests, cuts, stalls,
                        injected, upstream_errors, by_method, by_status
  --log FILE            one line per request: time method path range status
                        sent/length [cut|stall|injected]
  --control FILE        runtime commands, below

Control file: write one command a line to FILE; the proxy polls it (every
20 ms and before each request), applies the lines in order and deletes the
file, so "the file is gone" means "applied". Write it atomically
(`printf 'cut 2\\n' >F.tmp && mv F.tmp F`; registry_lib.sh's reg_proxy_ctl
does that and waits). A file without a final newline is taken only once it
has not changed for 0.3 s (so an empty `touch F` is just consumed).
  COUNT is a number or `*` (every matching request until `ok`), default `*`;
  MATCH, optional, is a substring the request path must contain (e.g. /blobs/).
    cut [COUNT [MATCH]]    send the headers and half the body, then close the
                           connection (FIN) -- a short body
    stall [COUNT [MATCH]]  send the headers and half the body, then hold the
                           connection open until `ok` (or 120 s), then close
    hang [COUNT [MATCH]]   accept the request and never answer: send nothing
                           until `ok` (or 600 s), then close (stats: hangs)
    drip [COUNT [MATCH]]   send the headers and the body one byte per
                           drip-seconds (default 60) until `ok` (or 600 s),
                           then close (stats: drips)
    drip-seconds S         the interval of `drip`
    redirect [COUNT [MATCH]]  answer 307 with Location: /.throttle-proxy/storage/PATH
                           on this proxy, which then serves PATH from the upstream
                           (like a registry redirecting blobs to storage); stats
                           count redirects, storage_requests and storage_with_auth
                           (redirected requests that carried an Authorization header)
    auth USER:PASS | off   demand Basic auth (401 + WWW-Authenticate otherwise)
                           on every request but the redirected storage ones
    NNN [COUNT [MATCH]]    answer with status NNN (e.g. 503, 500, 429, 401)
                           without asking the upstream; JSON registry-style
                           error body, Retry-After: 1 for 429/503
    ok                     cancel every cut/stall/status rule and the
                           --fail-after-bytes threshold; release stalls
    rate N | rtt MS        change --rate / --rtt-ms
    ignore-range on|off    change --ignore-range
    fail-after-bytes N [K] arm the threshold again: N more bytes from now, K cuts
    reset-stats            zero the counters (and rewrite --stats)
Rules are checked in the order they were given; the first that matches a
request applies (a cut/stall rule only to responses with a body) and uses up
one of its COUNT.
"""

import argparse
import base64
import datetime
import http.client
import http.server
import json
import os
import socket
import sys
import threading
import time

HEALTH = "/.throttle-proxy/health"  # readiness probe, answered by the proxy itself
STORAGE = "/.throttle-proxy/storage"  # where `redirect` sends clients (like blob storage)
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}


class Bucket:
    """A shared token bucket as a reservation clock: every piece reserves
    n/rate seconds after the previous reservation; a burst of one chunk."""

    def __init__(self, rate, chunk):
        self.lock = threading.Lock()
        self.rate = rate
        self.chunk = chunk
        self.t = 0.0

    def set_rate(self, rate):
        with self.lock:
            self.rate = rate
            self.t = 0.0

    def take(self, n):
        with self.lock:
            if self.rate <= 0:
                return
            now = time.monotonic()
            start = max(self.t, now - self.chunk / self.rate)
            self.t = start + n / self.rate
            wait = self.t - now
        if wait > 0:
            time.sleep(wait)


class Rule:
    def __init__(self, kind, count, match):
        self.kind, self.count, self.match = kind, count, match  # count None = unlimited


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.bucket = Bucket(args.rate, args.chunk)
        self.rtt = args.rtt_ms / 1000.0
        self.ignore_range = args.ignore_range
        self.rules = []
        self.threshold = args.fail_after_bytes if args.fail_after_bytes > 0 else None
        self.fail_count = max(1, args.fail_count)
        self.stall_gen = 0  # bumped by `ok`: stalls end
        self.drip_seconds = 60.0
        self.basic = None  # "Basic <b64>" the proxy demands (control `auth`), or None
        self.reset_stats()
        self.ctl_seen = None

    def reset_stats(self):
        self.stats = {"requests": 0, "responses": 0, "body_bytes": 0, "request_body_bytes": 0,
                      "range_requests": 0, "cuts": 0, "stalls": 0, "injected": 0,
                      "hangs": 0, "drips": 0,
                      "upstream_errors": 0, "by_method": {}, "by_status": {},
                      "redirects": 0, "storage_requests": 0, "storage_with_auth": 0}

    # ---- stats / log
    def write_stats(self):
        if not self.args.stats:
            return
        tmp = "%s.tmp.%d" % (self.args.stats, threading.get_ident())
        with open(tmp, "w") as f:
            json.dump(self.stats, f, sort_keys=True)
        os.replace(tmp, self.args.stats)

    def log(self, line):
        if self.args.log:
            with self.lock, open(self.args.log, "a") as f:
                f.write(line + "\n")

    def note(self, msg):
        sys.stderr.write("throttle_proxy: %s\n" % msg)
        sys.stderr.flush()
        t = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")
        self.log("%s control %s" % (t, msg))

    # ---- control file
    def poll_control(self):
        path = self.args.control
        if not path:
            return
        try:
            st = os.stat(path)
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            self.note("control file: %s" % e)
            return
        if not text.endswith("\n") and time.time() - st.st_mtime < 0.3:
            return  # maybe half written: wait until it is stable
        with self.lock:
            # two pollers may have read it: apply once per (inode, mtime, size, text)
            key = (st.st_ino, st.st_mtime_ns, st.st_size, text)
            if key == self.ctl_seen:
                return
            self.ctl_seen = key
            for line in text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    self.apply(line.split())
            self.write_stats()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def apply(self, w):  # with self.lock
        cmd = w[0].lower()
        try:
            if cmd == "ok":
                self.rules = []
                self.threshold = None
                self.stall_gen += 1
            elif cmd in ("cut", "stall", "redirect", "hang", "drip") or (cmd.isdigit() and len(cmd) == 3):
                count = None
                if len(w) > 1 and w[1] != "*":
                    count = int(w[1])
                self.rules.append(Rule(cmd, count, w[2] if len(w) > 2 else ""))
            elif cmd == "auth":
                if w[1].lower() == "off":
                    self.basic = None
                else:
                    self.basic = "Basic " + base64.b64encode(w[1].encode()).decode()
            elif cmd == "rate":
                self.bucket.set_rate(float(w[1]))
            elif cmd == "drip-seconds":
                self.drip_seconds = float(w[1])
            elif cmd == "rtt":
                self.rtt = float(w[1]) / 1000.0
            elif cmd == "ignore-range":
                self.ignore_range = w[1].lower() in ("on", "1", "true", "yes")
            elif cmd == "fail-after-bytes":
                self.threshold = self.stats["body_bytes"] + int(w[1])
                self.fail_count = int(w[2]) if len(w) > 2 else 1
            elif cmd == "reset-stats":
                if self.threshold is not None:  # keep "N more bytes" across the reset
                    self.threshold -= self.stats["body_bytes"]
                self.reset_stats()
            else:
                raise ValueError("unknown command")
        except (ValueError, IndexError) as e:
            sys.stderr.write("throttle_proxy: bad control line %r: %s\n" % (" ".join(w), e))
            return
        sys.stderr.write("throttle_proxy: control: %s\n" % " ".join(w))

    def take_rule(self, path, body_phase):
        """The kind of the first matching rule (using up one of its count), or
        None. Before forwarding (body_phase False) only status rules are
        looked at, when a body is about to be sent only cut/stall rules."""
        with self.lock:
            for r in self.rules:
                if r.match and r.match not in path:
                    continue
                if (r.kind in ("cut", "stall", "drip")) != body_phase:
                    continue
                if r.count is not None:
                    r.count -= 1
                    if r.count <= 0:
                        self.rules.remove(r)
                return r.kind
        return None

    def sent(self, n):
        """Account n body bytes about to be sent; returns how many of them may
        go before a --fail-after-bytes cut (n if none)."""
        with self.lock:
            total = self.stats["body_bytes"]
            if self.threshold is not None and total + n >= self.threshold:
                allowed = max(0, self.threshold - total)
                self.threshold = None
                if self.fail_count > 1:
                    self.rules.insert(0, Rule("cut", self.fail_count - 1, ""))
                self.stats["body_bytes"] += allowed
                return allowed
            self.stats["body_bytes"] += n
            return n


class Cut(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every small response waits ~40 ms for an ACK
    timeout = 300  # idle keep-alive connections

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("throttle_proxy: " + (fmt % args) + "\n")

    def do_any(self):
        st = self.server.state
        if self.path == HEALTH:  # answered here, not counted, not logged
            self.send_response_only(200, "OK")
            self.send_header("Content-Length", "3")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b"ok\n")
            return
        st.poll_control()
        t0 = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")
        rng = self.headers.get("Range")
        with st.lock:
            st.stats["requests"] += 1
            m = st.stats["by_method"]
            m[self.command] = m.get(self.command, 0) + 1
            if rng:
                st.stats["range_requests"] += 1
        self.outcome = ""
        self.status = 0
        self.body_sent = 0
        self.body_len = None
        self.client_failed = False
        try:
            self.forward(rng)
        except Cut:
            pass
        except OSError:  # the client went away (broken pipe, reset, timeout)
            self.close_connection = True
            self.outcome = self.outcome or "client-gone"
        finally:
            with st.lock:
                st.stats["responses"] += 1
                s = st.stats["by_status"]
                s[str(self.status)] = s.get(str(self.status), 0) + 1
                st.write_stats()
            st.log("%s %s %s range=%s status=%d sent=%d/%s%s" % (
                t0, self.command, self.path, (rng or "-").replace(" ", ""), self.status,
                self.body_sent, "?" if self.body_len is None else self.body_len,
                (" " + self.outcome) if self.outcome else ""))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_any

    # ---- request side
    def request_body(self):
        """(body for http.client's endheaders, the framing headers for it)."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        st = self.server.state
        if "chunked" in te:
            def chunks():
                while True:
                    line = self.rfile.readline(65537)
                    if not line:
                        self.client_failed = True
                        raise ConnectionResetError("client closed in a chunked body")
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return
                    data = self.rfile.read(size)
                    self.rfile.readline(65537)
                    with st.lock:
                        st.stats["request_body_bytes"] += len(data)
                    yield data
            return chunks(), {"Transfer-Encoding": "chunked"}
        n = int(self.headers.get("Content-Length") or 0)
        if n <= 0:
            if self.command in ("POST", "PUT", "PATCH"):
                return b"", {"Content-Length": "0"}
            return None, {}
        handler = self

        class Reader:
            left = n

            def read(self, amt=65536):
                if self.left <= 0:
                    return b""
                data = handler.rfile.read(min(amt, self.left))
                if not data:
                    handler.client_failed = True
                    raise ConnectionResetError("client closed in the body")
                self.left -= len(data)
                with st.lock:
                    st.stats["request_body_bytes"] += len(data)
                return data
        return Reader(), {"Content-Length": str(n)}

    def forward(self, rng):
        st = self.server.state
        up = st.args.upstream
        path = self.path
        if path.startswith("http://"):  # absolute-form
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        if path.startswith(STORAGE):
            # A redirected request, as blob storage would get it: the client
            # must not have sent the registry's Authorization header here.
            path = path[len(STORAGE):] or "/"
            with st.lock:
                st.stats["storage_requests"] += 1
                if self.headers.get("Authorization"):
                    st.stats["storage_with_auth"] += 1
        else:
            if st.basic is not None and self.headers.get("Authorization") != st.basic:
                self.status = 401
                self.outcome = "auth"
                self.close_connection = bool(self.headers.get("Content-Length", "0") not in ("", "0"))
                self.send_response_only(401, "Unauthorized")
                self.send_header("WWW-Authenticate", 'Basic realm="throttle_proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            rule = st.take_rule(path, body_phase=False)
            if rule == "redirect":
                with st.lock:
                    st.stats["redirects"] += 1
                self.outcome = "redirect"
                me = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
                self.status = 307
                self.send_response_only(307, "Temporary Redirect")
                self.send_header("Location", "http://%s%s%s" % (me, STORAGE, path))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if rule == "hang":
                self.hold("hang")
            if rule is not None:
                self.inject(int(rule))
                return
        body, extra = self.request_body()
        chunked_body = extra.get("Transfer-Encoding") == "chunked"
        headers = []  # in order, repeated headers kept (several Accept lines, ...)
        for k, v in self.headers.items():
            kl = k.lower()
            if kl in HOP or kl in ("host", "expect", "content-length"):
                continue
            if st.ignore_range and kl in ("range", "if-range"):
                continue
            headers.append((k, v))
        headers.append(("Host", up))
        headers.extend(extra.items())
        conn = http.client.HTTPConnection(up, timeout=300)
        try:
            try:
                conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(message_body=body, encode_chunked=chunked_body)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                if self.client_failed:
                    raise ConnectionResetError("client closed in the request body")
                with st.lock:
                    st.stats["upstream_errors"] += 1
                self.outcome = "upstream-error"
                self.close_connection = True  # the request body may be unread
                self.simple(502, "Bad Gateway", "upstream error: %s" % e,
                            [("Connection", "close")])
                return
            self.relay(resp)
        finally:
            conn.close()

    # ---- response side
    def simple(self, code, reason, msg, extra=()):
        data = json.dumps({"errors": [{"code": "UNAVAILABLE" if code >= 500 else "DENIED",
                                       "message": msg, "detail": None}]}).encode()
        self.status = code
        self.send_response_only(code, reason)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def inject(self, code):
        st = self.server.state
        with st.lock:
            st.stats["injected"] += 1
        self.outcome = "injected"
        # the request body (if any) is not read: do not reuse this connection
        if self.headers.get("Content-Length", "0") not in ("", "0") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
        extra = [("Retry-After", "1")] if code in (429, 503) else []
        if code == 401:
            extra.append(("WWW-Authenticate", 'Basic realm="throttle_proxy"'))
        if self.close_connection:
            extra.append(("Connection", "close"))
        reason = http.server.BaseHTTPRequestHandler.responses.get(code, ("Injected",))[0]
        self.simple(code, reason, "injected by throttle_proxy", extra)

    def rewrite_location(self, v):
        up = self.server.state.args.upstream
        me = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        prefix = "http://" + up
        if v.startswith(prefix) and (len(v) == len(prefix) or v[len(prefix)] in "/?#"):
            return "http://" + me + v[len(prefix):]
        return v

    def relay(self, resp):
        st = self.server.state
        self.status = resp.status
        if st.rtt > 0:
            time.sleep(st.rtt)
        length = None
        out = []
        for k, v in resp.getheaders():
            kl = k.lower()
            if kl in HOP:
                continue
            if kl == "content-length":
                try:
                    length = int(v)
                except ValueError:
                    continue
            if kl == "location":
                v = self.rewrite_location(v)
            out.append((k, v))
        no_body = (self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200)
        chunked = False
        if not no_body and length is None:
            if self.request_version == "HTTP/1.1":
                chunked = True
                out.append(("Transfer-Encoding", "chunked"))
            else:
                self.close_connection = True
        self.body_len = None if no_body else length
        self.send_response_only(resp.status, resp.reason)
        for k, v in out:
            self.send_header(k, v)
        self.end_headers()
        if no_body:
            resp.read()
            return
        has_body = length is None or length > 0
        rule = st.take_rule(self.path, body_phase=True) if has_body else None
        if rule == "drip":
            self.hold("drip", lambda: self.send_body(resp.read(1), chunked))
        limit = None
        if rule in ("cut", "stall"):
            limit = (length // 2) if length is not None else st.args.chunk
        chunk = st.args.chunk
        while True:
            want = chunk
            if limit is not None:
                want = min(want, limit - self.body_sent)
                if want <= 0:
                    self.stop(rule)
            try:
                data = resp.read(want)
            except (OSError, http.client.HTTPException):
                data = b""
            if not data:
                if self.body_len is not None and self.body_sent < self.body_len:
                    # The upstream died mid-body: end this connection too, so
                    # the client sees a short body now, not after a timeout.
                    self.outcome = self.outcome or "upstream-cut"
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    raise Cut()
                break
            st.bucket.take(len(data))
            allowed = st.sent(len(data))
            if allowed < len(data):
                self.send_body(data[:allowed], chunked)
                self.stop("cut")
            self.send_body(data, chunked)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def send_body(self, data, chunked):
        if not data:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)
        self.body_sent += len(data)

    def hold(self, kind, tick=None):
        """Holds the connection (calling tick every drip-seconds) until `ok`
        or 600 s, then closes it."""
        st = self.server.state
        with st.lock:
            st.stats[kind + "s"] += 1
            gen = st.stall_gen
        st.write_stats()
        self.outcome = kind
        self.close_connection = True
        t0 = time.monotonic()
        next_tick = t0
        while time.monotonic() < t0 + 600:
            st.poll_control()
            with st.lock:
                if st.stall_gen != gen:
                    break
                every = st.drip_seconds
            if tick and time.monotonic() >= next_tick:
                tick()
                self.wfile.flush()
                next_tick = time.monotonic() + every
            time.sleep(0.05)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Cut()

    def stop(self, kind):
        st = self.server.state
        with st.lock:
            st.stats["cuts" if kind == "cut" else "stalls"] += 1
            gen = st.stall_gen
        self.outcome = kind
        if kind == "stall":
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                st.poll_control()
                with st.lock:
                    if st.stall_gen != gen:
                        break
                time.sleep(0.05)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Cut()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    p.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP upstream")
    p.add_argument("--rate", type=float, default=0, help="bytes/s for response bodies (0 = unlimited)")
    p.add_argument("--rtt-ms", type=float, default=0)
    p.add_argument("--stats")
    p.add_argument("--log")
    p.add_argument("--control")
    p.add_argument("--ignore-range", action="store_true")
    p.add_argument("--fail-after-bytes", type=int, default=0)
    p.add_argument("--fail-count", type=int, default=1)
    p.add_argument("--chunk", type=int, default=16384, help="piece size for bodies (default 16 KiB)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    host = args.upstream.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        sys.exit("throttle_proxy: the upstream must be on the loopback (127.0.0.1)")

    srv = Server(("127.0.0.1", args.listen), Handler)
    srv.state = State(args)
    srv.state.write_stats()

    def poller():
        while True:
            time.sleep(0.02)
            try:
                srv.state.poll_control()
            except Exception as e:  # never let the poller die
                sys.stderr.write("throttle_proxy: control poll: %s\n" % e)

    if args.control:
        threading.Thread(target=poller, daemon=True).start()
    sys.stderr.write("throttle_proxy: 127.0.0.1:%d -> %s (pid %d)\n" % (args.listen, args.upstream, os.getpid()))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
