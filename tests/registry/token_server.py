#!/usr/bin/python3
"""Docker Registry v2 token server for tests (the distribution "Token
Authentication Specification"), standard library plus the `openssl` CLI.

    GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...][&account=U]
         [&offline_token=true]            optional Basic auth
    POST /token  (form: grant_type=password&username=U&password=P&service=S&scope=...
                  or grant_type=refresh_token&refresh_token=R&service=S&scope=...)
    GET  /healthz                         "ok", not logged (readiness probe)

Answer (200): {"token": JWT, "access_token": JWT, "expires_in": N,
"issued_at": RFC 3339} (+ "refresh_token" for an authenticated offline_token
request / POST). The JWT is RS256, signed with --key; its header carries
either "x5c" (the PEM certificates of --cert, leaf first, base64 DER) or
"kid" (the libtrust fingerprint of the key), chosen by --header.

docker-registry 2.8 (auth: token: rootcertbundle: FILE) accepts:
  * x5c: the leaf must verify up to a certificate in rootcertbundle, so the
    key may be a CA-signed server key (rootcertbundle = the CA);
  * kid: the key must be the public key of a certificate in rootcertbundle
    (e.g. sign with the CA key itself, or put the leaf in the bundle).

Grants: a --users user (right password) gets the requested actions that are
in --user-actions (default pull,push) on every repository, and "*" on
registry:catalog:*; an anonymous request gets the requested actions in
--anon-actions (default pull). A wrong password or unknown user is 401
(never a silently anonymous token). Each /token request is logged as one
line to --log: time, status, user, requested and granted scopes. Passwords
and tokens are never logged.

The registry accepts a token until exp + 60 s (distribution's clock-skew
"Leeway"), so with --expires 3 it would still take the token for a minute.
--strict-expiry back-dates exp and nbf by 60 s, so the registry refuses the
token exactly --expires seconds after it was issued (expires_in is still N).
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

LEEWAY = 60  # distribution's registry/auth/token Leeway


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_blocks(path, kind):
    """The DER bytes of every PEM block of the given kind in path."""
    out, cur = [], None
    begin, end = "-----BEGIN %s-----" % kind, "-----END %s-----" % kind
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line == begin:
                cur = []
            elif line == end and cur is not None:
                out.append(base64.b64decode("".join(cur)))
                cur = None
            elif cur is not None:
                cur.append(line)
    return out


def libtrust_key_id(key_path):
    """libtrust KeyID: SHA-256 of the PKIX public key DER, first 240 bits,
    base32 without padding, in 12 groups of 4 joined by ':'."""
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    s = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


class Signer:
    def __init__(self, key, cert, header_kind):
        self.key = key
        self.header = {"typ": "JWT", "alg": "RS256"}
        if header_kind == "x5c":
            certs = pem_blocks(cert, "CERTIFICATE")
            if not certs:
                sys.exit("token_server: no certificate in %s" % cert)
            self.header["x5c"] = [base64.b64encode(c).decode() for c in certs]
        else:
            self.header["kid"] = libtrust_key_id(key)

    def sign(self, claims):
        head = b64url(json.dumps(self.header, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = (head + "." + body).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing_input, check=True, capture_output=True).stdout
        return head + "." + body + "." + b64url(sig)


def parse_scopes(values):
    """[(type, name, [actions])] from scope parameters (repeatable, and each
    may hold several space-separated scopes)."""
    out = []
    for v in values:
        for s in v.split():
            first, last = s.find(":"), s.rfind(":")
            if first < 0 or last == first:
                continue  # malformed: ignored, like distribution's own server
            typ, name, acts = s[:first], s[first + 1:last], s[last + 1:]
            out.append((typ, name, [a for a in acts.split(",") if a]))
    return out


def fmt_scopes(scopes):
    return " ".join("%s:%s:%s" % (t, n, ",".join(a)) for t, n, a in scopes) or "-"


class State:
    def __init__(self, args):
        self.args = args
        self.users = {}
        for u in args.users:
            name, sep, pw = u.partition(":")
            if not sep:
                sys.exit("token_server: --users wants user:pass, got %r" % u)
            self.users[name] = pw
        if args.users_file:
            with open(args.users_file) as f:
                for line in f:
                    line = line.rstrip("\n")
                    if line and not line.startswith("#"):
                        name, _, pw = line.partition(":")
                        self.users[name] = pw
        self.user_actions = set(a for a in args.user_actions.split(",") if a)
        self.anon_actions = set(a for a in args.anon_actions.split(",") if a)
        self.signer = Signer(args.key, args.cert, args.header)
        self.refresh = {}  # refresh token -> user
        self.lock = threading.Lock()

    def log(self, line):
        if not self.args.log:
            return
        with self.lock, open(self.args.log, "a") as f:
            f.write(line + "\n")

    def grant(self, user, scopes):
        granted = []
        for typ, name, acts in scopes:
            if user is not None:
                if typ == "registry" and name == "catalog":
                    allowed = {"*"}
                elif typ.split("(")[0] == "repository":
                    allowed = self.user_actions
                else:
                    allowed = set()
            else:
                allowed = self.anon_actions if typ.split("(")[0] == "repository" else set()
            g = [a for a in acts if a in allowed]
            if g:
                granted.append((typ, name, g))
        return granted

    def token(self, user, service, granted, offline):
        now = int(time.time())
        skew = LEEWAY if self.args.strict_expiry else 0
        claims = {
            "iss": self.args.issuer,
            "sub": user or "",
            "aud": service,
            "exp": now + self.args.expires - skew,
            "nbf": now - skew,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [{"type": t, "name": n, "actions": a} for t, n, a in granted],
        }
        tok = self.signer.sign(claims)
        ans = {
            "token": tok,
            "access_token": tok,
            "expires_in": self.args.expires,
            "issued_at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if offline and user is not None:
            r = secrets.token_urlsafe(24)
            with self.lock:
                self.refresh[r] = user
            ans["refresh_token"] = r
        return ans


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cimg-test-token-server/1"

    def log_message(self, fmt, *args):  # quiet: the request log is --log
        if self.server.state.args.verbose:
            sys.stderr.write("token_server: " + (fmt % args) + "\n")

    def reply(self, code, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def record(self, status, user, scopes, granted, note=""):
        st = self.server.state
        t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        st.log('time=%s method=%s status=%d user=%s scope="%s" granted="%s"%s' % (
            t, self.command, status, user if user is not None else "-",
            fmt_scopes(scopes), fmt_scopes(granted), (" note=" + note) if note else ""))

    def unauthorized(self, user, scopes, note):
        self.record(401, user, scopes, [], note)
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                     "detail": None}]},
                   [("WWW-Authenticate", 'Basic realm="cimg-test-token-server"')])

    def basic_user(self):
        """(user or None, ok). ok is False for bad credentials."""
        h = self.headers.get("Authorization")
        if not h:
            return None, True
        kind, _, cred = h.partition(" ")
        if kind.lower() != "basic":
            return None, False
        try:
            user, sep, pw = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        if not sep:
            return None, False
        return self.check(user, pw)

    def check(self, user, pw):
        users = self.server.state.users
        if user in users and secrets.compare_digest(users[user].encode(), pw.encode()):
            return user, True
        return user, False

    def issue(self, user, service, scopes, offline):
        st = self.server.state
        if service != st.args.service:
            self.record(400, user, scopes, [], "wrong-service")
            self.reply(400, {"errors": [{"code": "INVALID_REQUEST",
                                         "message": "unknown service %r" % service}]})
            return
        granted = st.grant(user, scopes)
        self.record(200, user, scopes, granted)
        self.reply(200, st.token(user, service, granted, offline))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            data = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
            return
        q = urllib.parse.parse_qs(url.query)
        scopes = parse_scopes(q.get("scope", []))
        user, ok = self.basic_user()
        if not ok:
            self.unauthorized(user, scopes, "bad-credentials")
            return
        self.issue(user, q.get("service", [""])[0], scopes,
                   q.get("offline_token", [""])[0].lower() == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
            return
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace"))
        f = lambda k: form.get(k, [""])[0]
        scopes = parse_scopes(form.get("scope", []))
        grant = f("grant_type")
        if grant == "password":
            user, ok = self.check(f("username"), f("password"))
            if not ok:
                self.unauthorized(user, scopes, "bad-credentials")
                return
        elif grant == "refresh_token":
            with self.server.state.lock:
                user = self.server.state.refresh.get(f("refresh_token"))
            if user is None:
                self.unauthorized(None, scopes, "bad-refresh-token")
                return
        else:
            self.record(400, None, scopes, [], "bad-grant-type")
            self.reply(400, {"error": "unsupported_grant_type"})
            return
        self.issue(user, f("service"), scopes, True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if isinstance(e, (ssl.SSLError, ConnectionError)):  # a client that did not trust us, went away
            sys.stderr.write("token_server: %s: %s\n" % (client_address[0], e))
        else:
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--listen", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--cert", required=True, help="PEM certificate(s) of the signing key, leaf first")
    p.add_argument("--key", required=True, help="PEM RSA private key that signs the tokens")
    p.add_argument("--tls-cert", help="HTTPS certificate (default --cert)")
    p.add_argument("--tls-key", help="HTTPS key (default --key)")
    p.add_argument("--plain-http", action="store_true", help="serve plain HTTP (no TLS)")
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--users", action="append", default=[], help="user:pass (repeatable)")
    p.add_argument("--users-file", help="file of user:pass lines")
    p.add_argument("--user-actions", default="pull,push",
                   help="actions granted to users on any repository (default pull,push)")
    p.add_argument("--anon-actions", default="pull",
                   help="actions granted to anonymous requests (default pull; '' = none)")
    p.add_argument("--log", help="request log file (one line per /token request)")
    p.add_argument("--expires", type=int, default=300, help="token lifetime, seconds (default 300)")
    p.add_argument("--strict-expiry", action="store_true",
                   help="back-date exp/nbf by distribution's 60 s leeway (see above)")
    p.add_argument("--header", choices=["x5c", "kid"], default="x5c",
                   help="how the JWT names its key (default x5c)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if args.listen not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("token_server: listens on loopback only")

    srv = Server((args.listen, args.port), Handler)
    srv.state = State(args)
    if not args.plain_http:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert or args.cert, args.tls_key or args.key)
        # the handshake runs in the handler thread (lazily), not in the accept loop
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    sys.stderr.write("token_server: listening on %s:%d (pid %d)\n" % (args.listen, args.port, os.getpid()))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
