#!/bin/bash
# relay-plot.sh: draw bench/relay.sh's results with gnuplot, one PNG per
# workload, every peer side by side (kuproxy's peers in red), medians as
# bars with the min-max of the rounds as error bars.
#
#   bench/relay-plot.sh RESULTS.csv OUTDIR [PREFIX]
#
# Writes OUTDIR/PREFIX-WORKLOAD.png (PREFIX: relay) for every workload
# in the CSV: W1, W5, W5L rate and proxy CPU per unit; W2, W3 rate, CPU
# per unit and wrk's p50/p99 latency; W2L, W3L the probe's p50/p99 and
# CPU per unit; MEM RSS and fds per held connection and the probes'
# latencies while they are held.  The title carries the "# mode" line
# of RESULTS.csv.info when there is one.  Needs gnuplot (Debian
# gnuplot-nox) and python3 (bench/relay-summary.py --tsv).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	sed -n 2,14p "$0"
	exit 2
fi
CSV=$1
OUT=$2
PREFIX=${3:-relay}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v gnuplot >/dev/null ||
    { echo "relay-plot: needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
[ -r "$CSV" ] || { echo "relay-plot: cannot read $CSV" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/relay-plot.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
python3 "$HERE/relay-summary.py" --tsv "$TMP" "$CSV" || exit 1

SUB=""
if [ -r "$CSV.info" ]; then
	SUB=$(sed -n 's/^# mode \([^;]*\);.*/\1/p' "$CSV.info" | head -n 1)
	SUB="$SUB, $(sed -n 's/^# relay.sh \([0-9T:-]*\)Z.*/\1 UTC/p' "$CSV.info" | head -n 1)"
	SUB="$SUB, $(sed -n 's/^# rounds \([0-9]*\);.*/\1 rounds/p' "$CSV.info" | sed 's/^1 rounds/1 round/' | head -n 1)"
fi

# TSV columns: 1 idx, 2 peer, 3 kuproxy, 4-6 rate, 7-9 CPU per unit,
# 10-12 p50, 13-15 p99, 16 work, 17-19 extra (median, min, max).

# bars FILE COL TITLE YLABEL: gnuplot commands of one bar panel (median
# in column COL, min and max in the next two).  Every peer keeps its
# place on the x axis, with or without a value.
bars() {
	cat <<EOF
set title "$3"
set ylabel "$4"
plot '$1' u 1:(0):xtic(2) w points ps 0 notitle, \
     '' u 1:$2:(\$3 > 0 ? 0xd62728 : 0x4477aa) w boxes lc rgb var notitle, \
     '' u 1:$2:$(($2 + 1)):$(($2 + 2)) w yerrorbars lc rgb "black" pt 0 notitle, \
     '' u 1:$(($2 + 2)):(sprintf(\$$2 >= 1000 ? "%.0f" : "%.3g", \$$2)) w labels offset 0,0.7 font ",8" notitle
EOF
}

# lat FILE TITLE: p50 as bars, p99 as triangles, both with min-max.
lat() {
	cat <<EOF
set title "$2"
set ylabel "ms"
plot '$1' u 1:(0):xtic(2) w points ps 0 notitle, \
     '' u 1:10:(\$3 > 0 ? 0xd62728 : 0x4477aa) w boxes lc rgb var title "p50", \
     '' u 1:10:11:12 w yerrorbars lc rgb "black" pt 0 notitle, \
     '' u 1:13:14:15 w yerrorbars lc rgb "black" pt 9 ps 1.2 title "p99", \
     '' u 1:12:(sprintf("%.3g", \$10)) w labels offset 0,0.7 font ",8" notitle, \
     '' u 1:15:(sprintf("%.3g", \$13)) w labels offset 0,0.7 font ",8" notitle
EOF
}

# plot WORKLOAD TITLE LAYOUT PANEL...: one PNG; each PANEL is a shell
# command printing gnuplot commands.
plot() {
	local w=$1 title=$2 layout=$3 cols rows

	shift 3
	rows=${layout%,*}
	cols=${layout#*,}
	{
		cat <<EOF
set terminal pngcairo size $((cols * 520)),$((rows * 400 + 40)) font ",10"
set output '$OUT/$PREFIX-$w.png'
set datafile separator "\t"
set datafile missing "-"
set style fill solid 0.75 border -1
set boxwidth 0.7
set xtics rotate by -30 font ",9" nomirror
set ytics nomirror
set yrange [0:*]
set offsets 0.5, 0.5, graph 0.12, 0
set key top left horizontal
set grid ytics
set multiplot layout $layout title "$title${SUB:+\\n$SUB}\\nkuproxy in red; bars: medians, whiskers: min-max of the rounds"
EOF
		for p in "$@"; do
			eval "$p"
		done
		echo "unset multiplot"
	} >"$TMP/$w.gp"
	gnuplot "$TMP/$w.gp" || { echo "relay-plot: gnuplot failed for $w" >&2; return 1; }
	echo "$OUT/$PREFIX-$w.png"
}

rc=0
for f in "$TMP"/*.tsv; do
	[ -e "$f" ] || continue
	w=$(basename "$f" .tsv)
	case $w in
	W1) plot W1 "W1 bulk TCP, iperf3 one stream" 1,2 \
	    "bars $f 4 'throughput' 'Gbit/s'" \
	    "bars $f 7 'proxy CPU per GB (lower is better)' 'CPU-s/GB'" ;;
	W2) plot W2 "W2 keep-alive HTTP, wrk -t1 -c50" 1,3 \
	    "bars $f 4 'requests/s' 'req/s'" \
	    "bars $f 7 'proxy CPU per request (lower is better)' 'CPU-us/req'" \
	    "lat $f 'wrk latency at saturation'" ;;
	W3) plot W3 "W3 a new connection per request, wrk -t1 -c50" 1,3 \
	    "bars $f 4 'connections/s' 'conn/s'" \
	    "bars $f 7 'proxy CPU per connection (lower is better)' 'CPU-us/conn'" \
	    "lat $f 'wrk latency at saturation'" ;;
	W2L) plot W2L "W2L keep-alive at a light fixed rate (relay-probe.py)" 1,2 \
	    "lat $f 'request latency'" \
	    "bars $f 7 'proxy CPU per request' 'CPU-us/req'" ;;
	W3L) plot W3L "W3L new connections at a light fixed rate (relay-probe.py)" 1,2 \
	    "lat $f 'connect-to-answer latency'" \
	    "bars $f 7 'proxy CPU per connection' 'CPU-us/conn'" ;;
	W5 | W5L) plot "$w" "$w UDP 64 B datagrams$([ "$w" = W5L ] && echo ', 50,000/s offered')" 1,2 \
	    "bars $f 4 'delivered datagrams/s' 'pps'" \
	    "bars $f 7 'proxy CPU per datagram (lower is better)' 'CPU-us/pkt'" ;;
	MEM)
		# The peers' names with the number of connections each held.
		awk -F '\t' -v OFS='\t' '!/^#/ { $2 = $2 " (" $16 ")" } 1' \
		    "$f" >"$TMP/MEM.held" && f=$TMP/MEM.held
		panels=("bars $f 4 'RSS per held connection' 'KB'"
		    "bars $f 17 'fds per held connection' 'fds'")
		[ -e "$TMP/MEM-W2L.tsv" ] && panels+=("lat $TMP/MEM-W2L.tsv 'keep-alive probe while held'")
		[ -e "$TMP/MEM-W3L.tsv" ] && panels+=("lat $TMP/MEM-W3L.tsv 'new-connection probe while held'")
		layout=1,2
		[ ${#panels[@]} -gt 2 ] && layout=2,2
		plot MEM "idle connections held (per peer, in brackets: as many as its fd limit allows)" \
		    "$layout" "${panels[@]}" ;;
	*) continue ;;
	esac || rc=1
done
exit "$rc"
