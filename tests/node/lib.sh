# shellcheck shell=bash
# lib.sh: a real single-node Kubernetes 1.20 cluster for kuproxy's node
# tests (root only), inside the test's own namespaces and folder.
#
# A test sources this file, calls kn_init NAME, then kn_up, which starts
#
#   kpnode-gw-ID  198.18.2.2 (the node's default route points here)
#       | veth
#   kpnode-node-ID 198.18.2.1 (--node-ip)    etcd, kube-apiserver :6443,
#       |                                    controller-manager, scheduler,
#       | bridge kpnode0 198.18.64.1/24      containerd, kubelet
#   pods 198.18.64.0/24 (CNI bridge + host-local)
#
# Every daemon runs in the node's network namespace and in a private,
# persisted mount namespace ($KN_DIR/ns/mnt) in which /run, /var/lib and
# /var/log are bind mounts of test folders: containerd's shims, kubelet's
# device-plugins and /var/log/pods, CNI's state all stay in $KN_DIR.
# Pods' cgroups live under /kpnode-ID in every hierarchy.  The Kubernetes
# binaries come from tests/e2e/build-apiserver.sh's cache; containerd,
# runc and the CNI plugins from Debian.  kn_down (and the EXIT trap) stops
# everything by PID, removes the cgroups, unmounts, deletes the
# namespaces and the folder.  Every wait is bounded.
#
# Environment: KP_KUBE_DIR (the binaries; default: the newest complete
# entry of $KP_E2E_CACHE), KUPROXY, KP_KEEP (keep $KN_DIR).

KN_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$KN_HERE/../e2e/lib.sh"

KN_ID=$$
KN_NODE=kpnode-node-$KN_ID
KN_GW=kpnode-gw-$KN_ID
KN_NODE_IP=198.18.2.1
KN_GW_IP=198.18.2.2
KN_POD_NET=198.18.64.0/24
KN_POD_GW=198.18.64.1
KN_SVC_NET=198.19.0.0/16
KN_NODE_NAME=kpnode
KN_CG=kpnode-$KN_ID		# cgroupRoot, in every hierarchy
KN_DIR=
KN_MNT=
KN_SOCK=
KN_BIN=
KN_KUBELET_PID=
KN_CONTAINERD_PID=
KN_CTRL_PIDS=			# controller-manager, scheduler
KN_DOWN=0
KN_PAUSE=localhost/kpnode/pause:1
KN_WEB=localhost/kpnode/web:1

# The newest cache entry with every binary the node needs.
kn_find_bins() {
	local d b ok

	for d in $(ls -td "$KP_E2E_CACHE"/*/ 2>/dev/null); do
		d=${d%/}
		ok=1
		for b in kube-apiserver kubelet kube-controller-manager \
		    kube-scheduler kubectl; do
			[ -x "$d/$b" ] || ok=0
		done
		[ -s "$d/pause.c" ] || ok=0
		[ "$ok" = 1 ] && { echo "$d"; return 0; }
	done
	return 1
}

# kn_init NAME: root, tools and binaries (else SKIP), the test folder,
# the trap.
kn_init() {
	local t

	KP_NAME=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $KP_NAME (needs root)"
		exit 77
	fi
	for t in ip nsenter unshare containerd containerd-shim-runc-v2 runc \
	    ctr gcc etcd openssl iptables-save curl timeout "$KP_PY"; do
		command -v "$t" >/dev/null 2>&1 ||
		    { echo "SKIP: $KP_NAME (needs $t)"; exit 77; }
	done
	for t in bridge host-local loopback; do
		[ -x "/usr/lib/cni/$t" ] ||
		    { echo "SKIP: $KP_NAME (needs /usr/lib/cni/$t: containernetworking-plugins)"; exit 77; }
	done
	[ -d /sys/fs/cgroup/cpuset ] ||
	    { echo "SKIP: $KP_NAME (needs cgroup v1 hierarchies)"; exit 77; }
	[ -x "$KUPROXY" ] || { echo "FAIL: $KP_NAME: no kuproxy at '$KUPROXY'"; exit 1; }
	KN_BIN=${KP_KUBE_DIR:-$(kn_find_bins)}
	if [ -z "$KN_BIN" ] || [ ! -x "$KN_BIN/kubelet" ]; then
		echo "SKIP: $KP_NAME (no kubelet etc.: run tests/e2e/build-apiserver.sh)"
		exit 77
	fi
	KP_APISERVER=$KN_BIN/kube-apiserver
	KP_ETCD=$(command -v etcd)
	KN_DIR=$(mktemp -d /tmp/kpnode.XXXXXX) || exit 1
	chmod 755 "$KN_DIR"
	KP_TMP=$KN_DIR		# the e2e lib's PKI, etcd data and logs go here
	KN_MNT=$KN_DIR/ns/mnt
	KN_SOCK=$KN_DIR/run/containerd/containerd.sock
	mkdir -p "$KN_DIR/logs"
	trap kn_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# kn_in COMMAND...: run COMMAND in the node's network and mount namespaces.
kn_in() {
	nsenter --mount="$KN_MNT" --net="/run/netns/$KN_NODE" -- "$@"
}

# kn_net COMMAND...: run COMMAND in the node's network namespace only.
kn_net() {
	nsenter --net="/run/netns/$KN_NODE" -- "$@"
}

# kubectl as the cluster's admin.
kn_kubectl() {
	kn_net "$KN_BIN/kubectl" --kubeconfig "$KN_DIR/admin.kubeconfig" \
	    --request-timeout=20s "$@"
}

# kn_start NAME COMMAND...: start a daemon in the node's namespaces, its
# output in $KN_DIR/logs/NAME.log; its PID in $KN_LAST_PID.
kn_start() {
	local name=$1

	shift
	# nsenter execs COMMAND: $! is the daemon's PID.
	nsenter --mount="$KN_MNT" --net="/run/netns/$KN_NODE" -- "$@" \
	    >>"$KN_DIR/logs/$name.log" 2>&1 &
	KN_LAST_PID=$!
	disown "$KN_LAST_PID"
}

# kn_until SECONDS COMMAND...: run COMMAND every 0.5 s until it succeeds
# or SECONDS (wall clock) have passed.
kn_until() {
	local end=$(($(date +%s) + $1))

	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

# kn_alive PID NAME: die with the end of its log when it is gone.
kn_alive() {
	kill -0 "$1" 2>/dev/null && return 0
	tail -n 30 "$KN_DIR/logs/$2.log" >&2
	kp_die "$2 exited (log: $KN_DIR/logs/$2.log)"
}

# The namespaces: node and gateway, linked by a veth born in the node's.
kn_netns() {
	kp_netns_add "$KN_NODE" ||
	    { echo "SKIP: $KP_NAME (cannot create network namespaces)"; exit 77; }
	kp_netns_add "$KN_GW" || kp_die "ip netns add $KN_GW"
	ip -n "$KN_NODE" link add veth0 type veth peer name veth0 \
	    netns "$KN_GW" || kp_die "veth node<->gw"
	ip -n "$KN_NODE" addr add "$KN_NODE_IP/24" dev veth0
	ip -n "$KN_NODE" link set veth0 up
	ip -n "$KN_GW" addr add "$KN_GW_IP/24" dev veth0
	ip -n "$KN_GW" link set veth0 up
	ip -n "$KN_NODE" route add default via "$KN_GW_IP"
	ip -n "$KN_GW" route add "$KN_SVC_NET" via "$KN_NODE_IP"
	kp_until 30 kp_carrier "$KN_NODE" veth0 || kp_die "no carrier on veth0"
	kp_until 30 kp_carrier "$KN_GW" veth0 || kp_die "no carrier in $KN_GW"
}

# The private mount namespace, persisted on $KN_MNT: /run, /var/lib and
# /var/log are the test's (/var/cache, with the binaries, is the host's).
kn_mountns() {
	local d=$KN_DIR

	mkdir -p "$d/ns" "$d/run" "$d/var/log" "$d/var/lib/kubelet" \
	    "$d/var/lib/cni" "$d/opt" "$d/flex" || kp_die "mkdir"
	# A persisted mount namespace needs a private mount to live on.
	mount --bind "$d/ns" "$d/ns" || kp_die "mount --bind $d/ns"
	mount --make-private "$d/ns" || kp_die "mount --make-private $d/ns"
	touch "$KN_MNT"
	unshare --mount="$KN_MNT" --propagation private true ||
	    kp_die "unshare --mount=$KN_MNT"
	nsenter --mount="$KN_MNT" -- sh -ec '
		mount --bind "$1/run" /run
		mount --bind "$1/var/lib" /var/lib
		mount --bind "$1/var/log" /var/log
		mkdir -p /run/lock /run/containerd' sh "$d" ||
	    kp_die "mounts in the node's mount namespace"
}

# The cgroup parent of every pod, in every hierarchy, cpuset filled in.
kn_cgroups() {
	local h

	for h in $(awk '$3 == "cgroup" { print $2 }' /proc/self/mounts); do
		mkdir -p "$h/$KN_CG" || kp_die "mkdir $h/$KN_CG"
	done
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$KN_CG/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$KN_CG/cpuset.mems"
}

# kn_kubeconfig FILE CERT: a kubeconfig for the client certificate CERT
# (a basename in the PKI).
kn_kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kpnode
  cluster:
    server: https://$KN_NODE_IP:$KE_API_PORT
    certificate-authority: $KE_PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $KE_PKI/$2.crt
    client-key: $KE_PKI/$2.key
contexts:
- name: kpnode
  context: {cluster: kpnode, user: $2}
current-context: kpnode
EOF
}

# etcd and kube-apiserver, started by the e2e lib's helpers (ip netns exec
# is fine for them) with the flags a node needs added by a wrapper.
kn_control_plane() {
	KP_NODE=$KN_NODE
	KE_API_IP=$KN_NODE_IP
	ke_pki
	ke_cert node ca "/O=system:nodes/CN=system:node:$KN_NODE_NAME" ||
	    kp_die "openssl: node certificate"
	kn_kubeconfig "$KN_DIR/admin.kubeconfig" admin
	kn_kubeconfig "$KN_DIR/node.kubeconfig" node
	cat >"$KN_DIR/kube-apiserver" <<EOF
#!/bin/sh
exec "$KN_BIN/kube-apiserver" "\$@" --allow-privileged=true \\
    --kubelet-preferred-address-types=InternalIP
EOF
	chmod 755 "$KN_DIR/kube-apiserver"
	KP_APISERVER=$KN_DIR/kube-apiserver
	ke_etcd_start
	ke_apiserver_start
}

kn_controllers() {
	kn_start controller-manager "$KN_BIN/kube-controller-manager" \
	    --kubeconfig "$KN_DIR/admin.kubeconfig" \
	    --leader-elect=false --port=0 --secure-port=0 \
	    --service-account-private-key-file "$KE_PKI/sa.key" \
	    --root-ca-file "$KE_PKI/ca.crt" \
	    --flex-volume-plugin-dir "$KN_DIR/flex" --v 1
	KN_CTRL_PIDS="$KN_LAST_PID"
	kn_start scheduler "$KN_BIN/kube-scheduler" \
	    --kubeconfig "$KN_DIR/admin.kubeconfig" \
	    --leader-elect=false --port=0 --secure-port=0 --v 1
	KN_CTRL_PIDS="$KN_CTRL_PIDS $KN_LAST_PID"
}

# The pause image and the backend image: static binaries in images
# FROM scratch, crafted as OCI archives (no registry, no podman).
kn_images() {
	gcc -Os -static -o "$KN_DIR/pause" "$KN_BIN/pause.c" 2>"$KN_DIR/logs/gcc.log" ||
	    kp_die "gcc pause.c: $(head -n 5 "$KN_DIR/logs/gcc.log")"
	gcc -Os -static -o "$KN_DIR/web" "$KN_HERE/web.c" 2>>"$KN_DIR/logs/gcc.log" ||
	    kp_die "gcc web.c: $(head -n 5 "$KN_DIR/logs/gcc.log")"
	"$KP_PY" "$KN_HERE/oci-archive.py" --name "$KN_PAUSE" \
	    --out "$KN_DIR/pause.tar" --entrypoint /pause \
	    "$KN_DIR/pause:/pause" >/dev/null || kp_die "pause image"
	"$KP_PY" "$KN_HERE/oci-archive.py" --name "$KN_WEB" \
	    --out "$KN_DIR/web.tar" --entrypoint /web \
	    "$KN_DIR/web:/web" >/dev/null || kp_die "web image"
}

# kn_import ARCHIVE: into containerd's k8s.io namespace.
kn_import() {
	kn_in ctr --address "$KN_SOCK" -n k8s.io images import "$1" \
	    >>"$KN_DIR/logs/ctr.log" 2>&1 ||
	    kp_die "ctr images import $1: $(tail -n 3 "$KN_DIR/logs/ctr.log")"
}

kn_ctr_up() { kn_in ctr --address "$KN_SOCK" version >/dev/null 2>&1; }

kn_containerd() {
	local c=$KN_DIR/containerd

	mkdir -p "$c/root" "$c/net.d"
	cat >"$c/net.d/10-kpnode.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "kpnode",
 "plugins": [{"type": "bridge", "bridge": "kpnode0", "isGateway": true,
   "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$KN_DIR/var/lib/cni/networks",
     "ranges": [[{"subnet": "$KN_POD_NET", "gateway": "$KN_POD_GW"}]],
     "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
	cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$KN_SOCK"
[ttrpc]
  address = "$KN_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$KN_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$KN_PAUSE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$c/net.d"
    max_conf_num = 1
EOF
	kn_start containerd containerd --config "$c/config.toml"
	KN_CONTAINERD_PID=$KN_LAST_PID
	kn_until 30 kn_ctr_up || {
		kn_alive "$KN_CONTAINERD_PID" containerd
		kp_die "containerd not answering within 30 s"
	}
	kn_import "$KN_DIR/pause.tar"
	kn_import "$KN_DIR/web.tar"
}

kn_node_ready() {
	kn_alive "$KN_KUBELET_PID" kubelet
	[ "$(kn_kubectl get node "$KN_NODE_NAME" -o \
	    jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

kn_kubelet() {
	local k=$KN_DIR/kubelet t0

	mkdir -p "$k/pki"
	echo "nameserver 127.0.0.1" >"$k/resolv.conf"
	cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $KN_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: /$KN_CG
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
oomScoreAdj: 0
protectKernelDefaults: false
resolvConf: $k/resolv.conf
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
EOF
	t0=$(date +%s)
	kn_start kubelet "$KN_BIN/kubelet" --config "$k/config.yaml" \
	    --kubeconfig "$KN_DIR/node.kubeconfig" \
	    --container-runtime=remote \
	    --container-runtime-endpoint "unix://$KN_SOCK" \
	    --root-dir /var/lib/kubelet --cert-dir "$k/pki" \
	    --volume-plugin-dir "$KN_DIR/flex" \
	    --node-ip "$KN_NODE_IP" --hostname-override "$KN_NODE_NAME" \
	    --v 1
	KN_KUBELET_PID=$KN_LAST_PID
	kn_until 90 kn_node_ready || {
		tail -n 30 "$KN_DIR/logs/kubelet.log" >&2
		kp_die "node $KN_NODE_NAME not Ready within 90 s"
	}
	kp_log "node Ready $(($(date +%s) - t0)) s after kubelet started"
}

# kn_up: the whole node (after kn_init).
kn_up() {
	kn_images
	kn_netns
	kn_mountns
	kn_cgroups
	kn_control_plane
	kn_controllers
	kn_containerd
	kn_kubelet
	kn_alive "${KN_CTRL_PIDS%% *}" controller-manager
	kn_alive "${KN_CTRL_PIDS##* }" scheduler
}

# kn_stop PID...: SIGTERM, up to 10 s, then SIGKILL.
kn_stop() {
	local pid i

	for pid; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 1 100); do
		for pid; do
			kill -0 "$pid" 2>/dev/null && break
			pid=
		done
		[ -z "$pid" ] && return 0
		sleep 0.1
	done
	for pid; do
		kill -KILL "$pid" 2>/dev/null
	done
}

# The PIDs of processes in the test's cgroups (pods' processes).
kn_cg_pids() {
	local h

	for h in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts); do
		[ -d "$h/$KN_CG" ] || continue
		find "$h/$KN_CG" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

# The PIDs of processes in the node's mount namespace (containerd, its
# shims, kubelet and the controllers).
kn_mnt_pids() {
	local ino p

	mountpoint -q "$KN_MNT" 2>/dev/null || return 0
	ino=$(stat -L -c %i "$KN_MNT" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[ "$(stat -L -c %i "$p/ns/mnt" 2>/dev/null)" = "$ino" ] &&
		    echo "${p#/proc/}"
	done
}

# kn_down: stop everything the node started and remove what it created
# outside $KN_DIR (cgroups, mounts).  Idempotent; the namespaces and the
# folder go in kp_cleanup.
kn_down() {
	local h i pids

	[ "$KN_DOWN" = 1 ] && return 0
	KN_DOWN=1
	[ -n "$KN_KUBELET_PID" ] && kn_stop "$KN_KUBELET_PID"
	[ -n "$KN_CTRL_PIDS" ] && kn_stop $KN_CTRL_PIDS
	# Pods' processes, then containerd and its shims.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(kn_cg_pids)
		[ -z "$pids" ] && break
		kill -KILL $pids 2>/dev/null
		sleep 0.2
	done
	[ -n "$KN_CONTAINERD_PID" ] && kn_stop "$KN_CONTAINERD_PID"
	pids=$([ -n "$KN_MNT" ] && kn_mnt_pids)
	[ -n "$pids" ] && kn_stop $pids
	# The cgroups, deepest first (emptied above; a dying task may take a
	# moment to leave).
	for h in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts); do
		[ -d "$h/$KN_CG" ] || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			find "$h/$KN_CG" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$h/$KN_CG" ] || break
			sleep 0.3
		done
		[ -d "$h/$KN_CG" ] && kp_fail "cannot remove cgroup $h/$KN_CG"
	done
	# The mount namespace goes with its last process and its bind mount.
	if [ -n "$KN_DIR" ]; then
		mountpoint -q "$KN_MNT" 2>/dev/null && umount "$KN_MNT"
		mountpoint -q "$KN_DIR/ns" 2>/dev/null && umount "$KN_DIR/ns"
		if grep -q " $KN_DIR" /proc/self/mountinfo; then
			kp_fail "mounts left under $KN_DIR: $(grep " $KN_DIR" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
			grep " $KN_DIR" /proc/self/mountinfo | awk '{print $5}' |
			    sort -r | xargs -r -n 1 umount -l
			# Never delete through a mount.
			grep -q " $KN_DIR" /proc/self/mountinfo && KP_KEEP=1
		fi
	fi
	return 0
}

# EXIT trap: kn_down, logs on failure, then the integration lib's cleanup
# (etcd, kube-apiserver, namespaces, $KN_DIR).
kn_cleanup() {
	local rc=$? f

	trap - EXIT
	kn_down
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$KN_DIR" ]; then
		for f in "$KN_DIR"/logs/kubelet.log "$KN_DIR"/logs/containerd.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f ---" >&2
			tail -n 15 "$f" >&2
		done
	fi
	(exit "$rc")
	kp_cleanup
}

# kn_host_state: what the node must leave as it found it, on stdout:
# host sysctls kubelet and kuproxy would write, the folders they would
# write in, the network namespaces and cgroups with the test's prefix,
# and the root namespace's rules (nft and legacy, counters dropped).
kn_host_state() {
	local k f p h

	for k in kernel/panic kernel/panic_on_oops vm/overcommit_memory \
	    vm/panic_on_oom kernel/keys/root_maxkeys kernel/keys/root_maxbytes \
	    net/netfilter/nf_conntrack_max net/nf_conntrack_max \
	    net/netfilter/nf_conntrack_tcp_timeout_established \
	    net/netfilter/nf_conntrack_tcp_timeout_close_wait \
	    net/ipv4/ip_forward net/ipv4/conf/all/route_localnet \
	    net/bridge/bridge-nf-call-iptables fs/inotify/max_user_watches \
	    fs/inotify/max_user_instances; do
		f=/proc/sys/$k
		# nf_conntrack may be loaded during the test: only a value
		# that existed before is compared (kn_state_diff).
		[ -e "$f" ] && echo "sysctl $k = $(cat "$f")"
	done
	f=/sys/module/nf_conntrack/parameters/hashsize
	[ -e "$f" ] && echo "sysctl hashsize = $(cat "$f")"
	for p in /var/lib/kubelet /var/lib/cni /var/lib/containerd \
	    /var/lib/containers /var/log/pods /var/log/containers \
	    /var/lib/kuproxy /run/containerd /run/containers /run/kubernetes \
	    /etc/cni /etc/containerd /etc/kubernetes /opt/containerd /opt/cni \
	    /usr/libexec/kubernetes; do
		if [ -e "$p" ]; then
			find "$p" -xdev 2>/dev/null | sed 's/^/file /'
		else
			echo "absent $p"
		fi
	done
	# Ours, and pods' (containerd names them cni-UUID).
	for p in /run/netns/kpnode* /run/netns/cni-*; do
		[ -e "$p" ] && echo "netns $p"
	done
	for h in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts); do
		for p in "$h"/kpnode*; do
			[ -e "$p" ] && echo "cgroup $p"
		done
	done
	for k in iptables-save ip6tables-save iptables-legacy-save \
	    ip6tables-legacy-save; do
		command -v "$k" >/dev/null 2>&1 || continue
		"$k" 2>/dev/null | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//' |
		    sed "s/^/rule $k /"
	done
	grep kpnode /proc/self/mountinfo | awk '{print "mount " $5}'
}

# kn_state_diff BEFORE AFTER: what the test left on the host: changed
# sysctls (those that existed before: a module may be loaded meanwhile)
# and root-namespace rules, and new files, netns, cgroups and mounts (one
# that went away was not ours: another user of the machine removed it).
# Empty: nothing escaped.
kn_state_diff() {
	local keys

	keys=$(awk '$1 == "sysctl" { print $2 }' "$1")
	diff "$1" "$2" | grep '^[<>]' | while read -r side kind key rest; do
		case $side:$kind in
		"<:sysctl"|"<:rule") ;;
		">:sysctl")
			printf '%s\n' "$keys" | grep -qxF "$key" || continue ;;
		">:"*) [ "$kind" = absent ] && continue ;;
		*) continue ;;
		esac
		echo "$side $kind $key $rest"
	done
}
