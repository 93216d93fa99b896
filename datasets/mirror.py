#!/usr/bin/env python3
"""Generate a synthetic, deduplicating OCI mirror: many image layouts sharing base layers.

    datasets/mirror.py --seed N --out DIR [--images 50] [--total-bytes 2G] [--jobs J] [--force]

DIR/img-000 ... DIR/img-NNN are OCI image layouts, each with one manifest tagged `latest`
(reference oci:DIR/img-000:latest). Every image is an "application" built on one of a few
base images (1 to 5, about one per 10 images; 2-3 big layers each) plus 1-3 layers of its
own, the way a registry mirror holds many images cut from the same few bases. A blob that
several layouts hold is stored once and HARDLINKED into each of them, as a deduplicating
mirror stores it: distinct blobs are distinct inodes. The sum of distinct blob bytes is
about --total-bytes (within 10%); layer sizes follow the default proportions (bases of
100-220 MB split in 2-3 layers of at most ~120 MB, application layers of 1-40 MB) scaled to
fit.

Layers are gzip-compressed PAX tars (headers from Python's tarfile) of many files of mixed
sizes (mostly 1 KiB - 200 KiB, a few MB), with directories, symlinks, a hardlink and, in
applications, whiteouts of base files. File contents are pseudo-random bytes
(incompressible), word-salad text and repetitive text, mixed so gzip shrinks a layer about
2.5x. Everything comes from the seed: same seed, same bytes and digests (fixed mtimes, uid
and gid 0, sorted entries, gzip headers without name or time). Compression is `igzip -1 -n`
when igzip is in PATH, else Python's zlib (level 1); the two give different bytes, and so
can other versions of them: determinism holds for one machine's igzip or zlib
(DIR/mirror.json records which). --compressor forces one.

The mirror is built in DIR.tmp-PID next to DIR and renamed to DIR at the end; an existing
non-empty DIR is refused unless --force (then it is replaced after the new one is complete).
DIR/mirror.json records the parameters, the images and their manifest digests.

Standard library only (plus igzip when present). Exit status 0 ok, 1 failure, 2 usage.
"""

import argparse
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import zlib

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
TAG = "latest"
GENERATOR = "ocipipe datasets/mirror.py v1"

MTIME = 1704067200            # 2024-01-01T00:00:00Z, every tar entry
CREATED_EPOCH = 1704067200    # configs' "created" count up from here
BLOCK = 512
RECORD = 20 * BLOCK           # tarfile pads the archive to this, so do we
FLUSH = 4 << 20

MAX_BASES = 5
IMAGES_PER_BASE = 10
BASE_MB = (100, 220)          # compressed size of a base image, before scaling
BASE_LAYER_CAP = 0.55         # no base layer holds more than this share of its base
APP_LAYER_MB = (1, 40)        # log-uniform compressed size of an application layer
MIN_LAYER = 1024              # smallest compressed layer target after scaling

# Byte shares of the three kinds of file content (about 2.5x with gzip -1 overall).
KIND_WEIGHTS = (("random", 0.22), ("text", 0.53), ("repeat", 0.25))
TEXT_POOL = 8 << 20

MB = 1000 * 1000


def die(msg, code=1):
    sys.stderr.write("mirror.py: error: %s\n" % msg)
    sys.exit(code)


def parse_size(s):
    """2G = 2 GiB, 2GB = 2*10^9, 500M, 64K, 1234 (bytes)  (coreutils' convention)."""
    t = s.strip().upper()
    if t.endswith("B") and len(t) > 1 and t[-2] in "KMGT":
        base, t = 1000, t[:-1]
    else:
        base = 1024
        if t.endswith("IB"):
            t = t[:-2]
        elif t.endswith("B"):
            t = t[:-1]
    mult = 1
    if t and t[-1] in "KMGT":
        mult = base ** ("KMGT".index(t[-1]) + 1)
        t = t[:-1]
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError("bad size %r (examples: 2G, 500M, 2GB, 1048576)" % s)
    if v <= 0:
        raise argparse.ArgumentTypeError("size must be positive: %r" % s)
    return int(v * mult)


# ------------------------------------------------------------------ content


class Content:
    """Deterministic material for file contents: a word vocabulary and a text pool."""

    def __init__(self, seed):
        r = random.Random("%d:text" % seed)
        letters = "abcdefghijklmnopqrstuvwxyz_"
        self.vocab = sorted(set("".join(r.choices(letters, k=r.randint(2, 10))) for _ in range(3000)))
        r.shuffle(self.vocab)
        cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.1 for i in range(len(self.vocab))))
        prefixes = ["", "    ", "        ", "\t", "# ", "    return ", "    if ", "def ",
                    "import ", "    self.", "<div class=\"", "  - ", "}", "{"]
        words = r.choices(self.vocab, cum_weights=cum, k=TEXT_POOL // 6 + 1000)
        lines = []
        i = n = 0
        while n < TEXT_POOL:
            k = r.randint(3, 12)
            line = r.choice(prefixes) + " ".join(words[i:i + k])
            lines.append(line)
            n += len(line) + 1
            i += k
            if i >= len(words) - 12:
                i = 0
        self.text = ("\n".join(lines) + "\n").encode()[:TEXT_POOL]

    def text_slice(self, rng, n):
        out = []
        while n > 0:
            off = rng.randrange(len(self.text))
            take = min(n, len(self.text) - off)
            out.append(self.text[off:off + take])
            n -= take
        return b"".join(out)

    def data(self, rng, kind, n):
        if n == 0:
            return b""
        if kind == "random":
            return rng.randbytes(n)
        if kind == "text":
            return self.text_slice(rng, n)
        # repeat: a short text template repeated, as in logs, tables, padding
        tmpl = self.text_slice(rng, min(n, rng.randint(256, 8192)))
        return (tmpl * (n // len(tmpl) + 1))[:n]


CONTENT = None   # set in the parent before the worker pool forks


# ------------------------------------------------------------------ compressors


class IgzipSink:
    name = "igzip"

    def __init__(self, path):
        self.f = open(path, "wb")
        self.p = subprocess.Popen(["igzip", "-1", "-n", "-c"], stdin=subprocess.PIPE, stdout=self.f)

    def write(self, b):
        self.p.stdin.write(b)

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait()
        self.f.close()
        if rc != 0:
            raise RuntimeError("igzip exited %d" % rc)


class ZlibSink:
    name = "zlib"

    def __init__(self, path):
        self.f = open(path, "wb")
        # wbits 31: gzip wrapper, mtime 0, no name, OS byte 3 (unix)
        self.z = zlib.compressobj(1, zlib.DEFLATED, 31)

    def write(self, b):
        self.f.write(self.z.compress(b))

    def close(self):
        self.f.write(self.z.flush())
        self.f.close()


def make_sink(compressor, path):
    return IgzipSink(path) if compressor == "igzip" else ZlibSink(path)


def compress_ratio(compressor, data, tmpdir):
    path = os.path.join(tmpdir, ".calibrate")
    s = make_sink(compressor, path)
    s.write(data)
    s.close()
    n = os.path.getsize(path)
    os.unlink(path)
    return len(data) / float(n)


def expected_ratio(compressor, seed, tmpdir):
    """Uncompressed/compressed bytes expected of a layer, from a fixed sample of each kind."""
    rng = random.Random("%d:calibrate" % seed)
    inv = 0.0
    for kind, w in KIND_WEIGHTS:
        if kind == "random":
            r = 1.0
        else:
            sample = b"".join(CONTENT.data(rng, kind, rng.randint(4 << 10, 64 << 10)) for _ in range(48))
            r = compress_ratio(compressor, sample, tmpdir)
        inv += w / r
    return 1.0 / inv


# ------------------------------------------------------------------ layers


class TarWriter:
    """Streams a tar into a compressor sink, hashing and counting the uncompressed bytes."""

    def __init__(self, sink):
        self.sink = sink
        self.h = hashlib.sha256()
        self.n = 0
        self.parts = []
        self.pending = 0

    def _emit(self, b):
        self.h.update(b)
        self.sink.write(b)
        self.n += len(b)

    def flush(self):
        if self.parts:
            self._emit(b"".join(self.parts))
            self.parts = []
            self.pending = 0

    def write(self, b):
        if len(b) >= FLUSH:
            self.flush()
            self._emit(b)
            return
        self.parts.append(b)
        self.pending += len(b)
        if self.pending >= FLUSH:
            self.flush()

    def entry(self, name, typ, mode, data=b"", linkname=""):
        ti = tarfile.TarInfo(name)
        ti.type = typ
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        ti.linkname = linkname
        ti.size = len(data) if typ == tarfile.REGTYPE else 0
        self.write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if ti.size:
            self.write(data)
            pad = -ti.size % BLOCK
            if pad:
                self.write(b"\0" * pad)

    def finish(self):
        end = 2 * BLOCK
        end += -(self.n + self.pending + end) % RECORD
        self.write(b"\0" * end)
        self.flush()


ROOTS = {
    "os": ["bin", "etc", "lib/x86_64-linux-gnu", "sbin", "usr/bin", "usr/lib/x86_64-linux-gnu",
           "usr/share", "usr/share/locale", "var/lib/dpkg/info", "usr/libexec"],
    "runtime": ["usr/lib", "usr/local/lib", "usr/share", "usr/include", "usr/local/bin", "opt"],
    "app": ["app", "opt", "usr/local/lib/python3/site-packages", "srv", "etc"],
}
EXTS = [".so", ".py", ".txt", ".json", ".conf", ".h", ".js", ".html", ".dat", ".mo", ""]


def file_size(rng):
    u = rng.random()
    if u < 0.05:
        return rng.randrange(0, 1024)
    if u < 0.995:
        return int(math.exp(rng.uniform(math.log(1024), math.log(200 << 10))))
    return rng.randint(1 << 20, 8 << 20)


def gen_layer(job):
    """Writes one gzip layer blob into job["dir"]; returns its descriptor facts."""
    rng = random.Random("%d:layer:%s" % (job["seed"], job["key"]))
    vocab = CONTENT.vocab
    budget = job["budget"]            # uncompressed bytes of file content
    roots = ROOTS[job["flavor"]]
    ndirs = max(1, budget // (600 << 10))
    dirs = []
    for _ in range(ndirs):
        d = rng.choice(roots)
        if job["flavor"] == "app" and d != "etc":
            d += "/" + job["app"]
        for _ in range(rng.randint(0, 2)):
            d += "/" + rng.choice(vocab)
        dirs.append(d)
    kinds = [k for k, _ in KIND_WEIGHTS]
    kweights = [w for _, w in KIND_WEIGHTS]
    files = {}
    left = budget
    i = 0
    while left > 0:
        n = min(file_size(rng), max(1024, budget // 8), left)   # no one file dominates a small layer
        name = "%s/%s-%d%s" % (rng.choice(dirs), rng.choice(vocab), i, rng.choice(EXTS))
        files[name] = (n, rng.choices(kinds, kweights)[0], 0o755 if "bin/" in name else 0o644)
        left -= n
        i += 1
    extras = {}
    for path in job.get("fixed_files", []):
        files[path] = (rng.randint(200, 2000), "text", 0o644)
    for path in job.get("whiteouts", []):
        extras[path] = ("whiteout", None)
    alldirs = set()
    for p in list(files) + list(extras):
        parts = p.split("/")[:-1]
        for k in range(1, len(parts) + 1):
            alldirs.add("/".join(parts[:k]))
    for p in sorted(alldirs.intersection(files)):   # a file named like a directory: drop it
        del files[p]
    names = sorted(files)
    if len(names) >= 2:
        extras[names[0] + ".hardlink"] = ("hardlink", names[0])
        for t in rng.sample(names, min(len(names), 3)):
            if t + ".link" not in files and t + ".link" not in alldirs:
                extras[t + ".link"] = ("symlink", t.rsplit("/", 1)[-1])
    every = set(files) | set(extras)

    tmp = os.path.join(job["dir"], ".part-%s" % job["key"])
    sink = make_sink(job["compressor"], tmp)
    tw = TarWriter(sink)
    try:
        for p in sorted(every | alldirs):
            if p in alldirs:
                tw.entry(p, tarfile.DIRTYPE, 0o755)
            elif p in files:
                n, kind, mode = files[p]
                tw.entry(p, tarfile.REGTYPE, mode, CONTENT.data(rng, kind, n))
            else:
                what, arg = extras[p]
                if what == "hardlink":
                    tw.entry(p, tarfile.LNKTYPE, 0o644, linkname=arg)
                elif what == "symlink":
                    tw.entry(p, tarfile.SYMTYPE, 0o777, linkname=arg)
                else:
                    tw.entry(p, tarfile.REGTYPE, 0o644)
        tw.finish()
    finally:
        sink.close()
    with open(tmp, "rb") as f:
        hexd = hashlib.file_digest(f, "sha256").hexdigest()
    size = os.path.getsize(tmp)
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(job["dir"], hexd))
    return {"key": job["key"], "digest": "sha256:" + hexd, "size": size,
            "diff_id": "sha256:" + tw.h.hexdigest(), "tar_bytes": tw.n, "entries": len(every | alldirs)}


# ------------------------------------------------------------------ plan


def plan_mirror(seed, images, total, ratio):
    """Bases, applications and layer jobs, all from the seed."""
    rng = random.Random("%d:plan" % seed)
    vocab = CONTENT.vocab
    nb = max(1, min(MAX_BASES, -(-images // IMAGES_PER_BASE)))
    bases = []
    for b in range(nb):
        size = rng.uniform(*BASE_MB) * MB
        k = rng.choice((2, 3))
        while True:
            shares = [rng.uniform(0.5, 1.5) for _ in range(k)]
            shares = [s / sum(shares) for s in shares]
            if max(shares) <= BASE_LAYER_CAP:
                break
        shares.sort(reverse=True)
        pkgs = sorted(set("%s-%d" % (rng.choice(vocab), j) for j in range(12)))
        layers = []
        for j, s in enumerate(shares):
            layers.append({"key": "b%d-l%d" % (b, j), "raw": size * s,
                           "flavor": "os" if j == 0 else "runtime",
                           "fixed_files": ["usr/share/doc/%s/copyright" % p for p in pkgs] if j == 0 else []})
        bases.append({"name": "base%d-%s" % (b, rng.choice(vocab)), "layers": layers, "pkgs": pkgs})
    apps = []
    popularity = [1.0 / (b + 1) for b in range(nb)]
    for a in range(images):
        b = a if a < nb else rng.choices(range(nb), popularity)[0]
        name = "%s-%d" % (rng.choice(vocab), a)
        k = rng.choices((1, 2, 3), (0.3, 0.4, 0.3))[0]
        layers = []
        for j in range(k):
            raw = math.exp(rng.uniform(math.log(APP_LAYER_MB[0]), math.log(APP_LAYER_MB[1]))) * MB
            wh = []
            if j == 0:
                wh = ["usr/share/doc/.wh." + p for p in rng.sample(bases[b]["pkgs"], rng.randint(0, 2))]
            layers.append({"key": "a%03d-l%d" % (a, j), "raw": raw, "flavor": "app", "app": name,
                           "whiteouts": wh})
        apps.append({"index": a, "name": name, "base": b, "layers": layers})
    all_layers = [l for x in bases for l in x["layers"]] + [l for x in apps for l in x["layers"]]
    scale = total / sum(l["raw"] for l in all_layers)
    jobs = []
    for l in all_layers:
        target = max(MIN_LAYER, int(l["raw"] * scale))
        job = {k: v for k, v in l.items() if k != "raw"}
        job.update({"seed": seed, "target": target, "budget": max(1, int(target * ratio))})
        jobs.append(job)
    return bases, apps, jobs


# ------------------------------------------------------------------ layouts


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def history_for(layer_key, flavor, created, rng):
    if flavor == "os":
        cmd = "/bin/sh -c #(nop) ADD file:%s in / " % hashlib.sha256(layer_key.encode()).hexdigest()
    elif flavor == "runtime":
        cmd = "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*" \
            % " ".join(rng.sample(CONTENT.vocab, 3))
    else:
        cmd = rng.choice(["COPY . /app # buildkit", "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit",
                          "RUN /bin/sh -c make install # buildkit"])
    return {"created": iso(created), "created_by": cmd, "author": GENERATOR}


def write_layout(path, seed, app, base, results):
    rng = random.Random("%d:config:%d" % (seed, app["index"]))
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    write_file(os.path.join(path, "oci-layout"), b'{"imageLayoutVersion":"1.0.0"}')
    created = CREATED_EPOCH + 86400 * (app["index"] + 1)
    history = []
    diff_ids = []
    layers = []
    t = CREATED_EPOCH
    for l in base["layers"]:
        history.append(history_for(l["key"], l["flavor"], t, rng))
        t += 60
    history.append({"created": iso(t), "created_by": '/bin/sh -c #(nop)  CMD ["bash"]', "empty_layer": True})
    for l in app["layers"]:
        history.append(history_for(l["key"], "app", created, rng))
    history.append({"created": iso(created), "created_by": "WORKDIR /app", "empty_layer": True,
                    "comment": "buildkit.dockerfile.v0"})
    for l in base["layers"] + app["layers"]:
        r = results[l["key"]]
        diff_ids.append(r["diff_id"])
        layers.append({"mediaType": MT_LAYER_GZIP, "digest": r["digest"], "size": r["size"]})
    config = {
        "created": iso(created),
        "author": GENERATOR,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP=" + app["name"]],
            "Cmd": ["/app/%s" % app["name"]],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": app["name"],
                       "org.opencontainers.image.base.name": base["name"]},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    cbytes = dumps(config)
    cdig = hashlib.sha256(cbytes).hexdigest()
    write_file(os.path.join(path, "blobs", "sha256", cdig), cbytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + cdig, "size": len(cbytes)},
        "layers": layers,
        "annotations": {"org.opencontainers.image.title": app["name"]},
    }
    mbytes = dumps(manifest)
    mdig = hashlib.sha256(mbytes).hexdigest()
    write_file(os.path.join(path, "blobs", "sha256", mdig), mbytes)
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{"mediaType": MT_MANIFEST, "digest": "sha256:" + mdig, "size": len(mbytes),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {REF_NAME: TAG}}],
    }
    write_file(os.path.join(path, "index.json"), dumps(index))
    return {"manifest": "sha256:" + mdig, "manifest_size": len(mbytes), "config": "sha256:" + cdig,
            "config_size": len(cbytes)}


# ------------------------------------------------------------------ main


def init_worker(content):
    global CONTENT
    CONTENT = content


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See datasets/README.md.")
    p.add_argument("--seed", type=int, required=True, help="everything follows from it")
    p.add_argument("--out", required=True, metavar="DIR", help="the mirror directory to create")
    p.add_argument("--images", type=int, default=50, help="application images (default 50)")
    p.add_argument("--total-bytes", type=parse_size, default=parse_size("2G"), metavar="SIZE",
                   help="distinct blob bytes, +-10%% (default 2G = 2 GiB; 2GB = 2*10^9; K/M/G suffixes)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                   help="layers generated in parallel (default: number of CPUs)")
    p.add_argument("--compressor", choices=("auto", "igzip", "zlib"), default="auto",
                   help="auto: igzip if in PATH, else zlib")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    a = p.parse_args(argv)
    if a.images < 1 or a.jobs < 1:
        p.error("--images and --jobs must be >= 1")
    if a.total_bytes < a.images * 4 * MIN_LAYER:
        p.error("--total-bytes too small for %d images" % a.images)
    return a


def main(argv):
    global CONTENT
    args = parse_args(argv)
    t0 = time.monotonic()
    out = os.path.abspath(args.out.rstrip("/") or "/")
    if os.path.lexists(out) and not (os.path.isdir(out) and not os.listdir(out)) and not args.force:
        die("%s exists and is not empty (use --force to replace it)" % out, 2)
    compressor = args.compressor
    if compressor == "auto":
        compressor = "igzip" if shutil.which("igzip") else "zlib"
    elif compressor == "igzip" and not shutil.which("igzip"):
        die("igzip not in PATH", 2)

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    work = "%s.tmp-%d" % (out, os.getpid())
    staging = os.path.join(work, ".staging")
    os.makedirs(staging)
    try:
        CONTENT = Content(args.seed)
        ratio = expected_ratio(compressor, args.seed, staging)
        bases, apps, jobs = plan_mirror(args.seed, args.images, args.total_bytes, ratio)
        for j in jobs:
            j["dir"] = staging
            j["compressor"] = compressor
        jobs.sort(key=lambda j: (-j["budget"], j["key"]))
        if not args.quiet:
            sys.stderr.write("mirror.py: %d images on %d bases, %d layers, target %.1f MB compressed "
                             "(%.1f MB of file data, expected gzip ratio %.2f, %s), %d jobs\n"
                             % (len(apps), len(bases), len(jobs), args.total_bytes / 1e6,
                                sum(j["budget"] for j in jobs) / 1e6, ratio, compressor, args.jobs))
        results = {}
        done_bytes = 0
        if args.jobs == 1:
            it = map(gen_layer, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(min(args.jobs, len(jobs)), init_worker, (CONTENT,))
            it = pool.imap_unordered(gen_layer, jobs)
        try:
            for r in it:
                results[r["key"]] = r
                done_bytes += r["size"]
                if not args.quiet and (len(results) % 10 == 0 or len(results) == len(jobs)):
                    sys.stderr.write("mirror.py: %3d/%d layers, %7.1f MB, %5.1f s\n"
                                     % (len(results), len(jobs), done_bytes / 1e6, time.monotonic() - t0))
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        finally:
            if pool is not None:
                pool.close()
                pool.join()

        by_key = {}
        for b in bases:
            for l in b["layers"]:
                by_key[l["key"]] = l
        images = []
        meta_bytes = 0
        logical = 0
        for app in apps:
            name = "img-%03d" % app["index"]
            path = os.path.join(work, name)
            base = bases[app["base"]]
            info = write_layout(path, args.seed, app, base, results)
            meta_bytes += info["manifest_size"] + info["config_size"]
            for l in base["layers"] + app["layers"]:
                hexd = results[l["key"]]["digest"].split(":", 1)[1]
                os.link(os.path.join(staging, hexd), os.path.join(path, "blobs", "sha256", hexd))
                logical += results[l["key"]]["size"]
            logical += info["manifest_size"] + info["config_size"]
            images.append({"name": name, "tag": TAG, "app": app["name"],
                           "base": base["name"], "layers": len(base["layers"]) + len(app["layers"]),
                           "manifest": info["manifest"], "config": info["config"]})
        shutil.rmtree(staging)   # each blob stays linked from the layouts that use it
        layer_bytes = sum(r["size"] for r in results.values())
        tar_bytes = sum(r["tar_bytes"] for r in results.values())
        distinct = layer_bytes + meta_bytes
        summary = {
            "generator": GENERATOR, "seed": args.seed, "images": len(apps), "bases": len(bases),
            "total_bytes_requested": args.total_bytes, "compressor": compressor,
            "distinct_blobs": len(results) + 2 * len(apps), "distinct_layers": len(results),
            "distinct_bytes": distinct, "distinct_layer_bytes": layer_bytes, "distinct_tar_bytes": tar_bytes,
            "logical_bytes": logical,
            "bases_list": [{"name": b["name"], "layers": [results[l["key"]]["digest"] for l in b["layers"]],
                            "images": sum(1 for a in apps if a["base"] == i)} for i, b in enumerate(bases)],
            "images_list": images,
        }
        write_file(os.path.join(work, "mirror.json"), json.dumps(summary, indent=1, sort_keys=True).encode() + b"\n")
        os.chmod(work, 0o755)
        old = None
        if os.path.lexists(out):
            old = "%s.old-%d" % (out, os.getpid())
            os.rename(out, old)
        os.rename(work, out)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    secs = time.monotonic() - t0
    print("mirror.py: %s: %d images on %d bases (seed %d, %s)"
          % (out, len(apps), len(bases), args.seed, compressor))
    print("mirror.py: %d distinct blobs (%d layers), %.1f MB distinct (%.1f MiB; %+.1f%% of requested), "
          "%.1f MB uncompressed tar, %.1f MB as %d separate layouts would hold them"
          % (summary["distinct_blobs"], len(results), distinct / 1e6, distinct / 1048576.0,
             100.0 * (distinct - args.total_bytes) / args.total_bytes, tar_bytes / 1e6, logical / 1e6, len(apps)))
    print("mirror.py: %.1f s" % secs)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
