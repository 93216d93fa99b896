#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of a registry (tests only).

It forwards every request to --upstream (keeping the Host header, so the
registry's Location and Link headers point back at the proxy) and applies the
faults asked for (tests/support/registry_fixture.h, proxy_faults):

  --drop-after N       close the connection after N bytes of a blob GET body
  --drop-times K       ... only for the first K such GETs
  --wrong-manifest-digest  replace Docker-Content-Digest of manifest responses
  --redirect-blobs     answer blob GET/HEAD with 307 to the second listener,
                       which behaves like an object store (buglog B64): it
                       refuses requests carrying Authorization (400), refuses
                       HEAD (403), expires each URL after --redirect-ttl
                       seconds (403), and redirects once more (/r/ -> /d/)
                       before serving the upstream's bytes (with Range)
  --challenge VALUE    answer every /v2/ request with 401 and this
                       WWW-Authenticate value; "{alt_port}" in it becomes the
                       second listener's port (a realm there answers any
                       /token request with a dummy token) (buglog B62)
  --fail-first-writes N  answer the first N manifest PUT / blob PATCH with 503
  --chunk-min-length N add "OCI-Chunk-Min-Length: N" to upload POST answers
  --stale-upload-range keep each PATCH answer's Range at the upload's first
                       one (ECR's stale Range, buglog B65)
  --reject-chunks N    answer the first N PATCHes starting past byte 0 with
                       416, without forwarding them (buglog B65)

Always: a tags/list request with ?n= gets distribution-spec pagination (sorted
pages of n, Link rel="next" with last=), which distribution 2.8 lacks.

Every request to either listener is logged as one line
"METHOD PATH auth=yes|no host=127.0.0.1:PORT" to --log. The main listener's
port is written to --port-file once both listen. Debian packages only.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade"}
BLOB_PATH = re.compile(r"^/v2/(.+)/blobs/([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$")
WRONG_DIGEST = "sha256:" + hashlib.sha256(b"not the manifest you got").hexdigest()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.drops_left = args.drop_times
        self.write_failures_left = args.fail_first_writes
        self.chunk_rejections_left = args.reject_chunks
        self.first_ranges = {}  # upload path -> Range of its first PATCH answer
        self.redirects = {}  # id -> (path, authorization, created)
        self.main_port = 0
        self.alt_port = 0

    def log(self, line):
        with self.lock:
            with open(self.args.log, "a") as f:
                f.write(line + "\n")

    def take(self, attr):
        with self.lock:
            v = getattr(self, attr)
            if v > 0:
                setattr(self, attr, v - 1)
                return True
            return False


def read_request_body(handler):
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length", "0") or "0")
    return handler.rfile.read(length) if length else b""


def make_main_handler(st: State):
    class Main(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def simple(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            path = self.path
            st.log("%s %s auth=%s host=127.0.0.1:%d" % (self.command, path,
                                                        "yes" if "Authorization" in self.headers else "no",
                                                        st.main_port))
            body = read_request_body(self)
            bare = path.split("?", 1)[0]
            a = st.args
            if a.challenge and bare.startswith("/v2/"):
                value = a.challenge.replace("{alt_port}", str(st.alt_port))
                self.simple(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                            [("WWW-Authenticate", value), ("Content-Type", "application/json")])
                return
            is_write = (self.command == "PUT" and "/manifests/" in bare) or \
                       (self.command == "PATCH" and "/blobs/uploads/" in bare)
            if is_write and st.take("write_failures_left"):
                self.simple(503, b'{"errors":[{"code":"UNAVAILABLE","message":"injected failure"}]}',
                            [("Content-Type", "application/json")])
                return
            if self.command == "PATCH" and "/blobs/uploads/" in bare:
                start = self.headers.get("Content-Range", "0-").split("-")[0].strip()
                if start not in ("", "0") and st.take("chunk_rejections_left"):
                    self.simple(416, b'{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"injected 416"}]}',
                                [("Content-Type", "application/json")])
                    return
            blob = BLOB_PATH.match(bare) if self.command in ("GET", "HEAD") else None
            if blob and a.redirect_blobs and self.upstream_status("HEAD", path) == 200:
                # As a registry does: authorize and find the blob first, then
                # send the client to storage.
                rid = secrets.token_hex(8)
                with st.lock:
                    st.redirects[rid] = (path, self.headers.get("Authorization"), time.monotonic())
                self.simple(307, b"", [("Location", "http://127.0.0.1:%d/r/%s" % (st.alt_port, rid))])
                return
            if self.command == "GET" and bare.endswith("/tags/list") and "n" in urllib.parse.parse_qs(
                    urllib.parse.urlsplit(path).query):
                self.paged_tags(path)
                return
            self.forward(path, body, drop=bool(blob) and self.command == "GET" and a.drop_after > 0)

        def paged_tags(self, path):
            """distribution-spec "Listing Tags" pagination (n, last, Link),
            which distribution 2.8 ignores, done here over the full list."""
            url = urllib.parse.urlsplit(path)
            q = urllib.parse.parse_qs(url.query)
            conn = http.client.HTTPConnection(st.args.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request("GET", url.path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if resp.status != 200:
                self.simple(resp.status, data, [(k, v) for k, v in resp.getheaders()
                                                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"])
                return
            doc = json.loads(data)
            tags = sorted(doc.get("tags") or [])
            last = q.get("last", [""])[0]
            if last:
                tags = [t for t in tags if t > last]
            n = int(q["n"][0])
            page, rest = tags[:n], tags[n:]
            out = [("Content-Type", "application/json")]
            if rest and page:
                out.append(("Link", '<%s?n=%d&last=%s>; rel="next"' % (url.path, n, urllib.parse.quote(page[-1]))))
            self.simple(200, json.dumps({"name": doc.get("name"), "tags": page}).encode(), out)

        def upstream_status(self, method, path):
            conn = http.client.HTTPConnection(st.args.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers.pop("Range", None)
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return resp.status

        def forward(self, path, body, drop):
            a = st.args
            conn = http.client.HTTPConnection(a.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            bare = path.split("?", 1)[0]
            if a.chunk_min_length and self.command == "POST" and "/blobs/uploads/" in bare and resp.status == 202:
                out_headers.append(("OCI-Chunk-Min-Length", str(a.chunk_min_length)))
            if a.stale_upload_range and self.command == "PATCH" and resp.status == 202:
                with st.lock:
                    first = st.first_ranges.setdefault(bare, resp.getheader("Range", ""))
                out_headers = [(k, first if k.lower() == "range" else v) for k, v in out_headers]
            if a.wrong_manifest_digest and "/manifests/" in bare and self.command in ("GET", "HEAD"):
                out_headers = [(k, WRONG_DIGEST if k.lower() == "docker-content-digest" else v) for k, v in out_headers]
            length = resp.getheader("Content-Length")
            if self.command == "HEAD" or resp.status in (204, 304):
                self.send_response(resp.status)
                for k, v in out_headers:
                    self.send_header(k, v)
                self.end_headers()
                resp.read()
                conn.close()
                return
            if length is None:
                data = resp.read()
                out_headers.append(("Content-Length", str(len(data))))
                self.send_response(resp.status)
                for k, v in out_headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                return
            cut = drop and resp.status in (200, 206) and st.take("drops_left")
            self.send_response(resp.status)
            for k, v in out_headers:
                self.send_header(k, v)
            self.end_headers()
            left = int(length)
            sent = 0
            while left > 0:
                chunk = resp.read(min(left, 65536))
                if not chunk:
                    break
                if cut and sent + len(chunk) >= a.drop_after:
                    self.wfile.write(chunk[:a.drop_after - sent])
                    self.wfile.flush()
                    # Abort the connection mid-body: the client sees fewer
                    # bytes than Content-Length announced.
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    conn.close()
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
                left -= len(chunk)
            conn.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    return Main


def make_alt_handler(st: State):
    class Alt(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def simple(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            st.log("%s %s auth=%s host=127.0.0.1:%d" % (self.command, self.path,
                                                        "yes" if "Authorization" in self.headers else "no",
                                                        st.alt_port))
            read_request_body(self)
            bare = self.path.split("?", 1)[0]
            if bare.startswith("/token"):
                self.simple(200, b'{"token":"foreign-realm-token","access_token":"foreign-realm-token","expires_in":60}',
                            [("Content-Type", "application/json")])
                return
            m = re.match(r"^/([rd])/([0-9a-f]+)$", bare)
            with st.lock:
                entry = st.redirects.get(m.group(2)) if m else None
            if entry is None:
                self.simple(404, b"no such object")
                return
            upstream_path, auth, created = entry
            # An object store: signed URLs carry their own authority.
            if "Authorization" in self.headers:
                self.simple(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                                 b"</Message></Error>")
                return
            if self.command == "HEAD":
                self.simple(403, b"")
                return
            if time.monotonic() - created > st.args.redirect_ttl:
                self.simple(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
                return
            if m.group(1) == "r":
                self.simple(307, b"", [("Location", "/d/" + m.group(2))])
                return
            conn = http.client.HTTPConnection(st.args.upstream, timeout=60)
            headers = {"Host": "127.0.0.1:%d" % st.main_port}
            if auth:
                headers["Authorization"] = auth
            if self.headers.get("Range"):
                headers["Range"] = self.headers["Range"]
            conn.request("GET", upstream_path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            out = [("Content-Type", "application/octet-stream")]
            if resp.getheader("Content-Range"):
                out.append(("Content-Range", resp.getheader("Content-Range")))
            self.simple(resp.status if resp.status in (200, 206) else 502, data, out)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    return Alt


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True, help="host:port of the registry")
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--drop-after", type=int, default=0)
    p.add_argument("--drop-times", type=int, default=1 << 30)
    p.add_argument("--wrong-manifest-digest", action="store_true")
    p.add_argument("--redirect-blobs", action="store_true")
    p.add_argument("--redirect-ttl", type=float, default=60)
    p.add_argument("--challenge", default="")
    p.add_argument("--fail-first-writes", type=int, default=0)
    p.add_argument("--chunk-min-length", type=int, default=0)
    p.add_argument("--stale-upload-range", action="store_true")
    p.add_argument("--reject-chunks", type=int, default=0)
    args = p.parse_args()
    st = State(args)
    main_srv = ThreadingHTTPServer(("127.0.0.1", 0), make_main_handler(st))
    alt_srv = ThreadingHTTPServer(("127.0.0.1", 0), make_alt_handler(st))
    main_srv.daemon_threads = alt_srv.daemon_threads = True
    st.main_port = main_srv.server_address[1]
    st.alt_port = alt_srv.server_address[1]
    threading.Thread(target=alt_srv.serve_forever, daemon=True).start()
    threading.Thread(target=watch_parent, daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(st.main_port))
    os.rename(tmp, args.port_file)
    main_srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
