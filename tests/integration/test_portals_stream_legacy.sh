#!/bin/bash
# test_portals_stream_legacy: test_portals_stream with legacy iptables
# (--iptables-path iptables-legacy), whose stream is one nat transaction
# committed at its end.  SKIP where iptables-legacy is missing or does not
# work in a network namespace.
KP_IPTABLES=iptables-legacy exec bash "$(dirname "$0")/test_portals_stream.sh"
