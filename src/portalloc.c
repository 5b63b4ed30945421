/*
 * portalloc.c: proxy port allocation after kube-proxy's
 * port_allocator.go and the --proxy-port-range parser of
 * apimachinery's util/net/port_range.go.
 *
 * kube-proxy pre-fills a channel of 16 ports from a goroutine and waits
 * up to a second for one; a single-threaded daemon needs neither, so
 * portalloc_get picks synchronously: a random offset, then the first
 * free one upward with wrap-around.  Like upstream it never asks the
 * kernel whether a port is free: a failed bind is the caller's business.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "portalloc.h"
#include "xmalloc.h"

#define PORTALLOC_NONE	SIZE_MAX	/* no free offset */

struct portalloc {
	uint16_t	 base;
	uint32_t	 size;		/* 0: kernel-chosen */
	size_t		 used;
	uint64_t	*bits;		/* bit set: offset in use */
};

/*
 * Parse the decimal number in [s, e) into *val, saturating at 65536 so
 * that a huge number reads as "too large" rather than overflowing.
 * Returns 0, or -1 with the reason in err.
 */
static int
portalloc_parse_num(const char *s, const char *e, const char *what,
    unsigned long *val, char *err, size_t errlen)
{
	const char	*p;

	if (s == e) {
		snprintf(err, errlen, "missing %s", what);
		return (-1);
	}
	if (*s == '-') {
		snprintf(err, errlen, "negative %s", what);
		return (-1);
	}
	*val = 0;
	for (p = s; p < e; p++) {
		if (!isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "%s \"%.*s\" is not a number",
			    what, (int)(e - s), s);
			return (-1);
		}
		if (*val <= 65535)
			*val = *val * 10 + (unsigned long)(*p - '0');
	}
	if (*val > 65535) {
		snprintf(err, errlen, "%s %.*s is greater than 65535", what,
		    (int)(e - s), s);
		return (-1);
	}
	return (0);
}

/* Parse "", "N", "A-B" or "A+N" into base and size. */
int
portalloc_parse_range(const char *str, uint16_t *base, uint32_t *size,
    char *err, size_t errlen)
{
	char		 why[128];
	const char	*s, *e, *sep, *hyphen, *plus;
	unsigned long	 low, high, off;

	for (s = str; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*base = 0;
	*size = 0;
	if (s == e)
		return (0);
	hyphen = memchr(s, '-', e - s);
	plus = memchr(s, '+', e - s);
	if (*s == '-') {
		snprintf(why, sizeof(why), "negative port");
		goto fail;
	}
	/* "A+-N" is a negative offset, which parse_num reports. */
	if (hyphen != NULL && plus != NULL && hyphen != plus + 1) {
		snprintf(why, sizeof(why), "both '-' and '+'");
		goto fail;
	}
	sep = plus != NULL ? plus : hyphen;
	if (sep == NULL) {
		if (portalloc_parse_num(s, e, "port", &low, why,
		    sizeof(why)) == -1)
			goto fail;
		high = low;
	} else {
		if (portalloc_parse_num(s, sep, "start port", &low, why,
		    sizeof(why)) == -1)
			goto fail;
		if (portalloc_parse_num(sep + 1, e, sep == plus ? "offset" :
		    "end port", sep == plus ? &off : &high, why,
		    sizeof(why)) == -1)
			goto fail;
		if (sep == plus)
			high = low + off;
	}
	if (high > 65535) {
		snprintf(why, sizeof(why), "end port %lu is greater than 65535",
		    high);
		goto fail;
	}
	if (high < low) {
		snprintf(why, sizeof(why), "end port %lu is less than start "
		    "port %lu", high, low);
		goto fail;
	}
	*base = (uint16_t)low;
	*size = low == 0 ? 0 : (uint32_t)(high - low + 1);
	return (0);

fail:
	snprintf(err, errlen, "port range \"%s\": %s", str, why);
	return (-1);
}

/* Return a new allocator for [base, base + size). */
struct portalloc *
portalloc_new(uint16_t base, uint32_t size)
{
	struct portalloc	*pa;

	pa = xcalloc(1, sizeof(*pa));
	if (base == 0 || size == 0)
		return (pa);
	if (size > 65536U - base)
		size = 65536U - base;
	pa->base = base;
	pa->size = size;
	pa->bits = xcalloc((size + 63) / 64, sizeof(*pa->bits));
	return (pa);
}

/* Change the range; nothing is in use afterwards. */
void
portalloc_set_range(struct portalloc *pa, uint16_t base, uint32_t size)
{
	free(pa->bits);
	memset(pa, 0, sizeof(*pa));
	if (base == 0 || size == 0)
		return;
	if (size > 65536U - base)
		size = 65536U - base;
	pa->base = base;
	pa->size = size;
	pa->bits = xcalloc((size + 63) / 64, sizeof(*pa->bits));
}

/* Free the allocator. */
void
portalloc_free(struct portalloc *pa)
{
	if (pa == NULL)
		return;
	free(pa->bits);
	free(pa);
}

/* Return 1 if offset off is in use. */
static int
portalloc_isset(const struct portalloc *pa, size_t off)
{
	return ((pa->bits[off / 64] >> (off % 64)) & 1);
}

/* Return the first free offset in [from, to), or PORTALLOC_NONE. */
static size_t
portalloc_scan(const struct portalloc *pa, size_t from, size_t to)
{
	uint64_t	free_bits;
	size_t		i, off;

	for (i = from; i < to; i = (i / 64 + 1) * 64) {
		free_bits = ~pa->bits[i / 64] & (~0ULL << (i % 64));
		if (free_bits == 0)
			continue;
		off = (i / 64) * 64 + (size_t)__builtin_ctzll(free_bits);
		return (off < to ? off : PORTALLOC_NONE);
	}
	return (PORTALLOC_NONE);
}

/* Allocate a port: a random offset, else the next free one with wrap. */
int
portalloc_get(struct portalloc *pa, uint16_t *port)
{
	size_t	start, off;

	*port = 0;
	if (pa->size == 0)
		return (0);
	if (pa->used >= pa->size)
		return (-1);
	start = (size_t)(htab_random() % pa->size);
	if ((off = portalloc_scan(pa, start, pa->size)) == PORTALLOC_NONE &&
	    (off = portalloc_scan(pa, 0, start)) == PORTALLOC_NONE)
		return (-1);
	pa->bits[off / 64] |= 1ULL << (off % 64);
	pa->used++;
	*port = (uint16_t)(pa->base + off);
	return (0);
}

/* Claim a specific port. */
int
portalloc_reserve(struct portalloc *pa, uint16_t port)
{
	size_t	off;

	if (pa->size == 0)
		return (0);
	if (port < pa->base || (off = port - pa->base) >= pa->size ||
	    portalloc_isset(pa, off))
		return (-1);
	pa->bits[off / 64] |= 1ULL << (off % 64);
	pa->used++;
	return (0);
}

/* Release a port; ports outside the range, 0 and free ports are ignored. */
void
portalloc_release(struct portalloc *pa, uint16_t port)
{
	size_t	off;

	if (pa->size == 0 || port < pa->base ||
	    (off = port - pa->base) >= pa->size || !portalloc_isset(pa, off))
		return;
	pa->bits[off / 64] &= ~(1ULL << (off % 64));
	pa->used--;
}

/* Return the number of ports in use. */
size_t
portalloc_used(const struct portalloc *pa)
{
	return (pa->used);
}
