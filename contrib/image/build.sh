#!/usr/bin/env bash
# build.sh: build kuproxy's image here, without a registry, the same image
# as contrib/image/Containerfile (Debian bookworm, the runtime libraries,
# iptables with iptables-wrapper, conntrack, ipset; kuproxy as
# /usr/local/bin/kuproxy and /usr/local/bin/kube-proxy), and save it as an
# OCI archive.
#
#   contrib/image/build.sh [--kuproxy BIN] [--tag REF] OUT.tar
#
#   --kuproxy BIN  the binary to install (default ./kuproxy, built from this
#                  tree on this Debian 12 machine)
#   --tag REF      the image name (default localhost/kuproxy:dev); it is the
#                  name the archive carries, so `ctr -n k8s.io images import
#                  OUT.tar` makes REF known to containerd
#
# How: `debootstrap --variant=minbase bookworm` (mirror from
# /etc/apt/sources.list*, or $KP_IMAGE_MIRROR), the packages installed in
# the chroot (policy-rc.d: no daemon starts), apt lists, caches, docs, man
# pages and locales stripped, kuproxy added, `podman import`, then
# `podman save --format oci-archive`.  Root only.
#
# Cache: ${KP_IMAGE_CACHE:-/var/cache/kuproxy-testenv/image} holds the
# pristine debootstrap root (base-bookworm.tar), the root with the packages
# (runtime-HASH.tar), so later runs need neither debootstrap nor the
# network, and podman's private storage and configuration (podman/, see
# podman.sh): nothing is written to /var/lib/containers, /run/containers
# or /etc/containers, and no network or rule is created.  KP_IMAGE_REFRESH=1 starts from a new debootstrap.
# Runs are serialised by a lock in the cache.
#
# The image stays in the private storage: `contrib/image/podman.sh run
# --rm --network none REF kuproxy --version` runs it.  The last line
# printed (stdout) gives the sizes: the archive (its layer is gzip'ed, so
# this is what a registry would transfer) and the image's root unpacked:
#   archive: OUT.tar BYTES bytes (layers compressed), unpacked: BYTES bytes
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${KP_IMAGE_CACHE:-/var/cache/kuproxy-testenv/image}
kuproxy=./kuproxy
tag=localhost/kuproxy:dev
out=
# What the image holds besides kuproxy: the libraries it links (ldd of a
# build on Debian 12: libevent_core, libevent_extra, libcurl, json-c,
# libyaml), iptables for the rules, conntrack for UDP flows, ipset for
# the cleanup of ipvs mode's sets (--cleanup and the start-up migration).
packages="libevent-core-2.1-7 libevent-extra-2.1-7 libcurl4 libjson-c5
libyaml-0-2 iptables conntrack ipset"

usage() {
	echo "usage: $0 [--kuproxy BIN] [--tag REF] OUT.tar" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--kuproxy) [ $# -ge 2 ] || usage; kuproxy=$2; shift 2 ;;
	--kuproxy=*) kuproxy=${1#*=}; shift ;;
	--tag) [ $# -ge 2 ] || usage; tag=$2; shift 2 ;;
	--tag=*) tag=${1#*=}; shift ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) [ -z "$out" ] || usage; out=$1; shift ;;
	esac
done
[ -n "$out" ] || usage
log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, podman)"
for tool in debootstrap podman tar chroot unshare flock sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || die "needs $tool"
done
[ -x "$kuproxy" ] || die "no kuproxy binary at $kuproxy (--kuproxy BIN)"
kuproxy=$(cd "$(dirname "$kuproxy")" && pwd)/$(basename "$kuproxy")
case $tag in
*/*:*|*/*@*) ;;
*) die "--tag wants a full reference such as localhost/kuproxy:dev" ;;
esac
version=$("$kuproxy" --version | awk '{ print $2; exit }')
[ -n "$version" ] || die "$kuproxy --version printed no version"
out_dir=$(cd "$(dirname "$out")" && pwd) || die "no directory for $out"
out=$out_dir/$(basename "$out")

mkdir -p "$cache"
exec 9>"$cache/lock"
flock -w 1800 9 || die "$cache/lock held for 30 min"

t_start=$(date +%s)
work=$(mktemp -d "$cache/tmp.XXXXXX")
# Every mount of this script is made in a private mount namespace that
# ends with its command; refuse to remove a tree that still has one.
cleanup() {
	if grep -q " $work" /proc/self/mountinfo; then
		log "$work still has mounts: left in place"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The Debian mirror and the security archive apt uses here.
sources() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    2>/dev/null | awk -v want="$1" '
		$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) while ($i !~ /\]$/) i++
			if ($i ~ /^\[/ || $i ~ /\]$/) i++
			if ($(i + 1) == want) { print $i; exit }
		}'
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v want="$1" '
		function flush() {
			if (deb && uri != "" && (" " suites " ") ~ (" " want " "))
				{ print uri; found = 1; exit }
			deb = 0; uri = ""; suites = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^Types:/ { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { $1 = ""; suites = $0 }
		END { if (!found) flush() }'
}
mirror=${KP_IMAGE_MIRROR:-$(sources bookworm | head -n 1)}
: "${mirror:=http://deb.debian.org/debian}"
security=$(sources bookworm-security | head -n 1)
: "${security:=http://deb.debian.org/debian-security}"

# Run a shell command in the chroot ROOT, in a private mount namespace
# with /proc and /dev: every mount goes away with the namespace.
in_root() {
	local root=$1
	shift
	unshare --mount --propagation private -- sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" &&
		mount --rbind /dev "$root/dev" &&
		exec chroot "$root" /usr/bin/env -i \
		    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		    DEBIAN_FRONTEND=noninteractive /bin/sh -ec "$*"' \
	    sh "$root" "$@"
}

base=$cache/base-bookworm.tar
if [ -n "${KP_IMAGE_REFRESH:-}" ]; then
	rm -f "$base" "$cache"/runtime-*.tar
fi
if [ ! -s "$base" ]; then
	log "debootstrap --variant=minbase bookworm from $mirror"
	t0=$(date +%s)
	unshare --mount --propagation private -- \
	    debootstrap --variant=minbase bookworm "$work/base" "$mirror" \
	    >"$work/debootstrap.log" 2>&1 || {
		tail -n 20 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	}
	tar -C "$work/base" --numeric-owner -cf "$base.new" .
	mv -f "$base.new" "$base"
	rm -rf "$work/base"
	log "debootstrap: $(($(date +%s) - t0)) s"
fi

# The root with the packages, stripped: cached under the hash of what
# goes into it.  Bump recipe when the steps that make it change.
recipe=1
key=$(printf '%s\n' "$recipe" "$packages" "$mirror" "$security" \
    "$(stat -c %Y "$base")" | sha256sum | cut -c1-16)
runtime=$cache/runtime-$key.tar
root=$work/root
mkdir -p "$root"
if [ ! -s "$runtime" ]; then
	log "installing $(echo $packages) in the chroot"
	t0=$(date +%s)
	tar -C "$root" --numeric-owner -xf "$base"
	cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
	# As debian:bookworm-slim: no docs but the copyrights, no man
	# pages, no locales, for this install and any later one.
	cat >"$root/etc/dpkg/dpkg.cfg.d/01-kuproxy-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
	cat >"$root/etc/apt/apt.conf.d/01-kuproxy-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	in_root "$root" "
		apt-get -q -o DPkg::Lock::Timeout=600 update
		apt-get -q -y -o DPkg::Lock::Timeout=600 install $(echo $packages)
		apt-get clean" >"$work/apt.log" 2>&1 || {
		tail -n 30 "$work/apt.log" >&2
		die "apt-get in the chroot failed"
	}
	rm -f "$root/usr/sbin/policy-rc.d"
	# Strip: apt lists and caches, logs, docs but the copyrights, man
	# pages, locales, the host's resolv.conf/hostname/hosts.
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
	    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
	    "$root"/usr/share/man/* "$root"/usr/share/info/* \
	    "$root"/usr/share/groff/* "$root"/usr/share/lintian/* \
	    "$root"/usr/share/locale/* "$root"/tmp/* "$root"/var/tmp/*
	find "$root/usr/share/doc" -mindepth 1 ! -type d \
	    ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	find "$root/var/log" -type f -delete
	: >"$root/etc/resolv.conf"
	echo localhost >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	    >"$root/etc/hosts"
	tar -C "$root" --numeric-owner --exclude='./dev/*' \
	    --exclude='./proc/*' -cf "$runtime.new" .
	mv -f "$runtime.new" "$runtime"
	# Older runtime roots are dead weight.
	find "$cache" -maxdepth 1 -name 'runtime-*.tar' ! -path "$runtime" \
	    -delete
	log "packages: $(($(date +%s) - t0)) s"
else
	tar -C "$root" --numeric-owner -xf "$runtime"
fi

# kuproxy, under both names; every library it needs must be there.
install -m 0755 "$kuproxy" "$root/usr/local/bin/kuproxy"
ln -sf kuproxy "$root/usr/local/bin/kube-proxy"
# iptables-wrapper: the first iptables call picks the node's backend.
install -m 0755 "$here/iptables-wrapper" "$root/usr/sbin/iptables-wrapper"
for cmd in iptables iptables-save iptables-restore \
    ip6tables ip6tables-save ip6tables-restore; do
	ln -sf iptables-wrapper "$root/usr/sbin/$cmd"
done
missing=$(in_root "$root" "ldd /usr/local/bin/kuproxy" 2>&1 |
    grep 'not found' || true)
[ -z "$missing" ] || die "libraries missing in the image: $missing"
got=$(in_root "$root" "/usr/local/bin/kube-proxy --version" 2>&1) ||
    die "kuproxy does not run in the image root: $got"
unpacked=$(du -sb "$root" | cut -f1)

# podman, on private storage and configuration (podman.sh).
podman() { "$here/podman.sh" "$@"; }

revision=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' \
    -c . | podman import \
    --change 'CMD ["/usr/local/bin/kuproxy"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL org.opencontainers.image.title=kuproxy" \
    --change "LABEL org.opencontainers.image.description=kube-proxy 1.20 userspace mode, in C; also /usr/local/bin/kube-proxy" \
    --change "LABEL org.opencontainers.image.version=$version" \
    --change "LABEL org.opencontainers.image.revision=$revision" \
    --change "LABEL org.opencontainers.image.created=$created" \
    --change "LABEL org.opencontainers.image.base.name=debian:bookworm (debootstrap --variant=minbase)" \
    - "$tag" >"$work/podman.log" 2>&1 || {
	cat "$work/podman.log" >&2
	die "podman import failed"
}
# The image the tag left behind, if any.
podman image prune -f >/dev/null
rm -f "$out"
podman save -q --format oci-archive -o "$out" "$tag" >"$work/podman.log" 2>&1 || {
	cat "$work/podman.log" >&2
	die "podman save failed"
}
log "import and save: $(($(date +%s) - t0)) s"
archive=$(stat -c %s "$out")
log "built $tag (kuproxy $version) in $(($(date +%s) - t_start)) s"
echo "archive: $out $archive bytes (layers compressed), unpacked: $unpacked bytes"
