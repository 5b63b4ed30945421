/*
 * failmalloc.h: allocation-failure injection for unit tests, after
 * nghttp2's failmalloc.  Test-only: never linked into the daemon.
 *
 * The test binary is linked with
 *	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 *	--wrap=reallocarray,--wrap=strdup,--wrap=strndup,
 *	--wrap=asprintf,--wrap=vasprintf
 * so that every call to those functions from an object of the binary
 * (the test's own and libkuproxy.a's, linked statically) goes through a
 * counter here, then to the real function (ASan's under --enable-asan).
 * free() is not wrapped.
 *
 * Not counted, because --wrap only rewrites references in the objects
 * being linked: allocations made inside shared libraries (json-c,
 * libyaml, libevent, libcurl, libc itself: fopen, realpath, qsort...).
 * A json-c or libyaml allocation failure is therefore not injected.
 */
#ifndef FAILMALLOC_H
#define FAILMALLOC_H

/*
 * Reset the counter and make the nth counted allocation from now on
 * (1-based) fail: it returns NULL (asprintf and vasprintf return -1 and
 * leave *ret as it was) with errno ENOMEM; every other one succeeds.  n
 * 0 injects nothing: only count.
 */
void		 failmalloc_fail_at(unsigned long n);
/* Return the number of allocations counted since failmalloc_fail_at(). */
unsigned long	 failmalloc_count(void);
/* Return 1 if the failure armed by failmalloc_fail_at() was injected. */
int		 failmalloc_failed(void);

#endif /* FAILMALLOC_H */
