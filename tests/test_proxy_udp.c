/* test_proxy_udp.c: not written yet; skipped. */
int main(void) { return 77; }
