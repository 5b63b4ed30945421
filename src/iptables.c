/* iptables.c: not written yet. */
