/* k8s_decode.c: not written yet. */
