/* proxy_udp.c: not written yet. */
