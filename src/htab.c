/* htab.c: not written yet. */
