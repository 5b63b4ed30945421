/* portstate.c: not written yet. */
