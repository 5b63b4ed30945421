/* proxy_tcp.c: not written yet. */
