#!/bin/bash
# test_unit_file: the systemd unit make generates (init/kuproxy.service)
# is clean for `systemd-analyze verify` (status 0 and not one warning:
# verify only warns about an unknown key or a bad value) and its
# `systemd-analyze security` exposure is at most 4.0 (the score is
# printed).  Verify checks that ExecStart= names an executable, so it
# runs on a copy whose ExecStart= points at the built binary, every other
# line as generated; the Documentation= man page is not looked up (it is
# installed, not built).  The example init/config.yaml must load.  Needs
# no root and no running systemd, only
# systemd-analyze (the systemd package).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
name=unit_file
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
: "${KUPROXY:=$srcdir/kuproxy}"
max=4.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: $name (needs systemd-analyze: the systemd package)"
	exit 77
fi
if [ ! -x "$KUPROXY" ]; then
	echo "FAIL: $name: kuproxy binary '$KUPROXY' not found"
	exit 1
fi
builddir=$(cd "$(dirname "$KUPROXY")" && pwd)
# The generated unit, made by the build's own rule (sed on the .in).
if ! make -s -C "$builddir" init/kuproxy.service >/dev/null; then
	echo "FAIL: $name: make init/kuproxy.service failed in $builddir"
	exit 1
fi
unit=$builddir/init/kuproxy.service

tmp=$(mktemp -d /tmp/kp-unit_file.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $name: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $name: $*"; }

if grep -n '@[a-z_]*@' "$unit"; then
	fail "placeholders left in $unit (above)"
else
	ok "no @placeholder@ left in the generated unit"
fi
grep -q '^ExecStart=[^ ]*/kuproxy ' "$unit" ||
    fail "no ExecStart=.../kuproxy line in $unit"
# The copy keeps the unit's name (verify derives the type from it).
sed "s|^ExecStart=[^ ]*/kuproxy |ExecStart=$KUPROXY |" "$unit" \
    >"$tmp/kuproxy.service"
grep '^ExecStart=' "$tmp/kuproxy.service"

out=$(systemd-analyze verify --man=no "$tmp/kuproxy.service" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: clean"
else
	fail "systemd-analyze verify: status $rc: $out"
fi

sec=$(systemd-analyze security --offline=true "$tmp/kuproxy.service" 2>&1)
rc=$?
echo "$sec" | grep '✗'
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for kuproxy\.service: \([0-9.]*\) .*/\1/p')
echo "systemd-analyze security: exposure ${score:-?} (at most $max wanted)"
if [ "$rc" -ne 0 ] || [ -z "$score" ]; then
	fail "systemd-analyze security: status $rc: $(echo "$sec" | tail -n 3)"
elif awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
	ok "exposure $score <= $max"
else
	fail "exposure $score > $max"
fi

# The three capabilities, no more, and the notify protocol.
for kv in 'Type=notify' 'NotifyAccess=all' 'FileDescriptorStoreMax=16384' \
    'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW' \
    'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW'; do
	if grep -qxF "$kv" "$unit"; then
		ok "$kv"
	else
		fail "no line '$kv' in $unit"
	fi
done
grep -q '^WatchdogSec=[1-9]' "$unit" && ok "WatchdogSec= set" ||
    fail "no WatchdogSec= in $unit"

# The example configuration make installs as the file the unit reads
# loads as kuproxy's configuration, userspace mode.
if "$KUPROXY" --config="$srcdir/init/config.yaml" \
    --write-config-to="$tmp/config.out" 2>"$tmp/config.err" &&
    grep -qx 'mode: userspace' "$tmp/config.out"; then
	ok "init/config.yaml loads (mode: userspace)"
else
	fail "init/config.yaml does not load: $(cat "$tmp/config.err")"
fi

if [ "$fails" -ne 0 ]; then
	echo "FAIL: $name ($fails failed checks)"
	exit 1
fi
echo "PASS: $name"
exit 0
