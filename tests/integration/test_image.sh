#!/bin/bash
# test_image: contrib/image/build.sh builds kuproxy's image here and the
# image works.
#  - build.sh --kuproxy $KUPROXY --tag REF OUT.tar exits 0; the OCI
#    archive is at most 45,000,000 bytes and the image's root 110,000,000
#    bytes unpacked (measured 36.5 MB and 92 MB); the archive names REF;
#  - the layer holds no apt lists, no man pages, no docs but the
#    copyrights, no locales; /usr/local/bin/kube-proxy is a link to
#    kuproxy; the OCI labels are set;
#  - in the image (podman, --network none), `kuproxy --version` and
#    `kube-proxy --version` print the version of $KUPROXY; every library
#    resolves; iptables, conntrack and ipset run;
#  - in a kpi- network namespace whose kubelet canary chain is in
#    iptables-legacy (a node on the legacy backend), the image's
#    `kube-proxy` (the DaemonSet's command) syncs a Service's rules into
#    legacy, not nft (iptables-wrapper picked the backend), and answers
#    /healthz 200 on 10256; SIGTERM leaves the rules in place, and
#    `kuproxy --cleanup` run from the image removes every KUBE- chain and
#    rule but kubelet's canary;
#  - the archive imports into containerd (`ctr -n k8s.io images import`,
#    a private containerd whose root, state and socket are in the test's
#    folder) as REF, complete and unpacked;
#  - nothing escaped: /var/lib/containers, /run/containers,
#    /etc/containers, /run/libpod, /var/cache/containers, /etc/cni,
#    /var/lib/cni, /run/containerd, /var/lib/containerd, /opt/containerd
#    are as before, so are the root namespace's links and iptables rules,
#    and no cgroup is left.
# The image cache (debootstrap root, podman storage) is build.sh's:
# ${KP_IMAGE_CACHE:-/var/cache/kuproxy-testenv/image}.  A first build
# (debootstrap, apt) takes ~3 min, each podman run ~20 s:
# kp-timeout: 900
. "$(dirname "$0")/lib.sh"

KP_NAME=image
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $KP_NAME (needs root)"
	exit 77
fi
for tool in podman debootstrap runc unshare containerd ctr iptables-save \
    iptables-legacy curl ip; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $KP_NAME (needs $tool)"
		exit 77
	fi
done
[ -x "$KUPROXY" ] || { echo "FAIL: $KP_NAME: no kuproxy at $KUPROXY"; exit 1; }

BUILD=$KP_SRCDIR/contrib/image/build.sh
PODMAN=$KP_SRCDIR/contrib/image/podman.sh
TAG=localhost/kuproxy:kpi-test-$$
NS=kpi-img-$$
CGPARENT=kpi-img-$$
MAX_ARCHIVE=45000000
MAX_UNPACKED=110000000
KP_TMP=$(mktemp -d /tmp/kpi-image.XXXXXX) || exit 1

# The podman image, the cgroups of our containers, containerd (by pid,
# through kp_cleanup) and any mount containerd left in our folder.
kpi_cleanup() {
	local rc=$? d

	"$PODMAN" rmi -f "$TAG" >/dev/null 2>&1
	for d in /sys/fs/cgroup/*/"$CGPARENT"; do
		[ -d "$d" ] && rmdir "$d/conmon" "$d" 2>/dev/null
	done
	if [ -n "$CTRD_PID" ]; then
		kill -TERM "$CTRD_PID" 2>/dev/null
		kp_until 50 kp_gone "$CTRD_PID"
	fi
	grep -o " $KP_TMP[^ ]*" /proc/self/mountinfo | sort -r |
	    while read -r d; do umount -l "$d"; done
	(exit "$rc")
	kp_cleanup
}
CTRD_PID=
trap kpi_cleanup EXIT
trap 'exit 1' INT TERM HUP

# What must not change on the host.
host_state() {
	local d

	for d in /var/lib/containers /run/containers /etc/containers \
	    /run/libpod /var/cache/containers /etc/cni /var/lib/cni \
	    /run/containerd /var/lib/containerd /opt/containerd; do
		[ -e "$d" ] && find "$d" | sort
	done
	ip -o link show | awk -F': ' '{ print "link " $2 }'
	for t in nat filter mangle raw; do
		iptables-save -t "$t" 2>/dev/null | grep -v '^#' |
		    sed 's/ \[[0-9]*:[0-9]*\]$//'
	done
	ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null
}
host_state >"$KP_TMP/before.txt"

# podman, on build.sh's storage; containers (and conmon) in our own cgroup
# parent.  Not --cgroups=no-conmon: with it, podman 4.3 writes
# /var/lib/containers/cache outside podman.sh's mount namespace.
kpi_run() {
	"$PODMAN" run --rm --runtime runc \
	    --cgroup-parent="/$CGPARENT" "$@"
}

# --- the build ---------------------------------------------------------
t0=$(date +%s)
timeout -k 10 1500 "$BUILD" --kuproxy "$KUPROXY" --tag "$TAG" \
    "$KP_TMP/kuproxy.tar" >"$KP_TMP/build.out" 2>"$KP_TMP/build.err"
rc=$?
kp_eq "build.sh exit status" 0 "$rc"
if [ "$rc" != 0 ]; then
	tail -n 30 "$KP_TMP/build.err" >&2
	exit 1
fi
kp_log "build: $(($(date +%s) - t0)) s; $(tail -n 1 "$KP_TMP/build.out")"
sed 's/^/    /' "$KP_TMP/build.err" >&2
last=$(tail -n 1 "$KP_TMP/build.out")
archive=$(sed -n 's/^archive: .* \([0-9]*\) bytes (.*unpacked: .*/\1/p' <<<"$last")
unpacked=$(sed -n 's/.*unpacked: \([0-9]*\) bytes$/\1/p' <<<"$last")
kp_eq "archive size as printed" "$(stat -c %s "$KP_TMP/kuproxy.tar")" "$archive"
kp_le "archive bytes" "$MAX_ARCHIVE" "${archive:-999999999999}"
kp_le "unpacked bytes" "$MAX_UNPACKED" "${unpacked:-999999999999}"
kp_ge "unpacked bytes (a root, not an empty layer)" 30000000 "${unpacked:-0}"

# --- the archive -----------------------------------------------------------
ref=$(tar -xOf "$KP_TMP/kuproxy.tar" index.json | kp_json \
    'd["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]')
kp_eq "the archive's name" "$TAG" "$ref"
# The layer: the largest blob.
layer=$(tar -tvf "$KP_TMP/kuproxy.tar" | sort -k3 -n | tail -n 1 |
    awk '{ print $NF }')
tar -xOf "$KP_TMP/kuproxy.tar" "$layer" | tar -tzvf - >"$KP_TMP/layer.txt" ||
    kp_fail "the layer is not a gzip'ed tar"
names() { awk '{ print $6 }' "$KP_TMP/layer.txt"; }
kp_eq "apt lists in the layer" 0 "$(names | grep -c '^\./var/lib/apt/lists/.' || true)"
kp_eq "apt cache .debs in the layer" 0 "$(names | grep -c '\.deb$' || true)"
kp_eq "man pages in the layer" 0 "$(names | grep -c '^\./usr/share/man/.' || true)"
kp_eq "locales in the layer" 0 "$(names | grep -c '^\./usr/share/locale/.' || true)"
kp_eq "docs but copyrights in the layer" 0 \
    "$(names | grep '^\./usr/share/doc/.*[^/]$' | grep -vc '/copyright$' || true)"
kp_check "copyrights kept" grep -q '^\./usr/share/doc/libevent-core-2.1-7/copyright$' <(names)
kp_check "kube-proxy is a link to kuproxy" \
    grep -q '\./usr/local/bin/kube-proxy -> kuproxy$' "$KP_TMP/layer.txt"
version=$("$KUPROXY" --version)
label=$("$PODMAN" image inspect --format \
    '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.title"}}' "$TAG")
kp_eq "OCI labels version and title" "${version#kuproxy } kuproxy" "$label"

# --- the image runs ----------------------------------------------------
# Each podman run costs ~20 s here (podman 4.3 waits out its conmon
# timeout): the two entry paths as commands, the rest in one shell.
for cmd in kuproxy kube-proxy; do
	got=$(kpi_run --network none "$TAG" "$cmd" --version 2>&1)
	kp_eq "$cmd --version in the image" "$version" "$got"
done
got=$(kpi_run --network none "$TAG" sh -c \
    'ldd /usr/local/bin/kuproxy | grep -c "not found"; /usr/local/bin/kube-proxy --version; iptables --version; conntrack --version; ipset --version' 2>&1)
kp_eq "libraries not found in the image" 0 "$(sed -n 1p <<<"$got")"
kp_eq "/usr/local/bin/kube-proxy --version in the image" "$version" \
    "$(sed -n 2p <<<"$got")"
kp_check "iptables in the image ($(grep '^iptables' <<<"$got"))" \
    grep -q '^iptables v1\.8' <<<"$got"
kp_eq "iptables-wrapper's first call: no update-alternatives output" 0 \
    "$(grep -c update-alternatives <<<"$got")"
kp_check "conntrack in the image" grep -q '^conntrack v1\.4' <<<"$got"
kp_check "ipset in the image" grep -q '^ipset v7' <<<"$got"

# --- kube-proxy from the image in a network namespace ---------------------
kp_netns_add "$NS" || kp_die "ip netns add $NS"
# A node address on a veth whose both ends are in our namespace.
ip -n "$NS" link add kpi0 type veth peer name kpi1 || kp_die "veth in $NS"
ip -n "$NS" addr add 198.18.7.1/24 dev kpi0
ip -n "$NS" link set kpi0 up
ip -n "$NS" link set kpi1 up
ip -n "$NS" route add default via 198.18.7.2 dev kpi0
mkdir -p "$KP_TMP/in"
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.7.2
} >"$KP_TMP/in/services.yaml"
caps=(--cap-add NET_ADMIN --cap-add NET_RAW --cap-add NET_BIND_SERVICE)
# Not kpi_run: $! must be podman's pid (podman.sh execs it), so that
# SIGTERM reaches it and podman hands it to kube-proxy.
"$PODMAN" run --rm --runtime runc \
    --cgroup-parent="/$CGPARENT" --network "ns:/run/netns/$NS" "${caps[@]}" \
    -v "$KP_TMP/in:/in:ro" "$TAG" /usr/local/bin/kube-proxy \
    --services-file /in/services.yaml -v 2 >"$KP_TMP/kube-proxy.log" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
KP_LOG=$KP_TMP/kube-proxy.log
healthz() {
	[ "$(ip netns exec "$NS" curl -s -m 1 -o /dev/null -w '%{http_code}' \
	    http://198.18.7.1:10256/healthz)" = 200 ]
}
# kubelet's canary, in legacy: the node's backend.
ip netns exec "$NS" iptables-legacy -t mangle -N KUBE-KUBELET-CANARY ||
    kp_die "iptables-legacy in $NS"
rules() {
	ip netns exec "$NS" "iptables-${1:-legacy}-save" -t nat |
	    grep -c -F -- '--comment "default/web:p"'
}
# Up, or gone.
up() { healthz || kp_gone "$KP_PID"; }
kp_until 300 up
kp_check "kube-proxy from the image: /healthz 200 on 10256" healthz
kp_ge "rules for default/web:p in the namespace, legacy" 2 "$(rules)"
kp_eq "rules for default/web:p in the namespace, nft" 0 "$(rules nft)"
kill -TERM "$KP_PID"
kp_until 100 kp_gone "$KP_PID"
wait "$KP_PID"
kp_eq "kube-proxy exit status on SIGTERM" 0 "$?"
KP_PIDS=
n=$(rules)
kp_ge "rules left in place after SIGTERM" 2 "$n"
got=$(kpi_run --network "ns:/run/netns/$NS" "${caps[@]}" "$TAG" \
    kuproxy --cleanup 2>&1)
kp_eq "kuproxy --cleanup from the image: exit status" 0 "$?"
kp_eq "KUBE- lines after --cleanup, legacy and nft" 0 \
    "$({ ip netns exec "$NS" iptables-legacy-save
	ip netns exec "$NS" iptables-nft-save; } |
	grep KUBE- | grep -vc '^:KUBE-KUBELET-CANARY ' || true)"

# --- containerd imports the archive ----------------------------------------
c=$KP_TMP/containerd
mkdir -p "$c"
cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
EOF
containerd --config "$c/config.toml" >"$c/log" 2>&1 &
CTRD_PID=$!
kp_until 100 test -S "$c/containerd.sock" || kp_die "containerd did not start"
ctr=(ctr -a "$c/containerd.sock" -n k8s.io)
timeout 120 "${ctr[@]}" images import "$KP_TMP/kuproxy.tar" >"$c/import.log" 2>&1
kp_eq "ctr images import exit status" 0 "$?"
kp_eq "the image's name in containerd" "$TAG" "$("${ctr[@]}" images ls -q)"
kp_check "complete and unpacked in containerd" \
    grep -q 'complete (2/2) .* true' <("${ctr[@]}" images check)
kill -TERM "$CTRD_PID"
kp_until 100 kp_gone "$CTRD_PID" || kill -KILL "$CTRD_PID"
wait "$CTRD_PID" 2>/dev/null
CTRD_PID=

# --- nothing escaped ---------------------------------------------------------
"$PODMAN" rmi -f "$TAG" >/dev/null 2>&1
# conmon's cgroup and the parent (runc removed the containers' own).
for d in /sys/fs/cgroup/*/"$CGPARENT"; do
	[ -d "$d" ] || continue
	[ -d "$d/conmon" ] && rmdir "$d/conmon"
	rmdir "$d"
done
kp_eq "cgroups of ours left" 0 "$(ls -d /sys/fs/cgroup/*/"$CGPARENT" 2>/dev/null | wc -l)"
for ns in $KP_NSES; do
	ip netns del "$ns"
done
KP_NSES=
host_state >"$KP_TMP/after.txt"
if diff "$KP_TMP/before.txt" "$KP_TMP/after.txt" >"$KP_TMP/diff.txt"; then
	kp_ok "host paths, root namespace links and rules, cgroups unchanged"
else
	kp_fail "the host changed: $(cat "$KP_TMP/diff.txt")"
fi
kp_finish
