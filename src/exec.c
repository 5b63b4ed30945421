/* exec.c: not written yet. */
