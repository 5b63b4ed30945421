/*
 * xmalloc.h: allocation wrappers that call fatal() on failure.  Use them
 * only at start-up and config time; the connection path must handle
 * allocation failure itself and keep the daemon up.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

#endif /* XMALLOC_H */
