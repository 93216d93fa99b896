#!/usr/bin/python3
"""A small Docker token service for the registry tests (Docker's token
authentication protocol, as docker-registry's auth.token expects it).

GET /token?service=S&scope=SCOPE[&scope=...]: checks HTTP basic credentials
against --username/--password and returns an RS256 JWT granting every scope
asked (a scope parameter may also hold several scopes separated by spaces).
POST /token with grant_type=password or refresh_token (OAuth2 form) works too.
The JWT header carries the signing certificate in x5c; docker-registry trusts
it through its rootcertbundle (the same self-signed certificate).

Each request is logged as one line "METHOD PATH?QUERY auth=yes|no" to --log,
so tests see where credentials went. The chosen port is written to
--port-file once the socket listens. Debian packages only
(python3-cryptography).
"""

import argparse
import base64
import datetime
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

REFRESH_TOKEN = "ocipipe-test-refresh-token"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.issuer = args.issuer
        self.service = args.service
        self.username = args.username
        self.password = args.password
        self.expires_in = args.expires_in
        self.log_path = args.log
        self.lock = threading.Lock()

    def log(self, line: str):
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(line + "\n")

    def sign(self, subject: str, scopes):
        access = []
        for scope in scopes:
            # type:name:actions; a name never holds ':' but may hold '/'.
            first = scope.find(":")
            last = scope.rfind(":")
            if first < 0 or last == first:
                continue
            access.append({
                "type": scope[:first],
                "name": scope[first + 1:last],
                "actions": [a for a in scope[last + 1:].split(",") if a],
            })
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)


def make_handler(svc: TokenService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # quiet: the request log is ours
            pass

        def reply(self, status, obj, extra_headers=()):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra_headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def basic_user(self):
            auth = self.headers.get("Authorization", "")
            if not auth.lower().startswith("basic "):
                return None
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:
                return None
            if user == svc.username and pw == svc.password:
                return user
            return None

        def grant(self, user, query):
            scopes = []
            for s in query.get("scope", []):
                scopes.extend(x for x in s.split(" ") if x)
            token = svc.sign(user, scopes)
            obj = {
                "token": token,
                "access_token": token,
                "expires_in": svc.expires_in,
                "issued_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
            if query.get("offline_token", [""])[0] == "true" or query.get("access_type", [""])[0] == "offline":
                obj["refresh_token"] = REFRESH_TOKEN
            self.reply(200, obj)

        def unauthorized(self, why):
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]},
                       [("WWW-Authenticate", 'Basic realm="ocipipe-test-token"')])

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            svc.log("GET %s?%s auth=%s" % (url.path, url.query, "yes" if "Authorization" in self.headers else "no"))
            if url.path != "/token":
                self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                return
            user = self.basic_user()
            if user is None:
                self.unauthorized("credentials missing or wrong")
                return
            self.grant(user, urllib.parse.parse_qs(url.query))

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length", "0") or "0")
            form = urllib.parse.parse_qs(self.rfile.read(length).decode()) if length else {}
            svc.log("POST %s?%s auth=%s grant_type=%s" % (url.path, url.query,
                                                          "yes" if "Authorization" in self.headers else "no",
                                                          form.get("grant_type", [""])[0]))
            if url.path != "/token":
                self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                return
            grant_type = form.get("grant_type", [""])[0]
            user = None
            if grant_type == "password":
                if form.get("username", [""])[0] == svc.username and form.get("password", [""])[0] == svc.password:
                    user = svc.username
            elif grant_type == "refresh_token":
                if form.get("refresh_token", [""])[0] == REFRESH_TOKEN:
                    user = svc.username
            else:
                self.reply(400, {"error": "unsupported_grant_type"})
                return
            if user is None:
                self.unauthorized("credentials missing or wrong")
                return
            self.grant(user, form)

    return Handler


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--expires-in", type=int, default=300)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    args = p.parse_args()
    svc = TokenService(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(svc))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
