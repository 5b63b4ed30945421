/* svcfile.c: not written yet. */
