#!/usr/bin/env python3
"""End-to-end registry benchmark: ocipipe pull/unpack from a registry against skopeo and umoci.

Issue 7, "Done when": in one run on this machine against a local registry, `ocipipe pull` of
debian-slim at least 1.5x faster than `skopeo copy` of it, and `ocipipe unpack docker://...`
at least 2x faster than `skopeo copy` followed by `umoci unpack`.

Set-up (untimed): Debian's docker-registry (/usr/bin/docker-registry) is started on
127.0.0.1:PORT (a free port) with a temporary config: plain HTTP, filesystem storage in a
directory under the work directory (a tmpfs, /dev/shm, unless --work is given). The image
(default: the debian-slim dataset) is pushed to it with
`skopeo copy --dest-tls-verify=false oci:LAYOUT:TAG docker://127.0.0.1:PORT/bench/NAME:latest`,
so the registry's content does not depend on ocipipe.

Tools, each writing into a fresh, empty destination (removed untimed after the run):

  pull case
    skopeo          skopeo copy --src-tls-verify=false docker://REF oci:DIR:latest
    ocipipe-pull    ocipipe pull --tls-verify=false [-j N] docker://REF oci:DIR:latest
  unpack case
    skopeo+umoci    skopeo copy --src-tls-verify=false docker://REF oci:DIR:latest, then
                    umoci --log=error unpack --image DIR:latest BUNDLE  (two processes, timed
                    one after the other; wall and CPU are their sums, RSS their maximum)
    ocipipe-unpack  ocipipe unpack --tls-verify=false [-j N] docker://REF ROOTFS
    ocipipe-create  ocipipe create --tls-verify=false [-j N] docker://REF BUNDLE
                    (a bundle like umoci's: rootfs + config.json; skipped with --no-create)

Method: --warmup untimed rounds (default 1), then --rounds timed rounds (default 5). In each
round every tool runs once, one after the other; odd rounds run the list in reverse, so in
each pair the peer and ocipipe take turns at going first. The registry's storage is on the
same file system as the destinations; on a tmpfs its files always sit in memory, on a disk
(--work) the warm-up round has read them into the page cache for everyone, and with
--drop-caches (root; only useful on a disk) `sync; echo 3 > /proc/sys/vm/drop_caches` runs
untimed before every timed run (before its first process: umoci still finds the layout skopeo
just wrote in the page cache, as it would for a user) so every tool reads the registry's files
cold. After the warm-up
round the outputs are checked (untimed): every pulled layout's index.json names the pushed
manifest digest and holds its blobs with the right sizes and digests, and the rootfs of
ocipipe unpack/create has the same paths, types and regular-file sizes as umoci's.

Wall time: spawn to wait4 of each process. CPU s: user+sys of the tool and its children
(getrusage(RUSAGE_CHILDREN) before and after; the registry's own CPU is not in it). Peak RSS:
the tool's ru_maxrss from GNU time (/usr/bin/time -f %M), as in unpack_bench.py. Ratio: the
peer's median wall / ocipipe's (above 1: ocipipe is faster). MB/s: 10^6 bytes of the image's
blobs (compressed, as transferred) per second of the median.

Output: a markdown summary on stdout (progress on stderr, -q silences it); --json FILE writes
the set-up, summary and every raw run; --record [DIR] writes registry-raw.json and
registry-summary.md into DIR (default bench/runs/<UTC date>-<host>/). --peers-only runs only
skopeo and skopeo+umoci (no ocipipe needed), for checking the runner and the peers.

Standard library only. Exit status: 0 every run passed, 1 a tool failed (its stderr is
printed) or a check failed, 2 usage or set-up error (registry does not start, push fails,
ocipipe not built or without docker:// support).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the tree for the import below
import unpack_bench as ub  # noqa: E402  (shared: timed_run, rss_method, tail, cpu_model, ...)

REGISTRY = "/usr/bin/docker-registry"
REF_NAME = "org.opencontainers.image.ref.name"
PEERS = ["skopeo", "skopeo+umoci"]
OCIPIPE_TOOLS = ["ocipipe-pull", "ocipipe-unpack", "ocipipe-create"]
# Run order of round 0; odd rounds run it reversed.
ORDER = ["skopeo", "ocipipe-pull", "skopeo+umoci", "ocipipe-unpack", "ocipipe-create"]
CASE = {"skopeo": "pull", "ocipipe-pull": "pull", "skopeo+umoci": "unpack",
        "ocipipe-unpack": "unpack", "ocipipe-create": "create"}
# (peer, ocipipe tool, target ratio or None)
COMPARISONS = [("skopeo", "ocipipe-pull", 1.5), ("skopeo+umoci", "ocipipe-unpack", 2.0),
               ("skopeo+umoci", "ocipipe-create", None)]


class SetupError(Exception):
    pass


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("registry_bench: %s\n" % msg)
        sys.stderr.flush()


def run_checked(argv, what):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise SetupError("%s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(ub.sh_quote(a) for a in argv),
                                                          p.stdout.decode("utf-8", "replace")[-4000:]))
    return p.stdout.decode("utf-8", "replace")


# ------------------------------------------------------------------ image


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


def load_source(layout, tag):
    """The image to push: (tag, manifest descriptor, [config + layer descriptors])."""
    index = read_json(os.path.join(layout, "index.json"))
    manifests = index.get("manifests", [])
    if tag is None:
        if len(manifests) != 1:
            raise SetupError("%s holds %d manifests; pass --tag" % (layout, len(manifests)))
        desc = manifests[0]
        tag = (desc.get("annotations") or {}).get(REF_NAME)
        if tag is None:
            raise SetupError("%s: its only manifest has no tag" % layout)
    else:
        found = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) == tag]
        if len(found) != 1:
            raise SetupError("%s: %d manifests tagged %r" % (layout, len(found), tag))
        desc = found[0]
    if desc.get("mediaType") != "application/vnd.oci.image.manifest.v1+json":
        raise SetupError("%s:%s is a %s, not an OCI image manifest" % (layout, tag, desc.get("mediaType")))
    manifest = read_json(blob_path(layout, desc["digest"]))
    blobs = [manifest["config"]] + manifest.get("layers", [])
    return tag, desc, blobs


def file_digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def check_layout(layout, want_manifest, blobs):
    """"" when LAYOUT:latest is the pushed image with every blob intact, else what is wrong."""
    try:
        index = read_json(os.path.join(layout, "index.json"))
    except SetupError as e:
        return str(e)
    tops = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(REF_NAME) == "latest"]
    if len(tops) != 1:
        return "%s/index.json: %d manifests tagged latest" % (layout, len(tops))
    if tops[0].get("digest") != want_manifest:
        return "%s: manifest %s, pushed %s" % (layout, tops[0].get("digest"), want_manifest)
    for d in [{"digest": want_manifest, "size": None}] + blobs:
        p = blob_path(layout, d["digest"])
        try:
            size = os.path.getsize(p)
        except OSError as e:
            return "%s: blob %s: %s" % (layout, d["digest"], e.strerror)
        if d["size"] is not None and size != d["size"]:
            return "%s: blob %s has %d bytes, want %d" % (layout, d["digest"], size, d["size"])
        alg, _, hexd = d["digest"].partition(":")
        if file_digest(p, alg) != hexd:
            return "%s: blob %s does not match its digest" % (layout, d["digest"])
    return ""


def tree_facts(root):
    """{relative path: (type, size of a regular file or link target)} of a rootfs."""
    facts = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                facts[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                facts[rel] = ("dir", None)
            elif os.path.isfile(p):
                facts[rel] = ("file", st.st_size)
            else:
                facts[rel] = ("other", None)
    return facts


def compare_trees(want, got, label):
    """"" when the two fact maps agree, else the first differences."""
    if want == got:
        return ""
    missing = sorted(set(want) - set(got))[:3]
    extra = sorted(set(got) - set(want))[:3]
    differ = sorted(p for p in set(want) & set(got) if want[p] != got[p])[:3]
    return "%s: rootfs differs from umoci's (missing %s, extra %s, different %s)" % (label, missing, extra, differ)


# ------------------------------------------------------------------ registry


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REGISTRY_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""


class Registry:
    """docker-registry on 127.0.0.1, plain HTTP, storage under `work`; stop() ends it."""

    def __init__(self, work):
        self.work = work
        self.proc = None
        self.host = None
        self.storage = os.path.join(work, "registry-storage")
        self.log_path = os.path.join(work, "registry.log")

    def start(self, timeout=30.0):
        os.makedirs(self.storage, exist_ok=True)
        last = ""
        for _ in range(3):  # a port taken between free_port() and the bind: try another
            port = free_port()
            config = os.path.join(self.work, "registry.yml")
            with open(config, "w") as f:
                f.write(REGISTRY_CONFIG.format(storage=self.storage, port=port))
            logf = open(self.log_path, "wb")
            self.proc = subprocess.Popen([REGISTRY, "serve", config], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            logf.close()
            self.host = "127.0.0.1:%d" % port
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen("http://%s/v2/" % self.host, timeout=2) as r:
                        if r.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.05)
            last = ub.tail(self.log_path, 20)
            self.stop()
        raise SetupError("docker-registry did not answer /v2/ with 200:\n%s" % last)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ------------------------------------------------------------------ tools


def commands(args, tool, ref, out):
    """[(step name, argv)] of one run of `tool` writing to `out` (which must not exist)."""
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    docker = "docker://" + ref
    skopeo = ["skopeo", "copy", "--src-tls-verify=false", docker, "oci:%s:latest" % out]
    if tool == "skopeo":
        return [("skopeo", skopeo)]
    if tool == "skopeo+umoci":
        layout = out + "-layout"
        umoci = ["umoci", "--log=error", "unpack"] + (["--rootless"] if os.geteuid() != 0 else [])
        return [("skopeo", ["skopeo", "copy", "--src-tls-verify=false", docker, "oci:%s:latest" % layout]),
                ("umoci", umoci + ["--image", "%s:latest" % layout, out])]
    if tool == "ocipipe-pull":
        return [("ocipipe", [args.ocipipe, "pull", "--tls-verify=false"] + jobs + [docker, "oci:%s:latest" % out])]
    if tool == "ocipipe-unpack":
        return [("ocipipe", [args.ocipipe, "unpack", "--tls-verify=false"] + jobs + [docker, out])]
    if tool == "ocipipe-create":
        return [("ocipipe", [args.ocipipe, "create", "--tls-verify=false"] + jobs + [docker, out])]
    raise SetupError("unknown tool %r" % tool)


def outputs_of(out):
    """Every path a run writing to `out` may leave behind (removed after it)."""
    return [out, out + "-layout", out + ".ocipipe-state"]


def check_programs(args, tools):
    for prog in ["skopeo", "umoci"]:
        if subprocess.run(["sh", "-c", "command -v %s" % prog], stdout=subprocess.DEVNULL).returncode != 0:
            raise SetupError("%s is not in PATH (apt-get install %s)" % (prog, prog))
    if not os.access(REGISTRY, os.X_OK):
        raise SetupError("%s is missing (apt-get install docker-registry)" % REGISTRY)
    if any(t in OCIPIPE_TOOLS for t in tools):
        if not os.access(args.ocipipe, os.X_OK):
            raise SetupError("%s is not built (build it, or run the peers alone with --peers-only)" % args.ocipipe)
        p = subprocess.run([args.ocipipe, "pull", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0 or b"--tls-verify" not in p.stdout:
            raise SetupError("%s has no `pull --tls-verify` yet (run the peers alone with --peers-only)" % args.ocipipe)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def host_info(args, tools):
    versions = {"skopeo": ub.version_of(["skopeo", "--version"]),
                "umoci": ub.version_of(["umoci", "--version"]),
                "docker-registry": ub.version_of([REGISTRY, "--version"])}
    if any(t in OCIPIPE_TOOLS for t in tools):
        versions["ocipipe"] = ub.version_of([args.ocipipe, "--version"])
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)), "cpu": ub.cpu_model(),
            "python": platform.python_version(), "loadavg_at_start": load, "versions": versions}


# ------------------------------------------------------------------ runs


def one_run(args, tool, ref, out, logs_dir, label):
    """Runs every step of `tool`; a record with wall/cpu/rss, per-step walls, and the error."""
    rec = {"tool": tool, "case": CASE[tool], "wall_s": 0.0, "cpu_s": 0.0, "max_rss_kib": 0,
           "steps": {}, "exit_code": 0, "error": None}
    for i, (step, argv) in enumerate(commands(args, tool, ref, out)):
        # Only before the first step: umoci reading the layout skopeo just wrote from the page
        # cache is what a user's `skopeo copy && umoci unpack` does.
        if args.drop_caches and label != "warm-up" and i == 0:
            drop_caches()
        log_path = os.path.join(logs_dir, "%s-%s.log" % (tool, step))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, rss, code = ub.timed_run(argv, log_path, args.rss_method)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rec["wall_s"] += wall
        rec["cpu_s"] += cpu
        rec["max_rss_kib"] = max(rec["max_rss_kib"], rss)
        rec["steps"][step] = {"wall_s": wall, "cpu_s": cpu, "max_rss_kib": rss}
        if code != 0:
            rec["exit_code"] = code
            rec["error"] = "%s exited %d: %s\n%s" % (step, code, " ".join(ub.sh_quote(a) for a in argv),
                                                     ub.tail(log_path, 30))
            return rec
        os.unlink(log_path)
    return rec


def run_all(args, tools, ref, work, source_manifest, blobs):
    order0 = [t for t in ORDER if t in tools]
    raw, failed, checks = [], {}, []
    logs_dir = os.path.join(work, "logs")
    os.makedirs(logs_dir, exist_ok=True)
    for it in range(args.warmup + args.rounds):
        warm = it < args.warmup
        label = "warm-up" if warm else "round %d/%d" % (it - args.warmup + 1, args.rounds)
        order = order0 if it % 2 == 0 else list(reversed(order0))
        keep = warm and it == 0 and not args.no_check  # outputs of the first warm-up are checked
        kept = {}
        for pos, tool in enumerate(order):
            if tool in failed:
                continue
            out = os.path.join(work, "out", "%s-%d" % (tool.replace("+", "-"), it))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            rec = one_run(args, tool, ref, out, logs_dir, label)
            rec.update({"round": None if warm else it - args.warmup + 1, "position": pos + 1})
            if rec["error"]:
                failed[tool] = rec["error"]
                sys.stderr.write("registry_bench: %s %s FAILED: %s\n" % (label, tool, rec["error"]))
            else:
                steps = "" if len(rec["steps"]) < 2 else " (%s)" % ", ".join(
                    "%s %.3f s" % (s, v["wall_s"]) for s, v in rec["steps"].items())
                log(args, "%-11s %-14s %7.3f s  cpu %6.2f s  %6.1f MiB%s" %
                    (label, tool, rec["wall_s"], rec["cpu_s"], rec["max_rss_kib"] / 1024.0, steps))
            if not warm:
                raw.append(rec)
            if keep and not rec["error"]:
                kept[tool] = out
            else:
                for p in outputs_of(out):
                    ub.remove(p)  # untimed
            if args.work_on_disk:
                os.sync()  # keep one run's writeback out of the next run's time
        if kept:
            checks += check_outputs(args, kept, source_manifest, blobs)
            for out in kept.values():
                for p in outputs_of(out):
                    ub.remove(p)
            if any(c["error"] for c in checks):
                break
    return raw, failed, checks


def check_outputs(args, kept, source_manifest, blobs):
    """Checks of the first warm-up round's outputs (untimed): [{what, error}]."""
    checks = []
    log(args, "checking the warm-up outputs")
    for tool, layout in [("skopeo", kept.get("skopeo")), ("ocipipe-pull", kept.get("ocipipe-pull")),
                         ("skopeo+umoci", kept["skopeo+umoci"] + "-layout" if "skopeo+umoci" in kept else None)]:
        if layout:
            checks.append({"what": "%s: pulled layout holds the pushed manifest and blobs" % tool,
                           "error": check_layout(layout, source_manifest, blobs)})
    if "skopeo+umoci" in kept:
        want = tree_facts(os.path.join(kept["skopeo+umoci"], "rootfs"))
        for tool, root in [("ocipipe-unpack", kept.get("ocipipe-unpack")),
                           ("ocipipe-create", os.path.join(kept["ocipipe-create"], "rootfs")
                            if "ocipipe-create" in kept else None)]:
            if root:
                checks.append({"what": "%s: rootfs has umoci's paths, types and sizes" % tool,
                               "error": compare_trees(want, tree_facts(root), tool)})
        if os.path.isfile(os.path.join(kept["skopeo+umoci"], "config.json")) and "ocipipe-create" in kept:
            ok = os.path.isfile(os.path.join(kept["ocipipe-create"], "config.json"))
            checks.append({"what": "ocipipe-create: bundle has config.json",
                           "error": "" if ok else "ocipipe-create wrote no config.json"})
    for c in checks:
        if c["error"]:
            sys.stderr.write("registry_bench: check FAILED: %s\n" % c["error"])
        else:
            log(args, "check ok: %s" % c["what"])
    return checks


def summarize(tools, raw, failed, total_bytes):
    rows = {}
    for tool in [t for t in ORDER if t in tools]:
        ok = [r for r in raw if r["tool"] == tool and not r["error"]]
        row = {"tool": tool, "case": CASE[tool], "runs": len(ok), "failed": failed.get(tool)}
        if ok and tool not in failed:
            walls = [r["wall_s"] for r in ok]
            row.update({"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                        "median_cpu_s": statistics.median(r["cpu_s"] for r in ok),
                        "peak_rss_mib": max(r["max_rss_kib"] for r in ok) / 1024.0,
                        "mb_per_s": total_bytes / 1e6 / statistics.median(walls)})
            if len(ok[0]["steps"]) > 1:
                row["median_step_s"] = {s: statistics.median(r["steps"][s]["wall_s"] for r in ok)
                                        for s in ok[0]["steps"]}
        rows[tool] = row
    ratios = []
    for peer, mine, target in COMPARISONS:
        if peer in rows and mine in rows:
            a, b = rows[peer], rows[mine]
            ratio = a["median_s"] / b["median_s"] if "median_s" in a and "median_s" in b else None
            ratios.append({"peer": peer, "ocipipe": mine, "ratio": ratio, "target": target,
                           "met": (ratio >= target) if (ratio is not None and target) else None})
    return list(rows.values()), ratios


def markdown(meta, rows, ratios, checks):
    h = meta["host"]
    out = ["# registry_bench: %s from a local docker-registry" % meta["image"], ""]
    out.append("- %s; %s; %d cpus (%d usable), kernel %s; load average at start %s" % (
        meta["date"], h["cpu"] or "unknown cpu", h["cpus"], h["usable_cpus"], h["kernel"],
        " ".join("%.2f" % x for x in h["loadavg_at_start"]) if h["loadavg_at_start"] else "?"))
    out.append("- %s" % "; ".join("%s: %s" % (k, v) for k, v in h["versions"].items()))
    out.append("- image %s:%s, manifest %s, %d blobs, %.1f MB; pushed as %s (skopeo push %.2f s)" % (
        meta["layout"], meta["tag"], meta["manifest_digest"], len(meta["blobs"]), meta["blob_bytes"] / 1e6,
        meta["ref"], meta["push_s"]))
    out.append("- %d timed rounds + %d warm-up, order reversed every other round; work on %s%s" % (
        meta["rounds"], meta["warmup"], meta["work"], "; page cache dropped before every run"
        if meta["drop_caches"] else ""))
    out.append("")
    out.append("| case | tool | median s | min s | max s | MB/s | CPU s | peak RSS MiB | runs |")
    out.append("|------|------|---------:|------:|------:|-----:|------:|-------------:|-----:|")
    for r in rows:
        if "median_s" not in r:
            out.append("| %s | %s | FAILED | | | | | | %d |" % (r["case"], r["tool"], r["runs"]))
            continue
        out.append("| %s | %s | %.3f | %.3f | %.3f | %.1f | %.2f | %.1f | %d |" % (
            r["case"], r["tool"], r["median_s"], r["min_s"], r["max_s"], r["mb_per_s"], r["median_cpu_s"],
            r["peak_rss_mib"], r["runs"]))
    out.append("")
    for r in rows:
        if r["failed"]:
            out.append("- %s FAILED: %s" % (r["tool"], r["failed"].splitlines()[0]))
        if "median_step_s" in r:
            out.append("- %s: median %s" % (r["tool"], ", ".join(
                "%s %.3f s" % (s, v) for s, v in r["median_step_s"].items())))
    for x in ratios:
        if x["ratio"] is None:
            out.append("- %s / %s: no ratio (a tool failed)" % (x["peer"], x["ocipipe"]))
        elif x["target"]:
            out.append("- %s / %s = %.2fx (target >= %.1fx): %s" % (
                x["peer"], x["ocipipe"], x["ratio"], x["target"], "met" if x["met"] else "NOT met"))
        else:
            out.append("- %s / %s = %.2fx" % (x["peer"], x["ocipipe"], x["ratio"]))
    for c in checks:
        out.append("- check %s: %s" % ("FAILED" if c["error"] else "ok", c["error"] or c["what"]))
    out.append("")
    out.append("Wall: spawn to wait4 (skopeo+umoci: the sum of both). CPU s: user+sys of the tool's")
    out.append("processes (not the registry's). Peak RSS: max over runs of ru_maxrss (%s). MB/s: 10^6" %
               ("GNU time %M" if meta["rss_method"] == "time" else "our wait4; includes this script's RSS"))
    out.append("blob bytes per second of the median. Ratio: peer median / ocipipe median.")
    out.append("")
    out.append("Commands:")
    out.append("")
    for tool, cmd in meta["commands"].items():
        out.append("    %-14s %s" % (tool, cmd))
    return "\n".join(out) + "\n"


def default_record_dir():
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return os.path.join(ub.REPO_ROOT, "bench", "runs", "%s-%s" % (day, platform.node() or "host"))


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See bench/README.md.")
    p.add_argument("--image", default="debian-slim",
                   help="dataset name in the cache ($CACHE/layouts/NAME); default debian-slim")
    p.add_argument("--layout", help="an image layout directory instead of a dataset")
    p.add_argument("--tag", help="tag in the layout (default: its only manifest's tag)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up rounds (default 1; the first is checked)")
    p.add_argument("--jobs", "-j", type=int, default=0, help="ocipipe -j N (default: its own)")
    p.add_argument("--ocipipe", default=os.path.join(ub.REPO_ROOT, "build", "ocipipe"),
                   help="the ocipipe binary (default: build/ocipipe of this repository)")
    p.add_argument("--peers-only", action="store_true", help="run skopeo and skopeo+umoci only")
    p.add_argument("--no-create", action="store_true", help="leave out ocipipe create")
    p.add_argument("--no-check", action="store_true", help="do not check the warm-up outputs")
    p.add_argument("--work", help="scratch directory for the registry and outputs (default: under /dev/shm)")
    p.add_argument("--drop-caches", action="store_true",
                   help="sync and drop the page cache before every timed run (root; useful with --work on disk)")
    p.add_argument("--json", metavar="FILE", help="write set-up, summary and raw runs as JSON to FILE")
    p.add_argument("--record", metavar="DIR", nargs="?", const="",
                   help="write registry-raw.json and registry-summary.md into DIR "
                        "(default bench/runs/<UTC date>-<host>/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0 or args.jobs < 0:
        p.error("--rounds must be >= 1, --warmup and --jobs >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    tools = list(PEERS) if args.peers_only else [t for t in ORDER if not (args.no_create and t == "ocipipe-create")]
    if args.layout:
        layout, tag, name = os.path.abspath(args.layout), args.tag, os.path.basename(os.path.abspath(args.layout))
    else:
        layout, tag, name = os.path.join(ub.cache_dir(), "layouts", args.image), args.tag, args.image
    base = os.path.abspath(args.work) if args.work else "/dev/shm"
    registry = None
    work = None
    try:
        if not os.path.isfile(os.path.join(layout, "index.json")):
            raise SetupError("%s is not an image layout (build the datasets: datasets/build.sh)" % layout)
        tag, desc, blobs = load_source(layout, tag)
        check_programs(args, tools)
        if not os.path.isdir(base):
            raise SetupError("%s is not a directory" % base)
        args.work_on_disk = not _is_tmpfs(base)
        if args.drop_caches:
            if os.geteuid() != 0 or not os.access("/proc/sys/vm/drop_caches", os.W_OK):
                raise SetupError("--drop-caches needs root and a writable /proc/sys/vm/drop_caches")
            if not args.work_on_disk:
                log(args, "warning: --drop-caches with the work on a tmpfs: the registry's files stay in memory")
        args.rss_method = ub.rss_method()
        if args.rss_method != "time":
            log(args, "no usable /usr/bin/time: peak RSS comes from wait4 and includes this script's RSS")
        work = tempfile.mkdtemp(prefix="registry-bench-", dir=base)
        registry = Registry(work)
        log(args, "starting %s" % REGISTRY)
        registry.start()
        ref = "%s/bench/%s:latest" % (registry.host, name)
        log(args, "pushing %s:%s to docker://%s" % (layout, tag, ref))
        t0 = time.perf_counter()
        run_checked(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "oci:%s:%s" % (layout, tag),
                     "docker://" + ref], "push with skopeo")
        push_s = time.perf_counter() - t0
        log(args, "pushed in %.2f s; %d rounds + %d warm-up" % (push_s, args.rounds, args.warmup))

        blob_bytes = desc["size"] + sum(b["size"] for b in blobs)
        meta = {
            "schema": 1, "image": name, "layout": layout, "tag": tag, "ref": "docker://" + ref,
            "manifest_digest": desc["digest"],
            "blobs": [{"digest": b["digest"], "media_type": b.get("mediaType"), "size": b["size"]} for b in blobs],
            "blob_bytes": blob_bytes, "push_s": push_s,
            "rounds": args.rounds, "warmup": args.warmup, "jobs": args.jobs or None,
            "work": ("disk:" if args.work_on_disk else "tmpfs:") + work, "drop_caches": args.drop_caches,
            "rss_method": args.rss_method, "peers_only": args.peers_only,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": host_info(args, tools),
            "commands": {t: " && ".join(" ".join(ub.sh_quote(a) for a in argv)
                                        for _, argv in commands(args, t, ref, "OUT")) for t in tools},
        }
        raw, failed, checks = run_all(args, tools, ref, work, desc["digest"], blobs)
    except SetupError as e:
        sys.stderr.write("registry_bench: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("registry_bench: interrupted\n")
        return 130
    finally:
        if registry is not None:
            registry.stop()
        if work is not None:
            ub.remove(work)

    rows, ratios = summarize(tools, raw, failed, blob_bytes)
    text = markdown(meta, rows, ratios, checks)
    sys.stdout.write(text)
    result = dict(meta, summary=rows, ratios=ratios, checks=checks, raw=raw)
    if args.json:
        write_file(args.json, json.dumps(result, indent=1) + "\n")
    if args.record is not None:
        d = args.record or default_record_dir()
        os.makedirs(d, exist_ok=True)
        write_file(os.path.join(d, "registry-raw.json"), json.dumps(result, indent=1) + "\n")
        write_file(os.path.join(d, "registry-summary.md"), text)
        log(args, "recorded in %s" % d)
    return 1 if failed or any(c["error"] for c in checks) else 0


def _is_tmpfs(path):
    """Whether `path` lies on a tmpfs (from /proc/self/mountinfo: longest matching mount point)."""
    path = os.path.realpath(path)
    best, fstype = "", ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                mnt = left.split()[4].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype = mnt, right.split()[0]
    except (OSError, IndexError):
        return False
    return fstype == "tmpfs"


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
