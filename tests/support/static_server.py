#!/usr/bin/python3
"""python3's http.server serving a directory on 127.0.0.1, with single byte
ranges (RFC 7233 "Range: bytes=FIRST-[LAST]" / "bytes=-SUFFIX") added, as a
web server or CDN would serve an image layout published as static files.

Each request is logged as one line "METHOD PATH range=VALUE|- auth=yes|no"
to --log. The chosen port is written to --port-file once the socket listens.
Debian packages only.
"""

import argparse
import functools
import os
import re
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    log_path = ""
    log_lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        with self.log_lock:
            with open(self.log_path, "a") as f:
                f.write("%s %s range=%s auth=%s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                                      "yes" if "Authorization" in self.headers else "no"))

    def do_GET(self):
        self.log_request_line()
        self.serve(with_body=True)

    def do_HEAD(self):
        self.log_request_line()
        self.serve(with_body=False)

    def serve(self, with_body):
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            self.send_error(404, "not found")
            return
        size = os.path.getsize(path)
        first, last = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = RANGE.match(rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                self.send_error(416, "bad range")
                return
            if m.group(1) == "":
                first = max(0, size - int(m.group(2)))
            else:
                first = int(m.group(1))
                if m.group(2) != "":
                    last = min(last, int(m.group(2)))
            if first >= size or first > last:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        length = last - first + 1 if size > 0 else 0
        self.send_response(status)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
        self.end_headers()
        if not with_body:
            return
        with open(path, "rb") as f:
            f.seek(first)
            left = length
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    args = p.parse_args()
    Handler.log_path = args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=args.dir))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
