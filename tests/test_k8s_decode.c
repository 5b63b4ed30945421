/* test_k8s_decode.c: not written yet; skipped. */
int main(void) { return 77; }
