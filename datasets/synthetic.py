#!/usr/bin/env python3
"""Generate a small synthetic OCI image from a seed, plus the tree it must unpack to.

    datasets/synthetic.py --seed N OUT_DIR [--no-devices] [--check]

OUT_DIR (created; must be missing or empty) becomes an OCI image layout with one manifest
tagged `synthetic` (reference oci:OUT_DIR:synthetic): oci-layout, index.json, and under
blobs/sha256 the gzip layers, the image config (rootfs.diff_ids of the uncompressed tars)
and the manifest. Next to them, OUT_DIR/expected-tree.json holds the rootfs the image must
unpack to under the image-spec's rules (layer.md "Applying Changesets", "Whiteouts"),
computed here by a model of those rules from the tar entries alone, and a one-line
description of every tar entry of every layer.

The image has 2-6 layers. Layer 1 is a random tree: directories (0755, 0700, 0750, 0555,
01777, 02775), regular files (0644, 0600, 0755, 04755, 02755, ...; uid/gid 0, 1000, 65534,
100000), symlinks (relative, absolute, dangling, to directories), hardlink sets of 2-3 names,
FIFOs, character and block devices (unless --no-devices), user.* and security.capability
xattrs. Later layers change it the way layer differs (docker, buildah, umoci, GNU tar) write
changes: modified, added and deleted files (`.wh.NAME`), deleted directories, opaque
directories (`DIR/.wh..wh..opq` plus new content), a file replaced by a directory or a
symlink and the other way round, chmod/chown/touch only (the entry written again), xattr
changes, a hardlink set split by a change, new names hardlinked to lower files. Entries are
well-formed, as real tools write them: parents before children, no path escapes, whiteouts
only of lower paths that exist. Tar headers come in two dialects, chosen per layer: Go's
archive/tar as docker and buildkit use it (PAX records for long names, xattrs and
sub-second mtimes; type bits in the mode field) and GNU tar's (./ prefixes, GNU long-name
entries, user and group names). Images stay below 300 entries and 1 MB.

Deterministic: the same seed gives the same bytes (fixed mtimes, gzip header without name
or time, JSON with sorted keys). Python 3 standard library only; the layout is written with
datasets/ocilayout.py's helpers. Exit status 0 ok, 1 failure, 2 usage.
"""

import argparse
import gzip
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocilayout  # noqa: E402  (datasets/ocilayout.py: blob and index writing)

TAG = "synthetic"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
GENERATOR = "ocipipe datasets/synthetic.py v1"
MTIME_BASE = 1704067200          # 2024-01-01T00:00:00Z; layer i's entries are a day later each
MAX_ENTRIES = 280                # tar entries in the whole image, so it stays under 300
BLOCK = 512

DIR_MODES = [0o755] * 6 + [0o700, 0o750, 0o555, 0o1777, 0o2775]
FILE_MODES = [0o644] * 8 + [0o600, 0o755, 0o755, 0o640, 0o444, 0o700, 0o4755, 0o2755, 0o6755, 0o750]
OWNERS = [(0, 0)] * 6 + [(1000, 1000), (65534, 65534), (0, 42), (1000, 0), (100000, 100000)]
NAMES = {0: "root", 65534: "nobody"}
GROUPS = {0: "root", 42: "shadow", 65534: "nogroup"}
CHAR_DEVICES = [(1, 3), (1, 5), (1, 8), (5, 0), (10, 200), (136, 4)]
BLOCK_DEVICES = [(7, 0), (8, 1), (259, 3)]
WORDS = ["bin", "etc", "lib", "usr", "share", "var", "opt", "srv", "app", "data", "conf",
         "cache", "log", "run", "doc", "include", "local", "locale", "python3", "site",
         "node_modules", "zoneinfo", "apt", "dpkg", "ssl", "certs", "init.d", "man1",
         "fonts", "x86_64-linux-gnu", "pkgconfig", "systemd", "default", "cron.daily"]
ODD_NAMES = [".hidden", ".profile", "with space", "UPPER", "caf\u00e9", "\u65e5\u672c\u8a9e",
             "a.b.c", "1", "_", "README.md", "libfoo.so.1.2.3", "x" * 90]
CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")  # v2, effective, cap 13


def die(msg, code=1):
    sys.stderr.write("synthetic.py: error: %s\n" % msg)
    sys.exit(code)


# ------------------------------------------------------------------ the model


class Node:
    """One inode: what one path (or several, for a hardlink set) holds in the rootfs."""

    __slots__ = ("kind", "mode", "uid", "gid", "mtime_ns", "content", "target", "dev", "xattrs")

    def __init__(self, kind, mode, uid, gid, mtime_ns, content=b"", target="", dev=(0, 0),
                 xattrs=None):
        self.kind = kind          # file, dir, symlink, fifo, char, block
        self.mode = mode          # permission bits with setuid/setgid/sticky
        self.uid, self.gid = uid, gid
        self.mtime_ns = mtime_ns
        self.content = content
        self.target = target
        self.dev = dev
        self.xattrs = dict(xattrs or {})

    def copy(self, **changes):
        n = Node(self.kind, self.mode, self.uid, self.gid, self.mtime_ns, self.content,
                 self.target, self.dev, self.xattrs)
        for k, v in changes.items():
            setattr(n, k, v)
        return n


class Entry:
    """One tar entry of a layer. kind is a Node kind, or hardlink, whiteout, opaque."""

    __slots__ = ("path", "kind", "node", "link")

    def __init__(self, path, kind, node=None, link=""):
        self.path, self.kind, self.node, self.link = path, kind, node, link


def parent_of(path):
    return path.rsplit("/", 1)[0] if "/" in path else ""


def base_of(path):
    return path.rsplit("/", 1)[-1]


def join(parent, name):
    return parent + "/" + name if parent else name


def under(path, top):
    """True when `path` is `top` or below it."""
    return path == top or path.startswith(top + "/")


def remove_subtree(tree, top):
    for p in [p for p in tree if under(p, top)]:
        del tree[p]


def apply_layer(tree, entries):
    """Applies one layer's entries to `tree` (path -> Node) as image-spec layer.md says.

    Whiteouts first, whatever their place in the stream ("a/.wh..wh..opq is applied first
    ... regardless of the ordering"; "Whiteout files MUST only apply to resources in
    lower/parent layers"), then every other entry in order: a directory over a directory
    takes the entry's attributes and keeps its children; anything else removes the path
    (with its subtree) and creates it again ("Changeset over existing files"). A hardlink
    entry names one more path of its target's inode. Raises ValueError on an entry a
    well-formed layer cannot hold (the generator's own check)."""
    for e in entries:
        if e.kind == "opaque":
            d = parent_of(e.path)
            for p in [p for p in tree if p.startswith(d + "/" if d else "")]:
                del tree[p]
        elif e.kind == "whiteout":
            remove_subtree(tree, join(parent_of(e.path), base_of(e.path)[len(".wh."):]))
    for e in entries:
        if e.kind in ("whiteout", "opaque"):
            continue
        if e.path == "":
            tree[""] = e.node  # the root directory's own attributes
            continue
        par = parent_of(e.path)
        if par and (par not in tree or tree[par].kind != "dir"):
            raise ValueError("entry %r: parent is not a directory" % e.path)
        old = tree.get(e.path)
        if old is not None and old.kind == "dir" and e.kind == "dir":
            tree[e.path] = e.node
            continue
        if old is not None:
            remove_subtree(tree, e.path)
        if e.kind == "hardlink":
            target = tree.get(e.link)
            if target is None or target.kind == "dir":
                raise ValueError("hardlink %r: target %r is no file" % (e.path, e.link))
            tree[e.path] = target
        else:
            tree[e.path] = e.node


def describe_tree(tree):
    """The tree as expected-tree.json holds it: path -> attributes; "." is the root, present
    only when a layer wrote a root entry. `inode` numbers the non-directory inodes so that
    paths of one hardlink set share one."""
    inodes = {}
    out = {}
    for path in sorted(tree):
        n = tree[path]
        d = {"type": n.kind, "uid": n.uid, "gid": n.gid}
        if n.kind != "symlink":
            d["mode"] = n.mode
        if n.kind != "dir":
            d["mtime_ns"] = n.mtime_ns
            d["inode"] = inodes.setdefault(id(n), len(inodes) + 1)
        if n.kind == "file":
            d["size"] = len(n.content)
            d["sha256"] = hashlib.sha256(n.content).hexdigest()
        if n.kind == "symlink":
            d["target"] = n.target
        if n.kind in ("char", "block"):
            d["major"], d["minor"] = n.dev
        if n.xattrs:
            d["xattrs"] = {k: v.hex() for k, v in sorted(n.xattrs.items())}
        out[path or "."] = d
    return out


# ------------------------------------------------------------------ tar writing


def octal(value, width):
    s = b"%0*o" % (width - 1, value)
    if len(s) != width - 1:
        raise ValueError("value %d does not fit a %d-byte tar field" % (value, width))
    return s + b"\0"


def pax_record(key, value):
    body = b" " + key.encode() + b"=" + value + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    return b"%d" % n + body


def pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


TYPE_FLAGS = {"file": b"0", "hardlink": b"1", "symlink": b"2", "char": b"3", "block": b"4",
              "dir": b"5", "fifo": b"6", "whiteout": b"0", "opaque": b"0"}
TYPE_BITS = {"file": 0o100000, "hardlink": 0o100000, "symlink": 0o120000, "char": 0o20000,
             "block": 0o60000, "dir": 0o40000, "fifo": 0o10000, "whiteout": 0o100000,
             "opaque": 0o100000}


class TarWriter:
    """Writes tar entries in one of two dialects (see the module comment):

    go:  names as they are, ustar prefix/name split where it fits, else a PAX `path`
         record; PAX records for long link names, non-ASCII names, xattrs (SCHILY.xattr)
         and sub-second mtimes; type bits in the mode field; 1024 zero bytes at the end.
    gnu: names with a ./ prefix (and a ./ root entry), ././@LongLink entries for names and
         link names over 100 bytes, user and group names, whole seconds, no xattrs; the
         archive padded to 10240 bytes as GNU tar does."""

    def __init__(self, dialect):
        self.dialect = dialect
        self.chunks = []

    def name_of(self, path, kind):
        if self.dialect == "gnu":
            path = "./" + path
        if kind == "dir" and path and not path.endswith("/"):
            path += "/"
        return path

    def header(self, name, kind, size, mode, uid, gid, mtime, linkname=b"", dev=(0, 0),
               uname=b"", gname=b"", prefix=b""):
        h = bytearray(BLOCK)
        h[0:len(name)] = name
        h[100:108] = octal(mode, 8)
        h[108:116] = octal(uid, 8)
        h[116:124] = octal(gid, 8)
        h[124:136] = octal(size, 12)
        h[136:148] = octal(mtime, 12)
        h[148:156] = b" " * 8
        h[156:157] = TYPE_FLAGS.get(kind, kind if isinstance(kind, bytes) else b"0")
        h[157:157 + len(linkname)] = linkname
        h[257:265] = b"ustar  \0" if self.dialect == "gnu" else b"ustar\x0000"
        h[265:265 + len(uname)] = uname
        h[297:297 + len(gname)] = gname
        if kind in ("char", "block"):
            h[329:337] = octal(dev[0], 8)
            h[337:345] = octal(dev[1], 8)
        h[345:345 + len(prefix)] = prefix
        h[148:156] = b"%06o\0 " % sum(h)
        self.chunks.append(bytes(h))

    def long_entry(self, flag, value):
        data = value + b"\0"
        self.header(b"././@LongLink", flag, len(data), 0o644, 0, 0, 0)
        self.chunks.append(pad(data))

    def add(self, e):
        n = e.node
        name = self.name_of(e.path, e.kind).encode()
        link = b""
        if e.kind == "hardlink":
            link = self.name_of(e.link, "file").encode()
        elif e.kind == "symlink":
            link = n.target.encode()
        data = n.content if e.kind == "file" else b""
        mode = n.mode | (TYPE_BITS[e.kind] if self.dialect == "go" else 0)
        sec, ns = divmod(n.mtime_ns, 10**9)
        if self.dialect == "gnu":
            if len(name) > 100:
                self.long_entry(b"L", name)
            if len(link) > 100:
                self.long_entry(b"K", link)
            self.header(name[:100], e.kind, len(data), mode, n.uid, n.gid, sec, link[:100],
                        n.dev, NAMES.get(n.uid, "").encode(), GROUPS.get(n.gid, "").encode())
        else:
            records = b""
            prefix = b""
            if len(name) > 100 or any(c > 127 for c in name):
                cut = name.rfind(b"/", 0, 156)
                if 0 < cut and len(name) - cut - 1 <= 100 and all(c < 128 for c in name):
                    prefix, name = name[:cut], name[cut + 1:]
                else:
                    records += pax_record("path", name)
            if len(link) > 100 or any(c > 127 for c in link):
                records += pax_record("linkpath", link)
            if ns:
                records += pax_record("mtime", b"%d.%09d" % (sec, ns))
            for k, v in sorted(n.xattrs.items() if e.kind != "hardlink" else []):
                records += pax_record("SCHILY.xattr." + k, v)
            if records:
                pax_name = b"PaxHeaders.0/" + base_of(e.path).encode()[:80]
                self.header(pax_name, b"x", len(records), 0o644, 0, 0, sec)
                self.chunks.append(pad(records))
            self.header(name[:100], e.kind, len(data), mode, n.uid, n.gid, sec, link[:100],
                        n.dev, prefix=prefix)
        if data:
            self.chunks.append(pad(data))

    def finish(self):
        out = b"".join(self.chunks) + b"\0" * (2 * BLOCK)
        if self.dialect == "gnu":
            out += b"\0" * (-len(out) % (20 * BLOCK))
        return out


# ------------------------------------------------------------------ generating layers


class LayerBuilder:
    """Makes one layer's changes on a view of the rootfs, keeping them well-formed.

    `view` is the rootfs as it will be after this layer (path -> Node). Bookkeeping keeps
    the changes unambiguous, as a layer differ's output is: a path gets at most one entry,
    a whiteout names a lower path none of whose descendants the layer writes, and a lower
    file that a new hardlink names (`pinned`) is neither changed nor removed."""

    def __init__(self, rng, index, view, lower, dialect, devices):
        self.rng = rng
        self.index = index
        self.view = view
        self.lower = lower           # the tree below this layer
        self.dialect = dialect
        self.devices = devices
        self.entries = []            # Entry, in the order the changes were made
        self.emitted = set()         # paths with a (non-whiteout) entry in this layer
        self.whited = set()          # paths named by a whiteout
        self.pinned = set()          # lower files a new hardlink of this layer names
        self.mtime0 = (MTIME_BASE + 86400 * index) * 10**9

    # ---- attributes

    def mtime(self):
        sec = self.rng.randint(0, 3600) * 10**9
        if self.dialect == "go" and self.rng.random() < 0.15:
            sec += self.rng.choice([500000000, 123456789, 1, 999999999])
        return self.mtime0 + sec

    def owner(self):
        return self.rng.choice(OWNERS)

    def xattrs(self, kind):
        if self.dialect != "go" or kind not in ("file", "dir") or self.rng.random() > 0.12:
            return {}
        x = {"user.comment": ("layer %d" % self.index).encode()}
        if kind == "file" and self.rng.random() < 0.5:
            x["security.capability"] = CAP_NET_RAW
        if self.rng.random() < 0.3:
            x["user.mime_type"] = b"text/plain"
        return x

    def content(self):
        r = self.rng.random()
        if r < 0.1:
            return b""
        if r < 0.5:
            words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 200))]
            return (" ".join(words) + "\n").encode()
        n = self.rng.randint(1, 4096) if r < 0.97 else self.rng.randint(4097, 40000)
        return self.rng.randbytes(n)

    def file_node(self, content=None):
        uid, gid = self.owner()
        return Node("file", self.rng.choice(FILE_MODES), uid, gid, self.mtime(),
                    content=self.content() if content is None else content,
                    xattrs=self.xattrs("file"))

    def dir_node(self):
        uid, gid = self.owner()
        return Node("dir", self.rng.choice(DIR_MODES), uid, gid, self.mtime(),
                    xattrs=self.xattrs("dir"))

    def symlink_node(self, at):
        uid, gid = self.rng.choice([(0, 0)] * 4 + [(1000, 1000)])
        return Node("symlink", 0o777, uid, gid, self.mtime(), target=self.link_target(at))

    def link_target(self, at):
        """A symlink target as images hold them: a sibling, a path up and across, an
        absolute path, a directory, or nothing at all."""
        r = self.rng.random()
        paths = sorted(self.view)
        if r < 0.15 or not paths:
            return self.rng.choice(["missing", "../nowhere/at/all", "/does/not/exist"])
        dest = self.rng.choice(paths)
        if r < 0.45:
            return "/" + dest
        depth = at.count("/")
        if r < 0.55:
            return "../" * (depth + 2) + dest      # climbs past the root, as real ones do
        if parent_of(dest) == parent_of(at):
            return base_of(dest)
        return "../" * depth + dest

    # ---- picking paths

    def pick(self, want):
        """A lower path of a kind in `want`, still as the lower layer had it, that this layer
        may change (nothing at or below it written, whited out or pinned); None when there
        is none."""
        cands = [p for p, n in self.view.items()
                 if p and n.kind in want and p not in self.emitted and self.lower.get(p) is n
                 and not self.busy_below(p)]
        if not cands:
            return None
        return self.rng.choice(sorted(cands))

    def busy_below(self, top):
        """True when this layer already wrote, whited out or pinned `top` or a path below."""
        return any(under(p, top) for p in self.emitted | self.pinned | self.whited)

    def dirs(self):
        """Directories new entries may go in: the root ("") and those less than 4 deep."""
        return [""] + sorted(p for p, n in self.view.items()
                             if n.kind == "dir" and p.count("/") < 3)

    def fresh_name(self, parent):
        for _ in range(50):
            r = self.rng.random()
            if r < 0.08:
                name = self.rng.choice(ODD_NAMES)
            elif r < 0.5:
                name = self.rng.choice(WORDS)
            else:
                name = "%s%d" % (self.rng.choice(["f", "lib", "cfg", "data", "s", "t"]),
                                 self.rng.randint(0, 999))
            p = join(parent, name)
            if p not in self.view and p not in self.whited and p not in self.emitted \
                    and len(p.encode()) < 200:
                return p
        return None

    # ---- writing entries

    def put(self, path, node):
        """Writes `node` (a new one, never a lower layer's) at `path`."""
        if self.dialect == "gnu":
            # GNU tar without --xattrs keeps neither xattrs nor sub-second mtimes.
            node.xattrs = {}
            node.mtime_ns -= node.mtime_ns % 10**9
        self.entries.append(Entry(path, node.kind, node))
        self.emitted.add(path)
        if path in self.view and not (self.view[path].kind == "dir" and node.kind == "dir"):
            remove_subtree(self.view, path)
        self.view[path] = node

    def marker(self, path, kind):
        """A whiteout or opaque whiteout entry: an empty regular file, mode and mtime as
        the tool that wrote it chose (umoci: 0000 and 1970; docker: the overlayfs
        character device's; GNU tar: the file's)."""
        mode, mtime = self.rng.choice([(0o644, self.mtime0), (0, 0), (0o600, self.mtime0)])
        self.entries.append(Entry(path, kind, Node("file", mode, 0, 0, mtime)))

    def whiteout(self, path):
        self.marker(join(parent_of(path), ".wh." + base_of(path)), "whiteout")
        self.whited.add(path)
        remove_subtree(self.view, path)

    def opaque(self, d):
        self.put(d, self.dir_node() if self.rng.random() < 0.5 else self.view[d].copy())
        self.marker(join(d, ".wh..wh..opq"), "opaque")
        for p in [p for p in self.view if p.startswith(d + "/")]:
            del self.view[p]

    def new_path(self):
        ds = self.dirs()
        return self.fresh_name(self.rng.choice(ds)) if ds else None

    # ---- additions

    def add_dir(self, path=None, children=0):
        path = path or self.new_path()
        if path is None:
            return
        self.put(path, self.dir_node())
        for _ in range(children):
            self.add_something(parent=path)

    def add_file(self, path=None):
        path = path or self.new_path()
        if path:
            self.put(path, self.file_node())

    def add_symlink(self, path=None):
        path = path or self.new_path()
        if path:
            self.put(path, self.symlink_node(path))

    def add_special(self, path=None):
        path = path or self.new_path()
        if not path:
            return
        uid, gid = self.owner()
        if not self.devices or self.rng.random() < 0.4:
            node = Node("fifo", self.rng.choice([0o644, 0o600, 0o666]), uid, gid, self.mtime())
        elif self.rng.random() < 0.6:
            node = Node("char", self.rng.choice([0o666, 0o600, 0o620]), 0, 0, self.mtime(),
                        dev=self.rng.choice(CHAR_DEVICES))
        else:
            node = Node("block", 0o660, 0, 6, self.mtime(), dev=self.rng.choice(BLOCK_DEVICES))
        self.put(path, node)

    def add_hardlink_set(self, first=None):
        """2-3 names of one new file (the first may replace a lower path); finish() makes
        the name that comes first in the stream the file, the others hardlinks to it."""
        node = self.file_node()
        want = self.rng.randint(2, 3)
        if first:
            self.put(first, node)
            want -= 1
        for _ in range(want):
            p = self.new_path()   # after each put(), so never a name of the set
            if p:
                self.put(p, node)

    def add_something(self, parent=None):
        path = self.fresh_name(parent) if parent is not None else self.new_path()
        if path is None:
            return
        r = self.rng.random()
        if r < 0.6:
            self.add_file(path)
        elif r < 0.75:
            self.add_symlink(path)
        elif r < 0.85:
            self.add_dir(path, children=self.rng.randint(0, 2))
        elif r < 0.93:
            self.add_hardlink_set(path)
        else:
            self.add_special(path)

    # ---- changes to lower paths

    def modify_file(self):
        p = self.pick({"file"})
        if p:
            old = self.view[p]
            keep = self.rng.random() < 0.7
            self.put(p, old.copy(content=self.content(), mtime_ns=self.mtime()) if keep
                     else self.file_node())

    def split_hardlink_set(self):
        """Changes one name of a lower hardlink set; the other names keep the old inode."""
        sets = {}
        for p, n in self.view.items():
            if n.kind == "file" and p not in self.emitted and self.lower.get(p) is n:
                sets.setdefault(id(n), []).append(p)
        names = sorted(min(v) for v in sets.values() if len(v) > 1)
        if not names:
            return self.modify_file()
        members = sorted(sets[id(self.view[self.rng.choice(names)])])
        p = self.rng.choice(members)
        if self.busy_below(p):
            return
        r = self.rng.random()
        if r < 0.4:
            self.put(p, self.view[p].copy(content=self.content(), mtime_ns=self.mtime()))
        elif r < 0.7:
            self.put(p, self.view[p].copy(mode=self.rng.choice(FILE_MODES)))  # chmod only
        else:
            self.whiteout(p)

    def link_to_lower(self):
        """A new name for a lower file: a hardlink entry whose target is not in the layer."""
        t = self.pick({"file"})
        p = self.new_path()
        if t and p:
            self.entries.append(Entry(p, "hardlink", self.view[t], link=t))
            self.emitted.add(p)
            self.pinned.add(t)
            self.view[p] = self.view[t]

    def relink_set(self):
        """A lower file written again with new content and a new name hardlinked to it."""
        p = self.pick({"file"})
        if p:
            self.add_hardlink_set(first=p)

    def delete(self, kinds):
        p = self.pick(kinds)
        if p:
            self.whiteout(p)

    def make_opaque(self):
        d = self.pick({"dir"})
        if d:
            self.opaque(d)
            for _ in range(self.rng.randint(0, 3)):
                self.add_something(parent=d)

    def replace(self):
        """A lower path replaced by another type: file <-> dir <-> symlink, FIFO -> file."""
        p = self.pick({"file", "dir", "symlink", "fifo", "char", "block"})
        if not p:
            return
        kind = self.view[p].kind
        choices = {"dir": ["file", "symlink"], "file": ["dir", "symlink"],
                   "symlink": ["file", "dir"]}.get(kind, ["file", "symlink"])
        new = self.rng.choice(choices)
        if new == "dir":
            # A directory made over a deleted path is opaque in overlayfs, so docker
            # writes the marker with it; umoci and GNU tar do not.
            if self.rng.random() < 0.5:
                self.put(p, self.dir_node())
                self.marker(join(p, ".wh..wh..opq"), "opaque")
            else:
                self.put(p, self.dir_node())
            for _ in range(self.rng.randint(0, 2)):
                self.add_something(parent=p)
        elif new == "file":
            self.put(p, self.file_node())
        else:
            self.put(p, self.symlink_node(p))

    def chattr(self):
        """chmod, chown or touch only: the entry is written again with the same content."""
        p = self.pick({"file", "dir", "symlink", "fifo", "char", "block"})
        if not p:
            return
        old = self.view[p]
        r = self.rng.random()
        if r < 0.35 and old.kind != "symlink":
            mode = self.rng.choice(DIR_MODES if old.kind == "dir" else FILE_MODES)
            node = old.copy(mode=mode)
        elif r < 0.7:
            uid, gid = self.owner()
            node = old.copy(uid=uid, gid=gid)
        elif r < 0.85:
            node = old.copy(mtime_ns=self.mtime())
        else:
            node = old.copy(xattrs=self.xattrs(old.kind))
        if self.dialect == "gnu":
            node.xattrs = {}      # GNU tar without --xattrs drops them
        self.put(p, node)

    CHANGES = [  # (weight, method name, arguments)
        (14, "modify_file", ()), (12, "add_something", ()), (6, "add_dir", ()),
        (8, "delete", ({"file", "symlink", "fifo", "char", "block"},)), (4, "delete", ({"dir"},)),
        (4, "make_opaque", ()), (7, "replace", ()), (8, "chattr", ()),
        (5, "split_hardlink_set", ()), (4, "link_to_lower", ()), (3, "relink_set", ()),
        (3, "add_hardlink_set", ()), (2, "add_special", ()),
    ]

    def build_base(self, size):
        """Layer 1: a tree of about `size` entries."""
        for _ in range(max(4, size // 6)):
            self.add_dir()
        steps = [(60, self.add_file), (14, self.add_symlink), (8, self.add_hardlink_set),
                 (6, self.add_special), (12, self.add_dir)]
        while len(self.entries) < size:
            self.weighted(steps)()

    def build_changes(self, count, cap):
        """`count` changes, fewer when the layer reaches `cap` entries."""
        for _ in range(count):
            if len(self.entries) >= cap:
                return
            w, name, args = self.weighted([(w, (w, n, a)) for w, n, a in self.CHANGES])
            if name == "add_dir":
                self.add_dir(children=self.rng.randint(0, 3))
            else:
                getattr(self, name)(*args)

    def weighted(self, pairs):
        total = sum(w for w, _ in pairs)
        x = self.rng.uniform(0, total)
        for w, v in pairs:
            x -= w
            if x <= 0:
                return v
        return pairs[-1][1]

    # ---- the finished stream

    def finish(self, docker_parents, root_entry):
        """The layer's entries in stream order: parents before children (docker and
        buildkit also write every changed path's parent directories: `docker_parents`),
        whiteouts sorted among their siblings or first in their directory, and in each new
        hardlink set the name that comes first written as the file, the rest as links."""
        entries = list(self.entries)
        if docker_parents:
            for e in self.entries:
                d = parent_of(e.path)
                while d and d not in self.emitted:
                    entries.append(Entry(d, "dir", self.view[d].copy()))
                    self.emitted.add(d)
                    d = parent_of(d)
        whiteouts_first = self.rng.random() < 0.5

        def key(e):
            parts = e.path.split("/")
            last = (0 if whiteouts_first and e.kind in ("whiteout", "opaque") else 1, parts[-1])
            return [(1, c) for c in parts[:-1]] + [last]

        entries.sort(key=key)
        first_name = {}
        out = []
        if root_entry:
            # `tar -C DIR .` writes DIR itself as ./, and DIR is often a mktemp -d (0700).
            mode = self.rng.choice([0o755] * 8 + [0o700, 0o750])
            out.append(Entry("", "dir", Node("dir", mode, 0, 0, self.mtime0)))
        for e in entries:
            if e.kind == "file" and id(e.node) in first_name:
                e = Entry(e.path, "hardlink", e.node, link=first_name[id(e.node)])
            elif e.kind == "file":
                first_name[id(e.node)] = e.path
            out.append(e)
        return out


def describe_entry(e):
    """One line per tar entry, for people reading a failure: `file etc/x 0644 0:0 12B`."""
    if e.kind in ("whiteout", "opaque"):
        return "%s %s" % (e.kind, e.path)
    n = e.node
    s = "%s %s %04o %d:%d" % (e.kind, e.path or ".", n.mode, n.uid, n.gid)
    if e.kind == "file":
        s += " %dB sha256:%s" % (len(n.content), hashlib.sha256(n.content).hexdigest()[:12])
    elif e.kind == "hardlink":
        s += " => " + e.link
    elif e.kind == "symlink":
        s += " -> " + n.target
    elif e.kind in ("char", "block"):
        s += " %d,%d" % n.dev
    if n.xattrs:
        s += " xattrs=" + ",".join(sorted(n.xattrs))
    return s


def same_tree(a, b):
    return describe_tree(a) == describe_tree(b)


def generate(seed, devices):
    """The image of `seed`: [(dialect, tar bytes, entry lines)], and the final tree."""
    rng = random.Random(seed)
    tree = {}
    layers = []
    n_layers = rng.randint(2, 6)
    budget = MAX_ENTRIES
    base_size = rng.randint(40, min(140, MAX_ENTRIES - 30 * (n_layers - 1)))
    for i in range(n_layers):
        dialect = "gnu" if rng.random() < 0.3 else "go"
        lower = {p: n for p, n in tree.items() if p}   # the root is not the builder's
        view = dict(lower)
        b = LayerBuilder(rng, i + 1, view, lower, dialect, devices)
        if i == 0:
            b.build_base(base_size)
        elif rng.random() < 0.04:
            pass  # an empty changeset, as `RUN true` gives with some builders
        else:
            # Parent directories written again come on top of the changes' own entries.
            b.build_changes(rng.randint(3, 14), budget // (n_layers - i) // 2)
        entries = b.finish(docker_parents=dialect == "go" and rng.random() < 0.7,
                           root_entry=dialect == "gnu")
        budget -= len(entries)
        new_tree = dict(tree)
        apply_layer(new_tree, entries)
        if not same_tree({p: n for p, n in new_tree.items() if p}, view):
            die("seed %d layer %d: the generator's view and the spec model disagree"
                % (seed, i + 1))
        w = TarWriter(dialect)
        for e in entries:
            w.add(e)
        layers.append((dialect, w.finish(), [describe_entry(e) for e in entries]))
        tree = new_tree
    if budget < 0:
        die("seed %d: %d tar entries, more than %d" % (seed, MAX_ENTRIES - budget, MAX_ENTRIES))
    return layers, tree


# ------------------------------------------------------------------ the layout


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def write_layout(out, seed, layers):
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    ocilayout.write_atomic(os.path.join(out, "oci-layout"), b'{"imageLayoutVersion":"1.0.0"}')
    descs, diff_ids, history = [], [], []
    for i, (dialect, tar, _) in enumerate(layers):
        blob = gzip.compress(tar, compresslevel=6, mtime=0)
        digest, size = ocilayout.write_blob(out, blob)
        descs.append({"mediaType": ocilayout.MT_LAYER_GZIP, "digest": digest, "size": size})
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        history.append({"created": "2024-01-%02dT00:00:00Z" % (i + 2), "author": GENERATOR,
                        "created_by": "synthetic layer %d (%s dialect)" % (i + 1, dialect)})
    config = {
        "created": history[-1]["created"], "author": GENERATOR,
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"],
                   "Labels": {"org.opencontainers.image.title": "synthetic-%d" % seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    cdigest, csize = ocilayout.write_blob(out, dumps(config))
    manifest = {"schemaVersion": 2, "mediaType": ocilayout.MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": cdigest, "size": csize},
                "layers": descs}
    mdigest, msize = ocilayout.write_blob(out, dumps(manifest))
    index = {"schemaVersion": 2, "mediaType": ocilayout.MT_INDEX,
             "manifests": [{"mediaType": ocilayout.MT_MANIFEST, "digest": mdigest, "size": msize,
                            "platform": {"architecture": "amd64", "os": "linux"},
                            "annotations": {ocilayout.REF_NAME: TAG}}]}
    ocilayout.write_atomic(os.path.join(out, "index.json"), dumps(index))
    return mdigest


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--no-devices", action="store_true",
                    help="no character or block devices (creating them needs root)")
    ap.add_argument("--check", action="store_true",
                    help="run datasets/ocilayout.py's check on the result")
    ap.add_argument("out", metavar="OUT_DIR")
    args = ap.parse_args(argv[1:])
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        die("%s exists and is not an empty directory" % args.out, 2)
    layers, tree = generate(args.seed, not args.no_devices)
    mdigest = write_layout(args.out, args.seed, layers)
    expected = {"seed": args.seed, "tag": TAG, "manifest": mdigest, "generator": GENERATOR,
                "layers": [{"dialect": d, "entries": lines} for d, _, lines in layers],
                "tree": describe_tree(tree)}
    ocilayout.write_atomic(os.path.join(args.out, "expected-tree.json"),
                           json.dumps(expected, indent=1, sort_keys=True).encode() + b"\n")
    if args.check:
        ocilayout.cmd_check(args.out, TAG)


if __name__ == "__main__":
    main(sys.argv)
