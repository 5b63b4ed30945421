/* test_proxy_tcp.c: not written yet; skipped. */
int main(void) { return 77; }
