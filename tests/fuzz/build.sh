#!/bin/sh
# Build the libFuzzer targets of tests/fuzz/ with clang, ASan and UBSan,
# whatever compiler configure chose for the rest of the tree:
#
#	build.sh SRCDIR OUTDIR
#
# SRCDIR is the top of the source tree, OUTDIR gets one binary per
# tests/fuzz/fuzz_*.c (and obj/, the instrumented src/ objects).  Every
# src/*.c but main.c is compiled into one archive, so a target links only
# the modules it reaches.  Objects are rebuilt only when a source or a
# header of src/ is newer.  CC (default clang) and JOBS (default nproc)
# may be set.
set -eu

srcdir=${1:?usage: build.sh SRCDIR OUTDIR}
out=${2:?usage: build.sh SRCDIR OUTDIR}
CC=${CC_FUZZ:-clang}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
# libFuzzer's runtime is libclang-rt-14-dev: say so rather than fail later.
probe=$(mktemp -d "${TMPDIR:-/tmp}/kpfz-probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return (d == 0 && n > 0); }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" \
    >"$probe/log" 2>&1; then
	cat "$probe/log" >&2
	echo "build.sh: $CC cannot link libFuzzer (apt-get install libclang-rt-14-dev)" >&2
	exit 1
fi

PKGS="libevent_core libevent_extra libcurl json-c yaml-0.1"
pcflags=$(pkg-config --cflags $PKGS)
pclibs=$(pkg-config --libs $PKGS)
# -D_GNU_SOURCE: configure's AC_USE_SYSTEM_EXTENSIONS.
CFLAGS_FUZZ="-g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer \
-fno-sanitize-recover=undefined -Wall -Wno-unused-parameter \
-I$srcdir/src $pcflags"

mkdir -p "$out/obj"
newest_h=$(ls -t "$srcdir"/src/*.h | head -n 1)

export out CC CFLAGS_FUZZ newest_h
srcs=$(ls "$srcdir"/src/*.c | grep -v '/main\.c$')
fail=0
# Compile each src/ file into obj/ unless its object is up to date,
# JOBS at a time.
printf '%s\n' $srcs | xargs -P "$jobs" -n 1 sh -c '
	src=$1
	obj="$out/obj/$(basename "$src" .c).o"
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_h" ]
	then
		exit 0
	fi
	echo "  CC-FUZZ  src/$(basename "$src")"
	$CC $CFLAGS_FUZZ -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o "$obj.tmp" "$src" && mv "$obj.tmp" "$obj"' sh || fail=1
[ "$fail" -eq 0 ] || { echo "build.sh: compiling src/ failed" >&2; exit 1; }

lib="$out/obj/libkuproxy-fuzz.a"
if [ ! -f "$lib" ] || [ -n "$(find "$out/obj" -name '*.o' -newer "$lib")" ]
then
	rm -f "$lib"
	ar rcs "$lib" "$out"/obj/*.o
fi

for t in "$srcdir"/tests/fuzz/fuzz_*.c; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .c)
	bin="$out/$name"
	if [ -f "$bin" ] && [ "$bin" -nt "$t" ] && [ "$bin" -nt "$lib" ] &&
	    [ "$bin" -nt "$srcdir/tests/fuzz/fuzz.h" ]; then
		continue
	fi
	echo "  FUZZ     $name"
	"$CC" $CFLAGS_FUZZ -I"$srcdir/tests/fuzz" \
	    -fsanitize=fuzzer,address,undefined -o "$bin" "$t" "$lib" \
	    $pclibs -lm
done
echo "fuzz targets in $out"
