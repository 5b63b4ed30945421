#!/usr/bin/env bash
# The README's two set-up commands.
#   quickstart.sh demo   install packages, build, run the namespace demo
#   quickstart.sh test   install packages, run the whole test suite
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

install_packages() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "quickstart: run as root (packages, namespaces, iptables)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# No package may start a daemon here (containerd, etcd): the tests run
	# their own, inside their own namespaces.
	own_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends \
		build-essential autoconf automake libtool pkg-config \
		debhelper dpkg-dev fakeroot lintian debootstrap groff-base mandoc \
		libevent-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev \
		libcunit1-dev iptables iproute2 conntrack ipset python3 python3-yaml curl systemd \
		containerd runc containernetworking-plugins podman \
		clang libclang-rt-14-dev \
		valgrind procps openssl python3-prometheus-client >/dev/null
	[ "$own_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
}

case "${1:-}" in
demo)
	install_packages
	[ -x ./configure ] || ./autogen.sh >/dev/null
	[ -f Makefile ] || ./configure --quiet
	make -s -j"$(nproc)" kuproxy
	KUPROXY="$top/kuproxy" exec bash contrib/demo.sh
	;;
test)
	install_packages
	exec tests/run-all.sh
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 2
	;;
esac
