#!/usr/bin/env python3
"""End-to-end pack benchmark: `ocipipe pack` and `ocipipe pack --diff` against `umoci repack`.

Two cases, each timed side by side in one run (issue 6, "Done when"):

  full   The rootfs of an image (default: the debian dataset) becomes one new layer.
           ocipipe   ocipipe pack [-j N] TREE oci:OUT:packed            (OUT removed between runs)
           umoci     umoci repack --image OUT:packed BUNDLE, where BUNDLE was made by
                     `umoci unpack` of an empty image (umoci init + umoci new) and TREE copied
                     into BUNDLE/rootfs with `cp -a`, so umoci's recorded state is the empty
                     tree and its repack packs every file, as it does for a first commit.
  diff   The same image unpacked by each tool, then the same change made to both copies:
         every 100th regular file (sorted paths, so 1% of the files) gets 64 bytes appended.
           ocipipe   ocipipe pack --diff [-j N] ROOTFS oci:LAYOUT:changed
           umoci     umoci repack --image LAYOUT:changed BUNDLE
         Neither tool refreshes its recorded state when it packs, so every run does the same
         work.

Both tools write gzip layers at their default level. Before the timed runs, each tool's first
output is checked: the image it wrote unpacks (ocipipe unpack) to a tree with the same paths
as the input, so neither tool wins by skipping work.

Method: one warm-up iteration (not recorded), then --runs iterations; in each, both tools run
once, round-robin, the first tool alternating. Everything lives on a tmpfs (/dev/shm) unless
--work is given; the page cache is warm for both (each source tree was just written).
Wall time around spawn + wait4; peak RSS from GNU time's %M when /usr/bin/time exists.
Reported: medians, ratio umoci / ocipipe (above 1: ocipipe is faster), peak RSS, and the
issue's targets as verdict lines (full >= 4x, diff >= 10x).

Standard library only. Needs root (umoci and ocipipe keep owners). Exit status: 0 all runs
passed, 1 a tool failed or a check failed, 2 usage or set-up error.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import unpack_bench as ub  # noqa: E402  (shared: timed_run, rss_method, host_info, remove)

TARGETS = {"full": 4.0, "diff": 10.0}


def log(args, msg):
    if not args.quiet:
        sys.stderr.write("pack_bench: %s\n" % msg)
        sys.stderr.flush()


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if p.returncode != 0:
        raise ub.SetupError("%s failed (%d): %s" % (" ".join(argv), p.returncode,
                                                     p.stdout.decode("utf-8", "replace")[-2000:]))
    return p.stdout.decode("utf-8", "replace")


def regular_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(os.path.relpath(p, root))
    return sorted(out)


def change_one_percent(root, files):
    """Appends 64 bytes to every 100th file of `files` below `root`; returns how many."""
    n = 0
    for rel in files[::100]:
        with open(os.path.join(root, rel), "ab") as f:
            f.write(b"pack_bench change\n".ljust(64, b"."))
        n += 1
    return n


def tree_paths(root):
    paths = set()
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            paths.add(os.path.relpath(os.path.join(d, name), root))
    return paths


def check_image(args, layout, tag, expect_root, work, label):
    """Unpacks LAYOUT:TAG with ocipipe and compares its path set with expect_root's."""
    out = os.path.join(work, "check-" + label)
    ub.remove(out)
    run([args.ocipipe, "unpack", "--no-state", "oci:%s:%s" % (layout, tag), out])
    got, want = tree_paths(out), tree_paths(expect_root)
    ub.remove(out)
    if got != want:
        missing, extra = sorted(want - got)[:5], sorted(got - want)[:5]
        raise ub.SetupError("%s: the packed image's tree differs from its input (missing %s, extra %s)"
                            % (label, missing, extra))


def setup(args, work):
    src = os.path.abspath(args.layout)
    tag, _ = ub.load_image(src, args.tag)
    layout = os.path.join(work, "layout")
    shutil.copytree(src, layout, symlinks=True)
    s = {"tag": tag, "layout": layout}

    log(args, "unpacking %s:%s for the full case" % (src, tag))
    s["tree"] = os.path.join(work, "tree")
    run([args.ocipipe, "unpack", "--no-state", "oci:%s:%s" % (layout, tag), s["tree"]])
    s["files"] = len(regular_files(s["tree"]))

    s["umoci_layout"] = os.path.join(work, "umoci-layout")
    s["umoci_bundle"] = os.path.join(work, "umoci-bundle")
    run(["umoci", "--log=error", "init", "--layout", s["umoci_layout"]])
    run(["umoci", "--log=error", "new", "--image", s["umoci_layout"] + ":empty"])
    run(["umoci", "--log=error", "unpack", "--image", s["umoci_layout"] + ":empty", s["umoci_bundle"]])
    run(["cp", "-a", s["tree"] + "/.", os.path.join(s["umoci_bundle"], "rootfs")])

    log(args, "unpacking and changing 1% of the files for the diff case")
    s["diff_root"] = os.path.join(work, "diff-rootfs")
    run([args.ocipipe, "unpack", "oci:%s:%s" % (layout, tag), s["diff_root"]])
    s["diff_bundle"] = os.path.join(work, "diff-bundle")
    run(["umoci", "--log=error", "unpack", "--image", "%s:%s" % (layout, tag), s["diff_bundle"]])
    files = regular_files(s["diff_root"])
    s["changed"] = change_one_percent(s["diff_root"], files)
    if change_one_percent(os.path.join(s["diff_bundle"], "rootfs"), files) != s["changed"]:
        raise ub.SetupError("the two diff trees differ")
    return s


def commands(args, s, work):
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    out = os.path.join(work, "packed")
    return {
        ("full", "ocipipe"): ([args.ocipipe, "pack"] + jobs + [s["tree"], "oci:%s:packed" % out],
                              lambda: ub.remove(out)),
        ("full", "umoci"): (["umoci", "--log=error", "repack", "--image", s["umoci_layout"] + ":packed",
                             s["umoci_bundle"]], lambda: None),
        ("diff", "ocipipe"): ([args.ocipipe, "pack", "--diff"] + jobs +
                              [s["diff_root"], "oci:%s:changed-ocipipe" % s["layout"]], lambda: None),
        ("diff", "umoci"): (["umoci", "--log=error", "repack", "--image", s["layout"] + ":changed-umoci",
                             s["diff_bundle"]], lambda: None),
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ocipipe", default=os.path.join(ub.REPO_ROOT, "build", "ocipipe"))
    p.add_argument("--layout", default=os.path.join(ub.cache_dir(), "layouts", "debian"))
    p.add_argument("--tag")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--jobs", type=int, default=0, help="ocipipe -j (default: all cores)")
    p.add_argument("--work", help="scratch directory (default: a new one under /dev/shm)")
    p.add_argument("--json", help="also write the raw results to this file")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        sys.stderr.write("pack_bench: needs root (owners are kept)\n")
        return 2
    work = tempfile.mkdtemp(prefix="pack-bench-", dir=args.work or "/dev/shm")
    method = ub.rss_method()
    try:
        s = setup(args, work)
        cmds = commands(args, s, work)
        raw = {k: [] for k in cmds}
        failed = False
        for it in range(args.runs + 1):
            order = list(cmds) if it % 2 == 0 else list(reversed(list(cmds)))
            for key in order:
                argv, after = cmds[key]
                logp = os.path.join(work, "%s-%s.log" % key)
                wall, rss, rc = ub.timed_run(argv, logp, method)
                if rc != 0:
                    failed = True
                    log(args, "%s %s failed (%d): %s" % (key[0], key[1], rc, ub.tail(logp)))
                elif it == 0:
                    log(args, "%s %s: %.2f s (warm-up)" % (key[0], key[1], wall))
                    if key == ("full", "ocipipe"):
                        check_image(args, os.path.join(work, "packed"), "packed", s["tree"], work, "ocipipe full")
                    if key == ("full", "umoci"):
                        check_image(args, s["umoci_layout"], "packed", s["tree"], work, "umoci full")
                    if key == ("diff", "ocipipe"):
                        check_image(args, s["layout"], "changed-ocipipe", s["diff_root"], work, "ocipipe diff")
                else:
                    raw[key].append({"wall_s": wall, "rss_kib": rss})
                if it < args.runs:
                    after()
        print("pack_bench: %s:%s, %d regular files, %d changed for the diff case; %s, %d cpus"
              % (args.layout, s["tag"], s["files"], s["changed"], ub.cpu_model(), os.cpu_count()))
        print("%-6s %-8s %10s %10s %10s" % ("case", "tool", "median s", "min s", "rss MB"))
        summary = {}
        for key, runs in raw.items():
            if not runs:
                continue
            walls = [r["wall_s"] for r in runs]
            summary[key] = statistics.median(walls)
            print("%-6s %-8s %10.3f %10.3f %10.1f" % (key[0], key[1], summary[key], min(walls),
                                                     max(r["rss_kib"] for r in runs) / 1024))
        for case, target in TARGETS.items():
            if (case, "ocipipe") in summary and (case, "umoci") in summary:
                ratio = summary[(case, "umoci")] / summary[(case, "ocipipe")]
                print("%s: umoci repack / ocipipe = %.1fx (target >= %.0fx): %s"
                      % (case, ratio, target, "met" if ratio >= target else "NOT met"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"host": ub.host_info(args, ["ocipipe", "umoci"]), "runs": args.runs,
                           "raw": {"%s/%s" % k: v for k, v in raw.items()}}, f, indent=1)
        return 1 if failed else 0
    except ub.SetupError as e:
        sys.stderr.write("pack_bench: %s\n" % e)
        return 2
    finally:
        ub.remove(work)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
