#!/usr/bin/env python3
"""End-to-end unpack benchmark: ocipipe against its peers on one image (DESIGN.md section 8).

Tools (each unpacks the same image into a fresh directory, output removed between runs,
untimed):

  ocipipe         build/ocipipe unpack [-j N] oci:LAYOUT:TAG OUT
  umoci           umoci --log=error unpack --image LAYOUT:TAG OUT      (OUT is a bundle; umoci
                  also writes config.json and an mtree manifest of the rootfs, part of its cost)
  oci-image-tool  oci-image-tool unpack --ref name=TAG LAYOUT OUT     (ignores opaque whiteouts;
                  timed anyway)
  tar             one `bash -c`: GNU tar -x of each layer blob in manifest order
                  (-z for gzip, --zstd for zstd); no whiteout handling at all
  igzip           one `bash -c`: `igzip -dc LAYER | tar -x` for each layer in order; no
                  whiteout handling at all

umoci, oci-image-tool and igzip cannot read zstd layers: for a zstd image they are skipped.

Both tar variants run as `tar -x --numeric-owner --xattrs --xattrs-include='*' -C OUT`, so
they restore owners, modes and xattrs like the image tools do (as root tar also keeps modes
and owners by default).

Method: one warm-up iteration (not recorded) then --runs iterations; in each iteration every
tool runs once, round-robin, the starting tool rotating from one iteration to the next so no
tool always runs first. Output goes to a tmpfs (a directory under /dev/shm) unless --disk DIR
is given. Wall time is measured around spawn + wait4 of the tool's process. Peak RSS is the
tool's ru_maxrss (KiB) as GNU time (/usr/bin/time -f %M) reports it, GNU time forking the
tool; without /usr/bin/time it is the ru_maxrss of our own wait4, whose floor is this
script's RSS (Linux counts the pages of the process a child was cloned from), and the
output says so. For the `bash -c` runs (tar, igzip) Linux reports the maximum over bash and
every child it reaped, i.e. the largest single process, not the sum of an igzip and a tar
running side by side in a pipeline.

MB/s are 10^6 bytes of uncompressed layer tar per second: the sum of the layers' decompressed
sizes, counted once before the runs. Ratio is median wall of the tool / median wall of
ocipipe (above 1: slower than ocipipe).

Standard library only. Needs root for umoci/tar to restore owners. Exit status: 0 all tools
ran, 1 some tool failed, 2 usage or set-up error.
"""

import argparse
import csv
import datetime
import gzip
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_TOOLS = ["ocipipe", "umoci", "oci-image-tool", "tar", "igzip"]
REF_NAME = "org.opencontainers.image.ref.name"
TAR_X = "tar -x --numeric-owner --xattrs --xattrs-include='*'"

NOTES = {
    "umoci": "also writes config.json and an mtree manifest of the rootfs",
    "oci-image-tool": "ignores opaque whiteouts (its tree is wrong for images that use them)",
    "tar": "no whiteout handling; sequential tar -x per layer",
    "igzip": "no whiteout handling; igzip -dc | tar -x per layer",
}


class SetupError(Exception):
    pass


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("unpack_bench: %s\n" % msg)
        sys.stderr.flush()


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/root"), ".cache")
    return os.path.join(base, "ocipipe")


def sh_quote(s):
    if s and all(c.isalnum() or c in "-_./:=,+@%" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


# ------------------------------------------------------------------ image


def compression_of(media_type):
    if media_type.endswith("+gzip") or media_type.endswith(".tar.gzip"):
        return "gzip"
    if media_type.endswith("+zstd") or media_type.endswith(".tar.zstd"):
        return "zstd"
    if media_type.endswith(".tar") or media_type.endswith("diff.tar"):
        return "none"
    raise SetupError("unsupported layer media type %r" % media_type)


def blob_path(layout, digest):
    alg, _, hexd = digest.partition(":")
    if alg not in ("sha256", "sha512") or not hexd or not all(c in "0123456789abcdef" for c in hexd):
        raise SetupError("bad digest %r" % digest)
    return os.path.join(layout, "blobs", alg, hexd)


def load_image(layout, tag):
    try:
        with open(os.path.join(layout, "index.json"), "rb") as f:
            index = json.load(f)
    except OSError as e:
        raise SetupError("cannot read %s/index.json: %s (build the datasets: datasets/build.sh)" % (layout, e.strerror))
    manifests = index.get("manifests", [])
    if tag is None:
        if len(manifests) != 1:
            raise SetupError("%s holds %d manifests; pass --tag" % (layout, len(manifests)))
        desc = manifests[0]
        tag = desc.get("annotations", {}).get(REF_NAME)
        if tag is None:
            raise SetupError("%s: its only manifest has no tag; umoci and oci-image-tool need one" % layout)
    else:
        found = [m for m in manifests if m.get("annotations", {}).get(REF_NAME) == tag]
        if len(found) != 1:
            raise SetupError("%s: %d manifests tagged %r" % (layout, len(found), tag))
        desc = found[0]
    with open(blob_path(layout, desc["digest"]), "rb") as f:
        manifest = json.load(f)
    layers = []
    for l in manifest.get("layers", []):
        layers.append({
            "digest": l["digest"],
            "media_type": l["mediaType"],
            "size": l["size"],
            "compression": compression_of(l["mediaType"]),
            "path": blob_path(layout, l["digest"]),
        })
    if not layers:
        raise SetupError("%s:%s has no layers" % (layout, tag))
    return tag, layers


def count_stream(stream):
    n = 0
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            return n
        n += len(chunk)


def uncompressed_size(layer):
    comp = layer["compression"]
    if comp == "none":
        return os.path.getsize(layer["path"])
    if comp == "gzip" and shutil.which("igzip") is not None:  # 4x Python's zlib: matters for GB layers
        p = subprocess.Popen(["igzip", "-dc", layer["path"]], stdout=subprocess.PIPE)
        n = count_stream(p.stdout)
        if p.wait() != 0:
            raise SetupError("igzip -dc %s failed" % layer["path"])
        return n
    if comp == "gzip":
        with gzip.open(layer["path"], "rb") as f:
            return count_stream(f)
    # zstd: the standard library has no decoder.
    if shutil.which("zstd") is None:
        raise SetupError("zstd (the CLI) is needed to size zstd layers")
    p = subprocess.Popen(["zstd", "-q", "-dc", layer["path"]], stdout=subprocess.PIPE)
    n = count_stream(p.stdout)
    if p.wait() != 0:
        raise SetupError("zstd -dc %s failed" % layer["path"])
    return n


# ------------------------------------------------------------------ tools


def tar_script(layers, out, use_igzip):
    cmds = ["set -e -o pipefail"]
    for l in layers:
        p = sh_quote(l["path"])
        o = sh_quote(out)
        if l["compression"] == "none":
            cmds.append("%s -f %s -C %s" % (TAR_X, p, o))
        elif use_igzip:
            cmds.append("igzip -dc %s | %s -C %s" % (p, TAR_X, o))
        elif l["compression"] == "gzip":
            cmds.append("%s -z -f %s -C %s" % (TAR_X, p, o))
        else:
            cmds.append("%s --zstd -f %s -C %s" % (TAR_X, p, o))
    return "\n".join(cmds)


def tool_command(tool, args, layout, tag, layers, out):
    """argv of one run writing into `out`, and whether `out` must exist beforehand."""
    if tool == "ocipipe":
        argv = [args.ocipipe, "unpack"]
        if args.jobs:
            argv += ["-j", str(args.jobs)]
        return argv + ["oci:%s:%s" % (layout, tag), out], False
    if tool == "umoci":
        return ["umoci", "--log=error", "unpack", "--image", "%s:%s" % (layout, tag), out], False
    if tool == "oci-image-tool":
        return ["oci-image-tool", "unpack", "--ref", "name=" + tag, layout, out], True
    if tool == "tar":
        return ["bash", "-c", tar_script(layers, out, False)], True
    if tool == "igzip":
        return ["bash", "-c", tar_script(layers, out, True)], True
    raise SetupError("unknown tool %r" % tool)


def check_tools(args, tools, layers):
    """Tools that can run this image; raises for a missing program."""
    runnable = []
    for tool in tools:
        if tool == "ocipipe":
            if not os.access(args.ocipipe, os.X_OK):
                raise SetupError("%s is not built (build it, or leave ocipipe out with --tools)" % args.ocipipe)
        else:
            needed = {"umoci": ["umoci"], "oci-image-tool": ["oci-image-tool"], "tar": ["bash", "tar"],
                      "igzip": ["bash", "tar", "igzip"]}[tool]
            if tool == "tar" and any(l["compression"] == "zstd" for l in layers):
                needed.append("zstd")
            missing = [p for p in needed if shutil.which(p) is None]
            if missing:
                raise SetupError("%s needs %s, not in PATH" % (tool, ", ".join(missing)))
        if tool in ("igzip", "umoci", "oci-image-tool") and any(l["compression"] == "zstd" for l in layers):
            log(args, "%s: skipped, it cannot read zstd layers" % tool)
            continue
        runnable.append(tool)
    return runnable


def version_of(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        lines = p.stdout.decode("utf-8", "replace").strip().splitlines()
        return lines[0] if lines else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or "" where it is not there."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def host_info(args, tools):
    cpu = cpu_model()
    versions = {}
    cmds = {"ocipipe": [args.ocipipe, "version"], "umoci": ["umoci", "--version"],
            "oci-image-tool": ["oci-image-tool", "--version"], "tar": ["tar", "--version"],
            "igzip": ["igzip", "-V"]}
    for t in tools:
        versions[t] = version_of(cmds[t])
    return {"hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "cpu": cpu, "python": platform.python_version(), "versions": versions}


def has_bench_verb(ocipipe):
    """Whether this ocipipe binary has the `bench` verb (issue 9): it is listed in --help."""
    try:
        p = subprocess.run([ocipipe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.split()[:1] == ["bench"] for line in p.stdout.decode("utf-8", "replace").splitlines())


def ocipipe_bench_json(ocipipe, ref, workdir, seconds=None, timeout=1800, only=None):
    """Runs `ocipipe bench --json --image REF --dir D [--seconds S]` once, D a new directory
    under WORKDIR, removed afterwards.

    Returns (the parsed JSON object, None), or (None, why) when the verb is missing, fails or
    prints no JSON. `--dir` is where its file-creation measurement writes: pass a directory on
    the file system the unpacks go to (a tmpfs here), so the floor it computes is for that
    file system. REF is an image reference such as oci:LAYOUT:TAG. Its floor fields
    (floor.unpack_floor_seconds, floor.validate_floor_seconds) are for all cores. `only` goes to
    --only (comma-separated measurements; --image adds those its floor needs)."""
    if not has_bench_verb(ocipipe):
        return None, "%s has no `bench` verb yet" % ocipipe
    scratch = tempfile.mkdtemp(prefix="ocipipe-bench-dir-", dir=workdir)
    argv = [ocipipe, "bench", "--json", "--dir", scratch]
    if seconds:
        argv += ["--seconds", str(seconds)]
    if only:
        argv += ["--only", only]
    if ref:
        argv += ["--image", ref]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "`ocipipe bench` ran over %d s" % timeout
    except OSError as e:
        return None, "`ocipipe bench`: %s" % e.strerror
    finally:
        remove(scratch)
    out = p.stdout.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        err = (p.stderr.decode("utf-8", "replace").strip() or out).splitlines()
        return None, "`ocipipe bench` exit %d: %s" % (p.returncode, " | ".join(err[-3:]))
    for text in [out] + out.splitlines()[::-1]:  # one object, or JSON Lines ending in one
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj, None
    return None, "`ocipipe bench --json` printed no JSON object"


def floor_seconds(bench, verb):
    """floor.<verb>_floor_seconds of an `ocipipe bench --json` object, or None."""
    v = ((bench or {}).get("floor") or {}).get("%s_floor_seconds" % verb)
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


# ------------------------------------------------------------------ runs


GNU_TIME = "/usr/bin/time"


def rss_method():
    """How peak RSS is measured: "time" (GNU time's %M) or "wait4" (our own wait4)."""
    if os.access(GNU_TIME, os.X_OK):
        p = subprocess.run([GNU_TIME, "-f", "%M", "true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, check=False)
        if p.returncode == 0 and p.stderr.strip().isdigit():
            return "time"
    return "wait4"


def timed_run(argv, log_path, method):
    """Runs argv with stdin /dev/null, stdout+stderr to log_path; (wall_s, maxrss_kib, exit code).

    ru_maxrss of a process we spawn directly also counts the pages of the runner it was
    cloned from (Linux records the old mm's high-water mark at exec), so Python's own ~15 MiB
    would be the floor of every tool. With method "time", GNU time forks the tool from its
    own small process and reports the tool's ru_maxrss (%M); wall time is still ours, around
    the whole spawn + wait4 (GNU time adds one fork + exec, about a millisecond).
    """
    rss_path = log_path + ".rss"
    if method == "time":
        argv = [GNU_TIME, "-f", "%M", "-o", rss_path, "--"] + argv
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
        t0 = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        os.close(fd)
    rss = ru.ru_maxrss
    if method == "time":
        try:
            with open(rss_path) as f:
                rss = int(f.read().split()[-1])  # after a "Command exited with ..." line, if any
            os.unlink(rss_path)
        except (OSError, ValueError, IndexError):
            rss = -1
    return wall, rss, os.waitstatus_to_exitcode(status)


def tail(path, n=5):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def count_entries(root):
    n = 0
    for _, dirs, files in os.walk(root):
        n += len(dirs) + len(files)
    return n


def remove(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)


def run_all(args, tools, layout, tag, layers, work, total_bytes):
    raw = []
    failed = {}
    entries = {}
    iterations = args.warmup + args.runs
    for it in range(iterations):
        warm = it < args.warmup
        k = it % len(tools)
        order = tools[k:] + tools[:k]
        for pos, tool in enumerate(order):
            if tool in failed:
                continue
            out = os.path.join(work, "%s-%d" % (tool, it))
            argv, precreate = tool_command(tool, args, layout, tag, layers, out)
            if precreate:
                os.mkdir(out)
            log_path = os.path.join(work, "%s-%d.log" % (tool, it))
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, rss, code = timed_run(argv, log_path, args.rss_method)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
            label = "warm-up" if warm else "run %d/%d" % (it - args.warmup + 1, args.runs)
            if code != 0:
                failed[tool] = "exit %d: %s" % (code, tail(log_path, 3).replace("\n", " | "))
                log(args, "%s %s FAILED (%s)" % (label, tool, failed[tool]))
            else:
                log(args, "%s %-14s %7.3f s  %7.1f MB/s  %6.1f MiB" %
                    (label, tool, wall, total_bytes / 1e6 / wall, rss / 1024.0))
                if tool not in entries:  # umoci's OUT is a bundle: count its rootfs
                    entries[tool] = count_entries(os.path.join(out, "rootfs") if tool == "umoci" else out)
            if not warm:
                raw.append({"tool": tool, "iteration": it - args.warmup + 1, "position": pos + 1,
                            "wall_s": wall, "cpu_s": cpu, "max_rss_kib": rss, "exit_code": code,
                            "uncompressed_bytes": total_bytes,
                            "mb_per_s": total_bytes / 1e6 / wall if code == 0 else None})
            remove(out)  # untimed
            if code == 0:
                os.unlink(log_path)
            if args.disk:
                os.sync()  # keep one run's writeback out of the next run's time
    return raw, failed, entries


def summarize(tools, raw, failed, entries):
    rows = []
    for tool in tools:
        ok = [r for r in raw if r["tool"] == tool and r["exit_code"] == 0]
        row = {"tool": tool, "runs": len(ok), "failed": failed.get(tool), "entries": entries.get(tool),
               "note": NOTES.get(tool, "")}
        if ok and tool not in failed:
            walls = [r["wall_s"] for r in ok]
            row.update({
                "median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                "median_mb_per_s": statistics.median(r["mb_per_s"] for r in ok),
                "median_cpu_s": statistics.median(r["cpu_s"] for r in ok),
                "peak_rss_mib": max(r["max_rss_kib"] for r in ok) / 1024.0,
            })
        rows.append(row)
    base = next((r for r in rows if r["tool"] == "ocipipe" and "median_s" in r), None)
    for r in rows:
        r["ratio_vs_ocipipe"] = (r["median_s"] / base["median_s"]) if base and "median_s" in r else None
    return rows


def print_table(rows, meta):
    print("image %s (%d layers, %.1f MB compressed, %.1f MB uncompressed), %d runs + %d warm-up, output on %s" %
          (meta["image"], len(meta["layers"]), meta["compressed_bytes"] / 1e6, meta["uncompressed_bytes"] / 1e6,
           meta["runs"], meta["warmup"], meta["target"]))
    hdr = ["tool", "median s", "min s", "max s", "MB/s", "CPU s", "peak RSS MiB", "ratio", "entries"]
    lines = []
    for r in rows:
        if "median_s" not in r:
            lines.append([r["tool"], "FAILED: " + (r["failed"] or "no runs")])
            continue
        ratio = "%.2f" % r["ratio_vs_ocipipe"] if r["ratio_vs_ocipipe"] is not None else "-"
        lines.append([r["tool"], "%.3f" % r["median_s"], "%.3f" % r["min_s"], "%.3f" % r["max_s"],
                      "%.1f" % r["median_mb_per_s"], "%.2f" % r["median_cpu_s"], "%.1f" % r["peak_rss_mib"], ratio,
                      str(r["entries"])])
    widths = [max(len(hdr[i]), *(len(l[i]) for l in lines if len(l) > i)) for i in range(len(hdr))]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths))))
    for l in lines:
        if len(l) == 2:
            print(l[0].ljust(widths[0]) + "  " + l[1])
        else:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(l, widths))))
    print("MB/s: 10^6 uncompressed tar bytes per second (median run). ratio: median wall / ocipipe's.")
    print("CPU s: median user+sys seconds of the run's processes (getrusage(RUSAGE_CHILDREN) around it).")
    if meta["rss_method"] == "time":
        print("peak RSS: max over runs of the tool's ru_maxrss from GNU time (%M); for tar and igzip")
    else:
        print("peak RSS: max over runs of ru_maxrss from our wait4 (no /usr/bin/time): includes this")
        print("  script's own RSS as a floor; for tar and igzip")
    print("  (bash -c) the largest single process of the run, not the sum of a pipeline.")
    for r in rows:
        if r["note"]:
            print("%s: %s" % (r["tool"], r["note"]))
    if "floor" in meta:
        f = meta["floor"]
        if f.get("unpack_floor_seconds") is None:
            print("floor: - (%s)" % f.get("error", "no floor in the output of `ocipipe bench`"))
        else:
            base = next((r for r in rows if r["tool"] == "ocipipe" and "median_s" in r), None)
            x = base["median_s"] / f["unpack_floor_seconds"] if base else None
            print("floor (`ocipipe bench --image`, all cores): %.3f s; ocipipe median = %s the floor "
                  "(issue 9: at most 1.25x for debian-slim)" % (f["unpack_floor_seconds"], "%.2fx" % x if x else "-"))


def write_csv(path, raw, meta):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "target", "tool", "iteration", "position", "wall_s", "max_rss_kib",
                    "exit_code", "uncompressed_bytes", "mb_per_s"])
        for r in raw:
            w.writerow([meta["image"], meta["target"], r["tool"], r["iteration"], r["position"],
                        "%.6f" % r["wall_s"], r["max_rss_kib"], r["exit_code"], r["uncompressed_bytes"],
                        "%.3f" % r["mb_per_s"] if r["mb_per_s"] is not None else ""])
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See bench/README.md.")
    p.add_argument("--image", default="debian-slim",
                   help="dataset name in the cache (layout $CACHE/layouts/NAME, tag NAME); default debian-slim")
    p.add_argument("--layout", help="an image layout directory instead of a dataset")
    p.add_argument("--tag", help="tag in --layout (default: its only manifest's tag)")
    p.add_argument("--tools", default=",".join(ALL_TOOLS),
                   help="comma-separated subset of %s (default: all)" % ",".join(ALL_TOOLS))
    p.add_argument("--runs", type=int, default=5, help="timed iterations (default 5, at least 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up iterations (default 1)")
    p.add_argument("--jobs", "-j", type=int, default=0, help="passed to ocipipe as -j N (default: its own)")
    p.add_argument("--disk", metavar="DIR", help="unpack under DIR instead of a tmpfs (/dev/shm)")
    p.add_argument("--ocipipe", default=os.path.join(REPO_ROOT, "build", "ocipipe"),
                   help="the ocipipe binary (default: build/ocipipe of this repository)")
    p.add_argument("--floor", action="store_true",
                   help="also run `ocipipe bench --json --image` once and compare ocipipe with its unpack floor")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--out", metavar="FILE", help="write the raw runs as CSV to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in ALL_TOOLS]
    if bad or not args.tools:
        p.error("--tools: unknown %s; choose from %s" % (",".join(bad) or "(none)", ",".join(ALL_TOOLS)))
    if len(set(args.tools)) != len(args.tools):
        p.error("--tools: a tool is named twice")
    if args.runs < 1 or args.warmup < 0 or args.jobs < 0:
        p.error("--runs must be >= 1, --warmup and --jobs >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    if args.layout:
        layout, tag, name = os.path.abspath(args.layout), args.tag, None
    else:
        layout, tag, name = os.path.join(cache_dir(), "layouts", args.image), args.image, args.image
    try:
        tag, layers = load_image(layout, tag)
        tools = check_tools(args, args.tools, layers)
        if not tools:
            raise SetupError("no tool can run this image")
        base = os.path.abspath(args.disk) if args.disk else "/dev/shm"
        if not os.path.isdir(base):
            raise SetupError("%s is not a directory" % base)
        log(args, "sizing %d layers of %s:%s" % (len(layers), layout, tag))
        for l in layers:
            l["uncompressed_size"] = uncompressed_size(l)
    except (SetupError, OSError, ValueError, KeyError) as e:
        sys.stderr.write("unpack_bench: %s\n" % e)
        return 2
    total = sum(l["uncompressed_size"] for l in layers)
    st = os.statvfs(base)
    if st.f_bavail * st.f_frsize < 2 * total:
        log(args, "warning: %s has %.0f MB free for a %.0f MB image" % (base, st.f_bavail * st.f_frsize / 1e6, total / 1e6))

    args.rss_method = rss_method()
    if args.rss_method != "time":
        log(args, "no usable /usr/bin/time: peak RSS comes from wait4 and includes this script's RSS")
    work = tempfile.mkdtemp(prefix="ocipipe-bench-", dir=base)
    meta = {
        "schema": 1, "image": name or "%s:%s" % (layout, tag), "layout": layout, "tag": tag,
        "layers": [{k: l[k] for k in ("digest", "media_type", "size", "uncompressed_size")} for l in layers],
        "compressed_bytes": sum(l["size"] for l in layers), "uncompressed_bytes": total,
        "runs": args.runs, "warmup": args.warmup, "jobs": args.jobs or None,
        "rss_method": args.rss_method,
        "target": ("disk:" if args.disk else "tmpfs:") + work,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": host_info(args, tools),
        "commands": {t: " ".join(sh_quote(a) for a in tool_command(t, args, layout, tag, layers, "OUT")[0])
                     for t in tools},
    }
    if args.floor:
        if "ocipipe" not in tools:
            meta["floor"] = {"error": "ocipipe is not among --tools"}
        else:
            log(args, "ocipipe bench --json --image oci:%s:%s (once, untimed)" % (layout, tag))
            bench, why = ocipipe_bench_json(args.ocipipe, "oci:%s:%s" % (layout, tag), work)
            meta["floor"] = {"unpack_floor_seconds": floor_seconds(bench, "unpack"), "bench": bench}
            if why or meta["floor"]["unpack_floor_seconds"] is None:
                meta["floor"]["error"] = why or "no floor.unpack_floor_seconds in its output"
                log(args, "floor: %s" % meta["floor"]["error"])
    try:
        raw, failed, entries = run_all(args, tools, layout, tag, layers, work, total)
    except KeyboardInterrupt:
        sys.stderr.write("unpack_bench: interrupted\n")
        return 130
    finally:
        remove(work)
    rows = summarize(tools, raw, failed, entries)
    if args.out:
        write_csv(args.out, raw, meta)
    if args.json:
        meta["summary"] = rows
        meta["raw"] = raw
        json.dump(meta, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rows, meta)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
