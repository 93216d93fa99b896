#!/usr/bin/env bash
# Build the real OCI test images ocipipe works on, into a cache outside the
# git clone:  ${XDG_CACHE_HOME:-$HOME/.cache}/ocipipe
#
#   datasets/build.sh           build whatever is missing (idempotent)
#   datasets/build.sh --list    print the image references, build nothing
#   datasets/build.sh --check   re-run the sanity checks on what is present
#
# See datasets/README.md for what each image contains and why.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ocipipe"
LAYOUTS="$CACHE/layouts"
ARCHIVES="$CACHE/archives"
SRC="$CACHE/src"
TMPROOT="$CACHE/tmp"

SUITE=bookworm
MIRROR="${OCIPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ZSTD_LEVEL="${OCIPIPE_ZSTD_LEVEL:-3}"
# Fixed timestamp for the hand-made tar layer (reproducible bytes).
TAR_MTIME="${SOURCE_DATE_EPOCH:-1704067200}"
ENV_PATH="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AUTHOR="ocipipe datasets/build.sh"

IMAGES=(debian debian-py debian-slim debian-slim-zstd)
OCI_ARCHIVE="$ARCHIVES/debian-slim.oci-archive.tar"
DOCKER_ARCHIVE="$ARCHIVES/debian-slim.docker-archive.tar"
ARCHIVE_NAMES=(debian-slim.oci-archive debian-slim.docker-archive)

log() { printf 'datasets: %s\n' "$*"; }
die() { printf 'datasets: error: %s\n' "$*" >&2; exit 1; }

ref_of() { printf 'oci:%s/%s:%s\n' "$LAYOUTS" "$1" "$1"; }

list_refs() {
    local n
    for n in "${IMAGES[@]}"; do ref_of "$n"; done
    printf 'oci-archive:%s:debian-slim\n' "$OCI_ARCHIVE"
    printf 'docker-archive:%s:debian-slim:latest\n' "$DOCKER_ARCHIVE"
}

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

MODE=build
case "${1:-}" in
    "") ;;
    --list) MODE=list ;;
    --check) MODE=check ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }

if [ "$MODE" = list ]; then
    list_refs
    exit 0
fi

# ---------------------------------------------------------------- helpers

layout_present() { [ -f "$LAYOUTS/$1/index.json" ] && [ -f "$LAYOUTS/$1/oci-layout" ]; }
archive_file() {
    case "$1" in
        debian-slim.oci-archive) echo "$OCI_ARCHIVE" ;;
        debian-slim.docker-archive) echo "$DOCKER_ARCHIVE" ;;
    esac
}
all_present() {
    local n
    for n in "${IMAGES[@]}"; do layout_present "$n" || return 1; done
    for n in "${ARCHIVE_NAMES[@]}"; do [ -f "$(archive_file "$n")" ] || return 1; done
}

need_tools() {
    local t missing=()
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing tools: ${missing[*]} (run scripts/install-deps.sh; see datasets/README.md)"
}

# Unmount everything mounted below $1 (deepest first).  Used before any rm -rf
# of a work directory so that a chroot's /proc is never recursed into.
unmount_below() {
    local dir="$1" m
    [ -d "$dir" ] || return 0
    dir="$(cd "$dir" && pwd -P)"
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do
            m="$(printf '%b' "$m")"   # /proc/self/mounts escapes spaces as \040
            umount "$m" 2>/dev/null || umount -l "$m"
        done
}

remove_tree() {
    [ -e "$1" ] || return 0
    unmount_below "$1"
    rm -rf --one-file-system "$1"
}

WORK=""
cleanup() {
    local rc=$?
    if [ -n "$WORK" ]; then remove_tree "$WORK" || true; fi
    exit "$rc"
}

# The OCI "architecture" value for this host.
oci_arch() {
    local a
    a="$(dpkg --print-architecture)"
    case "$a" in
        i386) echo 386 ;;
        armhf|armel) echo arm ;;
        ppc64el) echo ppc64le ;;
        *) echo "$a" ;;
    esac
}

run_umoci() { umoci --log=warn "$@"; }

# Sanity checks on a finished layout ($1 = dir, $2 = tag).  Fatal on error,
# except oci-image-tool (old, optional) which only warns.
check_layout() {
    local dir="$1" tag="$2" out
    python3 "$HERE/ocilayout.py" check "$dir" "$tag"
    local ntags
    ntags="$(run_umoci ls --layout "$dir" | wc -l)"
    [ "$ntags" = 1 ] || die "$dir: umoci ls shows $ntags tags, want 1"
    if out="$(run_umoci stat --image "$dir:$tag" 2>&1)"; then
        echo "  umoci stat ok ($(printf '%s\n' "$out" | grep -c '^sha256:') layer lines)"
    else
        case "$tag" in
            *zstd*) echo "  umoci stat: not readable by umoci $(umoci --version | awk '{print $3}') (expected for zstd): $(printf '%s' "$out" | tail -n1)" ;;
            *) printf '%s\n' "$out" >&2; die "umoci stat failed on $dir:$tag" ;;
        esac
    fi
    skopeo inspect --raw "oci:$dir:$tag" >/dev/null || die "skopeo cannot read oci:$dir:$tag"
    echo "  skopeo inspect ok"
    if command -v oci-image-tool >/dev/null 2>&1; then
        # 1.0.0-rc1 auto-detects the layout; --type imageLayout is "unimplemented".
        if out="$(oci-image-tool validate --type image --ref "name=$tag" "$dir" 2>&1)"; then
            echo "  oci-image-tool validate ok"
        else
            case "$tag" in
                *zstd*) echo "  oci-image-tool validate: rejected (expected, it predates zstd layers): $(printf '%s' "$out" | tail -n1 | cut -c1-200)" ;;
                *) printf '%s\n' "$out" >&2; die "oci-image-tool validate failed on $dir" ;;
            esac
        fi
    fi
}

# Keep exactly one tag ($2) in layout $1 and drop unreferenced blobs.
only_tag() {
    local dir="$1" keep="$2" t
    run_umoci ls --layout "$dir" | while read -r t; do
        [ "$t" = "$keep" ] || run_umoci rm --image "$dir:$t"
    done
    run_umoci gc --layout "$dir"
}

# Minimal device nodes + /proc for apt/dpkg inside a chroot.  We mknod rather
# than bind-mount /dev so that nothing of the host can ever end up in a layer
# or be removed by a cleanup rm -rf.
CHROOT_DEVS=(null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0)
chroot_setup() {
    local root="$1" d name maj min
    [ -z "$(ls -A "$root/dev")" ] || die "$root/dev is not empty"
    touch -r "$root/dev" "$root/../dev.stamp"
    for d in "${CHROOT_DEVS[@]}"; do
        IFS=: read -r name maj min <<<"$d"
        mknod -m 666 "$root/dev/$name" c "$maj" "$min"
    done
    # A private devpts instance: apt wants a pty for its log.
    mkdir "$root/dev/pts"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
    ln -s pts/ptmx "$root/dev/ptmx"
    mount -t proc proc "$root/proc"
    if [ -e "$root/etc/resolv.conf" ] || [ -L "$root/etc/resolv.conf" ]; then
        mv "$root/etc/resolv.conf" "$root/../resolv.conf.orig"
    fi
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
}
chroot_teardown() {
    local root="$1" d name
    umount "$root/proc"
    umount "$root/dev/pts"
    rmdir "$root/dev/pts"
    rm -f "$root/dev/ptmx"
    rm -f "$root/etc/resolv.conf"
    if [ -e "$root/../resolv.conf.orig" ] || [ -L "$root/../resolv.conf.orig" ]; then
        mv "$root/../resolv.conf.orig" "$root/etc/resolv.conf"
    fi
    for d in "${CHROOT_DEVS[@]}"; do
        name="${d%%:*}"
        rm -f "$root/dev/$name"
    done
    # /dev is empty again; give it back its mtime so it stays out of the diff.
    touch -r "$root/../dev.stamp" "$root/dev"
    rm -f "$root/../dev.stamp"
}

# ---------------------------------------------------------------- sources

# debootstrap once, keep the rootfs as a tarball in $SRC.
ROOTFS_TAR="$SRC/debian-$SUITE-minbase-$(dpkg --print-architecture).rootfs.tar.zst"
ensure_rootfs_tar() {
    if [ -f "$ROOTFS_TAR" ]; then
        log "source $(basename "$ROOTFS_TAR") present"
        return 0
    fi
    local t0=$SECONDS root="$WORK/debootstrap/rootfs"
    log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
    mkdir -p "$root" "$SRC"
    if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
        tail -n 30 "$WORK/debootstrap.log" >&2
        [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
        die "debootstrap failed"
    fi
    unmount_below "$root"
    # Host-specific files debootstrap copies in, package caches, device nodes.
    rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
    rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
    find "$root/dev" -mindepth 1 -delete
    tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$root" \
        -I 'zstd -q -T0 -3' -cf "$ROOTFS_TAR.part" .
    mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf --one-file-system "$WORK/debootstrap"
    log "cached $(basename "$ROOTFS_TAR") ($(du -h "$ROOTFS_TAR" | cut -f1)) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- images
# Each build_<name> gets an empty work dir $1 and must leave a finished OCI
# layout in $1/layout tagged exactly <name>.

config_common() {
    # $1 image ref, $2 name, rest: extra umoci config args
    local ref="$1" name="$2"; shift 2
    run_umoci config --image "$ref" \
        --author "$AUTHOR" \
        --os linux --architecture "$(oci_arch)" \
        --config.env="$ENV_PATH" --config.env=LANG=C.UTF-8 \
        --config.workingdir=/root --config.user=root \
        --config.label="org.opencontainers.image.title=$name" \
        --history.author="$AUTHOR" \
        "$@"
}

build_debian() {
    local w="$1" L="$1/layout"
    ensure_rootfs_tar
    run_umoci init --layout "$L"
    run_umoci new --image "$L:debian"
    run_umoci unpack --image "$L:debian" "$w/bundle"
    tar --numeric-owner --xattrs --xattrs-include='*' --acls -I zstd \
        -C "$w/bundle/rootfs" -xpf "$ROOTFS_TAR"
    run_umoci repack --image "$L:debian" \
        --history.author="$AUTHOR" \
        --history.created_by="debootstrap --variant=minbase $SUITE / $MIRROR" \
        --history.comment="debian $SUITE minbase rootfs" "$w/bundle"
    config_common "$L:debian" debian \
        --config.cmd=/bin/bash \
        --history.created_by="umoci config (debian)"
    only_tag "$L" debian
}

build_debian-py() {
    local w="$1" L="$1/layout" root="$1/bundle/rootfs"
    cp -a "$LAYOUTS/debian" "$L"
    run_umoci unpack --image "$L:debian" "$w/bundle"
    chroot_setup "$root"
    if ! chroot "$root" /usr/bin/env -i \
            "$ENV_PATH" LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive HOME=/root \
            /bin/sh -ec 'apt-get update -qq -o Acquire::Languages=none
                         apt-get install -y -qq --no-install-recommends python3 >/dev/null
                         apt-get clean
                         python3 -c "import sys; print(\"  installed python\", sys.version.split()[0])"'
    then
        chroot_teardown "$root"
        die "apt-get install python3 failed in chroot"
    fi
    chroot_teardown "$root"
    run_umoci repack --image "$L:debian-py" \
        --history.author="$AUTHOR" \
        --history.created_by="apt-get update && apt-get install -y --no-install-recommends python3 && apt-get clean" \
        "$w/bundle"
    config_common "$L:debian-py" debian-py \
        --config.cmd=/usr/bin/python3 \
        --history.created_by="umoci config (debian-py)"
    only_tag "$L" debian-py
}

build_debian-slim() {
    local w="$1" L="$1/layout" root="$1/bundle/rootfs" d
    cp -a "$LAYOUTS/debian-py" "$L"

    # Layer A (umoci repack): deletions -> whiteouts, a modified file,
    # a hardlink pair and relative symlinks.
    run_umoci unpack --image "$L:debian-py" "$w/bundle"
    for d in usr/share/doc usr/share/man; do
        [ -d "$root/$d" ] || die "debian-py rootfs lacks /$d"
    done
    [ -n "$(ls -A "$root/var/lib/apt/lists")" ] || die "debian-py has no apt lists to delete"
    rm -rf "$root/usr/share/doc" "$root/usr/share/man"
    find "$root/var/lib/apt/lists" -mindepth 1 -delete
    printf 'ocipipe test image debian-slim\n' >"$root/etc/motd"
    mkdir -p "$root/opt/hl"
    printf 'hardlinked content\n' >"$root/opt/hl/a"
    ln "$root/opt/hl/a" "$root/opt/hl/b"
    ln -s a "$root/opt/hl/link"
    ln -s ../../bin/python3 "$root/usr/local/bin/py"
    run_umoci repack --image "$L:debian-slim" \
        --history.author="$AUTHOR" \
        --history.created_by="rm -rf /usr/share/doc /usr/share/man /var/lib/apt/lists/*; edit /etc/motd; ln /opt/hl/a /opt/hl/b; ln -s a /opt/hl/link; ln -s ../../bin/python3 /usr/local/bin/py" \
        "$w/bundle"
    rm -rf --one-file-system "$w/bundle"

    # Layer B (GNU tar, pax format, added verbatim by umoci raw add-layer):
    # an opaque whiteout in a directory that has lower content.
    local st="$w/staging"
    mkdir -p "$st/etc/apt/apt.conf.d"
    chmod 0755 "$st" "$st/etc" "$st/etc/apt" "$st/etc/apt/apt.conf.d"
    : >"$st/etc/apt/apt.conf.d/.wh..wh..opq"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$st/etc/apt/apt.conf.d/99ocipipe"
    chmod 0644 "$st/etc/apt/apt.conf.d/.wh..wh..opq" "$st/etc/apt/apt.conf.d/99ocipipe"
    tar --format=pax --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
        --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$TAR_MTIME" \
        -C "$st" -cf "$w/layer-b.tar" etc
    run_umoci raw add-layer --image "$L:debian-slim" \
        --history.author="$AUTHOR" \
        --history.created_by="tar --format=pax: etc/apt/apt.conf.d/.wh..wh..opq + etc/apt/apt.conf.d/99ocipipe" \
        "$w/layer-b.tar"
    # add-layer must have kept our tar byte for byte (diff_id == sha256 of it).
    local want got
    want="sha256:$(sha256sum "$w/layer-b.tar" | cut -d' ' -f1)"
    got="$(run_umoci stat --image "$L:debian-slim" --json | python3 -c \
        'import json,sys; h=json.load(sys.stdin)["history"][-1]; print(h["diff_id"], h["layer"]["mediaType"])')"
    [ "$got" = "$want application/vnd.oci.image.layer.v1.tar+gzip" ] ||
        die "umoci raw add-layer did not store the tar verbatim as gzip: got '$got', want diff_id $want"
    echo "  raw add-layer kept the tar verbatim (diff_id $want), gzip-compressed"

    config_common "$L:debian-slim" debian-slim \
        --config.entrypoint=/usr/bin/python3 \
        --config.cmd=-c --config.cmd="print('hello from debian-slim')" \
        --history.created_by="umoci config (debian-slim)"
    only_tag "$L" debian-slim

    # Round-trip: unpack and make sure the tricky entries came out right.
    local r="$w/verify"
    local out
    out="$(run_umoci raw unpack --image "$L:debian-slim" "$r" 2>&1)" ||
        { printf '%s\n' "$out" >&2; die "umoci raw unpack of debian-slim failed"; }
    [ "$(ls -A "$r/etc/apt/apt.conf.d")" = 99ocipipe ] ||
        die "opaque whiteout not honoured: etc/apt/apt.conf.d = $(find "$r/etc/apt/apt.conf.d" -mindepth 1 -printf '%f ')"
    for d in usr/share/doc usr/share/man; do
        [ ! -e "$r/$d" ] || die "whiteout for /$d not honoured"
    done
    [ -z "$(ls -A "$r/var/lib/apt/lists")" ] || die "apt lists whiteouts not honoured"
    [ "$(stat -c %i "$r/opt/hl/a")" = "$(stat -c %i "$r/opt/hl/b")" ] || die "hardlink pair not preserved"
    [ "$(readlink "$r/opt/hl/link")" = a ] || die "symlink /opt/hl/link wrong"
    [ "$(readlink "$r/usr/local/bin/py")" = ../../bin/python3 ] || die "symlink /usr/local/bin/py wrong"
    [ -x "$r/usr/bin/python3" ] || die "python3 missing"
    echo "  round-trip unpack ok (opaque whiteout, whiteouts, hardlink, symlinks)"
    rm -rf --one-file-system "$r"
}

build_debian-slim-zstd() {
    local w="$1" L="$1/layout"
    cp -a "$LAYOUTS/debian-slim" "$L"
    python3 "$HERE/ocilayout.py" zstd "$L" debian-slim debian-slim-zstd "$ZSTD_LEVEL"
}

POLICY=""
skopeo_copy() {
    if [ -z "$POLICY" ]; then
        POLICY="$WORK/policy.json"
        printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$POLICY"
    fi
    skopeo --policy "$POLICY" copy -q "$@"
}

build_archive() {
    local name="$1" w="$2" out tmp dest
    out="$(archive_file "$name")"
    layout_present debian-slim || die "debian-slim missing; cannot make $name"
    mkdir -p "$ARCHIVES"
    tmp="$ARCHIVES/.$(basename "$out").part.$$"
    rm -f "$tmp"
    case "$name" in
        debian-slim.oci-archive) dest="oci-archive:$tmp:debian-slim" ;;
        debian-slim.docker-archive) dest="docker-archive:$tmp:debian-slim:latest" ;;
    esac
    skopeo_copy "oci:$LAYOUTS/debian-slim:debian-slim" "$dest" || { rm -f "$tmp"; die "skopeo copy to $dest failed"; }
    case "$name" in
        debian-slim.oci-archive) skopeo inspect --raw "oci-archive:$tmp:debian-slim" >/dev/null ;;
        debian-slim.docker-archive) skopeo inspect --raw "docker-archive:$tmp" >/dev/null ;;
    esac || { rm -f "$tmp"; die "skopeo cannot read back $tmp"; }
    echo "  skopeo inspect ok"
    mv "$tmp" "$out"
}

# ---------------------------------------------------------------- main

summary() {
    python3 "$HERE/ocilayout.py" summary "$LAYOUTS" "$LAYOUTS/MANIFEST.tsv" "${IMAGES[@]}"
    local n f
    for n in "${ARCHIVE_NAMES[@]}"; do
        f="$(archive_file "$n")"
        [ -f "$f" ] || continue
        awk -v n="$n" -v b="$(stat -c %s "$f")" -v f="$f" \
            'BEGIN { printf "datasets: %-28s %9.1f MiB  %s\n", n, b / 1048576, f }'

    done
    return 0
}

need_tools python3
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    log "another build.sh holds $CACHE/.lock; waiting"
    flock 9
fi

if [ "$MODE" = check ]; then
    need_tools umoci skopeo
    for n in "${IMAGES[@]}"; do
        if layout_present "$n"; then
            log "checking $n"
            check_layout "$LAYOUTS/$n" "$n"
        else
            log "$n missing"
        fi
    done
    summary
    exit 0
fi

# Fast path: everything there, nothing to do (no root needed).
if all_present; then
    for n in "${IMAGES[@]}" "${ARCHIVE_NAMES[@]}"; do log "$n present"; done
    [ -f "$LAYOUTS/MANIFEST.tsv" ] || summary >/dev/null
    exit 0
fi

[ "$(id -u)" = 0 ] || die "building images needs root (debootstrap, chroot, ownership-preserving unpack)"
need_tools debootstrap umoci skopeo zstd tar gzip chroot mount umount mknod flock dpkg awk
mkdir -p "$LAYOUTS" "$ARCHIVES" "$SRC" "$TMPROOT"

# Leftovers of interrupted runs (we hold the lock, so nobody else uses them).
for stale in "$TMPROOT"/* "$ARCHIVES"/.*.part.*; do
    [ -e "$stale" ] || continue
    log "removing leftover $stale"
    remove_tree "$stale"
done

WORK="$(mktemp -d "$TMPROOT/run.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T_ALL=$SECONDS
for n in "${IMAGES[@]}"; do
    if layout_present "$n"; then
        log "$n present"
        continue
    fi
    t0=$SECONDS
    log "building $n"
    w="$WORK/$n"
    mkdir -p "$w"
    "build_$n" "$w"
    # umoci writes index.json and blobs 0600; tests may run unprivileged.
    chmod -R u=rwX,go=rX "$w/layout"
    check_layout "$w/layout" "$n"
    [ ! -e "$LAYOUTS/$n" ] || remove_tree "$LAYOUTS/$n"   # incomplete leftover
    mv -T "$w/layout" "$LAYOUTS/$n"
    remove_tree "$w"
    log "built $n in $((SECONDS - t0))s"
done
for n in "${ARCHIVE_NAMES[@]}"; do
    if [ -f "$(archive_file "$n")" ]; then
        log "$n present"
        continue
    fi
    t0=$SECONDS
    log "building $n"
    build_archive "$n" "$WORK"
    log "built $n in $((SECONDS - t0))s"
done
summary
log "done in $((SECONDS - T_ALL))s; references: datasets/build.sh --list"
