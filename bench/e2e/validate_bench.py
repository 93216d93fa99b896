#!/usr/bin/env python3
"""Bulk validation benchmark: ocipipe validate against oci-image-tool and a hashing floor.

Data sets: a synthetic mirror (datasets/mirror.py: many image layouts sharing hardlinked
base layers) and, optionally, one more layout such as debian-slim (datasets/build.sh).
For each data set, in each run, side by side (the starting tool rotating from run to run):

  ocipipe         one process: ocipipe validate --all -q oci:DIR/img-000 ... oci:DIR/img-NNN
                  (a layout given as LAYOUT:TAG: ocipipe validate -q oci:LAYOUT:TAG);
                  -j N only when --jobs is given. Must exit 0.
  floor           the work validation cannot avoid, done by the fastest standard tools and
                  spread over all cores: `openssl dgst -sha256 BLOB` for every distinct blob
                  file (distinct by (st_dev, st_ino): a hardlinked blob counts once) plus
                  `sh -c 'igzip -dc LAYER | openssl dgst -sha256'` (the diff_id) for every
                  distinct gzip layer, all tasks through a pool of --jobs (default: the CPUs
                  this process may use) concurrent processes, largest first. Wall time of the
                  whole pool. Afterwards (untimed) every digest is checked against the blob's
                  name and the configs' diff_ids, so the floor provably did the work.
  oci-image-tool  oci-image-tool validate --type image --ref name=TAG LAYOUT for every image,
                  one after the other, as a user runs it. (1.0.0-rc1 answers `--type
                  imageLayout` with "unimplemented".) It reads every blob once (digests and
                  schemas) and does not decompress layers, so it checks no diff_id. With
                  --oci-image-tool-limit K only K images, evenly spread, are run and the total
                  is extrapolated by their share of the bytes, and the output says so.

The page cache cannot be dropped without root and a quiet machine, so instead every distinct
blob is read once (cat > /dev/null, untimed) before the runs: every tool sees a warm cache.

Wall time is measured around spawn + wait4. Peak RSS of ocipipe and oci-image-tool is their
ru_maxrss as GNU time (/usr/bin/time -f %M) reports it; without it, ru_maxrss of our own
wait4, which also counts this script's pages (see unpack_bench.py). The floor's processes are
spawned straight from this script (no GNU time, so as not to slow the floor down), and each
one's ru_maxrss would be this script's RSS: the floor has no RSS figure.

Reported: medians over --runs, ratio of each tool's median to the floor's median, peak RSS
(max over runs), MB/s of distinct blob bytes (10^6 bytes; hardlinked blobs once). The mirror
target of the issue is printed as a verdict line: ocipipe within 1.3x of the floor, peak RSS
under 300 MB.

Standard library only. Exit status: 0 every tool ran and passed, 1 a tool failed (or the
floor's digests disagreed), 2 usage or set-up error.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the tree for the import below
from unpack_bench import cpu_model, rss_method, sh_quote, tail, timed_run, version_of  # noqa: E402

ALL_TOOLS = ["ocipipe", "floor", "oci-image-tool"]
REF_NAME = "org.opencontainers.image.ref.name"
MT_MANIFEST = ("application/vnd.oci.image.manifest.v1+json",
               "application/vnd.docker.distribution.manifest.v2+json")
MT_INDEX = ("application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json")
DIFF_SCRIPT = 'igzip -dc "$1" | openssl dgst -sha256'
TARGET_RATIO = 1.3
TARGET_RATIO_ISSUE9 = 1.15  # issue 9's tighter target for the same mirror and floor
TARGET_RSS_MB = 300


class SetupError(Exception):
    pass


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("validate_bench: %s\n" % msg)
        sys.stderr.flush()


# ------------------------------------------------------------------ data sets


def blob_path(layout, digest):
    alg, _, hexd = digest.partition(":")
    if alg not in ("sha256", "sha512") or not hexd or not all(c in "0123456789abcdef" for c in hexd):
        raise SetupError("bad digest %r in %s" % (digest, layout))
    return os.path.join(layout, "blobs", alg, hexd)


def read_json(path):
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SetupError("cannot read %s: %s" % (path, e))


def gzip_isize(path):
    """Uncompressed size mod 2^32 from the gzip trailer: only a cost estimate for scheduling."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return struct.unpack("<I", f.read(4))[0]


def load_dataset(name, layouts):
    """layouts: [(dir, tag or None)]; None means every manifest of the layout (--all).

    Returns the images (layout, tag, bytes) and the distinct blobs: one record per
    (st_dev, st_ino) with its path, digest, size, and for gzip layers the diff_id the
    configs expect."""
    blobs = {}
    images = []

    def add(layout, desc, role):
        p = blob_path(layout, desc["digest"])
        try:
            st = os.stat(p)
        except OSError as e:
            raise SetupError("%s: blob %s: %s" % (layout, desc["digest"], e.strerror))
        if st.st_size != desc.get("size"):
            raise SetupError("%s: blob %s has %d bytes, descriptor says %s"
                             % (layout, desc["digest"], st.st_size, desc.get("size")))
        key = (st.st_dev, st.st_ino)
        b = blobs.get(key)
        if b is None:
            b = blobs[key] = {"path": p, "digest": desc["digest"], "size": st.st_size, "links": st.st_nlink,
                              "gzip": False, "diff_ids": set(), "roles": set()}
        elif b["digest"] != desc["digest"]:
            raise SetupError("%s and %s are one inode with two digests" % (b["path"], p))
        b["roles"].add(role)
        return b

    for layout, tag in layouts:
        index = read_json(os.path.join(layout, "index.json"))
        tops = index.get("manifests", [])
        if tag is not None:
            tops = [m for m in tops if (m.get("annotations") or {}).get(REF_NAME) == tag]
            if len(tops) != 1:
                raise SetupError("%s: %d manifests tagged %r" % (layout, len(tops), tag))
        for top in tops:
            img_tag = (top.get("annotations") or {}).get(REF_NAME)
            todo = [top]
            nbytes = 0
            while todo:
                d = todo.pop()
                mt = d.get("mediaType")
                if mt in MT_INDEX:
                    b = add(layout, d, "index")
                    todo.extend(read_json(b["path"]).get("manifests", []))
                    nbytes += b["size"]
                    continue
                if mt not in MT_MANIFEST:
                    continue  # foreign descriptors: not ours to benchmark
                b = add(layout, d, "manifest")
                nbytes += b["size"]
                m = read_json(b["path"])
                cb = add(layout, m["config"], "config")
                nbytes += cb["size"]
                diff_ids = read_json(cb["path"]).get("rootfs", {}).get("diff_ids", [])
                layers = m.get("layers", [])
                if len(diff_ids) != len(layers):
                    raise SetupError("%s: manifest %s has %d layers, config %d diff_ids"
                                     % (layout, d["digest"], len(layers), len(diff_ids)))
                for l, diff in zip(layers, diff_ids):
                    lb = add(layout, l, "layer")
                    nbytes += lb["size"]
                    if l["mediaType"].endswith("+gzip") or l["mediaType"].endswith(".tar.gzip"):
                        lb["gzip"] = True
                        lb["diff_ids"].add(diff)
            images.append({"layout": layout, "tag": img_tag, "bytes": nbytes})
    if not images:
        raise SetupError("%s: no images" % name)
    for b in blobs.values():
        if len(b["diff_ids"]) > 1:
            raise SetupError("layer %s has diff_ids %s in different configs" % (b["digest"], sorted(b["diff_ids"])))
        if b["gzip"]:
            b["isize"] = gzip_isize(b["path"])
    return {"name": name, "layouts": layouts, "images": images, "blobs": list(blobs.values()),
            "distinct_bytes": sum(b["size"] for b in blobs.values()),
            "logical_bytes": sum(i["bytes"] for i in images),
            "gzip_layers": sum(1 for b in blobs.values() if b["gzip"])}


def mirror_layouts(d):
    d = os.path.abspath(d)
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        raise SetupError("--mirror %s: %s (make one: datasets/mirror.py --seed 1 --out %s)" % (d, e.strerror, d))
    out = [(os.path.join(d, n), None) for n in names
           if os.path.isfile(os.path.join(d, n, "index.json")) and os.path.isfile(os.path.join(d, n, "oci-layout"))]
    if not out:
        raise SetupError("--mirror %s holds no image layouts" % d)
    return out


def warm_cache(ds):
    """Reads every distinct blob once (cat > /dev/null), untimed."""
    paths = [b["path"] for b in ds["blobs"]]
    for i in range(0, len(paths), 200):
        argv = ["cat"] + paths[i:i + 200]
        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            pid = os.posix_spawnp("cat", argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)])
        finally:
            os.close(fd)
        _, status, _ = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SetupError("cat of the blobs failed")


# ------------------------------------------------------------------ the floor


def floor_tasks(ds):
    tasks = []
    for b in ds["blobs"]:
        tasks.append({"kind": "dgst", "blob": b, "cost": b["size"],
                      "argv": ["openssl", "dgst", "-sha256", b["path"]]})
        if b["gzip"]:
            tasks.append({"kind": "diff_id", "blob": b, "cost": b["size"] + b["isize"],
                          "argv": ["sh", "-c", DIFF_SCRIPT, "sh", b["path"]]})
    tasks.sort(key=lambda t: (-t["cost"], t["blob"]["path"], t["kind"]))
    return tasks


def spawn_capture(argv):
    r, w = os.pipe()
    try:
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, w, 2)]
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    finally:
        os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while True:
            c = f.read(65536)
            if not c:
                break
            chunks.append(c)
    _, status, _ = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def run_floor(tasks, jobs):
    """All tasks through `jobs` concurrent processes, largest first; (wall_s, outputs)."""
    outs = [None] * len(tasks)
    lock = threading.Lock()
    nxt = [0]

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(tasks):
                return
            outs[i] = spawn_capture(tasks[i]["argv"])

    threads = [threading.Thread(target=worker) for _ in range(min(jobs, len(tasks)))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, outs


def check_floor(tasks, outs):
    """None when every digest is right, else the first problem."""
    for t, (code, text) in zip(tasks, outs):
        b = t["blob"]
        if code != 0:
            return "%s %s: exit %d: %s" % (t["kind"], b["path"], code, text.strip()[-200:])
        got = text.strip().rsplit("= ", 1)[-1].strip()
        want = b["digest"] if t["kind"] == "dgst" else next(iter(b["diff_ids"]))
        if "sha256:" + got != want:
            return "%s %s: got sha256:%s, want %s" % (t["kind"], b["path"], got, want)
    return None


# ------------------------------------------------------------------ the tools


def ocipipe_argv(args, ds):
    argv = [args.ocipipe, "validate", "-q"]
    if args.jobs_given:
        argv += ["-j", str(args.jobs)]
    if any(tag is None for _, tag in ds["layouts"]):
        argv.append("--all")
    for layout, tag in ds["layouts"]:
        argv.append("oci:%s:%s" % (layout, tag) if tag is not None else "oci:" + layout)
    return argv


def oit_argv(img):
    if img["tag"] is None:
        raise SetupError("%s: an untagged manifest; oci-image-tool needs a tag" % img["layout"])
    return ["oci-image-tool", "validate", "--type", "image", "--ref", "name=" + img["tag"], img["layout"]]


def oit_sample(images, limit):
    n = len(images)
    if not limit or limit >= n:
        return list(range(n))
    return sorted(set(int(i * n / limit) for i in range(limit)))


def run_tool(args, tool, ds, work, it):
    """One timed run; a dict with wall_s, rss_kib (or None), ok, error, note."""
    if tool == "floor":
        tasks = floor_tasks(ds)
        wall, outs = run_floor(tasks, args.jobs)
        err = check_floor(tasks, outs)
        return {"wall_s": wall, "rss_kib": None, "ok": err is None, "error": err,
                "processes": len(tasks)}
    if tool == "ocipipe":
        log_path = os.path.join(work, "ocipipe-%d.log" % it)
        wall, rss, code = timed_run(ocipipe_argv(args, ds), log_path, args.rss_method)
        err = None if code == 0 else "exit %d: %s" % (code, tail(log_path, 5).replace("\n", " | "))
        return {"wall_s": wall, "rss_kib": rss, "ok": code == 0, "error": err}
    # oci-image-tool: sequential, one process per image
    idx = oit_sample(ds["images"], args.oci_image_tool_limit)
    total = 0.0
    rss = 0
    for i in idx:
        img = ds["images"][i]
        log_path = os.path.join(work, "oit-%d-%d.log" % (it, i))
        wall, r, code = timed_run(oit_argv(img), log_path, args.rss_method)
        total += wall
        rss = max(rss, r)
        if code != 0:
            return {"wall_s": total, "rss_kib": rss, "ok": False,
                    "error": "%s: exit %d: %s" % (img["layout"], code, tail(log_path, 3).replace("\n", " | "))}
    res = {"wall_s": total, "rss_kib": rss, "ok": True, "error": None, "images_run": len(idx)}
    if len(idx) < len(ds["images"]):
        done = sum(ds["images"][i]["bytes"] for i in idx)
        res["measured_s"] = total
        res["wall_s"] = total * ds["logical_bytes"] / float(done)
        res["extrapolated"] = "%d of %d images, scaled by bytes" % (len(idx), len(ds["images"]))
    return res


def check_tools(args):
    need = {"floor": ["openssl", "igzip", "sh"], "oci-image-tool": ["oci-image-tool"]}
    for tool in args.tools:
        if tool == "ocipipe":
            if not os.access(args.ocipipe, os.X_OK):
                raise SetupError("%s is not built (build it, pass --ocipipe, or leave it out with --tools)" % args.ocipipe)
            continue
        missing = [p for p in need[tool] if shutil.which(p) is None]
        if missing:
            raise SetupError("%s needs %s, not in PATH" % (tool, ", ".join(missing)))


def host_info(args):
    cpu = cpu_model()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    cmds = {"ocipipe": [args.ocipipe, "--version"], "openssl": ["openssl", "version"],
            "igzip": ["igzip", "-V"], "oci-image-tool": ["oci-image-tool", "--version"]}
    versions = {}
    for k, argv in cmds.items():
        if k == "ocipipe" and "ocipipe" not in args.tools:
            continue
        if k == "oci-image-tool" and "oci-image-tool" not in args.tools:
            continue
        versions[k] = version_of(argv)
    return {"hostname": platform.node(), "kernel": platform.release(), "nproc": usable,
            "cpus_online": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "versions": versions}


# ------------------------------------------------------------------ runs and report


def bench_dataset(args, ds, work):
    log(args, "%s: %d images, %d distinct blobs (%d gzip layers), %.1f MB distinct, %.1f MB per-image sum"
        % (ds["name"], len(ds["images"]), len(ds["blobs"]), ds["gzip_layers"],
           ds["distinct_bytes"] / 1e6, ds["logical_bytes"] / 1e6))
    t0 = time.perf_counter()
    warm_cache(ds)
    log(args, "%s: warm-up read of all distinct blobs (cat > /dev/null, untimed): %.1f s"
        % (ds["name"], time.perf_counter() - t0))
    raw = []
    failed = {}
    tools = args.tools
    for it in range(args.runs):
        k = it % len(tools)
        order = tools[k:] + tools[:k]
        for pos, tool in enumerate(order):
            if tool in failed:
                continue
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = run_tool(args, tool, ds, work, it)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            r["cpu_s"] = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
            if r.get("measured_s"):
                r["cpu_s"] *= r["wall_s"] / r["measured_s"]
            r.update({"dataset": ds["name"], "tool": tool, "run": it + 1, "position": pos + 1})
            raw.append(r)
            if not r["ok"]:
                failed[tool] = r["error"]
                log(args, "%s run %d/%d %s FAILED: %s" % (ds["name"], it + 1, args.runs, tool, r["error"]))
            else:
                log(args, "%s run %d/%d %-14s %8.3f s (CPU %7.2f s) %8.1f MB/s %s%s"
                    % (ds["name"], it + 1, args.runs, tool, r["wall_s"], r["cpu_s"],
                       ds["distinct_bytes"] / 1e6 / r["wall_s"],
                       "%7.1f MiB" % (r["rss_kib"] / 1024.0) if r["rss_kib"] is not None else "      - MiB",
                       " (extrapolated: %s)" % r["extrapolated"] if r.get("extrapolated") else ""))
    rows = []
    for tool in tools:
        ok = [r for r in raw if r["tool"] == tool and r["ok"]]
        row = {"dataset": ds["name"], "tool": tool, "runs": len(ok), "failed": failed.get(tool)}
        if ok and tool not in failed:
            walls = [r["wall_s"] for r in ok]
            rss = [r["rss_kib"] for r in ok if r["rss_kib"] is not None]
            row.update({"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                        "median_cpu_s": statistics.median(r["cpu_s"] for r in ok),
                        "mb_per_s": ds["distinct_bytes"] / 1e6 / statistics.median(walls),
                        "peak_rss_mib": max(rss) / 1024.0 if rss else None,
                        "extrapolated": ok[0].get("extrapolated")})
        rows.append(row)
    floor = next((r for r in rows if r["tool"] == "floor" and "median_s" in r), None)
    for r in rows:
        r["ratio_vs_floor"] = r["median_s"] / floor["median_s"] if floor and "median_s" in r else None
    return raw, rows


def fmt_table(rows, datasets):
    hdr = ["data set", "tool", "images", "distinct MB", "median s", "min s", "max s", "CPU s", "MB/s",
           "× floor", "peak RSS MiB"]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(hdr) - 2)) + "|"]
    for r in rows:
        ds = datasets[r["dataset"]]
        if "median_s" not in r:
            lines.append("| %s | %s | %d | %.1f | FAILED: %s |" % (
                r["dataset"], r["tool"], len(ds["images"]), ds["distinct_bytes"] / 1e6,
                (r["failed"] or "no runs").replace("|", "/")[:200]))
            continue
        tool = r["tool"] + (" *" if r.get("extrapolated") else "")
        lines.append("| " + " | ".join([
            r["dataset"], tool, str(len(ds["images"])), "%.1f" % (ds["distinct_bytes"] / 1e6),
            "%.3f" % r["median_s"], "%.3f" % r["min_s"], "%.3f" % r["max_s"], "%.2f" % r["median_cpu_s"],
            "%.1f" % r["mb_per_s"],
            "%.2f" % r["ratio_vs_floor"] if r["ratio_vs_floor"] is not None else "-",
            "%.1f" % r["peak_rss_mib"] if r["peak_rss_mib"] is not None else "-"]) + " |")
    return "\n".join(lines)


def print_report(meta, rows, datasets):
    h = meta["host"]
    print("host: %s, %d CPUs usable (%s online), %s, kernel %s" % (h["hostname"], h["nproc"], h["cpus_online"],
                                                                   h["cpu"] or "unknown CPU", h["kernel"]))
    print("versions: " + "; ".join("%s: %s" % kv for kv in sorted(h["versions"].items())))
    print("%d run(s) per tool, order rotating; floor pool of %d processes; blobs read once before the runs "
          "(cat > /dev/null, untimed): warm page cache for every tool" % (meta["runs"], meta["jobs"]))
    for ds in datasets.values():
        print("%s: %d images, %d distinct blobs (%d gzip layers), %.1f MB distinct (%.1f MB counted per image)"
              % (ds["name"], len(ds["images"]), len(ds["blobs"]), ds["gzip_layers"], ds["distinct_bytes"] / 1e6,
                 ds["logical_bytes"] / 1e6))
    print()
    print(fmt_table(rows, datasets))
    print()
    print("MB/s: 10^6 distinct blob bytes (a hardlinked blob once) per second of the median run. "
          "× floor: median / the floor's median.")
    print("CPU s: median user+sys time of the run's processes (getrusage(RUSAGE_CHILDREN) around it); "
          "less sensitive than wall time to other load on the machine.")
    print("floor: openssl dgst -sha256 of every distinct blob + igzip -dc | openssl dgst -sha256 of every "
          "distinct gzip layer, %d at a time, largest first; digests checked against names and diff_ids." % meta["jobs"])
    print("peak RSS: max over runs of ru_maxrss (%s); the floor's processes are not measured."
          % ("GNU time" if meta["rss_method"] == "time" else "wait4, includes this script's RSS as a floor"))
    if any(r.get("extrapolated") for r in rows):
        for r in rows:
            if r.get("extrapolated"):
                print("* %s on %s: extrapolated (%s)" % (r["tool"], r["dataset"], r["extrapolated"]))
    print("oci-image-tool: sequential, one process per image; reads each blob once (digests, schemas), "
          "checks no diff_id.")
    for r in rows:
        if r["dataset"] == "mirror" and r["tool"] == "ocipipe" and "median_s" in r:
            ok_ratio = r["ratio_vs_floor"] is not None and r["ratio_vs_floor"] <= TARGET_RATIO
            ok_rss = r["peak_rss_mib"] is not None and r["peak_rss_mib"] * 1.048576 < TARGET_RSS_MB
            print("target (mirror): ocipipe %s× the floor (want <= %.1f): %s; peak RSS %.0f MB (want < %d): %s"
                  % ("%.2f" % r["ratio_vs_floor"] if r["ratio_vs_floor"] is not None else "?", TARGET_RATIO,
                     "met" if ok_ratio else "NOT met",
                     r["peak_rss_mib"] * 1.048576 if r["peak_rss_mib"] is not None else -1, TARGET_RSS_MB,
                     "met" if ok_rss else "NOT met"))
            print("target (issue 9, mirror): ocipipe %s× the floor (want <= %.2f): %s"
                  % ("%.2f" % r["ratio_vs_floor"] if r["ratio_vs_floor"] is not None else "?", TARGET_RATIO_ISSUE9,
                     "met" if r["ratio_vs_floor"] is not None and r["ratio_vs_floor"] <= TARGET_RATIO_ISSUE9
                     else "NOT met"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See bench/README.md.")
    p.add_argument("--mirror", metavar="DIR", help="a mirror made by datasets/mirror.py (every layout in DIR)")
    p.add_argument("--debian-slim", metavar="LAYOUT:TAG",
                   help="one more layout, e.g. ~/.cache/ocipipe/layouts/debian-slim:debian-slim")
    p.add_argument("--runs", type=int, default=3, help="timed runs per tool (default 3)")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="floor pool size, and ocipipe -j N (default: the CPUs usable; ocipipe then picks its own)")
    p.add_argument("--ocipipe", default=os.path.join(REPO_ROOT, "build", "ocipipe"),
                   help="the ocipipe binary (default: build/ocipipe of this repository)")
    p.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset of %s" % ",".join(ALL_TOOLS))
    p.add_argument("--oci-image-tool-limit", type=int, default=0, metavar="K",
                   help="run oci-image-tool on K images (evenly spread) and extrapolate")
    p.add_argument("--json", metavar="FILE", help="write setup, summary and raw runs as JSON to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in ALL_TOOLS]
    if bad or not args.tools or len(set(args.tools)) != len(args.tools):
        p.error("--tools: choose distinct tools from %s" % ",".join(ALL_TOOLS))
    if not args.mirror and not args.debian_slim:
        p.error("give --mirror DIR and/or --debian-slim LAYOUT:TAG")
    if args.runs < 1 or args.jobs < 0 or args.oci_image_tool_limit < 0:
        p.error("--runs must be >= 1, --jobs and --oci-image-tool-limit >= 0")
    args.jobs_given = args.jobs > 0
    if not args.jobs:
        try:
            args.jobs = len(os.sched_getaffinity(0))
        except AttributeError:
            args.jobs = os.cpu_count() or 1
    return args


def main(argv):
    args = parse_args(argv)
    try:
        check_tools(args)
        datasets = {}
        if args.mirror:
            datasets["mirror"] = load_dataset("mirror", mirror_layouts(args.mirror))
        if args.debian_slim:
            layout, sep, tag = args.debian_slim.rpartition(":")
            if not sep or not layout or not tag:
                raise SetupError("--debian-slim wants LAYOUT:TAG")
            layout = os.path.abspath(os.path.expanduser(layout))
            datasets["debian-slim"] = load_dataset("debian-slim", [(layout, tag)])
    except (SetupError, OSError) as e:
        sys.stderr.write("validate_bench: %s\n" % e)
        return 2
    args.rss_method = rss_method()
    if args.rss_method != "time":
        log(args, "no usable /usr/bin/time: peak RSS comes from wait4 and includes this script's RSS")
    meta = {"schema": 1, "runs": args.runs, "jobs": args.jobs, "rss_method": args.rss_method,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": host_info(args), "datasets": {}, "commands": {}}
    work = tempfile.mkdtemp(prefix="ocipipe-vbench-")
    raw_all, rows_all = [], []
    try:
        for ds in datasets.values():
            meta["datasets"][ds["name"]] = {
                "layouts": [l for l, _ in ds["layouts"]], "images": len(ds["images"]),
                "distinct_blobs": len(ds["blobs"]), "gzip_layers": ds["gzip_layers"],
                "distinct_bytes": ds["distinct_bytes"], "logical_bytes": ds["logical_bytes"],
                "hardlinked_blobs": sum(1 for b in ds["blobs"] if b["links"] > 1)}
            cmds = {}
            if "ocipipe" in args.tools:
                a = ocipipe_argv(args, ds)
                cmds["ocipipe"] = " ".join(sh_quote(x) for x in (a if len(a) < 12 else a[:8] + ["..."]))
            if "floor" in args.tools:
                cmds["floor"] = "%d x openssl dgst -sha256 BLOB, %d x sh -c %s sh LAYER; %d at a time" % (
                    len(ds["blobs"]), ds["gzip_layers"], sh_quote(DIFF_SCRIPT), args.jobs)
            if "oci-image-tool" in args.tools:
                cmds["oci-image-tool"] = " ".join(sh_quote(x) for x in oit_argv(ds["images"][0])) + \
                    " (per image, sequential)"
            meta["commands"][ds["name"]] = cmds
            raw, rows = bench_dataset(args, ds, work)
            raw_all += raw
            rows_all += rows
    except SetupError as e:
        sys.stderr.write("validate_bench: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("validate_bench: interrupted\n")
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_report(meta, rows_all, datasets)
    if args.json:
        meta["summary"] = rows_all
        meta["raw"] = raw_all
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 1 if any(r.get("failed") or "median_s" not in r for r in rows_all) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
