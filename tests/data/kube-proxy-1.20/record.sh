#!/bin/sh
# record.sh: record what the real kube-proxy 1.20 makes of every input of
# this directory, for tests/test_config.c to hold kuproxy to it.
#
#   tests/data/kube-proxy-1.20/record.sh /path/to/kube-proxy
#
# For each cases/NAME.yaml (and kubeadm-kube-proxy.yaml, kubeadm-config.conf)
# it runs `kube-proxy --config IN --write-config-to OUT`, which decodes,
# defaults and validates IN exactly as a starting kube-proxy does, then
# writes the resulting configuration and exits (no root, no API server,
# nothing touched on the node).  Accepted: OUT is kept as NAME.out.yaml.
# Rejected: kube-proxy's message (klog header removed) goes to NAME.err.
# Old results are removed first.  The binary must say v1.20.
set -eu

kp=${1:?usage: record.sh /path/to/kube-proxy}
here=$(cd "$(dirname "$0")" && pwd)
case $("$kp" --version) in
*v1.20.*) ;;
*) echo "record.sh: $kp is not kube-proxy v1.20" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

record() {
	in=$1 base=$2

	rm -f "$base.out.yaml" "$base.err"
	if "$kp" --config "$in" --write-config-to "$tmp/out.yaml" \
	    >"$tmp/log" 2>&1; then
		mv "$tmp/out.yaml" "$base.out.yaml"
	else
		# (-a, tr: json-iterator may quote a raw 0xff byte)
		grep -a -m 1 '^F' "$tmp/log" | LC_ALL=C tr -cd '\11\12\40-\176' |
		    sed 's/^F[0-9]* [0-9:.]* *[0-9]* [a-z_.]*:[0-9]*\] //' \
		    >"$base.err"
		[ -s "$base.err" ] || { echo "record.sh: $in: no message" >&2; exit 1; }
	fi
}

record "$here/kubeadm-kube-proxy.yaml" "$here/kubeadm-kube-proxy"
record "$here/kubeadm-config.conf" "$here/kubeadm-config"
for f in "$here"/cases/*.yaml; do
	case $f in
	*.out.yaml) continue ;;
	esac
	record "$f" "${f%.yaml}"
done
echo "record.sh: $(ls "$here"/cases/*.out.yaml | wc -l) accepted," \
    "$(ls "$here"/cases/*.err | wc -l) rejected by $("$kp" --version)"
