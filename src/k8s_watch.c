/* k8s_watch.c: not written yet. */
