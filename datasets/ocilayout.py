#!/usr/bin/env python3
"""Small stdlib-only helper for datasets/build.sh.

Sub-commands (all operate on OCI image layout directories):

  zstd LAYOUT SRC_TAG NEW_TAG LEVEL
      Recompress every gzip layer of the image tagged SRC_TAG as zstd
      (application/vnd.oci.image.layer.v1.tar+zstd), write a new manifest blob,
      make index.json hold exactly one entry tagged NEW_TAG that points at it,
      and delete blobs that are no longer referenced.  The config blob is left
      untouched (the uncompressed layer tars, hence the diff_ids, are identical).
      Operates IN PLACE: the caller passes a copy of the source layout.

  check LAYOUT TAG
      Sanity-check a layout: oci-layout file, exactly one manifest in
      index.json tagged TAG, every referenced blob present with the right size
      and sha256, layer count == rootfs.diff_ids count == non-empty history
      entries, and every layer decompresses to its diff_id.

  summary LAYOUTS_DIR TSV_OUT NAME...
      Print a summary table for the named layouts and write TSV_OUT
      (atomically) with name, reference, manifest digest/size, config digest,
      layer count, total compressed layer bytes and layer media types.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = MT_LAYER_TAR + "+gzip"
MT_LAYER_ZSTD = MT_LAYER_TAR + "+zstd"
REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20


def die(msg):
    sys.stderr.write("ocilayout.py: error: %s\n" % msg)
    sys.exit(1)


def blob_path(layout, digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64:
        die("unsupported digest %r" % digest)
    return os.path.join(layout, "blobs", algo, hexd)


def read_json(path):
    with open(path, "rb") as f:
        return json.load(f)


def write_atomic(path, data):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    p = blob_path(layout, digest)
    if not os.path.exists(p):
        write_atomic(p, data)
    return digest, len(data)


def sha256_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
            n += len(b)
    return "sha256:" + h.hexdigest(), n


def sha256_stream(f):
    h = hashlib.sha256()
    while True:
        b = f.read(CHUNK)
        if not b:
            break
        h.update(b)
    return "sha256:" + h.hexdigest()


def uncompressed_digest(path, media_type):
    """sha256 of the uncompressed layer tar."""
    if media_type in (MT_LAYER_TAR, "application/vnd.oci.image.layer.nondistributable.v1.tar"):
        return sha256_file(path)[0]
    if media_type.endswith("+gzip"):
        with gzip.open(path, "rb") as f:
            return sha256_stream(f)
    if media_type.endswith("+zstd"):
        p = subprocess.Popen(["zstd", "-q", "-d", "-c", path], stdout=subprocess.PIPE)
        d = sha256_stream(p.stdout)
        if p.wait() != 0:
            die("zstd -d failed on %s" % path)
        return d
    die("unknown layer media type %r" % media_type)


def tagged_entries(layout):
    idx = read_json(os.path.join(layout, "index.json"))
    return idx, idx.get("manifests", [])


def single_manifest(layout, tag):
    idx, entries = tagged_entries(layout)
    if len(entries) != 1:
        die("%s: index.json has %d manifests, want exactly 1" % (layout, len(entries)))
    desc = entries[0]
    got = (desc.get("annotations") or {}).get(REF_NAME)
    if got != tag:
        die("%s: the only manifest is tagged %r, want %r" % (layout, got, tag))
    if desc.get("mediaType") != MT_MANIFEST:
        die("%s: index entry media type %r" % (layout, desc.get("mediaType")))
    return idx, desc


def referenced_blobs(layout):
    """Digests reachable from index.json (manifests, nested indexes, configs, layers)."""
    _, entries = tagged_entries(layout)
    seen = set()
    todo = list(entries)
    while todo:
        d = todo.pop()
        dg = d["digest"]
        if dg in seen:
            continue
        seen.add(dg)
        mt = d.get("mediaType")
        if mt in (MT_MANIFEST, MT_INDEX):
            doc = read_json(blob_path(layout, dg))
            if mt == MT_INDEX:
                todo.extend(doc.get("manifests", []))
            else:
                todo.append(doc["config"])
                todo.extend(doc.get("layers", []))
    return seen


def gc(layout):
    keep = referenced_blobs(layout)
    bdir = os.path.join(layout, "blobs", "sha256")
    removed = 0
    for name in os.listdir(bdir):
        if "sha256:" + name not in keep:
            os.unlink(os.path.join(bdir, name))
            removed += 1
    return removed


def cmd_zstd(layout, src_tag, new_tag, level):
    idx, desc = single_manifest(layout, src_tag)
    manifest = read_json(blob_path(layout, desc["digest"]))
    config = read_json(blob_path(layout, manifest["config"]["digest"]))
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest["layers"]):
        die("layers/diff_ids mismatch in source image")
    tmpdir = tempfile.mkdtemp(dir=layout, prefix=".zstd-")
    try:
        new_layers = []
        for i, layer in enumerate(manifest["layers"]):
            mt = layer["mediaType"]
            src = blob_path(layout, layer["digest"])
            if mt == MT_LAYER_ZSTD:
                new_layers.append(layer)
                continue
            if mt != MT_LAYER_GZIP:
                die("layer %d: cannot recompress media type %r" % (i, mt))
            raw = os.path.join(tmpdir, "layer.tar")
            with gzip.open(src, "rb") as fin, open(raw, "wb") as fout:
                shutil.copyfileobj(fin, fout, CHUNK)
            if sha256_file(raw)[0] != diff_ids[i]:
                die("layer %d: uncompressed digest does not match diff_id" % i)
            out = os.path.join(tmpdir, "layer.tar.zst")
            subprocess.run(["zstd", "-q", "-f", "--no-progress", "-%d" % level, "-T0",
                            raw, "-o", out], check=True)
            os.unlink(raw)
            digest, size = sha256_file(out)
            os.chmod(out, 0o644)
            os.rename(out, blob_path(layout, digest))
            nl = dict(layer)
            nl["mediaType"] = MT_LAYER_ZSTD
            nl["digest"] = digest
            nl["size"] = size
            new_layers.append(nl)
            sys.stdout.write("  layer %d: %s %d -> %s %d bytes\n"
                             % (i, layer["digest"][:19], layer["size"], digest[:19], size))
        manifest["layers"] = new_layers
        mbytes = json.dumps(manifest, separators=(",", ":")).encode()
        mdigest, msize = write_blob(layout, mbytes)
        nd = dict(desc)
        nd["digest"] = mdigest
        nd["size"] = msize
        ann = dict(nd.get("annotations") or {})
        ann[REF_NAME] = new_tag
        nd["annotations"] = ann
        idx["manifests"] = [nd]
        write_atomic(os.path.join(layout, "index.json"),
                     json.dumps(idx, separators=(",", ":")).encode())
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    removed = gc(layout)
    sys.stdout.write("  manifest %s (%d bytes); removed %d unreferenced blobs\n"
                     % (mdigest, msize, removed))


def cmd_check(layout, tag):
    lay = read_json(os.path.join(layout, "oci-layout"))
    if lay.get("imageLayoutVersion") != "1.0.0":
        die("%s: oci-layout version %r" % (layout, lay.get("imageLayoutVersion")))
    _, desc = single_manifest(layout, tag)

    def verify(d):
        p = blob_path(layout, d["digest"])
        if not os.path.isfile(p):
            die("missing blob %s" % d["digest"])
        got, size = sha256_file(p)
        if got != d["digest"]:
            die("blob %s has digest %s" % (d["digest"], got))
        if size != d["size"]:
            die("blob %s has size %d, descriptor says %d" % (d["digest"], size, d["size"]))
        return p

    manifest = read_json(verify(desc))
    if manifest.get("schemaVersion") != 2:
        die("manifest schemaVersion %r" % manifest.get("schemaVersion"))
    config = read_json(verify(manifest["config"]))
    layers = manifest.get("layers", [])
    diff_ids = config["rootfs"]["diff_ids"]
    if len(layers) != len(diff_ids):
        die("%d layers but %d diff_ids" % (len(layers), len(diff_ids)))
    hist = [h for h in config.get("history", []) if not h.get("empty_layer")]
    if config.get("history") is not None and len(hist) != len(layers):
        die("%d layers but %d non-empty history entries" % (len(layers), len(hist)))
    for i, layer in enumerate(layers):
        p = verify(layer)
        if uncompressed_digest(p, layer["mediaType"]) != diff_ids[i]:
            die("layer %d (%s) does not decompress to diff_id %s"
                % (i, layer["digest"], diff_ids[i]))
    unref = set("sha256:" + n for n in os.listdir(os.path.join(layout, "blobs", "sha256")))
    unref -= referenced_blobs(layout)
    if unref:
        die("%d unreferenced blobs left in %s" % (len(unref), layout))
    sys.stdout.write("  check ok: %s:%s, %d layers, manifest %s\n"
                     % (layout, tag, len(layers), desc["digest"]))


def describe(layout, tag):
    _, desc = single_manifest(layout, tag)
    manifest = read_json(blob_path(layout, desc["digest"]))
    layers = manifest.get("layers", [])
    mts = sorted(set(l["mediaType"] for l in layers))
    return {
        "desc": desc,
        "config": manifest["config"]["digest"],
        "layers": len(layers),
        "bytes": sum(l["size"] for l in layers),
        "mts": mts,
    }


def cmd_summary(layouts, tsv_out, names):
    rows = []
    for name in names:
        path = os.path.join(layouts, name)
        if not os.path.isdir(path):
            continue
        info = describe(path, name)
        rows.append([name, "oci:%s:%s" % (path, name), info["desc"]["digest"],
                     str(info["desc"]["size"]), info["config"], str(info["layers"]),
                     str(info["bytes"]), ",".join(info["mts"])])
    hdr = ["name", "reference", "manifest_digest", "manifest_size", "config_digest",
           "layers", "layer_bytes", "layer_media_types"]
    data = "\n".join("\t".join(r) for r in [hdr] + rows) + "\n"
    write_atomic(tsv_out, data.encode())
    sys.stdout.write("datasets: %-18s %6s %9s  %-19s %s\n"
                     % ("image", "layers", "MiB", "manifest", "layer media type"))
    for r in rows:
        mts = [m.replace(MT_LAYER_TAR, "tar") for m in r[7].split(",") if m]
        sys.stdout.write("datasets: %-18s %6s %9.1f  %-19s %s\n"
                         % (r[0], r[5], int(r[6]) / 1048576.0, r[2][:19], ",".join(mts)))


def main(argv):
    if len(argv) < 2:
        die("usage: ocilayout.py zstd|check|summary ...")
    cmd, args = argv[1], argv[2:]
    if cmd == "zstd" and len(args) == 4:
        cmd_zstd(args[0], args[1], args[2], int(args[3]))
    elif cmd == "check" and len(args) == 2:
        cmd_check(args[0], args[1])
    elif cmd == "summary" and len(args) >= 2:
        cmd_summary(args[0], args[1], args[2:])
    else:
        die("bad arguments: %r" % argv[1:])


if __name__ == "__main__":
    main(sys.argv)
