#!/bin/sh
# Regenerate the build system: configure, Makefile.in and the m4 macros.
set -e
cd "$(dirname "$0")"
autoreconf -fi
