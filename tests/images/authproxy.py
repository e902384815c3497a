#!/usr/bin/env python3
"""Token-auth front for a test registry (test tool).

usage: authproxy.py [--expire N] PORT UPSTREAM_URL LOGFILE [USER:PASSWORD]

Answers /v2/... without `Authorization: Bearer <token>` with 401 and a
`WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge, as
Docker Hub does; /token?service=&scope= hands out the token (and logs the
query); with USER:PASSWORD only to a client that sends them as Basic
auth (401 otherwise), as Docker Hub does for private repositories;
authorised requests are forwarded to the upstream registry. With
--expire N each token is good for N requests, then refused with a new
challenge (Docker Hub's tokens expire after five minutes, mid-pull).
"""
import base64, http.server, itertools, sys, threading, urllib.error, urllib.parse, urllib.request

args = sys.argv[1:]
EXPIRE = None
if args[0] == "--expire":
    EXPIRE, args = int(args[1]), args[2:]
PORT, UPSTREAM, LOG = int(args[0]), args[1], args[2]
CREDS = args[3] if len(args) > 3 else None
TOKEN = "nestbox-test-token"
serial = itertools.count(1)
uses = {}  # token -> requests it may still make (with --expire)
lock = threading.Lock()


def new_token():
    if EXPIRE is None:
        return TOKEN
    with lock:
        t = "%s-%d" % (TOKEN, next(serial))
        uses[t] = EXPIRE
    return t


def authorised(header):
    if not header or not header.startswith("Bearer "):
        return False
    t = header[7:]
    if EXPIRE is None:
        return t == TOKEN
    with lock:
        if uses.get(t, 0) <= 0:
            return False
        uses[t] -= 1
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/token":
            q = urllib.parse.parse_qs(url.query)
            basic = "Basic " + base64.b64encode(CREDS.encode()).decode() if CREDS else None
            if basic and self.headers.get("Authorization") != basic:
                with open(LOG, "a") as f:
                    f.write("token refused\n")
                return self.reply(401, b'{"details":"incorrect username or password"}')
            with open(LOG, "a") as f:
                f.write("token service=%s scope=%s\n" % (q.get("service", [""])[0],
                                                          q.get("scope", [""])[0]))
            return self.reply(200, b'{"token":"%s"}' % new_token().encode(),
                              [("Content-Type", "application/json")])
        if not authorised(self.headers.get("Authorization")):
            repo = url.path.split("/")[2] if url.path.count("/") > 2 else ""
            challenge = ('Bearer realm="http://127.0.0.1:%d/token",service="nestbox-test",'
                         'scope="repository:%s:pull"' % (PORT, repo))
            # As long as some registries' error pages: longer than a small layer.
            body = b'{"errors":[{"code":"UNAUTHORIZED","detail":"%s"}]}' % (b"x" * 1024)
            return self.reply(401, body, [("WWW-Authenticate", challenge)])
        req = urllib.request.Request(UPSTREAM + self.path)
        if self.headers.get("Accept"):
            req.add_header("Accept", self.headers["Accept"])
        try:
            with urllib.request.urlopen(req) as r:
                body, status, hdrs = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            body, status, hdrs = e.read(), e.code, e.headers
        keep = [(k, v) for k, v in hdrs.items()
                if k.lower() in ("content-type", "docker-content-digest")]
        self.reply(status, body, keep)


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
