/*
 * xmalloc.h: allocation wrappers that call fatal() on failure.  Use them
 * only at start-up and config time; the connection path must handle
 * allocation failure itself and keep the daemon up.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

/*
 * None of these returns NULL: on failure they log and exit(1) through
 * fatal().  A zero size allocates one byte, so the result is never NULL
 * and may be passed to free().
 */
/* Return size bytes, uninitialised. */
void	*xmalloc(size_t);
/* Return nmemb * size zeroed bytes. */
void	*xcalloc(size_t, size_t);
/* Resize ptr (may be NULL) to nmemb * size bytes; overflow is fatal. */
void	*xreallocarray(void *, size_t, size_t);
/* Return a copy of a string. */
char	*xstrdup(const char *);
/* Return a copy of at most n bytes of a string, NUL-terminated. */
char	*xstrndup(const char *, size_t);
/* Format into *ret, a new string; return its length. */
int	 xasprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

#endif /* XMALLOC_H */
