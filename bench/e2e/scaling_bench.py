#!/usr/bin/env python3
"""Scaling runner of issue 9: ocipipe at -j1 ... -jN against its peers and its floor, one run.

For each image (--image NAME / --layout DIR[:TAG], several allowed; default debian-slim and,
if built by big_layer.py, big-1g), in one run and side by side:

  ocipipe unpack -j J oci:LAYOUT:TAG OUT       for every J of --jobs (default 1, 2, 4, ...
                                               and --max-jobs, which defaults to the CPUs)
  ocipipe validate -q -j J oci:LAYOUT:TAG      the same J values
  igzip|tar        `igzip -dc LAYER | tar -x` of each layer, one after another (verifies
                   nothing, applies no whiteouts; for a one-layer image the done-when baseline)
  umoci            umoci --log=error unpack --image LAYOUT:TAG OUT
  oci-image-tool   oci-image-tool unpack --ref name=TAG LAYOUT OUT
  (tar             GNU tar -x -z per layer: only when named in --tools)

umoci and oci-image-tool take minutes on big images: unless --tools names them they are left
out for images over 600 MB of tar. The commands are unpack_bench.py's (imported).

Method: `ocipipe bench --json --image oci:LAYOUT:TAG` once per image first (untimed; its floor,
unpack_floor_seconds and validate_floor_seconds, is what the medians are held against; if the
binary has no `bench` verb the floor columns say "-" and a note says why). Then --warmup
untimed iterations and --runs timed ones; each iteration runs every case once, the first case
rotating from one iteration to the next. Output goes to a tmpfs (/dev/shm) and is removed
between runs, untimed. Wall time: spawn to wait4 (unpack_bench.timed_run); peak RSS: the
tool's ru_maxrss via GNU time; CPU s: user+sys of all the run's processes
(getrusage(RUSAGE_CHILDREN) around it). MB/s: 10^6 bytes of uncompressed tar per second of
the median, for validate too.

--mirror DIR adds bulk `ocipipe validate --all` of a synthetic mirror (datasets/mirror.py)
against validate_bench.py's openssl+igzip floor (imported), the issue's validate target.
--rss-image NAME (or --rss-only with --image) unpacks that image once with ocipipe's default
-j and holds its peak RSS against the 256 MB of issue 9 item 7.

Writes into --results (default bench/results/<date>-<host>/): scaling.csv, peers.csv,
mirror.csv, memory.csv, host-bench.json, raw.json, SETUP.md and summary.md (rendered from the
CSV and JSON files there, so a later --rss-only run adds its section to the same summary).
bench/plot.sh draws the PNGs from it. Standard library only; run as root (owners). Exit
status: 0 every case ran, 1 a case failed, 2 usage or set-up error.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the tree for the imports below
import unpack_bench as ub  # noqa: E402
import validate_bench as vb  # noqa: E402

PEERS = ["igzip|tar", "umoci", "oci-image-tool", "tar"]
DEFAULT_PEERS = ["igzip|tar", "umoci", "oci-image-tool"]
UB_TOOL = {"igzip|tar": "igzip", "umoci": "umoci", "oci-image-tool": "oci-image-tool", "tar": "tar"}
SLOW_PEERS = ("umoci", "oci-image-tool")
SLOW_PEER_LIMIT = 600 * 10**6  # tar bytes above which SLOW_PEERS run only when named in --tools
RSS_TARGET_MB = 256  # issue 9 item 7, 10^6 bytes
SCALING_COLS = ["image", "verb", "jobs", "median_s", "min_s", "max_s", "mb_per_s", "cpu_s", "peak_rss_mib",
                "runs", "tar_bytes", "floor_s", "ratio_vs_floor", "note"]
PEER_COLS = ["image", "tool", "jobs", "median_s", "min_s", "max_s", "mb_per_s", "cpu_s", "peak_rss_mib",
             "runs", "ratio_vs_ocipipe_best", "note"]
MIRROR_COLS = ["dataset", "tool", "median_s", "min_s", "max_s", "mb_per_s", "cpu_s", "peak_rss_mib", "runs",
               "distinct_bytes", "ratio_vs_floor", "note"]
MEMORY_COLS = ["image", "jobs", "wall_s", "cpu_s", "peak_rss_mib", "peak_rss_mb", "tar_bytes", "target_mb",
               "verdict"]
NOTES = {
    "igzip|tar": "igzip -dc LAYER | tar -x per layer: verifies nothing, applies no whiteouts",
    "tar": "GNU tar -x -z per layer: verifies nothing, applies no whiteouts",
    "umoci": "a bundle: also writes config.json and an mtree manifest",
    "oci-image-tool": "ignores opaque whiteouts",
}


# One error type for "cannot set up the run" across the runners.
SetupError = ub.SetupError


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("scaling_bench: %s\n" % msg)
        sys.stderr.flush()


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_jobs(max_jobs):
    js, j = [], 1
    while j < max_jobs:
        js.append(j)
        j *= 2
    return js + [max_jobs]


def default_results_dir():
    host = platform.node() or "vm"
    host = re.sub(r"[^A-Za-z0-9._-]", "_", host)
    return os.path.join(REPO_ROOT, "bench", "results", "%s-%s" % (datetime.date.today().isoformat(), host))


# ------------------------------------------------------------------ images


def resolve_images(args):
    """[(name, layout, tag)] from --image / --layout, or the defaults."""
    specs = []
    for name in args.image:
        specs.append((name, os.path.join(ub.cache_dir(), "layouts", name), name))
    for spec in args.layout:
        layout, tag = spec, None
        if not os.path.isdir(spec) and ":" in spec:
            layout, _, tag = spec.rpartition(":")
        layout = os.path.abspath(os.path.expanduser(layout))
        specs.append((os.path.basename(layout.rstrip("/")), layout, tag))
    if not specs and not args.rss_only:
        for name in ("debian-slim", "big-1g"):
            layout = os.path.join(ub.cache_dir(), "layouts", name)
            if os.path.isfile(os.path.join(layout, "index.json")):
                specs.append((name, layout, name))
            elif name == "big-1g":
                log(args, "big-1g not built (bench/e2e/big_layer.py): left out")
        if not specs:
            raise SetupError("no image: build the datasets (datasets/build.sh) or pass --image/--layout")
    images = []
    for name, layout, tag in specs:
        tag, layers = ub.load_image(layout, tag)
        images.append({"name": name, "layout": layout, "tag": tag, "layers": layers,
                       "ref": "oci:%s:%s" % (layout, tag)})
    return images


def size_image(args, img):
    for l in img["layers"]:
        l["uncompressed_size"] = ub.uncompressed_size(l)
    img["tar_bytes"] = sum(l["uncompressed_size"] for l in img["layers"])
    img["compressed_bytes"] = sum(l["size"] for l in img["layers"])


# ------------------------------------------------------------------ cases


def cases_for(args, img):
    cases = []
    for verb in args.verbs:
        for j in args.jobs:
            cases.append({"kind": "ocipipe", "verb": verb, "jobs": j, "id": "ocipipe %s -j%d" % (verb, j)})
    uargs = types.SimpleNamespace(ocipipe=args.ocipipe, jobs=0, quiet=args.quiet)
    for peer in args.peers:
        if peer in SLOW_PEERS and not args.tools_named and img["tar_bytes"] > SLOW_PEER_LIMIT:
            img.setdefault("skipped", []).append("%s: left out, %.0f MB of tar takes it minutes (name it in --tools)"
                                                 % (peer, img["tar_bytes"] / 1e6))
            continue
        try:
            ok = ub.check_tools(uargs, [UB_TOOL[peer]], img["layers"])
        except ub.SetupError as e:
            img.setdefault("skipped", []).append("%s: %s" % (peer, e))
            continue
        if not ok:
            img.setdefault("skipped", []).append("%s: cannot read this image's layers (zstd)" % peer)
            continue
        cases.append({"kind": "peer", "tool": peer, "id": peer})
    return cases


def case_argv(args, img, case, out):
    """(argv, whether out must exist before the run, whether the case writes out)."""
    if case["kind"] == "ocipipe":
        if case["verb"] == "unpack":
            return [args.ocipipe, "unpack", "-j", str(case["jobs"]), img["ref"], out], False, True
        return [args.ocipipe, "validate", "-q", "-j", str(case["jobs"]), img["ref"]], False, False
    uargs = types.SimpleNamespace(ocipipe=args.ocipipe, jobs=0)
    argv, precreate = ub.tool_command(UB_TOOL[case["tool"]], uargs, img["layout"], img["tag"], img["layers"], out)
    return argv, precreate, True


def one_run(args, img, case, work, label):
    out = os.path.join(work, "out")
    argv, precreate, writes = case_argv(args, img, case, out)
    if precreate:
        os.mkdir(out)
    log_path = os.path.join(work, "run.log")
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rss, code = ub.timed_run(argv, log_path, args.rss_method)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = {"image": img["name"], "case": case["id"], "wall_s": wall, "max_rss_kib": rss, "exit_code": code,
         "cpu_s": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)}
    if code != 0:
        r["error"] = "exit %d: %s" % (code, ub.tail(log_path, 3).replace("\n", " | "))
    elif writes and label == "warm-up":
        root = os.path.join(out, "rootfs") if case.get("tool") == "umoci" else out
        r["entries"] = ub.count_entries(root)
    if writes:
        ub.remove(out)  # untimed
    log(args, "%s %s %-26s %s" % (img["name"], label, case["id"],
                                  r.get("error") or "%7.3f s  CPU %6.2f s  %7.1f MB/s  %6.1f MiB"
                                  % (wall, r["cpu_s"], img["tar_bytes"] / 1e6 / wall, rss / 1024.0)))
    return r


def bench_image(args, img, work):
    cases = cases_for(args, img)
    for s in img.get("skipped", []):
        log(args, "%s: %s" % (img["name"], s))
    raw, failed, entries = [], {}, {}
    for it in range(args.warmup + args.runs):
        warm = it < args.warmup
        k = it % len(cases)
        for pos, case in enumerate(cases[k:] + cases[:k]):
            if case["id"] in failed:
                continue
            label = "warm-up" if warm else "run %d/%d" % (it - args.warmup + 1, args.runs)
            r = one_run(args, img, case, work, label)
            if "error" in r:
                failed[case["id"]] = r["error"]
            if "entries" in r:
                entries.setdefault(case["id"], r["entries"])
            if not warm:
                r.update({"iteration": it - args.warmup + 1, "position": pos + 1})
                raw.append(r)
    return cases, raw, failed, entries


def stats(runs):
    walls = [r["wall_s"] for r in runs]
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_mib": max(r["max_rss_kib"] for r in runs) / 1024.0, "runs": len(runs)}


def summarize_image(args, img, cases, raw, failed, entries, bench):
    scaling, peers = [], []
    floors = {v: ub.floor_seconds(bench, v) for v in ("unpack", "validate")}
    for case in cases:
        ok = [r for r in raw if r["case"] == case["id"] and r["exit_code"] == 0]
        row = {"image": img["name"], "runs": len(ok), "note": ""}
        if case["id"] in failed or not ok:
            row["note"] = "FAILED: " + failed.get(case["id"], "no runs")
        else:
            row.update(stats(ok))
            row["mb_per_s"] = img["tar_bytes"] / 1e6 / row["median_s"]
        if case["id"] in entries:
            row["entries"] = entries[case["id"]]
        if case["kind"] == "ocipipe":
            row.update({"verb": case["verb"], "jobs": case["jobs"], "tar_bytes": img["tar_bytes"],
                        "floor_s": floors[case["verb"]]})
            if floors[case["verb"]] and "median_s" in row:
                row["ratio_vs_floor"] = row["median_s"] / floors[case["verb"]]
            if floors[case["verb"]] is None and not row["note"]:
                row["note"] = "no floor: " + (img.get("bench_error") or "none in ocipipe bench's output")
            scaling.append(row)
        else:
            row.update({"tool": case["tool"], "note": row["note"] or NOTES.get(case["tool"], "")})
            peers.append(row)
    unpacks = [r for r in scaling if r["verb"] == "unpack" and "median_s" in r]
    best = min(unpacks, key=lambda r: r["median_s"]) if unpacks else None
    if best:
        peers.insert(0, dict(best, tool="ocipipe", note="ocipipe unpack, the fastest -j (-j%d)" % best["jobs"]))
    if floors["unpack"]:
        peers.append({"image": img["name"], "tool": "floor", "median_s": floors["unpack"],
                      "mb_per_s": img["tar_bytes"] / 1e6 / floors["unpack"], "runs": 0,
                      "note": "unpack_floor_seconds of ocipipe bench (computed, not timed)"})
    for r in peers:
        if best and "median_s" in r:
            r["ratio_vs_ocipipe_best"] = r["median_s"] / best["median_s"]
    return scaling, peers


# ------------------------------------------------------------------ mirror and memory


def bench_mirror(args, work):
    vargs = types.SimpleNamespace(tools=["ocipipe", "floor"], runs=args.runs, quiet=args.quiet,
                                  jobs=usable_cpus(), jobs_given=False, ocipipe=args.ocipipe,
                                  rss_method=args.rss_method, oci_image_tool_limit=0)
    try:
        vb.check_tools(vargs)
        ds = vb.load_dataset("mirror", vb.mirror_layouts(args.mirror))
    except vb.SetupError as e:
        raise SetupError(str(e))
    _, rows = vb.bench_dataset(vargs, ds, work)
    out = []
    for r in rows:
        row = {"dataset": "mirror", "tool": r["tool"], "runs": r["runs"], "distinct_bytes": ds["distinct_bytes"],
               "note": ("FAILED: " + r["failed"]) if r.get("failed") else ""}
        if "median_s" in r:
            row.update({k: r[k] for k in ("median_s", "min_s", "max_s", "mb_per_s", "peak_rss_mib")})
            row["cpu_s"] = r["median_cpu_s"]
            row["ratio_vs_floor"] = r["ratio_vs_floor"]
        if r["tool"] == "floor":
            row["note"] = row["note"] or "openssl dgst -sha256 of every distinct blob + igzip -dc | openssl of " \
                                         "every gzip layer, %d at a time" % vargs.jobs
        else:
            row["note"] = row["note"] or " ".join(vb.ocipipe_argv(vargs, ds)[:5]) + " ... (%d images)" % len(ds["images"])
        out.append(row)
    return out, {"images": len(ds["images"]), "distinct_blobs": len(ds["blobs"]),
                 "distinct_bytes": ds["distinct_bytes"], "dir": os.path.abspath(args.mirror)}


def memory_check(args, img, work):
    out = os.path.join(work, "out")
    log_path = os.path.join(work, "rss.log")
    log(args, "memory: ocipipe unpack %s (default -j), once" % img["ref"])
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rss, code = ub.timed_run([args.ocipipe, "unpack", img["ref"], out], log_path, args.rss_method)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ub.remove(out)
    mb = rss * 1024 / 1e6
    row = {"image": img["name"], "jobs": "default (%d CPUs)" % usable_cpus(), "wall_s": wall,
           "cpu_s": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime), "peak_rss_mib": rss / 1024.0,
           "peak_rss_mb": mb, "tar_bytes": img["tar_bytes"], "target_mb": RSS_TARGET_MB,
           "verdict": "met" if mb < RSS_TARGET_MB else "NOT met"}
    if code != 0:
        row["verdict"] = "FAILED: exit %d: %s" % (code, ub.tail(log_path, 3).replace("\n", " | "))
    log(args, "memory: %.1f s, peak RSS %.1f MB (target < %d MB): %s" % (wall, mb, RSS_TARGET_MB, row["verdict"]))
    return row


# ------------------------------------------------------------------ files


def fmt(v, spec="%.3f"):
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return spec % v
    return str(v)


def write_csv(path, cols, rows, specs=None):
    specs = specs or {}
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([fmt(r.get(c), specs.get(c, "%.4f")) for c in cols])
    os.replace(tmp, path)


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def write_text(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def host_facts(args):
    versions = {}
    cmds = {"ocipipe": [args.ocipipe, "--version"], "umoci": ["umoci", "--version"],
            "oci-image-tool": ["oci-image-tool", "--version"], "tar": ["tar", "--version"],
            "igzip": ["igzip", "-V"], "gzip": ["gzip", "--version"], "openssl": ["openssl", "version"],
            "gnuplot": ["gnuplot", "--version"]}
    for k, argv in cmds.items():
        if k == "ocipipe" or shutil.which(argv[0]):
            versions[k] = ub.version_of(argv)
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        mem = 0
    commit = ""
    try:
        p = subprocess.run(["git", "-C", REPO_ROOT, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=10)
        commit = p.stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"hostname": platform.node(), "kernel": platform.release(), "cpus": usable_cpus(),
            "cpus_online": os.cpu_count(), "cpu": ub.cpu_model(), "mem_bytes": mem, "python": platform.python_version(),
            "versions": versions, "commit": commit, "load": os.getloadavg()}


def setup_md(args, meta, images):
    h = meta["host"]
    lines = ["# Setup of the scaling run, %s" % meta["date"], "",
             "- Host: %s, %s, %d CPUs usable (%d online), %.1f GiB RAM, kernel %s, Python %s."
             % (h["hostname"], h["cpu"] or "unknown CPU", h["cpus"], h["cpus_online"], h["mem_bytes"] / 2**30,
                h["kernel"], h["python"]),
             "- Load average at the start: %.2f %.2f %.2f (a shared machine shows it here)." % tuple(h["load"]),
             "- Repository: %s (git describe); ocipipe binary: `%s`." % (h["commit"] or "?", args.ocipipe),
             "- Versions: " + "; ".join("%s: %s" % kv for kv in sorted(h["versions"].items())),
             "- Output on %s (removed between runs, untimed); %d warm-up + %d timed iterations; order rotating."
             % (meta["target"], args.warmup, args.runs),
             "- Peak RSS method: %s." % ("GNU time %M" if args.rss_method == "time" else "wait4 (includes Python's RSS)"),
             "", "## Images", ""]
    for img in images:
        lines.append("- %s: `%s`, %d layer(s), %.1f MB compressed, %.1f MB tar; layers %s"
                     % (img["name"], img["ref"], len(img["layers"]), img["compressed_bytes"] / 1e6,
                        img["tar_bytes"] / 1e6, ", ".join(l["digest"][:19] for l in img["layers"])))
    lines += ["", "## Commands", "", "Runner: `%s`" % " ".join(ub.sh_quote(a) for a in meta["argv"]), ""]
    for img in images:
        lines.append("%s:" % img["name"])
        lines.append("")
        for c in meta["cases"].get(img["name"], []):
            lines.append("    %s" % c)
        lines.append("")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ summary


def verdict(ok):
    return "met" if ok else "NOT met"


def done_when_checks(scaling, peers, mirror, cpus):
    """The done-when lines of issue 9 that the files hold numbers for."""
    out = []

    def sc(image, verb, jobs):
        for r in scaling:
            if r["image"] == image and r["verb"] == verb and r["jobs"] == str(jobs) and num(r["median_s"]):
                return r
        return None

    def main_row(image, verb):
        """ocipipe at -j<cpus> (its default) if measured, else the largest -j measured."""
        rows = [r for r in scaling if r["image"] == image and r["verb"] == verb and num(r["median_s"])]
        exact = [r for r in rows if r["jobs"] == str(cpus)]
        return exact[0] if exact else (max(rows, key=lambda r: int(r["jobs"])) if rows else None)

    def peer(image, tool):
        return next((r for r in peers if r["image"] == image and r["tool"] == tool and num(r["median_s"])), None)

    def missing(what):
        return "not measured (%s)" % what

    o = main_row("debian-slim", "unpack")
    if o is None:
        out.append("- debian-slim unpack: %s" % missing("no debian-slim unpack in this run"))
    else:
        t = num(o["median_s"])
        label = "ocipipe unpack -j%s %.3f s" % (o["jobs"], t)
        for tool in ("oci-image-tool", "umoci"):
            p = peer("debian-slim", tool)
            if p:
                pt = num(p["median_s"])
                out.append("- debian-slim unpack <= 1/4 of %s: %s vs %s %.3f s (%.3f of it): %s"
                           % (tool, label, tool, pt, t / pt, verdict(t <= pt / 4)))
            else:
                out.append("- debian-slim unpack <= 1/4 of %s: %s" % (tool, missing("%s not run" % tool)))
        p = peer("debian-slim", "igzip|tar")
        if p:
            pt = num(p["median_s"])
            out.append("- debian-slim unpack no slower than igzip|tar: %s vs %.3f s (%.3fx): %s"
                       % (label, pt, t / pt, verdict(t <= pt)))
        else:
            out.append("- debian-slim unpack no slower than igzip|tar: %s" % missing("igzip|tar not run"))
        f = num(o["floor_s"])
        if f:
            out.append("- debian-slim unpack within 1.25x of the floor: %s vs floor %.3f s (%.3fx): %s"
                       % (label, f, t / f, verdict(t <= 1.25 * f)))
        else:
            out.append("- debian-slim unpack within 1.25x of the floor: %s" % missing(o["note"] or "no floor"))
    j1, j2 = sc("big-1g", "unpack", 1), sc("big-1g", "unpack", 2)
    if j1 and j2:
        a, b = num(j1["median_s"]), num(j2["median_s"])
        out.append("- big-1g unpack -j2 >= 1.6x faster than -j1: -j1 %.3f s, -j2 %.3f s (%.3fx): %s"
                   % (a, b, a / b, verdict(a / b >= 1.6)))
    else:
        out.append("- big-1g unpack -j2 >= 1.6x faster than -j1: %s" % missing("big-1g -j1 and -j2 not both run"))
    o, p = main_row("big-1g", "unpack"), peer("big-1g", "igzip|tar")
    if o and p:
        t, pt = num(o["median_s"]), num(p["median_s"])
        out.append("- big-1g unpack faster than igzip|tar: ocipipe -j%s %.3f s vs %.3f s (%.3fx): %s"
                   % (o["jobs"], t, pt, t / pt, verdict(t < pt)))
    else:
        out.append("- big-1g unpack faster than igzip|tar: %s" % missing("big-1g or igzip|tar not run"))
    mo = next((r for r in mirror if r["tool"] == "ocipipe" and num(r["median_s"])), None)
    mf = next((r for r in mirror if r["tool"] == "floor" and num(r["median_s"])), None)
    if mo and mf:
        t, f = num(mo["median_s"]), num(mf["median_s"])
        out.append("- bulk validate of the mirror within 1.15x of the floor: ocipipe %.3f s vs floor %.3f s "
                   "(%.3fx): %s" % (t, f, t / f, verdict(t <= 1.15 * f)))
    else:
        out.append("- bulk validate of the mirror within 1.15x of the floor: %s" % missing("no --mirror run"))
    for image in sorted(set(r["image"] for r in scaling)):
        o = main_row(image, "validate")
        if o and num(o["floor_s"]):
            t, f = num(o["median_s"]), num(o["floor_s"])
            out.append("- %s validate within 1.15x of the ocipipe bench floor: -j%s %.3f s vs %.3f s (%.3fx): %s"
                       % (image, o["jobs"], t, f, t / f, verdict(t <= 1.15 * f)))
        elif o:
            out.append("- %s validate within 1.15x of the ocipipe bench floor: %s" % (image, missing(o["note"] or "no floor")))
    return out


def md_table(hdr, rows):
    """Markdown: text columns left-aligned, numbers right."""
    text = ("image", "verb", "tool", "note", "engine", "unit", "verdict", "measurement", "-j")
    align = ["---" if i == 0 or h in text else "---:" for i, h in enumerate(hdr)]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)


def f3(v, spec="%.3f"):
    x = num(v)
    return spec % x if x is not None else "-"


def render_summary(results):
    scaling = read_csv(os.path.join(results, "scaling.csv"))
    peers = read_csv(os.path.join(results, "peers.csv"))
    mirror = read_csv(os.path.join(results, "mirror.csv"))
    memory = read_csv(os.path.join(results, "memory.csv"))
    try:
        with open(os.path.join(results, "raw.json")) as f:
            meta = json.load(f).get("meta", {})
    except (OSError, ValueError):
        meta = {}
    try:
        with open(os.path.join(results, "host-bench.json")) as f:
            hb = json.load(f)
    except (OSError, ValueError):
        hb = {}
    h = meta.get("host", {})
    cpus = h.get("cpus") or usable_cpus()
    L = ["# ocipipe scaling run: %s, %s" % (meta.get("date", "?"), h.get("hostname", "?")), ""]
    if h:
        L.append("%s, %d CPUs, kernel %s; load average at the start %s. %s warm-up + %s timed iterations per "
                 "case, order rotating, output on a tmpfs. Details and commands: SETUP.md."
                 % (h.get("cpu") or "unknown CPU", cpus, h.get("kernel"), " ".join("%.2f" % x for x in h.get("load", [])),
                    meta.get("warmup", "?"), meta.get("runs", "?")))
        L.append("")
    L += ["## Done when (issue 9)", ""] + done_when_checks(scaling, peers, mirror, cpus)
    if memory:
        for m in memory:
            L.append("- peak RSS under %s MB (item 7) on %s (%.1f GB of tar): %s MB: %s"
                     % (m["target_mb"], m["image"], num(m["tar_bytes"]) / 1e9, f3(m["peak_rss_mb"], "%.1f"), m["verdict"]))
    else:
        L.append("- peak RSS under 256 MB (item 7) on a 4 GiB image: not measured (no --rss-image / --rss-only run)")
    L += ["", "ocipipe's figure in these checks is `-j%d` (its default here, all CPUs) where measured. Medians of "
          "every row are over the runs column; the machine is shared, so read ratios, not absolute times." % cpus, ""]
    if scaling:
        L += ["## Scaling: ocipipe by -j", ""]
        rows = []
        for r in scaling:
            rows.append([r["image"], r["verb"], r["jobs"], f3(r["median_s"]), f3(r["min_s"]), f3(r["max_s"]),
                         f3(r["mb_per_s"], "%.1f"), f3(r["cpu_s"], "%.2f"), f3(r["peak_rss_mib"], "%.1f"),
                         f3(r["floor_s"]), f3(r["ratio_vs_floor"], "%.2f"), r["runs"], r["note"]])
        L += [md_table(["image", "verb", "-j", "median s", "min s", "max s", "MB/s", "CPU s", "peak RSS MiB",
                        "floor s", "x floor", "runs", "note"], rows), ""]
        for image in sorted(set(r["image"] for r in scaling)):
            for verb in ("unpack", "validate"):
                rs = [r for r in scaling if r["image"] == image and r["verb"] == verb and num(r["median_s"])]
                base = next((r for r in rs if r["jobs"] == "1"), None)
                if base and len(rs) > 1:
                    L.append("- %s %s speed-up over -j1: %s" % (image, verb, ", ".join(
                        "-j%s %.2fx" % (r["jobs"], num(base["median_s"]) / num(r["median_s"])) for r in rs[1:])))
        L.append("")
    if peers:
        L += ["## ocipipe against its peers (unpack)", ""]
        rows = [[r["image"], r["tool"] + (" -j" + r["jobs"] if r["tool"] == "ocipipe" else ""), f3(r["median_s"]),
                 f3(r["min_s"]), f3(r["max_s"]), f3(r["mb_per_s"], "%.1f"), f3(r["cpu_s"], "%.2f"),
                 f3(r["peak_rss_mib"], "%.1f"), f3(r["ratio_vs_ocipipe_best"], "%.2f"), r["runs"], r["note"]]
                for r in peers]
        L += [md_table(["image", "tool", "median s", "min s", "max s", "MB/s", "CPU s", "peak RSS MiB",
                        "x ocipipe", "runs", "note"], rows), "",
              "x ocipipe: median / the median of ocipipe's fastest -j (above 1: slower than ocipipe).", ""]
        for image, notes in meta.get("skipped", {}).items():
            for n in notes:
                L.append("- %s: %s" % (image, n))
        L.append("")
    if mirror:
        L += ["## Bulk validate of the synthetic mirror", ""]
        rows = [[r["tool"], f3(r["median_s"]), f3(r["min_s"]), f3(r["max_s"]), f3(r["mb_per_s"], "%.1f"),
                 f3(r["cpu_s"], "%.2f"), f3(r["peak_rss_mib"], "%.1f"), f3(r["ratio_vs_floor"], "%.2f"), r["runs"],
                 r["note"]] for r in mirror]
        L += [md_table(["tool", "median s", "min s", "max s", "MB/s", "CPU s", "peak RSS MiB", "x floor", "runs",
                        "note"], rows), "",
              "MB/s: 10^6 distinct blob bytes per second (%s bytes)." % (mirror[0].get("distinct_bytes") or "?"), ""]
    if memory:
        L += ["## Memory (issue 9 item 7)", ""]
        rows = [[m["image"], m["jobs"], f3(m["wall_s"]), f3(m["cpu_s"], "%.2f"), f3(m["peak_rss_mib"], "%.1f"),
                 f3(m["peak_rss_mb"], "%.1f"), "%.1f" % (num(m["tar_bytes"]) / 1e9), m["target_mb"], m["verdict"]]
                for m in memory]
        L += [md_table(["image", "-j", "wall s", "CPU s", "peak RSS MiB", "peak RSS MB", "tar GB", "target MB",
                        "verdict"], rows), "", "One run of `ocipipe unpack` (peak RSS is the maximum of one process; "
                                               "GNU time %M).", ""]
    if hb:
        L += ["## This host's `ocipipe bench`", ""]
        first = next((v for v in hb.values() if isinstance(v, dict) and v.get("measurements")), None)
        if first:
            hh = first.get("host", {})
            L.append("%s; %s online CPUs, %s threads; kernel %s; %s; %s s per measurement." % (
                hh.get("cpu_model", "?"), hh.get("online_cpus", "?"), hh.get("threads", "?"), hh.get("kernel", "?"),
                hh.get("ocipipe", "?"), first.get("seconds_per_measurement", "?")))
            L.append("")
            rows = []
            for m in first["measurements"]:
                unit, scale = m.get("unit", ""), 1.0
                if unit == "bytes/s":
                    unit, scale = "MB/s", 1e-6
                one, alls = num(m.get("single")), num(m.get("all"))
                rows.append([m.get("name", "?"), f3(one * scale if one is not None else None, "%.1f"),
                             f3(alls * scale if alls is not None else None, "%.1f"), unit, m.get("threads", ""),
                             m.get("engine", "?")])
            L += [md_table(["measurement", "one core", "all cores", "unit", "threads", "engine"], rows), ""]
        for image, v in hb.items():
            if not isinstance(v, dict):
                continue
            fl = v.get("floor")
            if v.get("error"):
                L.append("- %s: no floor (%s)" % (image, v["error"]))
            elif fl:
                L.append("- %s floor: unpack %s s, validate %s s, CPU %s s, apply %s s, bound by %s" % (
                    image, f3(fl.get("unpack_floor_seconds")), f3(fl.get("validate_floor_seconds")),
                    f3(fl.get("cpu_seconds"), "%.2f"), f3(fl.get("apply_seconds"), "%.2f"), fl.get("unpack_bound", "?")))
        L.append("")
    L += ["Files: scaling.csv, peers.csv, mirror.csv, memory.csv, host-bench.json, raw.json, SETUP.md; plots: "
          "throughput.png and peers.png (`bench/plot.sh bench/results/%s`)." % os.path.basename(results.rstrip("/")), ""]
    write_text(os.path.join(results, "summary.md"), "\n".join(L))


# ------------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog="See bench/README.md.")
    p.add_argument("--image", action="append", default=[], metavar="NAME",
                   help="dataset in $CACHE/layouts/NAME, tag NAME (repeatable; default debian-slim and big-1g)")
    p.add_argument("--layout", action="append", default=[], metavar="DIR[:TAG]", help="an image layout (repeatable)")
    p.add_argument("--jobs", help="comma-separated -j values (default 1,2,4,... up to --max-jobs)")
    p.add_argument("--max-jobs", type=int, default=0, help="largest -j (default: the CPUs usable)")
    p.add_argument("--verbs", default="unpack,validate", help="ocipipe verbs to scale (default unpack,validate)")
    p.add_argument("--tools", help="peers, comma-separated, from %s (default %s; umoci and oci-image-tool "
                                   "then skip images over 600 MB of tar); 'none' for no peers"
                   % (",".join(PEERS), ",".join(DEFAULT_PEERS)))
    p.add_argument("--runs", type=int, default=5, help="timed iterations (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up iterations (default 1)")
    p.add_argument("--ocipipe", default=os.path.join(REPO_ROOT, "build", "ocipipe"), help="the binary (default build/ocipipe)")
    p.add_argument("--results", help="results directory (default bench/results/<date>-<host>/)")
    p.add_argument("--target", default="/dev/shm", help="where outputs go (default /dev/shm, a tmpfs)")
    p.add_argument("--no-host-bench", action="store_true", help="do not run `ocipipe bench` (no floors)")
    p.add_argument("--bench-seconds", type=float, help="passed to `ocipipe bench --seconds`")
    p.add_argument("--mirror", metavar="DIR", help="also bulk-validate this synthetic mirror against its floor")
    p.add_argument("--rss-image", metavar="NAME|DIR",
                   help="after the rest, the memory check on this dataset (e.g. big-4g) or layout directory")
    p.add_argument("--rss-only", action="store_true",
                   help="only the memory check, on --image/--layout (one image), added to --results' summary")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    args.max_jobs = args.max_jobs or usable_cpus()
    try:
        args.jobs = [int(x) for x in args.jobs.split(",") if x.strip()] if args.jobs else default_jobs(args.max_jobs)
    except ValueError:
        p.error("--jobs: comma-separated numbers, e.g. 1,2,4")
    if not args.jobs or min(args.jobs) < 1 or len(set(args.jobs)) != len(args.jobs):
        p.error("--jobs: distinct numbers >= 1")
    args.verbs = [v.strip() for v in args.verbs.split(",") if v.strip()]
    if not args.verbs or any(v not in ("unpack", "validate") for v in args.verbs):
        p.error("--verbs: unpack and/or validate")
    args.tools_named = args.tools is not None
    if args.tools in (None, ""):
        args.peers = list(DEFAULT_PEERS)
    elif args.tools == "none":
        args.peers = []
    else:
        args.peers = [t.strip() for t in args.tools.split(",") if t.strip()]
        bad = [t for t in args.peers if t not in PEERS]
        if bad:
            p.error("--tools: unknown %s; choose from %s" % (",".join(bad), ",".join(PEERS)))
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1, --warmup >= 0")
    if args.rss_only and len(args.image) + len(args.layout) != 1:
        p.error("--rss-only wants exactly one --image or --layout")
    args.results = os.path.abspath(args.results or default_results_dir())
    return args


def main(argv):
    args = parse_args(argv)
    try:
        if not os.access(args.ocipipe, os.X_OK):
            raise SetupError("%s is not built (pass --ocipipe PATH)" % args.ocipipe)
        if not os.path.isdir(args.target):
            raise SetupError("--target %s is not a directory" % args.target)
        images = resolve_images(args)
        rss_img = None
        if args.rss_only:
            rss_img = images.pop()
        elif args.rss_image:
            by_path = os.sep in args.rss_image  # a layout directory, else a dataset name
            rss_img = resolve_images(types.SimpleNamespace(image=[] if by_path else [args.rss_image],
                                                           layout=[args.rss_image] if by_path else [],
                                                           rss_only=True, quiet=args.quiet))[0]
        for img in images + ([rss_img] if rss_img else []):
            log(args, "sizing %s (%d layers)" % (img["ref"], len(img["layers"])))
            size_image(args, img)
        if args.mirror and not os.path.isdir(args.mirror):
            raise SetupError("--mirror %s is not a directory (datasets/mirror.py --seed 1 --out DIR)" % args.mirror)
    except (SetupError, ub.SetupError, OSError, ValueError, KeyError) as e:
        sys.stderr.write("scaling_bench: %s\n" % e)
        return 2
    args.rss_method = ub.rss_method()
    os.makedirs(args.results, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ocipipe-scaling-", dir=args.target)
    failed = False
    t_start = time.perf_counter()
    try:
        if args.rss_only:
            row = memory_check(args, rss_img, work)
            write_csv(os.path.join(args.results, "memory.csv"), MEMORY_COLS, [row])
            cmd = " ".join(ub.sh_quote(a) for a in [sys.argv[0]] + argv)
            with open(os.path.join(args.results, "SETUP.md"), "a") as f:
                f.write("\n## Memory check (separate run, %s)\n\n    %s\n    -> %s unpack %s OUT (default -j)\n"
                        % (datetime.datetime.now().isoformat(timespec="seconds"), cmd, args.ocipipe, rss_img["ref"]))
            render_summary(args.results)
            log(args, "wrote %s/memory.csv and summary.md" % args.results)
            return 1 if row["verdict"].startswith("FAILED") else 0
        meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "argv": [sys.argv[0]] + argv, "host": host_facts(args), "runs": args.runs, "warmup": args.warmup,
                "jobs": args.jobs, "target": args.target, "rss_method": args.rss_method, "cases": {},
                "skipped": {}}
        all_scaling, all_peers, all_raw, host_bench = [], [], [], {}
        only = None  # the first `ocipipe bench` measures everything (the host's table); later ones only the floor
        for img in images:
            bench = None
            if not args.no_host_bench:
                log(args, "%s: ocipipe bench --json --image %s (once, untimed)" % (img["name"], img["ref"]))
                t0 = time.perf_counter()
                bench, why = ub.ocipipe_bench_json(args.ocipipe, img["ref"], work, args.bench_seconds, only=only)
                if bench and bench.get("measurements"):
                    only = "sha256"  # --image adds the measurements its floor needs
                host_bench[img["name"]] = bench if bench else {"error": why}
                if why:
                    img["bench_error"] = why
                    log(args, "%s: no floor: %s" % (img["name"], why))
                else:
                    log(args, "%s: ocipipe bench took %.0f s" % (img["name"], time.perf_counter() - t0))
            else:
                img["bench_error"] = "--no-host-bench"
            cases, raw, fails, entries = bench_image(args, img, work)
            failed = failed or bool(fails)
            meta["cases"][img["name"]] = [" ".join(ub.sh_quote(a) for a in case_argv(args, img, c, "OUT")[0])
                                          for c in cases]
            meta["skipped"][img["name"]] = img.get("skipped", [])
            scaling, peers = summarize_image(args, img, cases, raw, fails, entries, bench)
            all_scaling += scaling
            all_peers += peers
            all_raw += raw
        mirror_rows, mirror_meta = [], None
        if args.mirror:
            mirror_rows, mirror_meta = bench_mirror(args, work)
            failed = failed or any(r["note"].startswith("FAILED") for r in mirror_rows)
        memory_rows = [memory_check(args, rss_img, work)] if rss_img else []
        failed = failed or any(m["verdict"].startswith("FAILED") for m in memory_rows)
    except SetupError as e:
        sys.stderr.write("scaling_bench: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("scaling_bench: interrupted\n")
        return 130
    finally:
        ub.remove(work)
    meta["seconds"] = time.perf_counter() - t_start
    meta["host"]["load_end"] = os.getloadavg()
    meta["mirror"] = mirror_meta
    R = args.results
    write_csv(os.path.join(R, "scaling.csv"), SCALING_COLS, all_scaling)
    write_csv(os.path.join(R, "peers.csv"), PEER_COLS, all_peers)
    for name, cols, rows in (("mirror.csv", MIRROR_COLS, mirror_rows), ("memory.csv", MEMORY_COLS, memory_rows)):
        if rows:
            write_csv(os.path.join(R, name), cols, rows)
        elif os.path.exists(os.path.join(R, name)):
            os.unlink(os.path.join(R, name))  # stale: from an earlier run into the same directory
    write_text(os.path.join(R, "host-bench.json"), json.dumps(host_bench, indent=2) + "\n")
    write_text(os.path.join(R, "raw.json"), json.dumps({"meta": meta, "runs": all_raw}, indent=1) + "\n")
    write_text(os.path.join(R, "SETUP.md"), setup_md(args, meta, images))
    render_summary(R)
    log(args, "done in %.0f s; wrote %s (plots: bench/plot.sh %s)" % (meta["seconds"], R, R))
    if not args.quiet:
        with open(os.path.join(R, "summary.md")) as f:
            sys.stdout.write(f.read())
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
