#!/usr/bin/python3
"""A small HTTP server for io/http_client and io/registry_auth tests (no mocks).

Two listeners on 127.0.0.1 with ephemeral ports, so the tests have two origins; the
first line on stdout is "PORT_A PORT_B". With --tls CERT KEY both speak TLS, and with
--client-ca CA they ask for (but do not require) a client certificate.

Endpoints (any method; the request body is read whole first):
  /echo                      JSON: method, path, headers (lowercase names), body length
                             and sha256, the listener's port, the client certificate's CN
  /redirect?to=URL&code=N    N (default 302) with Location: URL
  /loop                      302 to /loop
  /status?code=N             status N with a short body
  /bytes?size=N&chunk=C&delay=S
                             N bytes (byte i is i*7 mod 251), C bytes at a time, S seconds
                             between chunks
  /drop?size=N&after=M       Content-Length N, M bytes, then the connection is closed
  /stall?size=N&after=M&sleep=S
                             Content-Length N, M bytes, S seconds of silence, the rest
  /v2/...                    a registry: 200 with a token this server issued ("Bearer T"),
                             else 401 with a Bearer challenge (realm: /token on this
                             listener, or ?realm=URL; scope from ?scope=)
  /basic/v2/...              200 with Basic alice:"pa:ss", else 401 with a Basic challenge
  /revoke                    forgets every issued token
  /token                     GET: a token ("anon-N" without Authorization, "user-N" with
                             Basic alice:"pa:ss", 401 with other credentials);
                             ?expires=S sets expires_in. POST (form, grant_type=
                             refresh_token, refresh_token=refresh-xyz): {"access_token"}
  /log                       JSON list of every request: port, method, path, query,
                             authorization (the header's value or "")
"""

import base64
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER, PASSWORD = "alice", "pa:ss"
REFRESH_TOKEN = "refresh-xyz"

lock = threading.Lock()
log = []
tokens = set()
counter = [0]


PERIOD = bytes((i * 7) % 251 for i in range(251))


def pattern(start, n):
    """Bytes start..start+n of the /bytes body: byte i is i*7 mod 251 (period 251)."""
    s = start % 251
    return (PERIOD * (n // 251 + 2))[s:s + n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body writes

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def send_body(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code, obj, extra=()):
        self.send_body(code, json.dumps(obj).encode(), extra=extra)

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        port = self.server.server_address[1]
        auth = self.headers.get("Authorization") or ""
        with lock:
            log.append({"port": port, "method": self.command, "path": u.path, "query": u.query,
                        "authorization": auth})
        p = u.path
        if p == "/echo":
            cn = ""
            if isinstance(self.connection, ssl.SSLSocket):
                cert = self.connection.getpeercert()
                if cert:
                    for rdn in cert.get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                cn = v
            self.send_json(200, {
                "method": self.command, "path": self.path, "port": port,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
                "client_cn": cn,
            })
        elif p == "/redirect":
            self.send_body(int(q.get("code", "302")), b"moved", "text/plain", [("Location", q["to"])])
        elif p == "/loop":
            self.send_body(302, b"", "text/plain", [("Location", "/loop")])
        elif p == "/status":
            self.send_body(int(q["code"]), b"status body", "text/plain")
        elif p == "/bytes":
            size, chunk, delay = int(q["size"]), int(q.get("chunk", "65536")), float(q.get("delay", "0"))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            sent = 0
            while sent < size:
                n = min(chunk, size - sent)
                self.wfile.write(pattern(sent, n))
                self.wfile.flush()
                sent += n
                if delay:
                    time.sleep(delay)
        elif p in ("/drop", "/stall"):
            size, after = int(q["size"]), int(q["after"])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(pattern(0, after))
            self.wfile.flush()
            if p == "/drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            time.sleep(float(q["sleep"]))
            try:
                self.wfile.write(pattern(after, size - after))
            except OSError:
                self.close_connection = True
        elif p.startswith("/v2/") or p == "/v2":
            with lock:
                ok = auth.startswith("Bearer ") and auth[7:] in tokens
            if ok:
                self.send_json(200, {"ok": True})
            else:
                realm = q.get("realm", "http://127.0.0.1:%d/token" % port)
                ch = 'Bearer realm="%s",service="echo"' % realm
                if "scope" in q:
                    ch += ',scope="%s"' % q["scope"]
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, extra=[("WWW-Authenticate", ch)])
        elif p.startswith("/basic/v2"):
            good = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if auth == good:
                self.send_json(200, {"ok": True})
            else:
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]},
                               extra=[("WWW-Authenticate", 'Basic realm="echo registry"')])
        elif p == "/revoke":
            with lock:
                tokens.clear()
            self.send_json(200, {})
        elif p == "/token":
            self.token(q, body, auth)
        elif p == "/log":
            with lock:
                self.send_json(200, log)
        else:
            self.send_body(404, b"not found", "text/plain")

    def token(self, q, body, auth):
        with lock:
            counter[0] += 1
            n = counter[0]
        expires = int(q.get("expires", "300"))
        if self.command == "POST":
            form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN \
                    or form.get("client_id") != "ocipipe":
                self.send_json(401, {"error": "invalid_grant"})
                return
            t = "oauth-%d" % n
            with lock:
                tokens.add(t)
            self.send_json(200, {"access_token": t, "expires_in": expires})
            return
        if auth:
            good = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if auth != good:
                self.send_json(401, {"details": "bad credentials"})
                return
            t = "user-%d" % n
        else:
            t = "anon-%d" % n
        with lock:
            tokens.add(t)
        self.send_json(200, {"token": t, "expires_in": expires})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up mid-body are what several tests do


def main(argv):
    ctx = None
    if "--tls" in argv:
        i = argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(argv[i + 1], argv[i + 2])
        if "--client-ca" in argv:
            ctx.load_verify_locations(argv[argv.index("--client-ca") + 1])
            ctx.verify_mode = ssl.CERT_OPTIONAL
    servers = []
    for _ in range(2):
        s = Server(("127.0.0.1", 0), Handler)
        if ctx:
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        servers.append(s)
    print("%d %d" % (servers[0].server_address[1], servers[1].server_address[1]), flush=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    # Runs until the test kills it (or closes our stdin).
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
