/* lb.c: not written yet. */
