#!/bin/sh
# fake-iptables.sh: stands in for iptables, iptables-restore,
# iptables-save (and the ip6tables ones) and conntrack in unit tests.
# The test links the real names to this script; $0 tells which one runs.
# Everything lives in the directory $FAKE_IPT_DIR:
#   FAM.KIND.count        calls so far (FAM iptables/ip6tables/conntrack,
#                         KIND restore/save/iptables/conntrack)
#   FAM.KIND.N.args       argv of call N, one argument per line
#   FAM.restore.N.in      stdin of restore call N
# Switches, also files there:
#   fail_line             restore fails at that line, as nf_tables words it
#   FAM.S-TABLE-CHAIN.txt what "-t TABLE -S CHAIN" prints
#                         (default: "-P CHAIN ACCEPT")
#   FAM.save-TABLE.txt    what "-save -t TABLE" prints
#   FAM.save-TABLE.err    "-save -t TABLE" prints this and exits 1
#   conntrack.mode        "zero": nothing deleted (exit 1), "fail": error
#   FAM.version           what "-V" prints (default: a legacy iptables)
#   fail-S                "-S" prints an error and exits 1
#   ipset.list.txt        what "ipset list -n" prints
#   ipset.fail-list       "ipset list" fails (no kernel support)
#   ipset.fail            "ipset restore" fails (a set in use)
#                         (ipset restore's stdin: ipset.restore.N.in)
#   delay-S, delay-restore, delay-conntrack
#                         seconds that "-S", a restore, conntrack sleep
# Every call, of any kind, also appends "NAME ARGS..." when it starts and
# "NAME end" when it exits to the file calls, so their order shows, and
# makes FAM.KIND.N.end then.
dir=${FAKE_IPT_DIR:?FAKE_IPT_DIR not set}
cmd=${0##*/}
case $cmd in
*-restore)	kind=restore ;;
*-save)		kind=save ;;
conntrack)	kind=conntrack ;;
ipset)		kind=ipset ;;
*)		kind=iptables ;;
esac
fam=${cmd%%-*}
n=$(cat "$dir/$fam.$kind.count" 2>/dev/null || echo 0)
n=$((n + 1))
for a in "$@"; do
	printf '%s\n' "$a"
done > "$dir/$fam.$kind.$n.args"
echo "$cmd $*" >> "$dir/calls"
# The count last: a test that sees it may read the args and calls.
echo "$n" > "$dir/$fam.$kind.count.tmp"
mv "$dir/$fam.$kind.count.tmp" "$dir/$fam.$kind.count"
trap 'echo "$cmd end" >> "$dir/calls"; : > "$dir/$fam.$kind.$n.end"' EXIT
case $kind in
restore|conntrack)
	d=$(cat "$dir/delay-$kind" 2>/dev/null) ;;
*)
	d=
	for a in "$@"; do
		[ "$a" = -S ] && d=$(cat "$dir/delay-S" 2>/dev/null)
	done
	;;
esac
[ -n "$d" ] && sleep "$d"

case $kind in
restore)
	cat > "$dir/$fam.restore.$n.in"
	if [ -f "$dir/fail_line" ]; then
		echo "$cmd v1.8.9 (nf_tables): fake failure"
		echo "Error occurred at line: $(cat "$dir/fail_line")"
		echo "Try \`$cmd -h' or '$cmd --help' for more information."
		exit 2
	fi
	;;
save)
	t=filter
	while [ $# -gt 0 ]; do
		[ "$1" = -t ] && t=$2
		shift
	done
	if [ -f "$dir/$fam.save-$t.err" ]; then
		cat "$dir/$fam.save-$t.err"
		exit 1
	fi
	[ -f "$dir/$fam.save-$t.txt" ] && cat "$dir/$fam.save-$t.txt"
	;;
iptables)
	if [ "$1" = -V ]; then
		if [ -f "$dir/$fam.version" ]; then
			cat "$dir/$fam.version"
		else
			echo "$cmd v1.8.9 (legacy)"
		fi
		exit 0
	fi
	t=filter
	c=
	while [ $# -gt 0 ]; do
		case $1 in
		-t)	t=$2 ;;
		-S)	c=$2 ;;
		esac
		shift
	done
	if [ -n "$c" ] && [ -f "$dir/fail-S" ]; then
		echo "$cmd v1.8.9 (legacy): fake -S failure"
		exit 1
	elif [ -f "$dir/$fam.S-$t-$c.txt" ]; then
		cat "$dir/$fam.S-$t-$c.txt"
	else
		echo "-P $c ACCEPT"
	fi
	;;
ipset)
	case $1 in
	list)
		if [ -f "$dir/ipset.fail-list" ]; then
			echo "ipset v7.17: Kernel error received: ipset" \
			    "protocol error"
			exit 1
		fi
		[ -f "$dir/ipset.list.txt" ] && cat "$dir/ipset.list.txt"
		;;
	restore)
		cat > "$dir/ipset.restore.$n.in"
		if [ -f "$dir/ipset.fail" ]; then
			echo "ipset v7.17: Error in line 1: Set cannot be" \
			    "destroyed: it is in use by a kernel component"
			exit 1
		fi
		;;
	esac
	;;
conntrack)
	case $(cat "$dir/conntrack.mode" 2>/dev/null) in
	zero)
		echo "conntrack v1.4.7 (conntrack-tools): 0 flow entries" \
		    "have been deleted."
		exit 1
		;;
	fail)
		echo "conntrack v1.4.7 (conntrack-tools): Operation failed:" \
		    "invalid parameters"
		exit 1
		;;
	esac
	echo "conntrack v1.4.7 (conntrack-tools): 2 flow entries have" \
	    "been deleted."
	;;
esac
exit 0
