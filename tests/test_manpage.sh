#!/bin/sh
# test_manpage: man/kuproxy.8 documents every flag "kuproxy --help" lists
# (as ".Fl -name", or ".Fl x" for a one-letter flag), names no flag that
# kuproxy does not take, and formats without a groff warning (nor a
# mandoc warning, where mandoc is installed).  Run by "make check"; no
# root needed.  Exit 0 pass, 1 fail, 77 skip (no groff: the flag checks
# still ran and passed).
: "${srcdir:=.}"
: "${KUPROXY:=./kuproxy}"
man=$srcdir/man/kuproxy.8
fails=0

fail() {
	echo "FAIL: test_manpage: $*"
	fails=$((fails + 1))
}

[ -f "$man" ] || { echo "FAIL: test_manpage: no $man"; exit 1; }
help=$("$KUPROXY" --help) || { echo "FAIL: $KUPROXY --help failed"; exit 1; }

# Every "--name" in the help text, and the one-letter flags ("  -v, --v").
long=$(printf '%s\n' "$help" | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u)
short=$(printf '%s\n' "$help" | sed -n 's/^ *-\([a-z]\), --.*/\1/p' | sort -u)
n=$(printf '%s\n' "$long" | grep -c .)
if [ "$n" -lt 50 ]; then
	fail "only $n flags found in --help; is the parse broken?"
fi

missing=
for f in $long; do
	name=${f#--}
	grep -Eq "(^|[[:space:].])Fl -$name([[:space:]]|\$)" "$man" ||
	    missing="$missing $f"
done
for f in $short; do
	grep -Eq "(^|[[:space:].])Fl $f([[:space:]]|\$)" "$man" ||
	    missing="$missing -$f"
done
[ -n "$missing" ] && fail "flags missing from $man:$missing"

# The other way round: the word after each "Fl" is a flag kuproxy takes.
known=$(printf '%s\n' $long $short | sed 's/^--/-/')
unknown=
for w in $(grep -Eo '(^|[[:space:].])Fl [^[:space:]]+' "$man" |
    sed 's/.*Fl //' | sort -u); do
	printf '%s\n' "$known" | grep -qxF -- "$w" || unknown="$unknown $w"
done
[ -n "$unknown" ] && fail "$man names flags kuproxy does not take:$unknown"
[ "$fails" -eq 0 ] && echo "ok: test_manpage: $n long and" \
    "$(printf '%s\n' "$short" | grep -c .) one-letter flags documented"

if command -v mandoc >/dev/null 2>&1; then
	out=$(mandoc -T lint -W warning "$man" 2>&1)
	[ $? -eq 0 ] && [ -z "$out" ] || fail "mandoc -T lint: $out"
fi
if ! command -v groff >/dev/null 2>&1; then
	[ "$fails" -eq 0 ] || exit 1
	echo "SKIP: test_manpage: groff is not installed (flags checked)"
	exit 77
fi
out=$(groff -mandoc -ww -z "$man" 2>&1)
[ $? -eq 0 ] && [ -z "$out" ] || fail "groff -mandoc -ww: $out"
[ "$fails" -eq 0 ] || exit 1
echo "ok: test_manpage: groff -mandoc -ww is silent"
exit 0
