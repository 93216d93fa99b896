#!/usr/bin/env python3
"""Makes a one-layer OCI image layout of about --size bytes of tar from a real tree (issue 9).

The tree is the rootfs of a one-layer dataset image (default: debian, from datasets/build.sh),
extracted once with GNU tar into a staging directory under /dev/shm as copy-0/, then linked
(cp -al: hardlinks, no data copied) as copy-1/, copy-2/, ... until the copies' tar reaches
--size: the smallest number of whole copies that does (a 172 MB debian tree: 7 copies for
1 GiB, 25 for 4 GiB). The layer is

    tar -c --format=gnu --sort=name --mtime=@1704067200 --numeric-owner --hard-dereference \\
        copy-0 ... copy-N | gzip -6 -n

(--hard-dereference stores every copy's files in full, so the tar holds N real copies), and
the script writes the image layout around it itself: oci-layout, blobs/sha256/ (layer,
config with rootfs.diff_ids, manifest) and index.json with one manifest tagged --tag
(default: the name of --out, so `unpack_bench.py --image big-1g` finds it in the cache).

Deterministic: the same source image, --size and tool versions give the same bytes (fixed
mtime and owners, sorted names, `gzip -n`, fixed config). Cached: the parameters are an
annotation of the index.json entry; a layout at --out with the same parameters is kept
(use --force to rebuild). The new layout is built next to --out and renamed into place,
then checked with `ocipipe validate` (skipped with --no-validate or without the binary).

gzip -6 runs at about 20 MB/s of tar on this 2-core VM: about 1 minute for 1 GiB, 4 minutes
for 4 GiB, once. Standard library only. Exit status: 0 done (or cached), 1 validate failed,
2 usage or set-up error.
"""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
from unpack_bench import SetupError, cache_dir, load_image, uncompressed_size  # noqa: E402

FORMAT = 1  # bump when the recipe changes: cached layouts of another format are rebuilt
MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PARAMS_KEY = "dev.ocipipe.bench.big-layer"
REF_NAME = "org.opencontainers.image.ref.name"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TAR_C = ["tar", "-c", "--format=gnu", "--sort=name", "--mtime=@%d" % MTIME, "--numeric-owner",
         "--hard-dereference"]


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("big_layer: %s\n" % msg)
        sys.stderr.flush()


def parse_size(s):
    """Bytes from "4294967296", "256M", "1G", "1GiB" (binary units)."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", s.lower())
    if not m:
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 1G, 256M, 4294967296)" % s)
    v = int(float(m.group(1)) * (1 << (10 * " kmgt".index(m.group(2) or " "))))
    if v <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return v


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def put_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def cached_params(out):
    try:
        with open(os.path.join(out, "index.json"), "rb") as f:
            index = json.load(f)
        return json.loads(index["manifests"][0]["annotations"][PARAMS_KEY])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def run_checked(argv, what):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise SetupError("%s failed (exit %d): %s" % (what, p.returncode,
                                                      p.stdout.decode("utf-8", "replace").strip()[-500:]))


def extract_tree(layer, dest):
    os.mkdir(dest)
    argv = ["tar", "-x", "--numeric-owner", "-f", layer["path"], "-C", dest]
    if layer["compression"] == "gzip":
        argv.insert(2, "-z")
    elif layer["compression"] == "zstd":
        argv.insert(2, "--zstd")
    run_checked(argv, "extracting the source layer")


def tar_gzip(staging, names, blob_path):
    """tar -c of names under staging | gzip -6 -n > blob_path; (diff_id, tar bytes)."""
    h = hashlib.sha256()
    n = 0
    with open(blob_path, "wb") as out:
        gz = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        tar = subprocess.Popen(TAR_C + ["-C", staging, "--"] + names, stdout=subprocess.PIPE)
        try:
            while True:
                chunk = tar.stdout.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
                gz.stdin.write(chunk)
        finally:
            gz.stdin.close()
            tar.stdout.close()
            tar_rc, gz_rc = tar.wait(), gz.wait()
    if tar_rc != 0 or gz_rc != 0:
        raise SetupError("tar | gzip failed (tar exit %d, gzip exit %d)" % (tar_rc, gz_rc))
    return "sha256:" + h.hexdigest(), n


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            c = f.read(1 << 20)
            if not c:
                return "sha256:" + h.hexdigest()
            h.update(c)


def build(args, src_layout, src_tag, manifest_digest, layer, params):
    out = args.out
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    new = tempfile.mkdtemp(prefix=".%s.new-" % os.path.basename(out), dir=parent)
    staging = tempfile.mkdtemp(prefix="ocipipe-big-layer-", dir=args.work)
    try:
        os.makedirs(os.path.join(new, "blobs", "sha256"))
        t0 = time.perf_counter()
        extract_tree(layer, os.path.join(staging, "copy-0"))
        copies = params["copies"]
        for i in range(1, copies):
            run_checked(["cp", "-al", os.path.join(staging, "copy-0"), os.path.join(staging, "copy-%d" % i)],
                        "cp -al")
        log(args, "tree: %d copies of %s:%s under %s (%.1f s); tar | gzip -6 ..."
            % (copies, src_layout, src_tag, staging, time.perf_counter() - t0))
        t1 = time.perf_counter()
        tmp_blob = os.path.join(new, "blobs", "layer.tmp")
        diff_id, tar_bytes = tar_gzip(staging, ["copy-%d" % i for i in range(copies)], tmp_blob)
        layer_digest = file_sha256(tmp_blob)
        layer_size = os.path.getsize(tmp_blob)
        os.rename(tmp_blob, os.path.join(new, "blobs", "sha256", layer_digest.split(":", 1)[1]))
        log(args, "layer: %.1f MB of tar, %.1f MB of gzip (%.1f s)"
            % (tar_bytes / 1e6, layer_size / 1e6, time.perf_counter() - t1))
        config = {
            "architecture": "amd64", "os": "linux", "created": CREATED,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Cmd": ["/bin/bash"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": CREATED, "created_by": "bench/e2e/big_layer.py: %d copies of %s, gzip -6"
                         % (copies, manifest_digest)}],
        }
        cfg_digest, cfg_size = put_blob(new, canonical(config))
        manifest = {
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": cfg_size},
            "layers": [{"mediaType": MT_LAYER, "digest": layer_digest, "size": layer_size}],
        }
        man_digest, man_size = put_blob(new, canonical(manifest))
        params = dict(params, tar_bytes=tar_bytes)
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": MT_MANIFEST, "digest": man_digest, "size": man_size,
                                "annotations": {REF_NAME: args.tag, PARAMS_KEY: json.dumps(params, sort_keys=True)}}]}
        with open(os.path.join(new, "oci-layout"), "wb") as f:
            f.write(canonical({"imageLayoutVersion": "1.0.0"}))
        with open(os.path.join(new, "index.json"), "wb") as f:
            f.write(canonical(index))
        if os.path.lexists(out):
            shutil.rmtree(out)
        os.rename(new, out)
        new = None
        return man_digest, tar_bytes, layer_size
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", staging], check=False)
        if new:
            shutil.rmtree(new, ignore_errors=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See bench/README.md.")
    p.add_argument("--size", type=parse_size, default=1 << 30,
                   help="uncompressed tar bytes to reach, with K/M/G suffixes (binary); default 1G")
    p.add_argument("--out", help="the image layout to write (default $CACHE/layouts/big-1g, or big-<N>g / "
                                 "big-<N>m after --size)")
    p.add_argument("--tag", help="tag of the image (default: the name of --out)")
    p.add_argument("--source", default="debian", help="one-layer dataset whose rootfs is copied (default debian)")
    p.add_argument("--source-layout", metavar="DIR", help="a one-layer image layout instead of --source")
    p.add_argument("--work", default="/dev/shm", help="where the staging tree goes (default /dev/shm)")
    p.add_argument("--ocipipe", default=os.path.join(REPO_ROOT, "build", "ocipipe"),
                   help="binary for the final `ocipipe validate` (default build/ocipipe)")
    p.add_argument("--no-validate", action="store_true", help="skip `ocipipe validate` of the result")
    p.add_argument("--force", action="store_true", help="rebuild even if --out holds the same image")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    if not args.out:
        s = args.size
        name = "big-%dg" % (s >> 30) if s % (1 << 30) == 0 else "big-%dm" % max(1, s >> 20)
        args.out = os.path.join(cache_dir(), "layouts", name)
    args.out = os.path.abspath(os.path.expanduser(args.out)).rstrip("/")
    if not args.tag:
        args.tag = os.path.basename(args.out)
    return args


def main(argv):
    args = parse_args(argv)
    try:
        if args.source_layout:
            src_layout, src_tag = os.path.abspath(args.source_layout), None
        else:
            src_layout, src_tag = os.path.join(cache_dir(), "layouts", args.source), args.source
        src_tag, layers = load_image(src_layout, src_tag)
        if len(layers) != 1:
            raise SetupError("%s:%s has %d layers; the source must be a one-layer image (its whiteouts "
                             "would not be applied)" % (src_layout, src_tag, len(layers)))
        with open(os.path.join(src_layout, "index.json"), "rb") as f:
            manifest_digest = next(m["digest"] for m in json.load(f)["manifests"]
                                   if (m.get("annotations") or {}).get(REF_NAME) == src_tag)
        tree_bytes = uncompressed_size(layers[0])
        copies = max(1, math.ceil(args.size / tree_bytes))
        params = {"format": FORMAT, "source": manifest_digest, "size": args.size, "copies": copies,
                  "mtime": MTIME, "gzip": "-6 -n"}
        have = cached_params(args.out)
        if have is not None and not args.force and \
                all(have.get(k) == v for k, v in params.items()):
            log(args, "%s is up to date (%d copies, %.1f MB of tar); --force rebuilds it"
                % (args.out, copies, have.get("tar_bytes", 0) / 1e6))
        else:
            if os.path.lexists(args.out) and have is None and not args.force:
                raise SetupError("%s exists and was not made by this script; remove it or pass --force" % args.out)
            log(args, "building %s: %d copies of a %.1f MB tree (--size %d)"
                % (args.out, copies, tree_bytes / 1e6, args.size))
            _, tar_bytes, gz_bytes = build(args, src_layout, src_tag, manifest_digest, layers[0], params)
            log(args, "wrote %s:%s (%.1f MB tar, %.1f MB gzip)" % (args.out, args.tag, tar_bytes / 1e6, gz_bytes / 1e6))
    except (SetupError, OSError, ValueError, KeyError, StopIteration) as e:
        sys.stderr.write("big_layer: %s\n" % (e or "no tagged manifest"))
        return 2
    if args.no_validate:
        return 0
    if not os.access(args.ocipipe, os.X_OK):
        log(args, "%s not built: not validated" % args.ocipipe)
        return 0
    ref = "oci:%s:%s" % (args.out, args.tag)
    p = subprocess.run([args.ocipipe, "validate", "-q", ref], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.stderr.write("big_layer: ocipipe validate %s failed (exit %d): %s\n"
                         % (ref, p.returncode, p.stdout.decode("utf-8", "replace").strip()[-500:]))
        return 1
    log(args, "ocipipe validate %s: ok" % ref)
    print(ref)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
