/* proxier.c: not written yet. */
