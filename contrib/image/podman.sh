#!/usr/bin/env bash
# podman.sh: run podman on the private storage and configuration that
# contrib/image/build.sh uses, so that nothing lands in /var/lib/containers,
# /run/containers or /etc/containers and no network is ever set up.
#
#   contrib/image/podman.sh ARGS...      e.g. images, run --rm IMAGE CMD
#
# Everything lives in ${KP_IMAGE_CACHE:-/var/cache/kuproxy-testenv/image}/podman:
# storage.conf (overlay; graphroot and runroot there), containers.conf
# (runc: crun fails on cgroups v1 hybrid hosts; cgroupfs; events to a file;
# netns "none"; ulimits these machines can grant; podman's tmp, volume,
# static and network folders there) and an empty registries.conf (no
# short-name resolution, no registry).  podman runs in a private mount
# namespace whose /var/lib is an overlay with its upper folder in the cache:
# containers/image writes its blob-info cache to /var/lib/containers/cache
# for root whatever storage.conf says.  A `run` still creates cgroups
# (PARENT/conmon and the container's): pass --cgroup-parent=/PARENT and
# remove PARENT/conmon and PARENT after (--cgroups=no-conmon would write
# /var/lib/containers/cache outside the namespace).
# Root only.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "podman.sh: must run as root" >&2
	exit 1
fi
pc=${KP_IMAGE_CACHE:-/var/cache/kuproxy-testenv/image}/podman
mkdir -p "$pc/varlib/upper" "$pc/varlib/work"
cat >"$pc/storage.conf.new" <<EOT
[storage]
driver = "overlay"
graphroot = "$pc/storage"
runroot = "$pc/run"
EOT
cat >"$pc/containers.conf.new" <<EOT
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$pc/events.log"
tmp_dir = "$pc/tmp"
volume_path = "$pc/volumes"
static_dir = "$pc/libpod"

[network]
network_config_dir = "$pc/networks"
EOT
mv -f "$pc/storage.conf.new" "$pc/storage.conf"
mv -f "$pc/containers.conf.new" "$pc/containers.conf"
[ -e "$pc/registries.conf" ] || : >"$pc/registries.conf"
export CONTAINERS_STORAGE_CONF=$pc/storage.conf
export CONTAINERS_CONF=$pc/containers.conf
export CONTAINERS_REGISTRIES_CONF=$pc/registries.conf

exec unshare --mount --propagation private -- sh -c '
	pc=$1; shift
	mount -t overlay kuproxy-podman -o "lowerdir=/var/lib,upperdir=$pc/varlib/upper,workdir=$pc/varlib/work" /var/lib &&
	exec podman "$@"' sh "$pc" "$@"
