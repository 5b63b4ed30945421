#!/bin/bash
# test_deb: the Debian package.  From a clean copy of the committed tree
# (git archive of HEAD, or of $KPD_DEB_REF, into a kpd- temporary folder;
# the source tree is never written to), build the source package and
# "dpkg-buildpackage -us -uc -b" (nocheck: "make check" runs elsewhere),
# run lintian on both (any E: fails), then install it into a minimal Debian 12
# chroot with apt-get, a policy-rc.d forbidding service starts, and check:
# the binary, unit, manual and conffile are in place, "kuproxy --version"
# runs there, no kuproxy process was started, "dpkg -r" removes all but the
# conffile and "dpkg -P" leaves no file of the package behind.
#
# The chroot comes from "debootstrap --variant=minbase bookworm", made once
# and cached as a tarball in /var/cache/kuproxy-testenv/kpd-rootfs/ (the
# mirror is the one in /etc/apt/sources.list*); each run unpacks a fresh
# copy.  Nothing of the host is bind-mounted: each chroot command runs in
# its own mount namespace with a fresh /proc, which goes away with it.
# Root only; exits 77 (SKIP) without root, the tools or the build
# dependencies.  Needs the network (apt in the chroot).  Here (2 shared
# cores): ~70 s with the rootfs cached (build ~45 s, lintian ~10 s, apt
# ~10 s); the first run adds ~55 s of debootstrap (a 116 MB tarball).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u

NAME=test_deb
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
REF=${KPD_DEB_REF:-HEAD}
CACHE=/var/cache/kuproxy-testenv/kpd-rootfs
ROOTFS_TAR=$CACHE/bookworm-minbase.tar
SUITE=bookworm
TMP=
ROOT=
FAILS=0
T0=$(date +%s)

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
ok() { printf 'ok: %s: %s\n' "$NAME" "$*" >&2; }
fail() {
	FAILS=$((FAILS + 1))
	printf 'FAIL: %s: %s\n' "$NAME" "$*" >&2
}
die() {
	fail "$*"
	exit 1
}
skip() {
	echo "SKIP: $NAME ($*)"
	exit 77
}
elapsed() { echo "$(($(date +%s) - $1)) s"; }

if [ "$(id -u)" -ne 0 ]; then
	skip "needs root"
fi
for tool in git dpkg-buildpackage dpkg-checkbuilddeps dh fakeroot lintian \
    debootstrap chroot unshare tar timeout; do
	command -v "$tool" >/dev/null 2>&1 || skip "needs $tool"
done
git -C "$SRC" rev-parse --verify -q "$REF^{commit}" >/dev/null 2>&1 ||
    skip "$SRC is not a git checkout with $REF"

cleanup() {
	local rc=$? m

	trap - EXIT INT TERM HUP
	if [ -n "$TMP" ]; then
		# Each chroot command had its own mount namespace, so nothing
		# should be mounted here; make sure before removing the tree.
		for m in $(awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' \
		    /proc/mounts | sort -r); do
			log "unmounting $m"
			umount -l "$m" 2>/dev/null
		done
		if awk -v t="$TMP/" 'index($2, t) == 1 { f = 1 } END { exit !f }' \
		    /proc/mounts; then
			log "mounts left under $TMP: not removing it"
		elif [ -z "${KPD_KEEP:-}" ]; then
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

TMP=$(mktemp -d /tmp/kpd-deb.XXXXXX) || exit 1
ROOT=$TMP/root

# in_root CMD...: run CMD in the chroot, in a private mount namespace with
# its own /proc (gone when the command ends), with a plain environment.
in_root() {
	unshare --mount --propagation private -- /bin/sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" || exit 1
		exec chroot "$root" /usr/bin/env -i \
		    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		    DEBIAN_FRONTEND=noninteractive "$@"' sh "$ROOT" "$@"
}

# The Debian mirror the host uses (deb822 "URIs:" or one-line "deb").
host_mirror() {
	local m

	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
	    /etc/apt/sources.list.d/*.list 2>/dev/null |
	    sed -n -e 's/^URIs:[[:space:]]*//p' \
	    -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
	    tr ' ' '\n' | grep -E '^https?://.*/debian/?$' | head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}

# Make the cached minbase tarball once (under a lock: parallel runs).
rootfs_cache() {
	local mirror t0 tree

	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock -w 900 9 || die "cannot lock $CACHE"
	if [ -s "$ROOTFS_TAR" ]; then
		exec 9>&-
		return 0
	fi
	mirror=$(host_mirror)
	t0=$(date +%s)
	log "debootstrap --variant=minbase $SUITE from $mirror (once)"
	tree=$CACHE/tree.tmp
	rm -rf "$tree"
	if ! timeout -k 10 900 debootstrap --variant=minbase "$SUITE" \
	    "$tree" "$mirror" >"$TMP/debootstrap.log" 2>&1; then
		tail -n 20 "$TMP/debootstrap.log" >&2
		rm -rf "$tree"
		die "debootstrap failed"
	fi
	rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
	tar -C "$tree" --numeric-owner -cf "$ROOTFS_TAR.tmp" . &&
	    mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR" || die "cannot write $ROOTFS_TAR"
	rm -rf "$tree"
	log "rootfs cached in $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1)," \
	    "$(elapsed "$t0"))"
	exec 9>&-
}

# Every path in the chroot but the ones apt and dpkg keep for themselves.
root_files() {
	(cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./tmp \
	    -o -path ./var/lib/apt -o -path ./var/cache \
	    -o -path ./var/log -o -path ./var/lib/dpkg \) -prune -o -print) |
	    sed 's|^\.||' | sort
}

# Processes whose root is the chroot (a started service would be one).
root_procs() {
	local p r

	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in
		"$ROOT" | "$ROOT"/*) echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null)" ;;
		esac
	done
}

# --- 1. build from a clean copy -------------------------------------------
t=$(date +%s)
mkdir -p "$TMP/src"
git -C "$SRC" archive --prefix=kuproxy/ "$REF" | tar -C "$TMP/src" -xf - ||
    die "git archive $REF failed"
cd "$TMP/src/kuproxy" || die "no tree"
[ -d debian ] || die "no debian/ in $REF"
if ! dpkg-checkbuilddeps -B >"$TMP/deps.log" 2>&1; then
	skip "build dependencies missing: $(cat "$TMP/deps.log")"
fi
log "building $(git -C "$SRC" rev-parse --short "$REF") in $TMP/src"
# The source package first, from the pristine tree (lintian checks it).
(cd "$TMP/src" && dpkg-source -b kuproxy) >"$TMP/source.log" 2>&1 ||
    { cat "$TMP/source.log" >&2; die "dpkg-source -b failed"; }
if ! DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" timeout -k 10 900 \
    dpkg-buildpackage -us -uc -b >"$TMP/build.log" 2>&1; then
	tail -n 40 "$TMP/build.log" >&2
	die "dpkg-buildpackage failed"
fi
cd "$TMP" || exit 1
deb=$(ls "$TMP"/src/kuproxy_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
changes=$(ls "$TMP"/src/kuproxy_*.changes 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -n "$changes" ] || die "no .deb or .changes built"
ok "dpkg-buildpackage -b: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB" \
    "($(elapsed "$t"))"

# --- 2. lintian -------------------------------------------------------------
t=$(date +%s)
# A non-zero status without any E: tag means lintian itself broke.
dsc=$(ls "$TMP"/src/kuproxy_*.dsc | head -n 1)
lintian --no-cfg --tag-display-limit 0 "$dsc" "$changes" \
    >"$TMP/lintian.log" 2>&1
lrc=$?
nerr=$(grep -c '^E: ' "$TMP/lintian.log")
nwarn=$(grep -c '^W: ' "$TMP/lintian.log")
sed 's/^/    lintian| /' "$TMP/lintian.log" >&2
if [ "$nerr" -eq 0 ] && [ "$lrc" -ne 0 ]; then
	fail "lintian failed to run (status $lrc)"
elif [ "$nerr" -eq 0 ]; then
	ok "lintian (source and binary): 0 errors, $nwarn warnings" \
	    "($(elapsed "$t"))"
else
	fail "lintian: $nerr errors"
fi

# --- 3. what the package holds ----------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$TMP/contents"
want="/usr/sbin/kuproxy /lib/systemd/system/kuproxy.service
/usr/share/man/man8/kuproxy.8.gz /usr/share/doc/kuproxy/copyright"
# The example configuration comes with the systemd work on init/; a tree
# whose Makefile installs it must ship it as a conffile.
has_config=0
grep -q 'config\.yaml' "$TMP/src/kuproxy/Makefile.am" && has_config=1
[ "$has_config" -eq 1 ] && want="$want /etc/kuproxy/config.yaml"
for f in $want; do
	grep -qxF "$f" "$TMP/contents" && ok "package holds $f" ||
	    fail "package lacks $f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles \
    >"$TMP/conffiles" 2>/dev/null
if [ "$has_config" -eq 1 ]; then
	grep -qxF /etc/kuproxy/config.yaml "$TMP/conffiles" &&
	    ok "/etc/kuproxy/config.yaml is a conffile" ||
	    fail "/etc/kuproxy/config.yaml is not a conffile"
else
	log "NOTE: this tree installs no /etc/kuproxy/config.yaml (it comes" \
	    "with the systemd notify work): conffile checks not run"
fi

# --- 4. install into a fresh minimal chroot ---------------------------------
t=$(date +%s)
rootfs_cache
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xf "$ROOTFS_TAR" || die "cannot unpack rootfs"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
cp "$deb" "$ROOT/tmp/"
log "chroot ready in $(elapsed "$t")"
t=$(date +%s)
if ! in_root apt-get -q update >"$TMP/apt.log" 2>&1; then
	tail -n 20 "$TMP/apt.log" >&2
	die "apt-get update in the chroot failed"
fi
in_root dpkg-query -W -f '${Package}\n' | sort >"$TMP/pkgs0"
root_files >"$TMP/files0"
if ! in_root apt-get -q -y --no-install-recommends install \
    "/tmp/$(basename "$deb")" >>"$TMP/apt.log" 2>&1; then
	tail -n 30 "$TMP/apt.log" >&2
	die "apt-get install ./$(basename "$deb") failed"
fi
rm -f "$ROOT/tmp/$(basename "$deb")"
ok "apt-get install ./$(basename "$deb"): $(comm -13 "$TMP/pkgs0" \
    <(in_root dpkg-query -W -f '${Package}\n' | sort) | wc -l) packages" \
    "($(elapsed "$t"))"
grep -i 'kuproxy' "$TMP/apt.log" | grep -iE 'error|warn' >&2

for f in $want; do
	[ -e "$ROOT$f" ] && ok "installed: $f" || fail "not installed: $f"
done
v=$(in_root kuproxy --version 2>&1)
[ "$v" = "kuproxy $(sed -n '1s/^kuproxy (\([^)]*\)).*/\1/p' \
    "$TMP/src/kuproxy/debian/changelog")" ] &&
    ok "kuproxy --version in the chroot: $v" ||
    fail "kuproxy --version in the chroot: $v"
if [ "$has_config" -eq 1 ]; then
	# Loaded, defaulted and validated as kube-proxy 1.20 does (-n would
	# also want the kubeconfig the example names).
	out=$(in_root kuproxy --config /etc/kuproxy/config.yaml \
	    --write-config-to /tmp/kpd-config.yaml 2>&1) &&
	    ok "the example config loads and validates" ||
	    fail "kuproxy --config /etc/kuproxy/config.yaml: $out"
	rm -f "$ROOT/tmp/kpd-config.yaml"
fi
procs=$(root_procs)
[ -z "$procs" ] && ok "no process running in the chroot (service not started)" ||
    fail "processes running in the chroot: $procs"
# Installed, not enabled: no wants/ link (deb-systemd-helper makes them
# even where systemd is not running), nothing in its enable state.
links=$(find "$ROOT/etc/systemd/system" -name 'kuproxy.service' 2>/dev/null)
[ -z "$links" ] && ok "kuproxy.service is not enabled" ||
    fail "kuproxy.service enabled at install: ${links//$ROOT/}"
in_root dpkg -L kuproxy | grep -v '^/\.$' >"$TMP/owned"
[ -s "$TMP/owned" ] || fail "dpkg -L kuproxy is empty"

# --- 5. remove, then purge ----------------------------------------------------
# The state directory kuproxy (or systemd's StateDirectory=) makes.
mkdir -m 0700 "$ROOT/var/lib/kuproxy"
echo '{}' >"$ROOT/var/lib/kuproxy/proxy-ports"
in_root dpkg -r kuproxy >"$TMP/remove.log" 2>&1 || fail "dpkg -r failed"
left=
while read -r f; do
	[ -d "$ROOT$f" ] && continue
	grep -qxF "$f" "$TMP/conffiles" && continue
	[ -e "$ROOT$f" ] && left="$left $f"
done <"$TMP/owned"
[ -z "$left" ] && ok "dpkg -r removed the package's files" ||
    fail "dpkg -r left:$left"
if [ "$has_config" -eq 1 ]; then
	[ -f "$ROOT/etc/kuproxy/config.yaml" ] &&
	    ok "dpkg -r keeps the conffile" || fail "dpkg -r removed the conffile"
fi
in_root dpkg -P kuproxy >>"$TMP/remove.log" 2>&1 || fail "dpkg -P failed"
st=$(in_root dpkg-query -W -f '${db:Status-Status}' kuproxy 2>/dev/null)
[ -z "$st" ] || [ "$st" = not-installed ] && ok "dpkg -P: kuproxy unknown to dpkg" ||
    fail "dpkg -P: kuproxy still '$st'"
left=
while read -r f; do
	[ -e "$ROOT$f" ] || continue
	# Directories the dependencies or the base system own too.
	[ -d "$ROOT$f" ] && in_root dpkg -S "$f" >/dev/null 2>&1 && continue
	left="$left $f"
done <"$TMP/owned"
left="$left $(comm -13 "$TMP/files0" <(root_files) | grep -i kuproxy |
    tr '\n' ' ')"
for f in /etc/kuproxy /var/lib/kuproxy; do
	[ -e "$ROOT$f" ] && left="$left $f"
done
left=$(printf '%s\n' $left | sort -u | tr '\n' ' ')
left=${left% }
[ -z "$left" ] && ok "dpkg -P left no file of the package (state dir too)" ||
    fail "dpkg -P left: $left"
procs=$(root_procs)
[ -z "$procs" ] || fail "processes running in the chroot: $procs"

log "total $(elapsed "$T0")"
if [ "$FAILS" -ne 0 ]; then
	printf 'FAIL: %s (%d failed checks)\n' "$NAME" "$FAILS"
	exit 1
fi
printf 'PASS: %s\n' "$NAME"
exit 0
