/* portalloc.c: not written yet. */
