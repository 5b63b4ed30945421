/* test_k8s_watch.c: not written yet; skipped. */
int main(void) { return 77; }
