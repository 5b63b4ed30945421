/*
 * failmalloc.c: the allocation wrappers behind failmalloc.h.  The
 * __wrap_ and __real_ names are the ones ld --wrap gives.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failmalloc.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__real_reallocarray(void *, size_t, size_t);
char	*__real_strdup(const char *);
char	*__real_strndup(const char *, size_t);
int	 __real_vasprintf(char **, const char *, va_list)
	    __attribute__((__format__(printf, 2, 0)));

void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
void	*__wrap_reallocarray(void *, size_t, size_t);
char	*__wrap_strdup(const char *);
char	*__wrap_strndup(const char *, size_t);
int	 __wrap_asprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
int	 __wrap_vasprintf(char **, const char *, va_list)
	    __attribute__((__format__(printf, 2, 0)));

static unsigned long	fm_count;	/* allocations since fail_at */
static unsigned long	fm_fail_at;	/* 0: none */
static int		fm_failed;

/* Arm the nth allocation to fail and reset the counter. */
void
failmalloc_fail_at(unsigned long n)
{
	fm_count = 0;
	fm_fail_at = n;
	fm_failed = 0;
}

/* Return how many allocations were counted. */
unsigned long
failmalloc_count(void)
{
	return (fm_count);
}

/* Return 1 if the armed failure happened. */
int
failmalloc_failed(void)
{
	return (fm_failed);
}

/* Count one allocation; return 1 if it is the one to fail. */
static int
fm_fail(void)
{
	if (++fm_count != fm_fail_at)
		return (0);
	fm_failed = 1;
	errno = ENOMEM;
	return (1);
}

/* malloc, counted. */
void *
__wrap_malloc(size_t size)
{
	return (fm_fail() ? NULL : __real_malloc(size));
}

/* calloc, counted. */
void *
__wrap_calloc(size_t nmemb, size_t size)
{
	return (fm_fail() ? NULL : __real_calloc(nmemb, size));
}

/* realloc, counted; a failure leaves ptr allocated, as realloc does. */
void *
__wrap_realloc(void *ptr, size_t size)
{
	return (fm_fail() ? NULL : __real_realloc(ptr, size));
}

/* reallocarray, counted. */
void *
__wrap_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	return (fm_fail() ? NULL : __real_reallocarray(ptr, nmemb, size));
}

/* strdup, counted. */
char *
__wrap_strdup(const char *s)
{
	return (fm_fail() ? NULL : __real_strdup(s));
}

/* strndup, counted. */
char *
__wrap_strndup(const char *s, size_t n)
{
	return (fm_fail() ? NULL : __real_strndup(s, n));
}

/* vasprintf, counted. */
int
__wrap_vasprintf(char **ret, const char *fmt, va_list ap)
{
	return (fm_fail() ? -1 : __real_vasprintf(ret, fmt, ap));
}

/* asprintf, counted once, through the real vasprintf. */
int
__wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (fm_fail())
		return (-1);
	va_start(ap, fmt);
	n = __real_vasprintf(ret, fmt, ap);
	va_end(ap);
	return (n);
}
